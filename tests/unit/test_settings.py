"""Settings from the environment: TLS for PostgreSQL from the DSN, TLS and SASL for Kafka."""

from __future__ import annotations

import os

import pytest

from infra.composition import application_env
from infra.kafka.config import ConsumerConfig
from infra.postgres.env import export_libpq_tls
from infra.settings import Settings, kafka_security_from_env


def test_the_dsns_tls_options_reach_libpq(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGSSLMODE", "disable")
    monkeypatch.delenv("PGSSLROOTCERT", raising=False)
    settings = Settings(
        store="postgres",
        postgres_dsn="postgresql://u:p@db:5432/cmm?sslmode=verify-full&sslrootcert=/etc/ca.pem",
    )
    env = application_env(settings)
    assert env["POSTGRES_HOST"] == "db"
    # eventsourcing's pool has no TLS option; libpq takes it from these, for every connection.
    assert os.environ["PGSSLMODE"] == "verify-full"
    assert os.environ["PGSSLROOTCERT"] == "/etc/ca.pem"


def test_a_dsn_without_tls_options_leaves_libpq_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGSSLMODE", "require")
    export_libpq_tls("postgresql://u:p@db/cmm")
    assert os.environ["PGSSLMODE"] == "require"


def test_kafka_security_options_from_the_environment() -> None:
    env = {
        "CMM_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
        "CMM_KAFKA_SASL_MECHANISM": "scram-sha-512",
        "CMM_KAFKA_SASL_USERNAME": "cmm",
        "CMM_KAFKA_SASL_PASSWORD": "s3cret",
        "CMM_KAFKA_SSL_CAFILE": "/etc/kafka/ca.pem",
    }
    options = Settings.from_env(env=env).kafka_client_options()
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "cmm",
        "sasl_plain_password": "s3cret",
        "ssl_cafile": "/etc/kafka/ca.pem",
    }
    # The consumer gives its security options to its dead-letter producer too.
    config = ConsumerConfig("b:9092", extra={**options, "fetch_max_wait_ms": 100})
    assert config.security_options() == options
    assert Settings.from_env(env={}).kafka_client_options() == {}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CMM_KAFKA_SECURITY_PROTOCOL": "TLS"}, r"must be one of PLAINTEXT, SSL"),
        ({"CMM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, r"needs CMM_KAFKA_SASL_MECHANISM"),
        (
            {"CMM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "CMM_KAFKA_SASL_MECHANISM": "PLAIN"},
            r"needs CMM_KAFKA_SASL_USERNAME and CMM_KAFKA_SASL_PASSWORD",
        ),
        ({"CMM_KAFKA_SASL_MECHANISM": "PLAIN"}, r"is set but CMM_KAFKA_SECURITY_PROTOCOL"),
    ],
)
def test_bad_kafka_security_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        kafka_security_from_env(env)


def test_a_refusal_never_echoes_the_password() -> None:
    env = {
        "CMM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "CMM_KAFKA_SASL_MECHANISM": "BOGUS",
        "CMM_KAFKA_SASL_PASSWORD": "s3cret",
    }
    with pytest.raises(ValueError) as refused:
        kafka_security_from_env(env)
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize("raw", ["0", "-1", "nan", "lots"])
def test_the_maximum_year_epsilon_must_be_a_positive_number(raw: str) -> None:
    with pytest.raises(ValueError, match=r"^CMM_MAX_YEAR_EPSILON must be a positive number"):
        Settings.from_env(env={"CMM_MAX_YEAR_EPSILON": raw})
    assert Settings.from_env(env={"CMM_MAX_YEAR_EPSILON": "7.5"}).max_year_epsilon == 7.5

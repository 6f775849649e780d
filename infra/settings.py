"""Settings: where the data lives and which store, from the environment or the CLI.

The store is chosen by configuration, never by code: ``CMM_STORE=sqlite`` (the embedded
default, no server) or ``CMM_STORE=postgres`` with ``CMM_POSTGRES_DSN``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

StoreKind = Literal["sqlite", "postgres"]
DEFAULT_MAX_YEAR_EPSILON = 10.0
"""Twice the default year budget: room for a second look, not for near-exact counts."""


def _number(raw: str | None, default: float, fits: Callable[[float], bool], what: str) -> float:
    """A number from the environment: ``default`` when unset or empty, else a finite
    number that ``fits``, or a ValueError saying ``what`` it must be."""
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and fits(value)):
        raise ValueError(f"{what}, not {raw!r}")
    return value


def _max_epsilon(raw: str | None) -> float:
    return _number(
        raw,
        DEFAULT_MAX_YEAR_EPSILON,
        lambda v: v > 0,
        "CMM_MAX_YEAR_EPSILON must be a positive number",
    )


DEFAULT_CLOCK_SKEW_SECONDS = 300.0
"""How far an event's ``recorded_at`` may lie ahead of this machine's clock
(``CMM_CLOCK_SKEW_SECONDS``): producers' clocks drift a little."""


def _clock_skew(raw: str | None) -> float:
    return _number(
        raw,
        DEFAULT_CLOCK_SKEW_SECONDS,
        lambda v: 0 <= v <= 86_400,
        "CMM_CLOCK_SKEW_SECONDS must be a number of seconds from 0 to 86400",
    )


def default_data_dir() -> Path:
    """Per-user data directory (XDG), so nothing lands in the working tree by accident."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cmm-ledger"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    store: StoreKind = "sqlite"
    postgres_dsn: str | None = None
    kafka_bootstrap: str | None = None
    kafka_topic: str = "cmm.events"
    kafka_dead_letter_topic: str = "cmm.events.dead-letter"
    kafka_group: str = "cmm-ledger"
    kafka_security: dict[str, str] = field(default_factory=dict)
    """kafka-python's TLS and SASL options (``security_protocol``, ``sasl_mechanism``, ...),
    from ``CMM_KAFKA_SECURITY_PROTOCOL`` and friends: see :func:`kafka_security_from_env`."""
    max_year_epsilon: float = DEFAULT_MAX_YEAR_EPSILON
    """The largest privacy budget ``cmm budget allocate`` opens a year with
    (``CMM_MAX_YEAR_EPSILON``)."""
    clock_skew_seconds: float = DEFAULT_CLOCK_SKEW_SECONDS
    """How far ``recorded_at`` may lie ahead of now (``CMM_CLOCK_SKEW_SECONDS``)."""

    @classmethod
    def from_env(
        cls,
        data_dir: str | Path | None = None,
        store: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Settings:
        e = os.environ if env is None else env
        chosen = (store or e.get("CMM_STORE") or "sqlite").lower()
        if chosen not in ("sqlite", "postgres"):
            raise ValueError(f"CMM_STORE must be 'sqlite' or 'postgres', not {chosen!r}")
        dsn = e.get("CMM_POSTGRES_DSN") or None
        if chosen == "postgres" and not dsn:
            raise ValueError(
                "CMM_STORE=postgres needs CMM_POSTGRES_DSN, "
                "e.g. postgresql://cmm:cmm@127.0.0.1:5432/cmm"
            )
        directory = Path(data_dir or e.get("CMM_DATA_DIR") or default_data_dir())
        return cls(
            data_dir=directory.expanduser(),
            store=chosen,  # type: ignore[arg-type]
            postgres_dsn=dsn,
            kafka_bootstrap=e.get("CMM_KAFKA_BOOTSTRAP") or None,
            kafka_topic=e.get("CMM_KAFKA_TOPIC", "cmm.events"),
            kafka_dead_letter_topic=e.get("CMM_KAFKA_DLQ_TOPIC", "cmm.events.dead-letter"),
            kafka_group=e.get("CMM_KAFKA_GROUP", "cmm-ledger"),
            kafka_security=kafka_security_from_env(e),
            max_year_epsilon=_max_epsilon(e.get("CMM_MAX_YEAR_EPSILON")),
            clock_skew_seconds=_clock_skew(e.get("CMM_CLOCK_SKEW_SECONDS")),
        )

    def kafka_client_options(self) -> dict[str, Any]:
        """The options every Kafka client of this process is made with (TLS, SASL)."""
        return dict(self.kafka_security)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "events.sqlite3"


KAFKA_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI")
KAFKA_SECURITY_ENV = {
    "CMM_KAFKA_SECURITY_PROTOCOL": "security_protocol",
    "CMM_KAFKA_SASL_MECHANISM": "sasl_mechanism",
    "CMM_KAFKA_SASL_USERNAME": "sasl_plain_username",
    "CMM_KAFKA_SASL_PASSWORD": "sasl_plain_password",
    "CMM_KAFKA_SSL_CAFILE": "ssl_cafile",
    "CMM_KAFKA_SSL_CERTFILE": "ssl_certfile",
    "CMM_KAFKA_SSL_KEYFILE": "ssl_keyfile",
}
"""Environment variables and the kafka-python client options they set."""


def kafka_security_from_env(env: Mapping[str, str]) -> dict[str, str]:
    """kafka-python's security options from ``CMM_KAFKA_*`` (see ``KAFKA_SECURITY_ENV``).

    Checked here, so a misspelt protocol fails at start with the variable's name rather than
    deep inside a connection attempt; a SASL protocol needs a mechanism, and PLAIN and SCRAM
    need a user name and password. Secrets are never echoed in the messages."""
    options = {option: env[var] for var, option in KAFKA_SECURITY_ENV.items() if env.get(var)}
    protocol = options.get("security_protocol", "PLAINTEXT").upper()
    if protocol not in KAFKA_SECURITY_PROTOCOLS:
        raise ValueError(
            f"CMM_KAFKA_SECURITY_PROTOCOL must be one of {', '.join(KAFKA_SECURITY_PROTOCOLS)}, "
            f"not {options['security_protocol']!r}"
        )
    if "security_protocol" in options:
        options["security_protocol"] = protocol
    mechanism = options.get("sasl_mechanism")
    if protocol.startswith("SASL_"):
        if mechanism is None or mechanism.upper() not in KAFKA_SASL_MECHANISMS:
            raise ValueError(
                f"CMM_KAFKA_SECURITY_PROTOCOL={protocol} needs CMM_KAFKA_SASL_MECHANISM, one "
                f"of {', '.join(KAFKA_SASL_MECHANISMS)}"
            )
        options["sasl_mechanism"] = mechanism.upper()
        needs_password = options["sasl_mechanism"] in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
        if needs_password and not (
            options.get("sasl_plain_username") and options.get("sasl_plain_password")
        ):
            raise ValueError(
                f"SASL {options['sasl_mechanism']} needs CMM_KAFKA_SASL_USERNAME and "
                "CMM_KAFKA_SASL_PASSWORD"
            )
    elif mechanism is not None:
        raise ValueError(
            "CMM_KAFKA_SASL_MECHANISM is set but CMM_KAFKA_SECURITY_PROTOCOL is not SASL_SSL or "
            "SASL_PLAINTEXT"
        )
    return options

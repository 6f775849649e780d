"""The docker-compose stack file is valid and defines the expected services.

Runs the real `docker-compose` (the Debian package, 1.29) in `config` mode,
which parses, validates and interpolates the file without needing a Docker
engine. A missing binary is a failure, not a skip: CI installs it, and a
silently skipped check would let a broken stack file land.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
EXPECTED_SERVICES = {"postgres", "kafka", "consumer", "projector"}


def _compose(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail(
            "docker-compose is not on PATH; install it "
            "(Debian: `apt-get install -y docker-compose`) "
            "to validate docker-compose.yml",
            pytrace=False,
        )
    # Keep the caller's COMPOSE_* settings (another file, project name,
    # profiles...) from changing what is validated.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    return subprocess.run(
        [exe, "--project-directory", str(REPO_ROOT), "-f", str(COMPOSE_FILE), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def config() -> dict:
    result = _compose("config")
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    parsed = yaml.safe_load(result.stdout)
    assert isinstance(parsed, dict), f"unexpected `docker-compose config` output:\n{result.stdout}"
    return parsed


def test_compose_file_is_valid() -> None:
    assert COMPOSE_FILE.is_file(), f"{COMPOSE_FILE} is missing"
    result = _compose("config", "-q")
    assert result.returncode == 0, (
        f"docker-compose config -q rejected {COMPOSE_FILE.name}:\n{result.stderr}"
    )


def test_expected_services_present(config: dict) -> None:
    services = set(config.get("services", {}))
    missing = EXPECTED_SERVICES - services
    assert not missing, (
        f"services missing from docker-compose.yml: {sorted(missing)} (has {sorted(services)})"
    )


def test_postgres_service(config: dict) -> None:
    pg = config["services"]["postgres"]
    assert pg["image"].startswith("postgres:")
    env = pg["environment"]
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_DB"]) == (
        "cmm",
        "cmm",
        "cmm",
    )
    assert "healthcheck" in pg


def test_kafka_service_is_single_node_kraft(config: dict) -> None:
    kafka = config["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = {k: str(v) for k, v in kafka["environment"].items()}
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_NODE_ID"] == "1"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    for key in (
        "KAFKA_LISTENERS",
        "KAFKA_ADVERTISED_LISTENERS",
        "KAFKA_CONTROLLER_LISTENER_NAMES",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
    ):
        assert env.get(key), f"kafka service lacks {key}"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    # A single broker cannot host internal topics with more than one replica.
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "1"
    assert "healthcheck" in kafka


@pytest.mark.parametrize(
    ("service", "command"),
    [("consumer", ["consume"]), ("projector", ["project", "--follow"])],
)
def test_app_services(config: dict, service: str, command: list[str]) -> None:
    svc = config["services"][service]
    assert "build" in svc, f"{service} must be built from the repo's Dockerfile"
    build = svc["build"]
    context = Path(build["context"] if isinstance(build, dict) else build)
    assert context.resolve() == REPO_ROOT
    assert (
        REPO_ROOT
        / (build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile")
    ).is_file()
    # The image's entrypoint is `cmm`, so the command is its arguments.
    assert svc["command"] == command
    env = svc["environment"]
    assert env["CMM_STORE"] == "postgres"
    assert env["CMM_POSTGRES_DSN"] == "postgresql://cmm:cmm@postgres:5432/cmm"
    assert env["CMM_KAFKA_BOOTSTRAP"] == "kafka:9092"
    depends = svc["depends_on"]
    for dep in ("postgres", "kafka"):
        assert depends[dep]["condition"] == "service_healthy", (
            f"{service} must wait for a healthy {dep}"
        )


def test_no_obsolete_version_key() -> None:
    # Compose v2 warns that `version:` is obsolete; 1.27+ reads the file without it.
    top = yaml.safe_load(COMPOSE_FILE.read_text())
    assert "version" not in top


def test_the_image_leaves_local_environments_and_caches_out() -> None:
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    for entry in (".venv/", ".git/", "**/__pycache__/", ".mypy_cache/", ".pytest_cache/"):
        assert entry in ignored

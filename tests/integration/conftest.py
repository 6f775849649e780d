"""Real PostgreSQL and Kafka for the integration tests.

The servers are the ones named by ``CMM_POSTGRES_DSN`` and ``CMM_KAFKA_BOOTSTRAP`` when set
(bring your own; the PostgreSQL role needs CREATEDB); otherwise ``infra/servers/*.sh start``
starts them (idempotent: an already running one is reused) and the address is read from the
``export ...`` line the script prints last.

Every test gets a database of its own (created through the DSN's database, dropped
afterwards) and topics of its own (uuid suffix), so tests never see each other's data and a
failed run leaves nothing that affects the next.

``CMM_CLI`` names the command that runs ``cmm`` in the subprocess tests (default
``python -m infra.cli``), e.g. ``CMM_CLI=cmm`` to test the installed entry point.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import pytest

from infra.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVERS = REPO_ROOT / "infra" / "servers"


def _start_server(script: str, variable: str) -> str:
    value = os.environ.get(variable)
    if value:
        return value
    result = subprocess.run(
        ["bash", str(SERVERS / script), "start"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"{script} start failed:\n{result.stderr[-3000:]}", pytrace=False)
    lines = result.stdout.strip().splitlines()
    words = shlex.split(lines[-1]) if lines else []
    if len(words) != 2 or words[0] != "export" or not words[1].startswith(f"{variable}="):
        pytest.fail(f"{script} start printed no export line: {result.stdout!r}", pytrace=False)
    return words[1].split("=", 1)[1]


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """The DSN of the server's own database (tests create theirs through it)."""
    return _start_server("postgres.sh", "CMM_POSTGRES_DSN")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return _start_server("kafka.sh", "CMM_KAFKA_BOOTSTRAP")


# ----------------------------------------------------------------------------------------------
# PostgreSQL: a database per test


def create_database(admin_dsn: str) -> str:
    """A new empty database on the server of ``admin_dsn``; returns its DSN."""
    import psycopg

    name = f"cmm_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return urlunparse(urlparse(admin_dsn)._replace(path=f"/{name}"))


def drop_database(admin_dsn: str, dsn: str) -> None:
    import psycopg

    name = urlparse(dsn).path.lstrip("/")
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def new_database(postgres_dsn: str) -> Iterator[Callable[[], str]]:
    """A factory of fresh databases, all dropped after the test."""
    created: list[str] = []

    def make() -> str:
        dsn = create_database(postgres_dsn)
        created.append(dsn)
        return dsn

    yield make
    for dsn in created:
        drop_database(postgres_dsn, dsn)


@pytest.fixture
def pg_dsn(new_database: Callable[[], str]) -> str:
    return new_database()


@pytest.fixture(params=["sqlite", "postgres"])
def either_store(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings of a new, empty store: the test runs once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        return Settings(data_dir=tmp_path / "data", store="sqlite")
    dsn = request.getfixturevalue("pg_dsn")
    return Settings(data_dir=tmp_path / "data", store="postgres", postgres_dsn=dsn)


# ----------------------------------------------------------------------------------------------
# Kafka: topics per test


@dataclass
class Topics:
    bootstrap: str
    events: str
    dead_letter: str
    group: str
    created: list[str] = field(default_factory=list)

    def create(self, partitions: int) -> None:
        from infra.kafka.producer import create_topic

        for name in (self.events, self.dead_letter):
            create_topic(self.bootstrap, name, partitions if name == self.events else 1)
            self.created.append(name)


@pytest.fixture
def topics(kafka_bootstrap: str) -> Iterator[Topics]:
    suffix = uuid.uuid4().hex[:10]
    names = Topics(
        bootstrap=kafka_bootstrap,
        events=f"cmm-test-events-{suffix}",
        dead_letter=f"cmm-test-dlq-{suffix}",
        group=f"cmm-test-{suffix}",
    )
    yield names
    if names.created:
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="cmm-test-cleanup")
        try:
            admin.delete_topics(names.created)
        except Exception:  # best effort: the names are unique anyway
            pass
        finally:
            admin.close()


# ----------------------------------------------------------------------------------------------
# Events


def sample_events(seed: int = 7, count: int | None = None) -> list[dict[str, Any]]:
    """Events of the 2012 profile (``simulation.simulate``); without it, a synthetic stream."""
    try:
        from simulation.simulate import load_profile, simulate
    except ImportError:
        from bench.bench_postgres import synthetic_events

        return list(synthetic_events(count or 5_000, seed))
    events = list(simulate(load_profile("cmm-2012"), seed=seed))
    return events if count is None else events[:count]


# ----------------------------------------------------------------------------------------------
# Running cmm


def cmm_command() -> list[str]:
    custom = os.environ.get("CMM_CLI")
    return shlex.split(custom) if custom else [sys.executable, "-m", "infra.cli"]


def cmm_env(settings: Settings, topics: Topics | None = None) -> dict[str, str]:
    """The environment that points ``cmm`` at the test's store, servers and topics."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CMM_") or k == "CMM_KEY"}
    env.update(
        {
            "CMM_STORE": settings.store,
            "CMM_DATA_DIR": str(settings.data_dir),
            "PYTHONPATH": str(REPO_ROOT),
        }
    )
    if settings.postgres_dsn:
        env["CMM_POSTGRES_DSN"] = settings.postgres_dsn
    if topics is not None:
        env.update(
            {
                "CMM_KAFKA_BOOTSTRAP": topics.bootstrap,
                "CMM_KAFKA_TOPIC": topics.events,
                "CMM_KAFKA_DLQ_TOPIC": topics.dead_letter,
                "CMM_KAFKA_GROUP": topics.group,
            }
        )
    return env


def run_cmm(
    args: list[str], env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cmm_command(), *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class CmmProcess:
    """A long-running ``cmm`` subprocess whose stderr goes to a file the test can read."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._handle = log.open("w", encoding="utf8")
        self.proc = subprocess.Popen(
            [*cmm_command(), *args],
            env=env,
            cwd=REPO_ROOT,
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def output(self) -> str:
        return self.log.read_text(encoding="utf8", errors="replace")

    def wait_for_output(self, text: str, timeout: float = 60.0) -> None:
        wait_until(
            lambda: text in self.output() or self.proc.poll() is not None,
            timeout,
            f"{text!r} in the output",
        )
        assert text in self.output(), f"process ended without {text!r}:\n{self.output()}"

    def wait(self, timeout: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._handle.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait()


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
) -> None:
    """Poll ``condition`` until true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def processes() -> Iterator[list[CmmProcess]]:
    """Long-running processes of a test, killed at its end whatever happened."""
    started: list[CmmProcess] = []
    yield started
    for process in started:
        process.kill()


# ----------------------------------------------------------------------------------------------
# Processes, read from /proc (never from the code under test)


def children_of(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces; the parent pid follows the closing parenthesis.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"

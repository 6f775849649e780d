"""Every connection of every command honours the DSN's ``sslmode``.

The test server (``infra/servers/postgres.sh``) speaks TLS with a self-signed certificate and
has a role, ``cmm_tls``, that is refused over TCP without TLS. The commands run with
``PGSSLMODE=disable`` in their environment, as a stray setting on a user's machine might say:
only a command that takes TLS from the DSN on *every* connection (the event store, the read
model, the projection's tracking, the budget and partner ledgers) gets through.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

pytestmark = pytest.mark.integration

TLS_USER = "cmm_tls"


def _with(dsn: str, *, sslmode: str) -> str:
    url = urlparse(dsn)
    netloc = f"{TLS_USER}:cmm@{url.hostname}:{url.port}"
    return urlunparse(url._replace(netloc=netloc, query=f"sslmode={sslmode}"))


def _cmm(dsn: str, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "cmm"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "infra.cli"]
    env = {
        **os.environ,
        "CMM_STORE": "postgres",
        "CMM_POSTGRES_DSN": dsn,
        "CMM_DATA_DIR": str(data),
        "PGSSLMODE": "disable",
    }
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env, timeout=600)


def test_every_command_connects_over_tls(new_database: Callable[[], str], tmp_path: Path) -> None:
    database = new_database()
    tls = _with(database, sslmode="require")
    plain = _with(database, sslmode="disable")
    data = tmp_path / "data"
    events = tmp_path / "events.jsonl"

    simulated = _cmm(
        tls, data, "simulate", "--profile", "cmm-2012", "--seed", "4", "--out", str(events)
    )
    assert simulated.returncode == 0, simulated.stderr

    # The server really refuses this role without TLS: the control.
    refused = _cmm(plain, data, "ingest", str(events))
    assert refused.returncode != 0
    assert "no encryption" in refused.stderr or "rejects connection" in refused.stderr

    year, as_of = "2012", "2013-01-31"
    steps = [
        ("ingest", str(events)),
        ("project",),
        ("report", "--year", year, "--as-of", as_of),
        ("cases", "--flagged"),
        ("budget", "allocate", "--year", year, "--epsilon", "5"),
        ("publish", "--year", year, "--as-of", as_of, "--out", str(tmp_path / "open")),
        ("budget", "--year", year),
        (
            "publish",
            "--method",
            "suppression",
            "--year",
            year,
            "--as-of",
            as_of,
            "--out",
            str(tmp_path / "partners"),
        ),
    ]
    for step in steps:
        result = _cmm(tls, data, *step)
        assert result.returncode == 0, (step, result.stderr[-2000:])
    assert (tmp_path / "open" / "datapackage.json").exists()
    assert (tmp_path / "partners" / "datapackage.json").exists()

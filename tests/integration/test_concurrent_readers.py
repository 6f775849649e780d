"""Readers started together all get an answer: reports and case queries, several at once,
right after an ingest (so each finds the read model behind and wants to bring it up to
date), on SQLite and on PostgreSQL. Every one exits 0 and they all agree."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra.settings import Settings
from tests.integration.conftest import cmm_command, cmm_env, run_cmm

pytestmark = pytest.mark.integration

READERS = 8


@pytest.fixture
def settings(either_store: Settings) -> Settings:
    return either_store


def test_readers_started_together_all_answer_alike(settings: Settings, tmp_path: Path) -> None:
    env = cmm_env(settings)
    events = tmp_path / "events.jsonl"
    made = run_cmm(["simulate", "--profile", "cmm-2012", "--seed", "6", "--out", str(events)], env)
    assert made.returncode == 0, made.stderr
    ingested = run_cmm(["ingest", str(events)], env)
    assert ingested.returncode == 0, ingested.stderr

    commands = [
        ["report", "--year", "2012", "--as-of", "2013-01-31", "--format", "json"]
        if i % 2 == 0
        else ["cases", "--format", "json"]
        for i in range(READERS)
    ]
    procs = [
        subprocess.Popen(
            [*cmm_command(), *c],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for c in commands
    ]
    results = [(p.communicate(timeout=600), p.returncode) for p in procs]
    for (_out, err), code in results:
        assert code == 0, err[-3000:]
    reports = {out for ((out, _), _), c in zip(results, commands, strict=True) if c[0] == "report"}
    cases = {out for ((out, _), _), c in zip(results, commands, strict=True) if c[0] == "cases"}
    assert len(reports) == 1 and len(cases) == 1
    assert '"person_ref"' in cases.pop()

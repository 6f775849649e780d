"""Case flags reach case workers: the simulator writes a few inconsistent histories, and
``cmm cases --flagged`` lists exactly those cases with their flags, read from the ``flags``
column of the case read model, on SQLite and PostgreSQL.

The expected flags come from the event file itself, by a rule written here: a person with
both a positive and a negative assessment has conflicting assessments.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.composition import open_view
from infra.readmodel import case_rows
from infra.settings import Settings
from tests.integration.conftest import cmm_env, run_cmm

pytestmark = pytest.mark.integration


def _expected_flags(events_file: Path) -> dict[str, set[str]]:
    outcomes: dict[str, set[str]] = {}
    for line in events_file.read_text().splitlines():
        event = json.loads(line)
        if event["type"] == "AssessmentDecided":
            outcomes.setdefault(event["person_ref"], set()).add(event["payload"]["outcome"])
    return {ref: {"conflicting_assessments"} for ref, seen in outcomes.items() if len(seen) > 1}


def _split(flags: str | None) -> set[str]:
    return {f.strip() for f in (flags or "").replace(";", ",").split(",") if f.strip()}


@pytest.fixture
def settings(either_store: Settings) -> Settings:
    return either_store


def test_flagged_cases_are_listed_with_their_flags(settings: Settings, tmp_path: Path) -> None:
    env = cmm_env(settings)
    events_file = tmp_path / "events.jsonl"
    made = run_cmm(["simulate", "--seed", "11", "--scale", "2", "--out", str(events_file)], env)
    assert made.returncode == 0, made.stderr
    expected = _expected_flags(events_file)
    assert len(expected) >= 3  # a few, as a year of the centre's cases has

    stored = run_cmm(["ingest", str(events_file)], env)
    assert stored.returncode == 0, stored.stderr
    listed = run_cmm(["cases", "--flagged", "--format", "json"], env)
    assert listed.returncode == 0, listed.stderr
    shown = {row["person_ref"]: _split(row["flags"]) for row in json.loads(listed.stdout)}
    assert shown == expected

    # The read model's own column holds them (sealed in the database, ``infra.view_seal``:
    # read here through the view port, not the command).
    view = open_view(settings)
    try:
        rows = case_rows(view)
    finally:
        view.close()
    assert {r["person_ref"]: _split(r["flags"]) for r in rows if r["flags"]} == expected

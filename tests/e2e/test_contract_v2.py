"""Contract version 2 as a user meets it: version-1 files still ingest and report as before,
and what the centre's later years need can be recorded and is counted (issue 13, points 1,
2, 3, 6 and 7), through ``cmm ingest``, ``cmm report`` and ``cmm cases``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import cmm

PERSON_A = "P-aaaa0001"
PERSON_B = "P-bbbb0002"
PERSON_C = "P-cccc0003"
_ids = iter(range(1, 10_000))


def event(
    kind: str,
    payload: dict[str, Any],
    occurred: str,
    person: str | None = None,
    recorded: str | None = None,
    version: int = 2,
) -> dict[str, Any]:
    e: dict[str, Any] = {
        "event_id": f"0189c7a0-0000-7000-8000-{next(_ids):012d}",
        "type": kind,
        "schema_version": version,
        "occurred_at": occurred,
        "recorded_at": recorded or occurred,
        "source": "cmm",
        "payload": payload,
    }
    if person is not None:
        e["person_ref"] = person
    return e


def assessment(**fields: Any) -> dict[str, Any]:
    payload = {
        "authority": "cmm",
        "outcome": "victim",
        "exploitation": "sexual_exploitation",
        "citizenship": "RO",
        "gender": "female",
        "age": 30,
        "legal_residence": True,
    }
    payload.update(fields)
    return {k: v for k, v in payload.items() if v is not ...}


def write(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def report(data: Path, year: int, as_of: str) -> dict[str, Any]:
    out = cmm("report", "--year", str(year), "--as-of", as_of, "--format", "json", data_dir=data)
    document: dict[str, Any] = json.loads(out.stdout)
    return document


def table(document: dict[str, Any], name: str, key: str) -> dict[str, int]:
    return {row[key]: row["count"] for row in document["tables"][name]}


def test_a_version_1_file_ingests_and_reports_exactly_as_its_version_2_copy(
    tmp_path: Path,
) -> None:
    simulated = tmp_path / "events.jsonl"
    cmm("simulate", "--seed", "5", "--out", str(simulated))
    lines = [json.loads(line) for line in simulated.read_text().splitlines()]
    assert {e["schema_version"] for e in lines} == {2}
    v1 = write(tmp_path / "v1.jsonl", [{**e, "schema_version": 1} for e in lines])

    cmm("ingest", str(v1), data_dir=tmp_path / "d1")
    cmm("ingest", str(simulated), data_dir=tmp_path / "d2")
    as_v1 = report(tmp_path / "d1", 2012, "2013-01-31")
    as_v2 = report(tmp_path / "d2", 2012, "2013-01-31")
    assert as_v1 == as_v2
    assert sum(table(as_v1, "by_authority", "authority").values()) == 66


@pytest.fixture(scope="module")
def later_year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small stream of 2019 and 2020 in version 2 (and one version-1 event)."""
    where = tmp_path_factory.mktemp("v2")
    new_year = "2020-01-01T00:30:00+01:00"  # 2019-12-31T23:30:00Z
    events = [
        # A: refused in 2019, identified on reassessment in 2020 (point 7).
        event("ContactRegistered", {"channel": "police"}, "2019-05-01T10:00:00Z", PERSON_A),
        event(
            "AssessmentDecided",
            assessment(outcome="not_victim", exploitation=...),
            "2019-06-01T10:00:00Z",
            PERSON_A,
        ),
        event(
            "AssessmentDecided",
            assessment(
                exploitation="undetermined", gender="unknown", age=None, kind="reassessment"
            ),
            "2020-03-01T10:00:00Z",
            PERSON_A,
        ),
        # B: assessed a minor of 16 just after midnight on new year's day, Danish time
        # (points 2 and 6), with further forms (point 4's data).
        event("ContactRegistered", {"channel": "police"}, new_year, PERSON_B),
        event(
            "AssessmentDecided",
            assessment(age=16, additional_forms=["forced_criminality"]),
            new_year,
            PERSON_B,
        ),
        event("SupportOffered", {"reflection_days": 45}, "2020-01-03T10:00:00Z", PERSON_B),
        # C: version 1, two conflicting initial assessments: still flagged.
        event(
            "ContactRegistered", {"channel": "police"}, "2020-02-01T10:00:00Z", PERSON_C, version=1
        ),
        event("AssessmentDecided", assessment(), "2020-02-02T10:00:00Z", PERSON_C, version=1),
        event(
            "AssessmentDecided",
            assessment(outcome="not_victim", exploitation=...),
            "2020-04-02T10:00:00Z",
            PERSON_C,
            version=1,
        ),
        # A hotline call at the same new-year moment is a call of 2020.
        event("HotlineCallReceived", {"caller": "police", "reason": "advice"}, new_year),
    ]
    cmm("ingest", str(write(where / "later.jsonl", events)), data_dir=where / "data")
    return where / "data"


def test_undetermined_unknown_gender_unknown_age_and_minors_are_counted(later_year: Path) -> None:
    document = report(later_year, 2020, "2021-01-31")
    exploitation = table(document, "by_exploitation", "exploitation")
    assert (exploitation["undetermined"], exploitation["sexual_exploitation"]) == (1, 2)
    gender = table(document, "by_gender", "gender")
    assert (gender["unknown"], gender["other"], gender["female"]) == (1, 0, 2)
    bands = table(document, "by_age_band", "age_band")
    assert (bands["unknown"], bands["15-17"], bands["0-14"], bands["30-39"]) == (1, 1, 0, 1)


def test_a_new_year_moment_counts_in_the_danish_year(later_year: Path) -> None:
    in_2020 = report(later_year, 2020, "2021-01-31")
    in_2019 = report(later_year, 2019, "2020-01-31")
    assert sum(table(in_2020, "hotline_by_caller", "caller").values()) == 1
    assert sum(table(in_2019, "hotline_by_caller", "caller").values()) == 0
    assert table(in_2020, "victims_by_year", "year").get(2020) == 3
    # The 2019 report (as of 2020-01-31) ends its series at 2019 (point 5): B, assessed on
    # new year's day 2020 and known by the cut-off, is not a 2019 victim and has no row.
    assert table(in_2019, "victims_by_year", "year") == {2019: 0}


def test_each_return_figure_names_its_definition(later_year: Path) -> None:
    tables = report(later_year, 2020, "2021-01-31")["tables"]
    assert {row["definition"] for row in tables["returns"]} == {"status_at_cutoff"}
    cohorts = tables["prepared_returns_in_year_all_cohorts"]
    assert [row["definition"] for row in cohorts] == ["returned_in_year"]


def test_reflection_periods_are_reported_from_the_offers(later_year: Path) -> None:
    [row] = report(later_year, 2020, "2021-01-31")["tables"]["reflection_periods"]
    assert (row["victims"], row["offered_reflection_period"]) == (3, 1)
    assert (row["days_min"], row["days_max"]) == (45, 45)


def test_forms_are_published_in_groups_and_by_any_form(later_year: Path) -> None:
    tables = report(later_year, 2020, "2021-01-31")
    groups = table(tables, "by_exploitation_group", "exploitation_group")
    assert groups == {
        "sexual_exploitation": 2,
        "forced_labour_and_criminality": 0,
        "other_forms": 0,
        "undetermined": 1,
    }
    assert table(tables, "by_any_form", "exploitation")["forced_criminality"] == 1
    assert table(tables, "by_citizenship_group", "citizenship_group")["other_eu"] == 3


def test_a_reassessment_is_a_process_and_conflicting_initial_ones_are_flagged(
    later_year: Path,
) -> None:
    flagged = json.loads(cmm("cases", "--flagged", "--format", "json", data_dir=later_year).stdout)
    assert [row["person_ref"] for row in flagged] == [PERSON_C]
    assert "conflicting_assessments" in str(flagged[0]["flags"])

"""The ``cmm`` command as a user runs it: a real process, real files, exit codes."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REFERENCE_TABLES = {
    "victims_by_year",
    "by_authority",
    "by_channel",
    "by_region",
    "by_citizenship",
    "by_exploitation",
    "labour_by_industry",
    "labour_by_industry_gender",
    "by_gender",
    "by_age_band",
    "status_at_cutoff",
    "hotline_by_caller",
    "hotline_police_by_reason",
    "outreach_activity",
}


def cmm(
    *args: str,
    data_dir: Path | None = None,
    check: bool = True,
    unset: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "cmm"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "infra.cli"]
    env = {
        **{k: v for k, v in os.environ.items() if k not in unset},
        "CMM_STORE": "sqlite",  # unless the test says otherwise
        **(env or {}),
    }
    if data_dir is not None:
        env["CMM_DATA_DIR"] = str(data_dir)
    result = subprocess.run([*command, *args], capture_output=True, text=True, env=env, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"cmm {' '.join(args)} failed:\n{result.stderr}")
    return result


def simulated_store(
    where: Path, seed: int, edit: Callable[[list[str]], None] | None = None
) -> Path:
    """A data directory holding one simulated year (``edit`` may change its lines first)."""
    events = where / "events.jsonl"
    cmm("simulate", "--seed", str(seed), "--out", str(events))
    if edit is not None:
        lines = events.read_text().splitlines()
        edit(lines)
        events.write_text("\n".join(lines) + "\n")
    cmm("ingest", str(events), data_dir=where / "data")
    return where / "data"


def test_demo_prints_the_2012_report(tmp_path: Path) -> None:
    result = cmm("demo", "--data-dir", str(tmp_path / "demo"))
    out = result.stdout
    assert "annual report 2012, as known on 2013-01-31" in out
    for table in REFERENCE_TABLES:
        assert f"({table})" in out
    lines = out.splitlines()
    authority = next(i for i, line in enumerate(lines) if line.endswith("(by_authority)"))
    shown = [line.strip("│┃ ").split("│") for line in lines[authority : authority + 8]]
    cells = {row[0].strip(): row[-1].strip() for row in shown if len(row) == 2}
    assert cells["Immigration Service"] == "45"
    assert cells["Centre against Human Trafficking"] == "21"
    assert "2/3 ingest" in result.stderr  # progress is shown


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    cmm("simulate", "--profile", "cmm-2012", "--seed", "5", "--out", str(path))
    return path


def test_ingest_reports_rejects_keeps_the_rest_and_is_idempotent(
    tmp_path: Path, events_file: Path
) -> None:
    lines = events_file.read_text().splitlines()
    broken = json.loads(lines[3])
    broken["payload"]["channel"] = "telepathy"
    broken["event_id"] = "0189c7a0-0000-7000-8000-0000000000ff"
    lines.insert(7, json.dumps(broken))
    lines.insert(2, "this is not json")
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("\n".join(lines) + "\n")
    data = tmp_path / "data"

    first = cmm("ingest", str(mixed), data_dir=data, check=False)
    assert first.returncode == 1
    assert f"{mixed}:3: rejected:" in first.stderr
    assert f"{mixed}:9: rejected: payload.channel" in first.stderr
    valid = len(lines) - 2
    assert f"{valid:,} events stored, 0 already stored, 2 rejected" in first.stdout
    rejects = [
        json.loads(x) for x in (tmp_path / "mixed.jsonl.rejects.jsonl").read_text().splitlines()
    ]
    assert [r["line"] for r in rejects] == [3, 9]

    again = cmm("ingest", str(events_file), data_dir=data)
    assert f"0 events stored, {valid:,} already stored, 0 rejected" in again.stdout


def test_report_formats(tmp_path: Path, events_file: Path) -> None:
    data = tmp_path / "data"
    cmm("ingest", str(events_file), data_dir=data)
    out_json = tmp_path / "report.json"
    cmm(
        "report",
        "--year",
        "2012",
        "--as-of",
        "2013-01-31",
        "--format",
        "json",
        "--out",
        str(out_json),
        data_dir=data,
    )
    report = json.loads(out_json.read_text())
    assert (report["year"], report["as_of"]) == (2012, "2013-01-31")
    assert report["code_list_version"]
    assert report["labels"]["authority"]["cmm"]["da"]
    assert set(report["tables"]) >= REFERENCE_TABLES
    assert {r["authority"]: r["count"] for r in report["tables"]["by_authority"]} == {
        "immigration_service": 45,
        "cmm": 21,
    }
    stdout_json = json.loads(
        cmm(
            "report", "--year", "2012", "--as-of", "2013-01-31", "--format", "json", data_dir=data
        ).stdout
    )
    assert stdout_json == report

    out_csv = tmp_path / "csv"
    cmm(
        "report",
        "--year",
        "2012",
        "--as-of",
        "2013-01-31",
        "--format",
        "csv",
        "--out",
        str(out_csv),
        data_dir=data,
    )
    with (out_csv / "by_gender.csv").open() as handle:
        rows = {r["gender"]: int(r["count"]) for r in csv.DictReader(handle)}
    assert rows["female"] == 56 and rows["male"] == 10


def test_cases_for_case_workers(tmp_path: Path, events_file: Path) -> None:
    data = tmp_path / "data"
    cmm("ingest", str(events_file), data_dir=data)
    cases = json.loads(cmm("cases", "--format", "json", data_dir=data).stdout)
    victims = [c for c in cases if c["assessed"] == "1"]
    assert len(victims) >= 66
    one = victims[0]["person_ref"]
    single = json.loads(cmm("cases", "--person", one, "--format", "json", data_dir=data).stdout)
    assert [c["person_ref"] for c in single] == [one]


def test_bad_settings_give_a_clear_error(tmp_path: Path) -> None:
    env_store = cmm(
        "report",
        "--year",
        "2012",
        "--as-of",
        "2013-01-31",
        "--store",
        "postgres",
        data_dir=tmp_path,
        check=False,
        unset=("CMM_POSTGRES_DSN",),
    )
    assert env_store.returncode == 2
    assert "CMM_POSTGRES_DSN" in env_store.stderr


def test_publish_spends_the_budget_once_and_suppression_needs_none(
    tmp_path: Path, events_file: Path
) -> None:
    data = tmp_path / "data"
    cmm("ingest", str(events_file), data_dir=data)
    closed = cmm(
        "publish",
        "--year",
        "2012",
        "--as-of",
        "2013-01-31",
        "--out",
        str(tmp_path / "open"),
        data_dir=data,
        check=False,
    )
    assert closed.returncode == 3
    assert "cmm budget allocate --year 2012" in closed.stderr
    assert not (tmp_path / "open").exists()
    too_much = cmm(
        "budget", "allocate", "--year", "2012", "--epsilon", "200", data_dir=data, check=False
    )
    assert too_much.returncode == 3 and "above the maximum of 10" in too_much.stderr
    cmm("budget", "allocate", "--year", "2012", "--epsilon", "5", data_dir=data)
    # A dry run shows what a release would cost and how accurate it would be; it spends
    # nothing and writes nothing.
    dry = cmm("publish", "--dry-run", "--year", "2012", "--json", data_dir=data)
    expected = json.loads(dry.stdout)["tables"]
    # The reference tables, the forms in the annual report's groups and the breakdowns for
    # Eurostat, GRETA and UNODC; the margins are derived from the fit and spend nothing.
    breakdowns = {
        "by_exploitation_group",
        "by_citizenship_group",
        "by_exploitation_gender",
        "by_gender_age_group",
        "by_gender_age_band",
    }
    assert set(expected) == REFERENCE_TABLES | breakdowns
    assert expected["victims_by_year"]["epsilon"] == 0
    assert expected["by_gender_age_band"]["epsilon"] > 0
    assert expected["by_exploitation_gender"]["epsilon"] > 0
    for derived in ("by_exploitation_group", "by_gender", "by_gender_age_group"):
        assert expected[derived]["epsilon"] == 0, derived
    assert expected["by_citizenship_group"]["epsilon"] == 0
    assert (
        json.loads(cmm("budget", "--year", "2012", "--json", data_dir=data).stdout)["releases"]
        == []
    )
    text = cmm("publish", "--dry-run", "--year", "2012", data_dir=data).stdout
    assert "nothing spent" in text and "by_citizenship" in text
    first = cmm(
        "publish",
        "--year",
        "2012",
        "--as-of",
        "2013-01-31",
        "--out",
        str(tmp_path / "open"),
        data_dir=data,
    )
    assert f"released {len(REFERENCE_TABLES) + len(breakdowns)} tables" in first.stdout
    for name, figures in expected.items():
        with (tmp_path / "open" / f"{name}.csv").open() as handle:
            margins = [
                int(float(r["moe95"]))
                for r in csv.DictReader(handle)
                if r["moe95"] and "total" not in r.values()  # cells, not the total row
            ]
        # The dry run's margins are the release's: both come from public parameters only
        # (suppressed cells show none, so the published ones lie within the dry run's range).
        assert all(figures["moe95_min"] <= m <= figures["moe95_max"] for m in margins), name
    package = json.loads((tmp_path / "open" / "datapackage.json").read_text())
    assert {r["name"] for r in package["resources"]} >= REFERENCE_TABLES
    with (tmp_path / "open" / "labour_by_industry.csv").open() as handle:
        for row in csv.DictReader(handle):
            # A small released value is never published as a number.
            assert row["status"] == "suppressed" or int(row["count"]) >= 5
    budget = cmm("budget", "--year", "2012", "--json", data_dir=data)
    summary = json.loads(budget.stdout)
    assert len(summary["releases"]) == 1
    assert summary["releases"][0]["state"] == "written"
    assert summary["allocated"]["total"] == 5.0

    refused = cmm(
        "publish",
        "--year",
        "2012",
        "--as-of",
        "2013-01-31",
        "--out",
        str(tmp_path / "again"),
        data_dir=data,
        check=False,
    )
    assert refused.returncode == 3
    assert "overspend" in refused.stderr
    assert not (tmp_path / "again").exists()

    sdc = cmm(
        "publish",
        "--method",
        "suppression",
        "--year",
        "2012",
        "--as-of",
        "2013-01-31",
        "--out",
        str(tmp_path / "partners"),
        data_dir=data,
    )
    assert "(suppression)" in sdc.stdout
    assert (tmp_path / "partners" / "datapackage.json").exists()

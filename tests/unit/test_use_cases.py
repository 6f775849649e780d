"""The use cases called directly, as the CLI and the HTTP API call them: on a real SQLite
store in a temporary folder, with the adapters the composition binds to the settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from application.budget import allocate_budget, budget_of_year, render_budget
from application.cases import cases
from application.ingest import MissingInput, estimated_lines, ingest
from application.ports import Adapters
from application.project import project
from application.publish_dp import YearNotOpen, publish_dp
from application.publish_partners import publish_sdc
from application.report import ReportRefused, annual_report, check_year
from infra.settings import Settings
from infra.wiring import adapters
from privacy.budget import BudgetError
from privacy.params import PrivacyParams
from simulation.simulate import load_profile, simulate, write_jsonl

YEAR, AS_OF = 2012, "2013-01-31"


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("events") / "events.jsonl"
    write_jsonl(simulate(load_profile("cmm-2012"), seed=3), path)
    return path


@pytest.fixture(scope="module")
def store(events: Path, tmp_path_factory: pytest.TempPathFactory) -> Adapters:
    """A store holding the simulated year (shared: the tests below only read it or write
    to their own folders)."""
    ports = adapters(Settings(data_dir=tmp_path_factory.mktemp("store")))
    ingest(ports, events, workers=0)
    return ports


def test_ingest_stores_each_event_once_and_reports_progress(events: Path, tmp_path: Path) -> None:
    ports = adapters(Settings(data_dir=tmp_path))
    seen: list[tuple[int, int | None, bool]] = []
    first = ingest(ports, events, workers=0, progress=lambda *p: seen.append(p))
    lines = len(events.read_text().splitlines())
    assert (first.lines, first.appended, first.duplicates, first.rejects) == (lines, lines, 0, [])
    assert seen and seen[-1][0] == lines and seen[-1][1] == estimated_lines(events)[0]
    again = ingest(ports, events, workers=0)
    assert (again.appended, again.duplicates) == (0, lines)


def test_ingest_refuses_a_missing_file_and_stores_nothing(tmp_path: Path) -> None:
    with pytest.raises(MissingInput, match=r"^no such file: .*nowhere\.jsonl$"):
        ingest(adapters(Settings(data_dir=tmp_path / "data")), tmp_path / "nowhere.jsonl")
    assert not (tmp_path / "data").exists()


def test_the_annual_report_counts_the_year(store: Adapters) -> None:
    progress: list[tuple[int, int]] = []
    tables = annual_report(store, YEAR, AS_OF, progress=lambda d, t: progress.append((d, t)))
    assert int(tables["by_gender"]["count"].sum()) > 0
    assert "outreach_activity" in tables


@pytest.mark.parametrize(
    ("year", "as_of", "message"),
    [
        (2030, "2031-01-31", r"^--year 2030: the store holds no events of 2030"),
        (2012, "2012-06-30", r"^--as-of 2012-06-30 is before the end of 2012"),
    ],
)
def test_a_report_that_cannot_be_meant_is_refused(
    store: Adapters, year: int, as_of: str, message: str
) -> None:
    with pytest.raises(ReportRefused, match=message):
        annual_report(store, year, as_of)


def test_a_year_outside_the_events_is_refused() -> None:
    with pytest.raises(ReportRefused, match=r"^12 is outside the years events can have"):
        check_year(12)


def test_project_brings_the_read_model_up_to_date_once(store: Adapters) -> None:
    first = project(store)
    again = project(store)
    assert again.processed == 0 and again.position == first.position > 0


def test_cases_lists_each_person_and_the_flagged_ones_with_their_flags(store: Adapters) -> None:
    everyone = cases(store)
    assert len({row["person_ref"] for row in everyone}) == len(everyone) > 0
    flagged = cases(store, flagged=True)
    assert flagged == [row for row in everyone if row["flags"]]
    one = everyone[0]["person_ref"]
    assert [row["person_ref"] for row in cases(store, one)] == [one]


def test_a_dp_release_spends_the_budget_once_and_writes_the_package(
    events: Path, tmp_path: Path
) -> None:
    ports = adapters(Settings(data_dir=tmp_path / "data"))
    ingest(ports, events, workers=0)
    with pytest.raises(YearNotOpen, match=r"cmm budget allocate --year 2012"):
        publish_dp(ports, YEAR, AS_OF, tmp_path / "never")
    assert not (tmp_path / "never").exists()
    allocate_budget(ports, YEAR, 5.0, "alice")
    release = publish_dp(ports, YEAR, AS_OF, tmp_path / "open", PrivacyParams(epsilon_total=2.0))
    package = json.loads((tmp_path / "open" / "datapackage.json").read_text())
    assert package["version"] == release.metadata["release_id"]
    summary = budget_of_year(ports, YEAR)
    assert summary["spent_total"] == pytest.approx(2.0)
    assert [r["state"] for r in summary["releases"]] == ["written"]
    assert "Remaining: 3.0000" in render_budget(summary)
    with pytest.raises(BudgetError):  # more than remains: refused, nothing drawn
        publish_dp(ports, YEAR, AS_OF, tmp_path / "more", PrivacyParams(epsilon_total=4.0))
    assert budget_of_year(ports, YEAR)["spent_total"] == pytest.approx(2.0)


def test_a_partner_release_is_recorded_and_shown_with_the_budget(
    events: Path, tmp_path: Path
) -> None:
    ports = adapters(Settings(data_dir=tmp_path / "data"))
    ingest(ports, events, workers=0)
    release = publish_sdc(ports, YEAR, AS_OF, tmp_path / "partners", threshold=5)
    assert (tmp_path / "partners" / "datapackage.json").is_file()
    partners = budget_of_year(ports, YEAR)["partner_releases"]
    assert [p["release_id"] for p in partners] == [release.metadata["release_id"]]
    assert partners[0]["hidden_cells"] > 0

"""Five simulated years in one data directory, as the centre's store holds them after five
years: each year's report is that year's alone, and the series of victims by year ends at
the report year (issue 13). The years' profiles are files found by name through
``CMM_PROFILE_PATH``: a new year takes a file, not code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import cmm
from tests.unit.test_simulate import shifted_profile

YEARS = range(2012, 2017)
# Tables that are about several years by definition: the series, and the returns of any
# cohort in the year (a cohort of the year before returns in this one).
ACROSS_YEARS = {"victims_by_year", "prepared_returns_in_year_all_cohorts"}


def report(data: Path, year: int) -> dict[str, Any]:
    out = cmm(
        "report",
        "--year",
        str(year),
        "--as-of",
        f"{year + 1}-01-31",
        "--format",
        "json",
        data_dir=data,
    )
    tables: dict[str, Any] = json.loads(out.stdout)["tables"]
    return tables


@pytest.fixture(scope="module")
def years(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, dict[str, Any]]]:
    """The shared data directory, and each year's report from a store of that year alone."""
    where = tmp_path_factory.mktemp("years")
    profiles = where / "profiles"
    profiles.mkdir()
    env = {"CMM_PROFILE_PATH": str(profiles)}
    shared = where / "shared"
    alone: dict[int, dict[str, Any]] = {}
    for year in YEARS:
        # Only the first year brings victims of the year before it: later years' earlier
        # victims are the years before them in the store.
        profile = shifted_profile(year, earlier_victims=year == YEARS[0])
        (profiles / f"shifted-{year}.json").write_text(json.dumps(profile), "utf-8")
        events = where / f"{year}.jsonl"
        cmm(
            "simulate",
            "--profile",
            f"shifted-{year}",
            "--seed",
            str(year),
            "--out",
            str(events),
            env=env,
        )
        cmm("ingest", str(events), data_dir=where / f"alone-{year}")
        cmm("ingest", str(events), data_dir=shared)
        alone[year] = report(where / f"alone-{year}", year)
    return shared, alone


@pytest.mark.parametrize("year", YEARS)
def test_each_years_report_in_the_shared_store_is_that_year_alone(
    years: tuple[Path, dict[int, dict[str, Any]]], year: int
) -> None:
    shared, alone = years
    tables = report(shared, year)
    assert set(tables) == set(alone[year])
    for name in set(tables) - ACROSS_YEARS:
        assert tables[name] == alone[year][name], name

    series = {row["year"]: row["count"] for row in tables["victims_by_year"]}
    assert max(series) == year  # never beyond the report year
    assert list(series) == list(range(YEARS[0] - 1, year + 1))
    for earlier in range(YEARS[0], year + 1):
        own = {row["year"]: row["count"] for row in alone[earlier]["victims_by_year"]}
        assert series[earlier] == own[earlier] == 66

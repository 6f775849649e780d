"""The synthetic 2012 stream, reported as of the cut-off, reproduces every figure the centre
published for 2012 (a copy in ``tests/data/cmm-2012.json``), whatever the seed.

Each leaf of the reference is one named check, so a failure says which figure is off. Exact
figures must match exactly; figures the report gives in words are checked by their words
("almost half" is 40-50 %, "a quarter" 20-30 %, "a fifth" 15-25 %, "a few" 1-5, "more than a
third" above a third, "approx" within 10 %). ``test_every_figure_is_checked`` fails if the
reference gains a figure that no check covers.

At ``scale`` K every count is K times the published one (approximate counts approximately);
shares, extremes and means stay as published.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from domain.countries import COUNTRIES
from projections.case_fold import fold_case
from projections.case_rows import FactRow
from projections.report import build_report
from simulation.simulate import load_profile, simulate

REFERENCE_PATH = Path(__file__).parents[1] / "data" / "cmm-2012.json"
REFERENCE: dict[str, Any] = json.loads(REFERENCE_PATH.read_text(encoding="utf-8"))
YEAR: int = REFERENCE["reporting_year"]
AS_OF: str = REFERENCE["status_cutoff"]
# (seed, scale, contract version): the simulator writes the current version; a version-1
# stream is the same events as a version-1 producer sends them, and must read the same.
RUNS = [(1, 1, 2), (1, 1, 1), (2012, 1, 2), (424242, 1, 2), (7, 2, 2), (7, 2, 1)]


# ----------------------------------------------------------------------------------------------
# The report of one run


@dataclass(frozen=True)
class Run:
    seed: int
    scale: int
    records: list[dict[str, Any]]
    tables: dict[str, pd.DataFrame]
    facts: list[FactRow]  # the year's victims as known at the cut-off, from the projection

    def count(self, table: str, **keys: str) -> int:
        frame = self.tables[table]
        for column, value in keys.items():
            frame = frame[frame[column] == value]
        return int(frame["count"].sum())

    @property
    def victims(self) -> int:
        return self.count("by_gender")

    def row(self, table: str, **keys: str) -> pd.Series:
        frame = self.tables[table]
        for column, value in keys.items():
            frame = frame[frame[column] == value]
        assert len(frame) == 1, f"{table} has {len(frame)} rows for {keys}"
        return frame.iloc[0]

    def outreach(self, place: str, measure: str, column: str = "value") -> Any:
        value = self.row("outreach_activity", place=place, measure=measure)[column]
        return None if pd.isna(value) else value


@cache
def run(seed: int, scale: int, version: int = 2) -> Run:
    records = list(simulate("cmm-2012", seed=seed, scale=scale))
    assert {r["schema_version"] for r in records} == {2}
    if version == 1:
        records = [{**r, "schema_version": 1} for r in records]
    tables = build_report(records, year=YEAR, as_of=AS_OF)
    by_person: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if "person_ref" in r:
            by_person.setdefault(r["person_ref"], []).append(r)
    facts = []
    for ref, history in by_person.items():
        fact = fold_case(ref, history, AS_OF).fact()
        if fact is not None and fact.year == YEAR:
            facts.append(fact)
    return Run(seed, scale, records, tables, facts)


@pytest.fixture(scope="module", params=RUNS, ids=[f"seed{s}-x{k}-v{v}" for s, k, v in RUNS])
def report(request: pytest.FixtureRequest) -> Run:
    seed, scale, version = request.param
    return run(seed, scale, version)


# ----------------------------------------------------------------------------------------------
# Words


def share_in(words: str, part: int, total: int) -> None:
    bounds = {
        "almost half": (0.40, 0.50),
        "a quarter": (0.20, 0.30),
        "a fifth": (0.15, 0.25),
    }
    lo, hi = bounds[words]
    assert lo <= part / total <= hi, f"{part}/{total} is not {words!r} ({lo:.0%}-{hi:.0%})"


def a_few(part: int, scale: int) -> None:
    assert 1 * scale <= part <= 5 * scale, f"{part} is not 'a few' (x{scale})"


def approx(actual: float, published: float, scale: int = 1) -> None:
    target = published * scale
    assert abs(actual - target) <= 0.10 * target, f"{actual} is not within 10% of {target}"


# ----------------------------------------------------------------------------------------------
# Exact figures: path -> (what the report says, whether it scales with the population)

Figure = Callable[[Run], Any]
EXACT: dict[str, tuple[Figure, bool]] = {}


def counter(table: str, **keys: str) -> Figure:
    return lambda r: r.count(table, **keys)


def measured(place: str, measure: str, column: str = "value") -> Figure:
    return lambda r: int(r.outreach(place, measure, column))


def _register_exact() -> None:
    def add(path: str, figure: Figure, scales: bool = True) -> None:
        EXACT[path] = (figure, scales)

    add("assessed_victims.total", lambda r: r.count("by_authority"))
    for authority in ("immigration_service", "cmm"):
        add(
            f"assessed_victims.by_authority.{authority}",
            counter("by_authority", authority=authority),
        )
    add("by_origin_region_approx.countries", lambda r: len(r.tables["by_citizenship"]), False)
    add(
        "by_exploitation.prostitution",
        lambda r: r.count("by_exploitation", exploitation="sexual_exploitation"),
    )
    add(
        "by_exploitation.forced_labour",
        lambda r: r.count("by_exploitation", exploitation="forced_labour"),
    )
    add(
        "by_exploitation.other",
        lambda r: (
            r.victims
            - r.count("by_exploitation", exploitation="sexual_exploitation")
            - r.count("by_exploitation", exploitation="forced_labour")
        ),
    )
    for name, code in INDUSTRIES.items():
        add(
            f"forced_labour_by_industry.{name}",
            counter("labour_by_industry", industry=code),
        )
    for gender, industries in REFERENCE["forced_labour_by_gender_and_industry"].items():
        for name in industries:
            add(
                f"forced_labour_by_gender_and_industry.{gender}.{name}",
                counter("labour_by_industry_gender", industry=INDUSTRIES[name], gender=gender),
            )
    for gender in ("female", "male"):
        add(f"by_gender.{gender}", counter("by_gender", gender=gender))
    age = "age_at_identification"
    add(f"{age}.min", lambda r: int(r.row("age_summary")["min"]), False)
    add(f"{age}.max", lambda r: int(r.row("age_summary")["max"]), False)
    add(f"{age}.mean", lambda r: round(float(r.row("age_summary")["mean"])), False)
    add(f"{age}.minors", lambda r: int(r.row("age_summary")["minors"]))

    status = "status_at_cutoff_of_the_66"
    add(
        f"{status}.prepared_return_via_iom",
        lambda r: r.count("status_at_cutoff", status="prepared_return_iom"),
    )
    add(
        f"{status}.return_supported_by_cmm",
        lambda r: r.count("status_at_cutoff", status="return_supported_cmm"),
    )
    add(
        f"{status}.eu_citizens_staying_in_denmark",
        lambda r: r.count("status_at_cutoff", status="stayed_in_denmark"),
    )
    add(
        f"{status}.declined_or_left_offer",
        lambda r: (
            r.count("status_at_cutoff", status="declined")
            + r.count("status_at_cutoff", status="left")
        ),
    )
    named = ("prepared_return_iom", "return_supported_cmm", "stayed_in_denmark", "declined", "left")
    add(
        f"{status}.other_or_ongoing",
        lambda r: r.victims - sum(r.count("status_at_cutoff", status=s) for s in named),
    )

    def returns(group: str, column: str) -> Figure:
        return lambda r: int(r.row("returns", status=group)[column])

    iom, cmm = "prepared_returns_via_iom", "returns_supported_by_cmm"
    add(f"{iom}.of_2012_victims", returns("prepared_return_iom", "count"))
    add(f"{iom}.days_in_denmark.min", returns("prepared_return_iom", "days_min"), False)
    add(f"{iom}.days_in_denmark.max", returns("prepared_return_iom", "days_max"), False)
    for place in ("private", "crisis_centre"):
        add(
            f"{iom}.accommodation.{place}", returns("prepared_return_iom", f"accommodation_{place}")
        )
    cohorts = "prepared_returns_in_year_all_cohorts"
    add(f"{iom}.total_in_2012_including_earlier_years", lambda r: int(r.row(cohorts)["count"]))
    add(f"{iom}.assessed_before_2012", lambda r: int(r.row(cohorts)["assessed_before_year"]))
    add(f"{cmm}.of_2012_victims", returns("return_supported_cmm", "count"))
    add(
        f"{cmm}.with_support_equal_to_prepared_return",
        returns("return_supported_cmm", "return_support_equal"),
    )
    add(f"{cmm}.days_in_denmark.min", returns("return_supported_cmm", "days_min"), False)
    add(f"{cmm}.days_in_denmark.max", returns("return_supported_cmm", "days_max"), False)
    for place in ("hotel", "crisis_centre"):
        add(
            f"{cmm}.accommodation.{place}",
            returns("return_supported_cmm", f"accommodation_{place}"),
        )
    add("eu_citizens_staying.count", returns("stayed_in_denmark", "count"))
    add("declined_or_left.count", returns("declined_or_left", "count"))
    add("declined_or_left.days_in_denmark.min", returns("declined_or_left", "days_min"), False)
    add("declined_or_left.days_in_denmark.max", returns("declined_or_left", "days_max"), False)

    add("hotline.calls_total", lambda r: r.count("hotline_by_caller"))
    add("hotline.from_police", lambda r: r.count("hotline_by_caller", caller="police"))
    for reason in REFERENCE["hotline"]["police_calls_by_reason"]:
        add(
            f"hotline.police_calls_by_reason.{reason}",
            counter("hotline_police_by_reason", reason=reason),
        )

    for place, figures in REFERENCE["outreach"].items():
        for name, value in figures.items():
            measure = OUTREACH_MEASURES.get(name, name)
            if isinstance(value, int) and not name.endswith(("_approx", "_mean")):
                scales = measure not in PER_LOG_EXTREMES
                add(
                    f"outreach.{place}.{name}",
                    measured(place, measure),
                    scales,
                )
    opening_day = "outreach.meeting_place_vesterbro.users_per_opening_day"
    add(
        f"{opening_day}.min",
        lambda r: int(r.outreach("meeting_place_vesterbro", "uses", "per_session_min")),
        False,
    )
    add(
        f"{opening_day}.max",
        lambda r: int(r.outreach("meeting_place_vesterbro", "uses", "per_session_max")),
        False,
    )
    add(
        f"{opening_day}.mean",
        lambda r: round(float(r.outreach("meeting_place_vesterbro", "uses", "per_session_mean"))),
        False,
    )
    per_woman = "outreach.meeting_place_vesterbro.health_uses_per_woman"
    add(
        f"{per_woman}.min",
        lambda r: int(r.outreach("meeting_place_vesterbro", "health_uses_per_person_min")),
        False,
    )
    add(
        f"{per_woman}.max",
        lambda r: int(r.outreach("meeting_place_vesterbro", "health_uses_per_person_max")),
        False,
    )
    fredericia = "outreach.drop_in_fredericia"
    add(
        f"{fredericia}.users_per_week_mean",
        lambda r: round(float(r.outreach("drop_in_fredericia", "uses", "per_session_mean"))),
        False,
    )
    add(
        f"{fredericia}.health_uses_per_opening_day_mean",
        lambda r: round(
            float(r.outreach("drop_in_fredericia", "health_service_uses", "per_session_mean")), 1
        ),
        False,
    )


INDUSTRIES = {
    "cleaning": "cleaning",
    "domestic_work_private_homes": "domestic_work",
    "restaurants": "restaurants",
    "construction": "construction",
    "odd_jobs_in_massage_clinics": "massage_clinic_odd_jobs",
    "cannabis_skunk_production": "cannabis_production",
}
OUTREACH_MEASURES = {
    "street_shifts": "shifts",
    "women_observed": "persons_observed",
    "new_women_observed": "new_persons",
    "women": "distinct_persons",
    "new_women": "new_persons",
    "persons_personally_contacted": "persons_contacted",
    "later_assessed_victims": "assessed_victims",
    "new_persons_approx": "new_persons",
    "unique_users_approx": "distinct_persons",
    "health_service_uses_approx": "health_service_uses",
    "abortion_referrals_approx": "abortion_referrals",
}
# Per-log extremes are the same at any scale; every other outreach measure is a total over the
# logs, so at scale K it is K times the published one (K teams' years side by side).
PER_LOG_EXTREMES = frozenset({"health_uses_per_person_min", "health_uses_per_person_max"})


# ----------------------------------------------------------------------------------------------
# Figures in words, flags and notes: path -> check(run, published value)

Check = Callable[[Run, Any], None]
WORDS: dict[str, Check] = {}


def _region(region: str) -> Check:
    def check(r: Run, words: str) -> None:
        part = r.count("by_region", region=region)
        if words == "a few":
            a_few(part, r.scale)
        else:
            share_in(words, part, r.victims)

    return check


def _police_half(r: Run, words: str) -> None:
    published = int(re.fullmatch(r"half \((\d+)\)", words).group(1))  # type: ignore[union-attr]
    police = r.count("by_channel", channel_group="police")
    assert police == published * r.scale
    assert 2 * police == r.victims, "police is not exactly half"


def _outreach_third(r: Run, words: str) -> None:
    assert words.startswith("more than a third")
    assert r.count("by_channel", channel_group="outreach") * 3 > r.victims


def _partners_rest(r: Run, words: str) -> None:
    assert words == "the rest"
    rest = r.count("by_channel", channel_group="partners_and_other")
    police = r.count("by_channel", channel_group="police")
    outreach = r.count("by_channel", channel_group="outreach")
    assert rest > 0 and police + outreach + rest == r.victims


def _top_countries(r: Run, names: list[str]) -> None:
    top = r.tables["top_citizenships"]
    assert [COUNTRIES[c].name_en for c in top["citizenship"]] == names


def _top_share(r: Run, words: str) -> None:
    assert words == "more than 60 percent together"
    top = r.tables["top_citizenships"]
    assert len(top) == 3 and float(top["cumulative_share"].iloc[-1]) > 0.60


def _other_forms(r: Run, note: str) -> None:
    assert note.startswith("crime and marriage")
    table = r.tables["by_exploitation"]
    other = table[~table["exploitation"].isin(["sexual_exploitation", "forced_labour"])]
    present = set(other[other["count"] > 0]["exploitation"])
    assert present == {"forced_criminality", "forced_marriage"}


def _prostitution_female(r: Run, flag: bool) -> None:
    assert flag is True
    table = r.tables["by_exploitation_gender"]
    sexual = table[table["exploitation"] == "sexual_exploitation"]
    assert int(sexual[sexual["gender"] != "female"]["count"].sum()) == 0
    assert int(sexual["count"].sum()) > 0


def _authority_rule(r: Run, rule: str) -> None:
    assert "legal residence" in rule
    for f in r.facts:
        assert (f.authority == "cmm") == f.legal_residence, f
        if f.eu_citizen:
            assert f.legal_residence, f"EU citizen without legal residence: {f}"


def _iom_all_female(r: Run, flag: bool) -> None:
    assert flag is True
    row = r.row("returns", status="prepared_return_iom")
    assert int(row["female"]) == int(row["count"]) > 0


def _couple_and_slovak(r: Run, note: str) -> None:
    assert note == "a Romanian couple and a Slovak woman"
    staying = sorted((f.citizenship, f.gender) for f in r.facts if f.status == "stayed_in_denmark")
    expected = [("RO", "female"), ("RO", "male"), ("SK", "female")] * r.scale
    assert staying == sorted(expected)


def _contacts_between(bound: str) -> Check:
    def check(r: Run, value: int) -> None:
        persons = int(r.row("contacts_summary")["persons_contacted"])
        if bound == "low":
            assert persons >= value * r.scale
        else:
            assert persons <= value * r.scale

    return check


def _approx_measure(place: str, measure: str) -> Check:
    def check(r: Run, value: int) -> None:
        approx(float(r.outreach(place, measure)), value, r.scale)

    return check


def _not_reported(r: Run, value: None) -> None:
    assert value is None
    assert r.outreach("drop_in_fredericia", "new_persons") is None


def _year(r: Run, year: int) -> None:
    by_year = r.tables["victims_by_year"]
    assert int(by_year[by_year["year"] == year]["count"].sum()) == r.victims


def _register_words() -> None:
    for region in ("africa", "europe", "asia", "latin_america", "middle_east"):
        WORDS[f"by_origin_region_approx.{region}"] = _region(region)
    WORDS["by_contact_channel_approx.police"] = _police_half
    WORDS["by_contact_channel_approx.outreach"] = _outreach_third
    WORDS["by_contact_channel_approx.partners_and_other"] = _partners_rest
    WORDS["by_origin_region_approx.top_countries"] = _top_countries
    WORDS["by_origin_region_approx.top_countries_share"] = _top_share
    WORDS["by_exploitation.other_note"] = _other_forms
    WORDS["prostitution_all_female"] = _prostitution_female
    WORDS["assessed_victims.authority_rule"] = _authority_rule
    WORDS["prepared_returns_via_iom.all_female"] = _iom_all_female
    WORDS["eu_citizens_staying.note"] = _couple_and_slovak
    WORDS["contacts_total_approx.low"] = _contacts_between("low")
    WORDS["contacts_total_approx.high"] = _contacts_between("high")
    WORDS["reporting_year"] = _year
    WORDS["outreach.drop_in_fredericia.new_women"] = _not_reported
    for place, figures in REFERENCE["outreach"].items():
        for name in figures:
            if name.endswith("_approx"):
                WORDS[f"outreach.{place}.{name}"] = _approx_measure(place, OUTREACH_MEASURES[name])


# Text that states no figure, and the cut-off, which is the report's parameter.
NOTES = frozenset(
    {
        "source",
        "status_cutoff",
        "contacts_total_approx.note",
        "status_at_cutoff_of_the_66.other_note",
        "outreach.drop_in_fredericia.new_women_note",
    }
)

_register_exact()
_register_words()


def leaves(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, f"{prefix}.{key}" if prefix else key)
    else:
        yield prefix, node


def published(path: str) -> Any:
    node: Any = REFERENCE
    for key in path.split("."):
        node = node[key]
    return node


# ----------------------------------------------------------------------------------------------
# Tests


def test_every_figure_is_checked() -> None:
    paths = {path for path, _ in leaves(REFERENCE)}
    covered = set(EXACT) | set(WORDS) | NOTES
    assert paths - covered == set(), "figures without a check"
    assert covered - paths == set(), "checks for figures the reference does not have"
    assert not set(EXACT) & set(WORDS)


@pytest.mark.parametrize("path", sorted(EXACT))
def test_exact_figure(report: Run, path: str) -> None:
    figure, scales = EXACT[path]
    expected = published(path) * (report.scale if scales else 1)
    assert figure(report) == expected, f"{path} (seed {report.seed}, scale {report.scale})"


@pytest.mark.parametrize("path", sorted(WORDS))
def test_figure_in_words(report: Run, path: str) -> None:
    WORDS[path](report, published(path))


def test_a_later_report_sees_the_corrections_made_after_the_cut_off() -> None:
    """The as-of report is what was known at the cut-off; a report as of later applies the
    corrections and status changes recorded since, and the published figures move."""
    r = run(1, 1)
    later = build_report(r.records, year=YEAR, as_of="2013-12-31")
    fixes = load_profile("cmm-2012").corrections.hotline_after_cutoff
    assert fixes, "the profile corrects no hotline call after the cut-off"
    before = r.tables["hotline_police_by_reason"].set_index("reason")["count"]
    after = later["hotline_police_by_reason"].set_index("reason")["count"]
    for fix in fixes:
        assert after[fix.reason.value] == before[fix.reason.value] - 1
        assert after[fix.corrected_reason.value] == before[fix.corrected_reason.value] + 1
    assert not later["status_at_cutoff"].equals(r.tables["status_at_cutoff"])
    assert later["by_authority"].equals(r.tables["by_authority"])


def test_nothing_the_report_needs_is_recorded_on_the_cut_off_day() -> None:
    """Whether "as of 2013-01-31" means the start or the end of that day must not matter."""
    r = run(1, 1)
    start = build_report(r.records, year=YEAR, as_of=f"{AS_OF}T00:00:00Z")
    end = r.tables
    tables = ("status_at_cutoff", "by_channel", "hotline_police_by_reason", "returns")
    for name in (*tables, "contacts_summary"):
        assert start[name].equals(end[name]), name
    assert not any(rec["recorded_at"].startswith(AS_OF) for rec in r.records)


def test_the_stream_is_not_trivially_ordered() -> None:
    """Late and out-of-order arrivals exist, so the report cannot rely on arrival order."""
    records = run(1, 1).records
    recorded = [r["recorded_at"] for r in records]
    inversions = sum(a > b for a, b in pairwise(recorded))
    assert 0 < inversions < len(records) // 5
    late = [
        r
        for r in records
        if r["recorded_at"][:10] > r["occurred_at"][:10]
        and (pd.Timestamp(r["recorded_at"]) - pd.Timestamp(r["occurred_at"])).days >= 30
    ]
    assert late, "no event arrives a month or more late"


def test_scaled_run_has_distinct_people() -> None:
    r = run(7, 2)
    refs = {f.person_ref for f in r.facts}
    assert len(refs) == len(r.facts) == 2 * REFERENCE["assessed_victims"]["total"]

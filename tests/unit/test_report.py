"""Tests for projections.report: the annual report's tables from records and from frames."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from domain.codes import (
    AgeBand,
    Authority,
    CallerType,
    CallReason,
    Channel,
    ExploitationForm,
    Gender,
    Industry,
    OutreachMeasure,
    Place,
    SupportStatus,
)
from domain.countries import Region
from projections.case_rows import FACT_COLUMNS, FactRow
from projections.report import (
    build_report,
    contacts_frame,
    facts_frame,
    hotline_frame,
    outreach_frame,
    report_tables,
    report_to_json,
)
from projections.report_measures import ASSESSED_VICTIMS
from tests.unit.test_case_history import (
    Rec,
    accommodation,
    assessment,
    contact,
    correction,
    departure,
    offer,
    status,
)
from tests.unit.test_logs import call, outreach

YEAR = 2012
CUTOFF = "2013-01-31"


def _case(person: str, *events: Rec) -> list[Rec]:
    for e in events:
        assert e["person_ref"] == person
    return list(events)


def _stream() -> dict[str, list[Rec]]:
    """Cases and logs covering every table; keyed so tests can correct single records."""
    a, b, c, d, e, f, g, h = (f"P-cafe{i:04d}" for i in range(1, 9))
    return {
        "A": _case(
            a,
            contact("2012-02-01", "police", "police_station", person=a),
            assessment("2012-02-10", citizenship="NG", age=25, person=a),
            offer("2012-02-10", person=a),
            accommodation("2012-02-11", "crisis_centre", person=a),
            status("2012-04-01", "prepared_return_iom", person=a),
            departure("2012-04-10", person=a),
        ),
        "B": _case(
            b,
            contact("2012-03-01", "street_outreach", "street_odense", person=b),
            contact("2012-03-08", "street_outreach", "street_odense", person=b),
            assessment(
                "2012-03-15",
                authority="cmm",
                exploitation="forced_labour",
                industry="cleaning",
                citizenship="RO",
                age=40,
                legal_residence=True,
                person=b,
            ),
            status("2012-04-01", "stayed_in_denmark", person=b),
        ),
        "C": _case(
            c,
            contact("2012-05-01", "massage_clinic", "massage_clinics", person=c),
            assessment(
                "2012-05-03",
                exploitation="forced_labour",
                industry="restaurants",
                citizenship="TH",
                gender="male",
                age=61,
                person=c,
            ),
            accommodation("2012-05-03", "hotel", person=c),
            status("2012-05-20", "return_supported_cmm", "equal_to_prepared_return", person=c),
        ),
        # Assessed in 2011, returned via IOM in 2012: in the all-cohorts count only.
        "D": _case(
            d,
            contact("2011-11-01", "asylum_system", "asylum_centre", person=d),
            assessment("2011-11-20", citizenship="NG", age=19, person=d),
            status("2012-01-15", "prepared_return_iom", person=d),
        ),
        # Returned via IOM in 2011: in no 2012 table but victims_by_year.
        "H": _case(
            h,
            contact("2010-05-01", "police", person=h),
            assessment("2010-05-20", citizenship="NG", age=33, person=h),
            status("2011-03-01", "prepared_return_iom", person=h),
        ),
        # Contacted in 2012, not a victim: contacts only.
        "E": _case(
            e,
            contact("2012-06-01", "street_outreach", "street_odense", person=e),
            assessment("2012-06-20", outcome="not_victim", exploitation=None, person=e),
        ),
        "F": _case(
            f,
            contact("2012-12-20", "hotline", person=f),
            assessment("2013-01-10", citizenship="NG", age=17, person=f),
        ),
        # Assessed in 2012 but recorded after the cut-off: not in the report.
        "G": _case(
            g,
            contact("2012-12-01", "police", person=g),
            assessment("2012-12-15", citizenship="BR", recorded="2013-02-10", person=g),
        ),
        "logs": [
            call("2012-01-05", "police", "person_in_police_custody"),
            call("2012-02-05", "police", "person_in_police_custody"),
            call("2012-03-05", "police", "upcoming_police_action"),
            call("2012-04-05", "ngo", "advice"),
            call("2013-01-05", "police", "follow_up_or_questions"),
            outreach("2012-03-01", "street_odense", "session", {"visits": 2}),
            outreach("2012-03-08", "street_odense", "session", {"visits": 5}),
            outreach("2012-03-15", "street_odense", "session", {"visits": 3}),
            outreach("2012-12-31", "street_odense", "year", {"distinct_persons": 21, "visits": 0}),
            outreach(
                "2012-06-30",
                "meeting_place_vesterbro",
                "month",
                {"health_uses_per_person_min": 2, "health_uses_per_person_max": 7},
            ),
            outreach(
                "2012-12-31",
                "meeting_place_vesterbro",
                "month",
                {"health_uses_per_person_min": 1, "health_uses_per_person_max": 11},
            ),
            outreach("2012-01-07", "drop_in_fredericia", "week", {"uses": 10}),
            outreach("2012-01-14", "drop_in_fredericia", "week", {"uses": 12}),
            outreach("2013-01-07", "drop_in_fredericia", "week", {"uses": 99}),
        ],
    }


def _records(stream: dict[str, list[Rec]]) -> list[Rec]:
    return [r for records in stream.values() for r in records]


@pytest.fixture(scope="module")
def stream() -> dict[str, list[Rec]]:
    return _stream()


@pytest.fixture(scope="module")
def tables(stream: dict[str, list[Rec]]) -> dict[str, pd.DataFrame]:
    return build_report(_records(stream), YEAR, CUTOFF)


def _as_dict(table: pd.DataFrame, key: str) -> dict[Any, int]:
    return dict(zip(table[key], table["count"], strict=True))


CODED = [
    ("by_authority", "authority", Authority.codes()),
    ("by_region", "region", tuple(r.value for r in Region)),
    ("by_exploitation", "exploitation", ExploitationForm.codes()),
    ("labour_by_industry", "industry", Industry.codes()),
    ("by_gender", "gender", Gender.codes()),
    ("by_age_band", "age_band", AgeBand.codes()),
    ("status_at_cutoff", "status", SupportStatus.codes()),
    ("hotline_by_caller", "caller", CallerType.codes()),
    ("hotline_police_by_reason", "reason", CallReason.codes()),
]


@pytest.mark.parametrize(("name", "column", "codes"), CODED)
def test_coded_tables_list_every_code_in_code_list_order(
    tables: dict[str, pd.DataFrame], name: str, column: str, codes: tuple[str, ...]
) -> None:
    table = tables[name]
    assert list(table.columns) == [column, "count"]
    assert tuple(table[column]) == codes


def test_counts_add_up(tables: dict[str, pd.DataFrame]) -> None:
    victims = 3  # A, B, C; D is 2011, F is 2013, G was recorded after the cut-off
    for name in (
        "by_authority",
        "by_channel",
        "by_region",
        "by_citizenship",
        "by_exploitation",
        "by_gender",
        "by_age_band",
        "status_at_cutoff",
        "by_exploitation_gender",
    ):
        assert tables[name]["count"].sum() == victims, name
    assert tables["labour_by_industry"]["count"].sum() == 2
    assert tables["labour_by_industry_gender"]["count"].sum() == 2
    assert len(tables["labour_by_industry_gender"]) == len(Industry) * len(Gender)
    assert tables["hotline_by_caller"]["count"].sum() == 4
    assert tables["hotline_police_by_reason"]["count"].sum() == 3


def test_victim_tables(tables: dict[str, pd.DataFrame]) -> None:
    # From the first year in the store to the report year, never beyond (the 2013 victim is
    # in the store, but 2013 is not over at the cut-off).
    assert tables["victims_by_year"].to_dict("list") == {
        "year": [2010, 2011, 2012],
        "count": [1, 1, 3],
    }
    assert _as_dict(tables["by_authority"], "authority") == {"immigration_service": 2, "cmm": 1}
    assert tables["by_citizenship"].to_dict("records") == [
        {"citizenship": "NG", "region": "africa", "count": 1},
        {"citizenship": "RO", "region": "europe", "count": 1},
        {"citizenship": "TH", "region": "asia", "count": 1},
    ]
    assert _as_dict(tables["by_region"], "region")["africa"] == 1
    assert _as_dict(tables["labour_by_industry"], "industry")["cleaning"] == 1
    by_industry_gender = tables["labour_by_industry_gender"].set_index(["industry", "gender"])
    assert by_industry_gender.loc[("restaurants", "male"), "count"] == 1
    assert by_industry_gender.loc[("cleaning", "female"), "count"] == 1
    assert _as_dict(tables["by_gender"], "gender") == {
        "female": 2,
        "male": 1,
        "other": 0,
        "unknown": 0,
    }
    assert _as_dict(tables["by_age_band"], "age_band")["60+"] == 1
    status = _as_dict(tables["status_at_cutoff"], "status")
    assert (status["prepared_return_iom"], status["stayed_in_denmark"]) == (1, 1)
    assert (status["return_supported_cmm"], status["none"]) == (1, 0)


def test_channels_list_every_channel_grouped_in_code_list_order(
    tables: dict[str, pd.DataFrame],
) -> None:
    table = tables["by_channel"]
    assert list(table.columns) == ["channel_group", "channel", "count"]
    assert sorted(table["channel"]) == sorted(Channel.codes())
    assert list(table["channel_group"]) == (
        ["police"] + ["outreach"] * 5 + ["partners_and_other"] * 5
    )
    assert list(table["channel"][:3]) == ["police", "street_outreach", "massage_clinic"]
    counts = _as_dict(table, "channel")
    assert (counts["police"], counts["street_outreach"], counts["massage_clinic"]) == (1, 1, 1)


def test_hotline_tables(tables: dict[str, pd.DataFrame]) -> None:
    assert _as_dict(tables["hotline_by_caller"], "caller")["police"] == 3
    reasons = _as_dict(tables["hotline_police_by_reason"], "reason")
    assert (reasons["person_in_police_custody"], reasons["upcoming_police_action"]) == (2, 1)
    assert reasons["follow_up_or_questions"] == 0  # the 2013 call is not counted


def test_outreach_activity_aggregates_by_measure_and_per_session(
    tables: dict[str, pd.DataFrame],
) -> None:
    table = tables["outreach_activity"]
    assert list(table.columns) == [
        "place",
        "measure",
        "value",
        "sessions",
        "per_session_min",
        "per_session_max",
        "per_session_mean",
    ]
    assert len(table) == len(Place) * (len(OutreachMeasure) + 1)
    rows = table.set_index(["place", "measure"])

    visits = rows.loc[("street_odense", "visits")]
    assert visits["value"] == 10  # 2 + 5 + 3 + 0 (the year log)
    assert (visits["sessions"], visits["per_session_min"], visits["per_session_max"]) == (3, 2, 5)
    assert visits["per_session_mean"] == pytest.approx(10 / 3)
    distinct = rows.loc[("street_odense", "distinct_persons")]
    assert distinct["value"] == 21 and pd.isna(distinct["sessions"])
    assert pd.isna(rows.loc[("street_odense", "uses"), "value"])  # not measured is not 0

    assert rows.loc[("meeting_place_vesterbro", "health_uses_per_person_min"), "value"] == 1
    assert rows.loc[("meeting_place_vesterbro", "health_uses_per_person_max"), "value"] == 11
    uses = rows.loc[("drop_in_fredericia", "uses")]
    assert (uses["value"], uses["sessions"], uses["per_session_mean"]) == (22, 2, 11.0)

    assessed = table[table["measure"] == ASSESSED_VICTIMS].set_index("place")["value"]
    assert list(assessed.index) == list(Place.codes())
    assert (assessed["street_odense"], assessed["massage_clinics"]) == (1, 1)
    assert assessed["police_station"] == 1 and assessed.sum() == 3


def test_analyst_tables(tables: dict[str, pd.DataFrame]) -> None:
    assert tables["age_summary"].iloc[0].to_dict() == {
        "count": 3,
        "min": 25,
        "max": 61,
        "mean": pytest.approx(42.0),
        "minors": 0,
        "age_unknown": 0,
    }
    # A, B (2 contacts), C, E and G (its contact was recorded in time) were contacted in 2012;
    # F's contact on 2012-12-20 too.
    assert tables["contacts_summary"].iloc[0].to_dict() == {"persons_contacted": 6, "contacts": 7}
    returns = tables["returns"].set_index("status")
    assert list(returns.index) == [
        "prepared_return_iom",
        "return_supported_cmm",
        "stayed_in_denmark",
        "declined_or_left",
    ]
    iom = returns.loc["prepared_return_iom"]
    assert (iom["count"], iom["female"], iom["days_min"], iom["days_max"]) == (1, 1, 60, 60)
    assert iom["accommodation_crisis_centre"] == 1
    cmm = returns.loc["return_supported_cmm"]
    assert (cmm["count"], cmm["return_support_equal"], cmm["accommodation_hotel"]) == (1, 1, 1)
    assert cmm["days_min"] == 17
    assert pd.isna(returns.loc["stayed_in_denmark", "days_min"])
    assert returns.loc["declined_or_left", "count"] == 0
    assert tables["prepared_returns_in_year_all_cohorts"].iloc[0].to_dict() == {
        "definition": "returned_in_year",
        "count": 2,
        "assessed_before_year": 1,
    }
    top = tables["top_citizenships"]
    assert list(top["citizenship"]) == ["NG", "RO", "TH"]  # ties by code
    assert list(top["rank"]) == [1, 2, 3]
    assert top["cumulative_share"].iloc[-1] == pytest.approx(1.0)


def test_a_correction_after_the_cutoff_changes_only_later_reports(
    stream: dict[str, list[Rec]],
) -> None:
    records = _records(stream)
    b_assessment = stream["B"][2]
    fix = dict(b_assessment["payload"], industry="construction", gender="male")
    corrected = [*records, correction(b_assessment, "2013-02-15", fix)]

    at_cutoff = build_report(corrected, YEAR, CUTOFF)
    later = build_report(corrected, YEAR, "2013-03-01")

    original = build_report(records, YEAR, CUTOFF)
    assert report_to_json(at_cutoff) == report_to_json(original)
    assert _as_dict(later["labour_by_industry"], "industry")["construction"] == 1
    assert _as_dict(later["labour_by_industry"], "industry")["cleaning"] == 0
    assert _as_dict(later["by_gender"], "gender") == {
        "female": 2,
        "male": 2,
        "other": 0,
        "unknown": 0,
    }  # + G
    # G's assessment (recorded 2013-02-10) is known by then, too.
    assert later["victims_by_year"]["count"].tolist() == [1, 1, 4]


def test_a_retracted_log_event_is_not_counted(stream: dict[str, list[Rec]]) -> None:
    first_call = stream["logs"][0]
    records = [*_records(stream), correction(first_call, "2012-06-01", person=None)]
    reasons = _as_dict(build_report(records, YEAR, CUTOFF)["hotline_police_by_reason"], "reason")
    assert reasons["person_in_police_custody"] == 1


def test_report_to_json_gives_plain_json_values(tables: dict[str, pd.DataFrame]) -> None:
    data = report_to_json(tables)
    text = json.dumps(data, allow_nan=False)  # raises on NaN or numpy scalars
    assert json.loads(text) == data
    outreach_rows = {(r["place"], r["measure"]): r for r in data["outreach_activity"]}
    assert outreach_rows[("street_odense", "uses")]["value"] is None
    assert type(outreach_rows[("street_odense", "visits")]["value"]) is int
    assert set(data) == set(tables)


def test_an_empty_year_still_lists_every_category() -> None:
    empty = report_tables(
        facts_frame([]), hotline_frame([]), outreach_frame([]), YEAR, contacts=contacts_frame([])
    )
    assert list(empty["by_gender"]["gender"]) == list(Gender.codes())
    assert empty["by_gender"]["count"].sum() == 0
    assert len(empty["labour_by_industry_gender"]) == len(Industry) * len(Gender)
    assert empty["by_citizenship"].empty and empty["top_citizenships"].empty
    assert empty["victims_by_year"].to_dict("list") == {"year": [YEAR], "count": [0]}
    assert pd.isna(empty["age_summary"].loc[0, "mean"])
    assert empty["outreach_activity"]["value"].isna().sum() == len(Place) * len(OutreachMeasure)
    json.dumps(report_to_json(empty), allow_nan=False)


def test_without_contacts_the_contacts_summary_is_null(tables: dict[str, pd.DataFrame]) -> None:
    facts = facts_frame([])
    result = report_tables(facts, hotline_frame([]), outreach_frame([]), YEAR)
    assert result["contacts_summary"].isna().all(axis=None)
    assert list(facts.columns) == list(FACT_COLUMNS)


def _victim_fact(person_ref: str, **fields: Any) -> FactRow:
    values: dict[str, Any] = {
        "person_ref": person_ref,
        "year": YEAR,
        "assessed_on": f"{YEAR}-03-01",
        "authority": "cmm",
        "channel": "police",
        "channel_group": "police",
        "place": None,
        "citizenship": "RO",
        "region": "europe",
        "exploitation": "sexual_exploitation",
        "additional_forms": None,
        "industry": None,
        "gender": "female",
        "age": 30,
        "age_band": "30-39",
        "legal_residence": True,
        "eu_citizen": True,
        "status": "none",
        "status_on": None,
        "return_support": None,
        "accommodation": None,
        "departed_on": None,
        "days_in_denmark": None,
        "reflection_days": None,
    }
    values.update(fields)
    return FactRow(**values)


def test_later_years_tables_forms_groups_and_eurostat_breakdowns() -> None:
    facts = facts_frame(
        [
            _victim_fact(
                "P-00000001",
                additional_forms="forced_labour,forced_criminality",
                reflection_days=30,
            ),
            _victim_fact(
                "P-00000002",
                exploitation="forced_criminality",
                citizenship="DK",
                gender="male",
                age=16,
                age_band="15-17",
            ),
            _victim_fact(
                "P-00000003",
                exploitation="forced_labour",
                industry="cleaning",
                citizenship="NG",
                region="africa",
                eu_citizen=False,
                gender="unknown",
            ),
            _victim_fact("P-00000004", exploitation="undetermined", age=None, age_band="unknown"),
            _victim_fact("P-00000005", year=YEAR - 3, assessed_on=f"{YEAR - 3}-05-01"),
            _victim_fact("P-00000006", year=YEAR + 1, assessed_on=f"{YEAR + 1}-01-05"),
        ]
    )
    tables = report_tables(facts, hotline_frame([]), outreach_frame([]), YEAR)

    assert _as_dict(tables["by_exploitation"], "exploitation")["undetermined"] == 1
    assert _as_dict(tables["by_exploitation_group"], "exploitation_group") == {
        "sexual_exploitation": 1,
        "forced_labour_and_criminality": 2,
        "other_forms": 0,
        "undetermined": 1,
    }
    any_form = _as_dict(tables["by_any_form"], "exploitation")
    assert (any_form["forced_labour"], any_form["forced_criminality"]) == (2, 2)
    assert any_form["sexual_exploitation"] == 1 and any_form["undetermined"] == 1

    # The series starts at the first year in the store and ends at the report year.
    assert tables["victims_by_year"].to_dict("list") == {
        "year": [YEAR - 3, YEAR - 2, YEAR - 1, YEAR],
        "count": [1, 0, 0, 4],
    }
    by_sex_age = tables["by_gender_age_group"].set_index(["gender", "age_group"])["count"]
    assert by_sex_age[("male", "child")] == 1
    assert by_sex_age[("female", "adult")] == 1 and by_sex_age[("female", "unknown")] == 1
    assert by_sex_age[("unknown", "adult")] == 1 and by_sex_age.sum() == 4
    assert _as_dict(tables["by_citizenship_group"], "citizenship_group") == {
        "danish": 1,
        "other_eu": 2,
        "non_eu": 1,
    }
    assert _as_dict(tables["by_age_band"], "age_band")["unknown"] == 1
    summary = tables["age_summary"].iloc[0]
    assert (summary["age_unknown"], summary["minors"], summary["min"]) == (1, 1, 16)
    assert set(tables["returns"]["definition"]) == {"status_at_cutoff"}
    reflection = tables["reflection_periods"].iloc[0]
    assert (reflection["victims"], reflection["offered_reflection_period"]) == (4, 1)
    assert (reflection["days_min"], reflection["days_max"]) == (30, 30)

"""The annual report's tables, from victim facts, log rows and contact counts.

:func:`report_tables` is pure over DataFrames, so the store-backed runner and the in-memory
path (:func:`build_report`, the oracle the runner must equal) share every counting rule.

Every table counts persons assessed as victims in the reporting year (the year of the
assessment), with their status as known at the cut-off, except where its name says otherwise.
Coded dimensions list every code of their list, with 0 when absent, so the set of rows reveals
nothing about the data; citizenship lists only the countries present (the privacy layer
handles the full list). Rows follow code-list order.

Years and dates are Danish local dates (Europe/Copenhagen, ``domain.local_dates``): an
assessment, a call or a contact at ``2020-01-01T00:30:00+01:00`` is of 2020, and the cut-off
date ends at midnight in Denmark. ``victims_by_year`` runs from the first year with an
assessed victim in the store to the reporting year, never beyond it, with 0 for a year
without one.

Forms of exploitation: ``by_exploitation`` counts each person once, by the primary form
(``undetermined`` while it is not determined); ``by_exploitation_group`` by the groups the
annual report publishes; ``by_any_form`` counts the persons with each form, primary or
additional, so its rows add up to more than the victims when a person has several.

Returns have two definitions, each named in the table's ``definition`` column:
``status_at_cutoff`` (``returns``; also ``status_at_cutoff``): the year's victims by their
status as known at the cut-off, so a victim of the year who returned in January of the next
year counts; ``returned_in_year`` (``prepared_returns_in_year_all_cohorts``): prepared
returns whose status date lies in the reporting year, of victims of any year.

The breakdowns reported to Eurostat (crim_thb), GRETA and UNODC (GLOTIP), under stable
names: ``by_gender_age_group`` (sex by child or adult), ``by_exploitation_gender`` (sex by
form), ``by_citizenship_group`` (Danish, other EU, non-EU citizens) and
``reflection_periods`` (victims offered a reflection period, and its length; residence
permits are not recorded by any event yet).

Analyst-only tables (exact report, never released as such): ``age_summary``,
``contacts_summary``, ``returns``, ``prepared_returns_in_year_all_cohorts``,
``top_citizenships``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Any

import numpy as np
import pandas as pd

from domain.codes import (
    Accommodation,
    AgeBand,
    AgeGroup,
    Authority,
    CallerType,
    CallReason,
    Channel,
    ChannelGroup,
    CitizenshipGroup,
    ExploitationForm,
    ExploitationGroup,
    Gender,
    Industry,
    OutreachMeasure,
    Period,
    Place,
    ReturnSupport,
    SupportStatus,
)
from domain.countries import Region
from projections.bitemporal import AsOf, Record, as_of_bound, prepare
from projections.case_fold import fold_prepared
from projections.case_rows import CONTACT_COLUMNS, FACT_COLUMNS, ContactRow, FactRow
from projections.logs import HOTLINE_COLUMNS, OUTREACH_COLUMNS, HotlineRow, OutreachRow, log_rows

ASSESSED_VICTIMS = "assessed_victims"
"""Derived outreach measure: the year's victims whose first contact was at the place."""

DECLINED_OR_LEFT = "declined_or_left"
RETURN_GROUPS: Mapping[str, tuple[str, ...]] = {
    SupportStatus.PREPARED_RETURN_IOM.value: (SupportStatus.PREPARED_RETURN_IOM.value,),
    SupportStatus.RETURN_SUPPORTED_CMM.value: (SupportStatus.RETURN_SUPPORTED_CMM.value,),
    SupportStatus.STAYED_IN_DENMARK.value: (SupportStatus.STAYED_IN_DENMARK.value,),
    DECLINED_OR_LEFT: (SupportStatus.DECLINED.value, SupportStatus.LEFT.value),
}
STATUS_AT_CUTOFF = "status_at_cutoff"
"""A return counted by the victim's status at the cut-off (victims of the reporting year)."""
RETURNED_IN_YEAR = "returned_in_year"
"""A return counted by the date of the return itself, in the reporting year (any cohort)."""
TOP_CITIZENSHIPS = 3
_PER_SESSION_PERIODS = (Period.SESSION.value, Period.WEEK.value)
_CHANNEL_GROUPS: Mapping[str, str] = {c.value: c.group.value for c in Channel}
_EXPLOITATION_GROUPS: Mapping[str, str] = {f.value: f.group.value for f in ExploitationForm}
_DENMARK = "DK"

# ----------------------------------------------------------------------------------------------
# Frames from rows (the in-memory path; the runner builds the same columns from its tables).


def facts_frame(rows: Iterable[FactRow]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(
        [attrgetter(*FACT_COLUMNS)(r) for r in rows], columns=list(FACT_COLUMNS)
    )
    return frame.astype(
        {"year": "int64", "age": "Int64", "days_in_denmark": "Int64", "reflection_days": "Int64"}
    )


def hotline_frame(rows: Iterable[HotlineRow]) -> pd.DataFrame:
    return pd.DataFrame.from_records(list(rows), columns=list(HOTLINE_COLUMNS)).astype(
        {"year": "int64"}
    )


def outreach_frame(rows: Iterable[OutreachRow]) -> pd.DataFrame:
    return pd.DataFrame.from_records(list(rows), columns=list(OUTREACH_COLUMNS)).astype(
        {"year": "int64", "value": "int64"}
    )


def contacts_frame(rows: Iterable[ContactRow]) -> pd.DataFrame:
    return pd.DataFrame.from_records(list(rows), columns=list(CONTACT_COLUMNS)).astype(
        {"year": "int64", "contacts": "int64"}
    )


# ----------------------------------------------------------------------------------------------
# Counting helpers


def _codes_then_extra(codes: Sequence[str], present: Iterable[Any]) -> list[str]:
    """``codes`` then any other present value, sorted: a retired or unexpected code must still
    be counted, or the table would not add up to the total."""
    extra = sorted({str(v) for v in present if not pd.isna(v)} - set(codes))
    return [*codes, *extra]


def _count(values: pd.Series, codes: Sequence[str], column: str) -> pd.DataFrame:
    counts = values.value_counts()
    keys = _codes_then_extra(codes, counts.index)
    return pd.DataFrame(
        {column: keys, "count": np.array([int(counts.get(k, 0)) for k in keys], dtype="int64")}
    )


def _cross(frame: pd.DataFrame, dims: Sequence[tuple[str, Sequence[str]]]) -> pd.DataFrame:
    """Counts over the full product of the dimensions' code lists, in code-list order."""
    columns = [d for d, _ in dims]
    counts = frame.groupby(columns, dropna=False).size() if len(frame) else pd.Series()
    lists = [_codes_then_extra(codes, frame[d].unique() if len(frame) else ()) for d, codes in dims]
    index = pd.MultiIndex.from_product(lists, names=columns)
    full = counts.reindex(index, fill_value=0).astype("int64") if len(frame) else None
    table = index.to_frame(index=False)
    table["count"] = full.to_numpy() if full is not None else np.zeros(len(table), "int64")
    return table


def _in_year(dates: pd.Series, year: int) -> pd.Series:
    """Whether each ISO date string falls in ``year`` (False where missing)."""
    return dates.astype("string").str.startswith(f"{year}-").fillna(False).astype(bool)


def _int_or_none(value: Any) -> int | None:
    return None if pd.isna(value) else int(value)


# ----------------------------------------------------------------------------------------------
# Tables


def _outreach_activity(outreach: pd.DataFrame, victims: pd.DataFrame, year: int) -> pd.DataFrame:
    logs = outreach[outreach["year"] == year]
    grouped = logs.groupby(["place", "measure"])["value"]
    totals = {agg: grouped.agg(agg).to_dict() if len(logs) else {} for agg in ("sum", "min", "max")}
    sessions = logs[logs["period"].isin(_PER_SESSION_PERIODS)]
    per_session: Mapping[Any, Mapping[Any, Any]] = (
        sessions.groupby(["place", "measure"])["value"]
        .agg(["count", "min", "max", "mean"])
        .to_dict(orient="index")
        if len(sessions)
        else {}
    )
    by_place = victims["place"].value_counts()
    measures = _codes_then_extra(OutreachMeasure.codes(), logs["measure"].unique())
    rows: list[dict[str, Any]] = []
    places = _codes_then_extra(Place.codes(), [*logs["place"].unique(), *by_place.index])
    for place in places:
        for measure in measures:
            try:
                aggregation = OutreachMeasure(measure).aggregation.value
            except ValueError:
                aggregation = "sum"
            key = (place, measure)
            s = per_session.get(key)
            rows.append(
                {
                    "place": place,
                    "measure": measure,
                    # Null, not 0, when no log carries the measure: not measured is not none.
                    "value": _int_or_none(totals[aggregation].get(key, pd.NA)),
                    "sessions": None if s is None else int(s["count"]),
                    "per_session_min": None if s is None else int(s["min"]),
                    "per_session_max": None if s is None else int(s["max"]),
                    "per_session_mean": None if s is None else float(s["mean"]),
                }
            )
        rows.append(
            {
                "place": place,
                "measure": ASSESSED_VICTIMS,
                "value": int(by_place.get(place, 0)),
                "sessions": None,
                "per_session_min": None,
                "per_session_max": None,
                "per_session_mean": None,
            }
        )
    table = pd.DataFrame(rows)
    return table.astype(
        {
            "value": "Int64",
            "sessions": "Int64",
            "per_session_min": "Int64",
            "per_session_max": "Int64",
            "per_session_mean": "Float64",
        }
    )


def _returns(victims: pd.DataFrame) -> pd.DataFrame:
    accommodations = _codes_then_extra(Accommodation.codes(), victims["accommodation"].unique())
    equal = ReturnSupport.EQUAL_TO_PREPARED_RETURN.value
    rows: list[dict[str, Any]] = []
    for group, statuses in RETURN_GROUPS.items():
        g = victims[victims["status"].isin(statuses)]
        days = g["days_in_denmark"].dropna()
        row: dict[str, Any] = {
            "status": group,
            "definition": STATUS_AT_CUTOFF,
            "count": len(g),
            "female": int((g["gender"] == Gender.FEMALE.value).sum()),
            "days_min": _int_or_none(days.min()) if len(days) else None,
            "days_max": _int_or_none(days.max()) if len(days) else None,
            "return_support_equal": int((g["return_support"] == equal).sum()),
        }
        for a in accommodations:
            row[f"accommodation_{a}"] = int((g["accommodation"] == a).sum())
        row["accommodation_unknown"] = int(g["accommodation"].isna().sum())
        rows.append(row)
    return pd.DataFrame(rows).astype({"days_min": "Int64", "days_max": "Int64"})


def _victims_by_year(facts: pd.DataFrame, year: int) -> pd.DataFrame:
    """Victims per year from the first year with one to ``year``, never beyond (a later
    year is not over at the cut-off), 0 for a year without one."""
    counts = facts.groupby("year").size()
    first = min(int(counts.index.min()), year) if len(counts) else year
    years = np.arange(first, year + 1, dtype="int64")
    return pd.DataFrame(
        {"year": years, "count": np.array([int(counts.get(y, 0)) for y in years], "int64")}
    )


def _reflection_periods(victims: pd.DataFrame) -> pd.DataFrame:
    """The year's victims offered a reflection period (the first offer of support that
    states one), and its length in days (GRETA asks for both)."""
    days = victims["reflection_days"].dropna()
    return pd.DataFrame(
        {
            "victims": [len(victims)],
            "offered_reflection_period": [len(days)],
            "days_min": [_int_or_none(days.min()) if len(days) else None],
            "days_max": [_int_or_none(days.max()) if len(days) else None],
            "days_mean": [float(days.mean()) if len(days) else None],
        }
    ).astype({"days_min": "Int64", "days_max": "Int64", "days_mean": "Float64"})


def _any_form(victims: pd.DataFrame) -> pd.DataFrame:
    """Persons with each form of exploitation, as the primary form or an additional one."""
    additional = victims["additional_forms"].dropna() if "additional_forms" in victims else ()
    forms = [*victims["exploitation"], *(f for joined in additional for f in joined.split(","))]
    return _count(pd.Series(forms, dtype="object"), ExploitationForm.codes(), "exploitation")


def _age_groups(ages: pd.Series) -> list[str]:
    return [AgeGroup.of(None if pd.isna(a) else int(a)).value for a in ages]


def _citizenship_groups(victims: pd.DataFrame) -> pd.Series:
    """Danish, other EU (a member state in the reporting year) or non-EU citizens."""
    groups = np.where(
        victims["citizenship"] == _DENMARK,
        CitizenshipGroup.DANISH.value,
        np.where(
            victims["eu_citizen"].astype(bool),
            CitizenshipGroup.OTHER_EU.value,
            CitizenshipGroup.NON_EU.value,
        ),
    )
    return pd.Series(groups, index=victims.index, dtype="object")


def _top_citizenships(victims: pd.DataFrame) -> pd.DataFrame:
    counts = victims.groupby("citizenship").size().reset_index(name="count")
    counts = counts.sort_values(["count", "citizenship"], ascending=[False, True])
    top = counts.head(TOP_CITIZENSHIPS).reset_index(drop=True)
    total = len(victims)
    top.insert(0, "rank", np.arange(1, len(top) + 1, dtype="int64"))
    top["share"] = top["count"] / total if total else 0.0
    top["cumulative_share"] = top["share"].cumsum()
    return top.astype({"count": "int64", "share": "float64", "cumulative_share": "float64"})


def report_tables(
    facts: pd.DataFrame,
    hotline: pd.DataFrame,
    outreach: pd.DataFrame,
    year: int,
    contacts: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """The report for ``year`` from every victim fact known at the cut-off (all years, columns
    ``FACT_COLUMNS``), the log rows (``HOTLINE_COLUMNS``, ``OUTREACH_COLUMNS``) and the
    contacts per person and year (``CONTACT_COLUMNS``). Without ``contacts`` the
    ``contacts_summary`` table has nulls: contacts of non-victims are not in the facts."""
    # The read model hands an unknown age over as a null of any column type.
    facts = facts.assign(
        age=pd.to_numeric(facts["age"]).astype("Int64"),
        reflection_days=pd.to_numeric(facts["reflection_days"]).astype("Int64"),
    )
    victims = facts[facts["year"] == year]
    labour = victims[victims["exploitation"] == ExploitationForm.FORCED_LABOUR.value]
    tables: dict[str, pd.DataFrame] = {}

    tables["victims_by_year"] = _victims_by_year(facts, year)
    tables["by_authority"] = _count(victims["authority"], Authority.codes(), "authority")
    channel = _count(victims["channel"], Channel.codes(), "channel")
    group_order = {g: i for i, g in enumerate(ChannelGroup.codes())}
    channel_order = {c: i for i, c in enumerate(channel["channel"])}
    channel.insert(
        0,
        "channel_group",
        [_CHANNEL_GROUPS.get(c, ChannelGroup.PARTNERS_AND_OTHER.value) for c in channel["channel"]],
    )
    tables["by_channel"] = channel.sort_values(
        ["channel_group", "channel"],
        key=lambda s: s.map(group_order if s.name == "channel_group" else channel_order),
    ).reset_index(drop=True)
    tables["by_region"] = _count(victims["region"], [r.value for r in Region], "region")
    tables["by_citizenship"] = (
        victims.groupby(["citizenship", "region"])
        .size()
        .reset_index(name="count")
        .sort_values("citizenship")
        .reset_index(drop=True)
        .astype({"count": "int64"})
    )
    tables["by_exploitation"] = _count(
        victims["exploitation"], ExploitationForm.codes(), "exploitation"
    )
    tables["by_exploitation_group"] = _count(
        victims["exploitation"].map(lambda f: _EXPLOITATION_GROUPS.get(f, f)),
        ExploitationGroup.codes(),
        "exploitation_group",
    )
    tables["by_any_form"] = _any_form(victims)
    tables["labour_by_industry"] = _count(labour["industry"], Industry.codes(), "industry")
    tables["labour_by_industry_gender"] = _cross(
        labour, [("industry", Industry.codes()), ("gender", Gender.codes())]
    )
    tables["by_gender"] = _count(victims["gender"], Gender.codes(), "gender")
    # Not in the brief's list, but the 2012 report states "prostitution: all female".
    tables["by_exploitation_gender"] = _cross(
        victims, [("exploitation", ExploitationForm.codes()), ("gender", Gender.codes())]
    )
    tables["by_age_band"] = _count(victims["age_band"], AgeBand.codes(), "age_band")
    tables["by_gender_age_group"] = _cross(
        victims.assign(age_group=_age_groups(victims["age"])),
        [("gender", Gender.codes()), ("age_group", AgeGroup.codes())],
    )
    tables["by_citizenship_group"] = _count(
        _citizenship_groups(victims), CitizenshipGroup.codes(), "citizenship_group"
    )
    tables["status_at_cutoff"] = _count(victims["status"], SupportStatus.codes(), "status")

    calls = hotline[hotline["year"] == year]
    tables["hotline_by_caller"] = _count(calls["caller"], CallerType.codes(), "caller")
    police_calls = calls[calls["caller"] == CallerType.POLICE.value]
    tables["hotline_police_by_reason"] = _count(
        police_calls["reason"], CallReason.codes(), "reason"
    )
    tables["outreach_activity"] = _outreach_activity(outreach, victims, year)

    # Analyst-only tables.
    ages = victims["age"]
    tables["age_summary"] = pd.DataFrame(
        {
            "count": [len(victims)],
            "min": [_int_or_none(ages.min()) if len(ages) else None],
            "max": [_int_or_none(ages.max()) if len(ages) else None],
            "mean": [float(ages.mean()) if len(ages) else None],
            "minors": [int((ages < 18).fillna(False).sum())],
            "age_unknown": [int(ages.isna().sum())],
        }
    ).astype({"min": "Int64", "max": "Int64", "mean": "Float64"})
    if contacts is None:
        persons_contacted: int | None = None
        contact_count: int | None = None
    else:
        in_year = contacts[(contacts["year"] == year) & (contacts["contacts"] > 0)]
        persons_contacted = int(in_year["person_ref"].nunique())
        contact_count = int(in_year["contacts"].sum())
    tables["contacts_summary"] = pd.DataFrame(
        {"persons_contacted": [persons_contacted], "contacts": [contact_count]}
    ).astype("Int64")
    tables["returns"] = _returns(victims)
    tables["reflection_periods"] = _reflection_periods(victims)
    prepared = facts[
        (facts["status"] == SupportStatus.PREPARED_RETURN_IOM.value)
        & _in_year(facts["status_on"], year)
    ]
    tables["prepared_returns_in_year_all_cohorts"] = pd.DataFrame(
        {
            "definition": [RETURNED_IN_YEAR],
            "count": [len(prepared)],
            "assessed_before_year": [int((prepared["year"] < year).sum())],
        }
    ).astype({"count": "int64", "assessed_before_year": "int64"})
    tables["top_citizenships"] = _top_citizenships(victims)
    return tables


# ----------------------------------------------------------------------------------------------
# JSON and the in-memory path


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer | int):
        return int(value)
    if isinstance(value, np.floating | float):
        return None if math.isnan(value) else float(value)
    return value


def report_to_json(tables: Mapping[str, pd.DataFrame]) -> dict[str, list[dict[str, Any]]]:
    """Tables as JSON-ready lists of rows: nulls (NaN, NA) as None, numpy scalars as Python."""
    return {
        name: [
            {str(k): _json_value(v) for k, v in row.items()}
            for row in table.to_dict(orient="records")
        ]
        for name, table in tables.items()
    }


def build_report(records: Iterable[Record], year: int, as_of: AsOf) -> dict[str, pd.DataFrame]:
    """The report for ``year`` as known at ``as_of``, straight from event records: the oracle
    that the store-backed projections must reproduce."""
    bound = as_of_bound(as_of)
    cases: dict[str, list[Record]] = {}
    logs: list[Record] = []
    for record in records:
        person_ref = record.get("person_ref")
        if person_ref is None:
            logs.append(record)
        else:
            cases.setdefault(person_ref, []).append(record)
    facts: list[FactRow] = []
    contacts: list[ContactRow] = []
    for person_ref in sorted(cases):
        state = fold_prepared(person_ref, prepare(cases[person_ref]), bound)
        fact = state.fact()
        if fact is not None:
            facts.append(fact)
        contacts.extend(state.contact_rows())
    hotline, outreach = log_rows(logs, as_of)
    return report_tables(
        facts_frame(facts),
        hotline_frame(hotline),
        outreach_frame(outreach),
        year,
        contacts=contacts_frame(contacts),
    )

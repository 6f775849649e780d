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
from collections.abc import Iterable, Mapping
from operator import attrgetter
from typing import Any

import numpy as np
import pandas as pd

from domain.codes import (
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
    SupportStatus,
)
from domain.countries import Region
from projections.bitemporal import AsOf, Record, as_of_bound, prepare
from projections.case_fold import fold_prepared
from projections.case_rows import CONTACT_COLUMNS, FACT_COLUMNS, ContactRow, FactRow
from projections.logs import HOTLINE_COLUMNS, OUTREACH_COLUMNS, HotlineRow, OutreachRow, log_rows
from projections.report_measures import (
    CHANNEL_GROUP_OF,
    EXPLOITATION_GROUP_OF,
    RETURNED_IN_YEAR,
    age_groups,
    any_form,
    citizenship_groups,
    count_codes,
    cross_count,
    dated_in_year,
    int_or_none,
    outreach_activity,
    reflection_periods,
    returns_table,
    top_citizenships,
    victims_by_year,
)

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

    tables["victims_by_year"] = victims_by_year(facts, year)
    tables["by_authority"] = count_codes(victims["authority"], Authority.codes(), "authority")
    channel = count_codes(victims["channel"], Channel.codes(), "channel")
    group_order = {g: i for i, g in enumerate(ChannelGroup.codes())}
    channel_order = {c: i for i, c in enumerate(channel["channel"])}
    channel.insert(
        0,
        "channel_group",
        [
            CHANNEL_GROUP_OF.get(c, ChannelGroup.PARTNERS_AND_OTHER.value)
            for c in channel["channel"]
        ],
    )
    tables["by_channel"] = channel.sort_values(
        ["channel_group", "channel"],
        key=lambda s: s.map(group_order if s.name == "channel_group" else channel_order),
    ).reset_index(drop=True)
    tables["by_region"] = count_codes(victims["region"], [r.value for r in Region], "region")
    tables["by_citizenship"] = (
        victims.groupby(["citizenship", "region"])
        .size()
        .reset_index(name="count")
        .sort_values("citizenship")
        .reset_index(drop=True)
        .astype({"count": "int64"})
    )
    tables["by_exploitation"] = count_codes(
        victims["exploitation"], ExploitationForm.codes(), "exploitation"
    )
    tables["by_exploitation_group"] = count_codes(
        victims["exploitation"].map(lambda f: EXPLOITATION_GROUP_OF.get(f, f)),
        ExploitationGroup.codes(),
        "exploitation_group",
    )
    tables["by_any_form"] = any_form(victims)
    tables["labour_by_industry"] = count_codes(labour["industry"], Industry.codes(), "industry")
    tables["labour_by_industry_gender"] = cross_count(
        labour, [("industry", Industry.codes()), ("gender", Gender.codes())]
    )
    tables["by_gender"] = count_codes(victims["gender"], Gender.codes(), "gender")
    # Not in the brief's list, but the 2012 report states "prostitution: all female".
    tables["by_exploitation_gender"] = cross_count(
        victims, [("exploitation", ExploitationForm.codes()), ("gender", Gender.codes())]
    )
    tables["by_age_band"] = count_codes(victims["age_band"], AgeBand.codes(), "age_band")
    tables["by_gender_age_group"] = cross_count(
        victims.assign(age_group=age_groups(victims["age"])),
        [("gender", Gender.codes()), ("age_group", AgeGroup.codes())],
    )
    tables["by_citizenship_group"] = count_codes(
        citizenship_groups(victims), CitizenshipGroup.codes(), "citizenship_group"
    )
    tables["status_at_cutoff"] = count_codes(victims["status"], SupportStatus.codes(), "status")

    calls = hotline[hotline["year"] == year]
    tables["hotline_by_caller"] = count_codes(calls["caller"], CallerType.codes(), "caller")
    police_calls = calls[calls["caller"] == CallerType.POLICE.value]
    tables["hotline_police_by_reason"] = count_codes(
        police_calls["reason"], CallReason.codes(), "reason"
    )
    tables["outreach_activity"] = outreach_activity(outreach, victims, year)

    # Analyst-only tables.
    ages = victims["age"]
    tables["age_summary"] = pd.DataFrame(
        {
            "count": [len(victims)],
            "min": [int_or_none(ages.min()) if len(ages) else None],
            "max": [int_or_none(ages.max()) if len(ages) else None],
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
    tables["returns"] = returns_table(victims)
    tables["reflection_periods"] = reflection_periods(victims)
    prepared = facts[
        (facts["status"] == SupportStatus.PREPARED_RETURN_IOM.value)
        & dated_in_year(facts["status_on"], year)
    ]
    tables["prepared_returns_in_year_all_cohorts"] = pd.DataFrame(
        {
            "definition": [RETURNED_IN_YEAR],
            "count": [len(prepared)],
            "assessed_before_year": [int((prepared["year"] < year).sum())],
        }
    ).astype({"count": "int64", "assessed_before_year": "int64"})
    tables["top_citizenships"] = top_citizenships(victims)
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

"""The report's measures beyond a plain count, and the counting rules every table shares:
counts over a code list, crossings of two lists, the year's outreach activity, the two return
definitions, the year series, reflection periods, forms of exploitation, citizenship groups.
:mod:`projections.report` assembles the tables from them (see its docstring for what each
table counts)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from domain.codes import (
    Accommodation,
    AgeGroup,
    Channel,
    CitizenshipGroup,
    ExploitationForm,
    Gender,
    OutreachMeasure,
    Period,
    Place,
    ReturnSupport,
    SupportStatus,
)

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
CHANNEL_GROUP_OF: Mapping[str, str] = {c.value: c.group.value for c in Channel}
EXPLOITATION_GROUP_OF: Mapping[str, str] = {f.value: f.group.value for f in ExploitationForm}
_DENMARK = "DK"


def codes_then_extra(codes: Sequence[str], present: Iterable[Any]) -> list[str]:
    """``codes`` then any other present value, sorted: a retired or unexpected code must still
    be counted, or the table would not add up to the total."""
    extra = sorted({str(v) for v in present if not pd.isna(v)} - set(codes))
    return [*codes, *extra]


def count_codes(values: pd.Series, codes: Sequence[str], column: str) -> pd.DataFrame:
    counts = values.value_counts()
    keys = codes_then_extra(codes, counts.index)
    return pd.DataFrame(
        {column: keys, "count": np.array([int(counts.get(k, 0)) for k in keys], dtype="int64")}
    )


def cross_count(frame: pd.DataFrame, dims: Sequence[tuple[str, Sequence[str]]]) -> pd.DataFrame:
    """Counts over the full product of the dimensions' code lists, in code-list order."""
    columns = [d for d, _ in dims]
    counts = frame.groupby(columns, dropna=False).size() if len(frame) else pd.Series()
    lists = [codes_then_extra(codes, frame[d].unique() if len(frame) else ()) for d, codes in dims]
    index = pd.MultiIndex.from_product(lists, names=columns)
    full = counts.reindex(index, fill_value=0).astype("int64") if len(frame) else None
    table = index.to_frame(index=False)
    table["count"] = full.to_numpy() if full is not None else np.zeros(len(table), "int64")
    return table


def dated_in_year(dates: pd.Series, year: int) -> pd.Series:
    """Whether each ISO date string falls in ``year`` (False where missing)."""
    return dates.astype("string").str.startswith(f"{year}-").fillna(False).astype(bool)


def int_or_none(value: Any) -> int | None:
    return None if pd.isna(value) else int(value)


# ----------------------------------------------------------------------------------------------
# Tables


def outreach_activity(outreach: pd.DataFrame, victims: pd.DataFrame, year: int) -> pd.DataFrame:
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
    measures = codes_then_extra(OutreachMeasure.codes(), logs["measure"].unique())
    rows: list[dict[str, Any]] = []
    places = codes_then_extra(Place.codes(), [*logs["place"].unique(), *by_place.index])
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
                    "value": int_or_none(totals[aggregation].get(key, pd.NA)),
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


def returns_table(victims: pd.DataFrame) -> pd.DataFrame:
    accommodations = codes_then_extra(Accommodation.codes(), victims["accommodation"].unique())
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
            "days_min": int_or_none(days.min()) if len(days) else None,
            "days_max": int_or_none(days.max()) if len(days) else None,
            "return_support_equal": int((g["return_support"] == equal).sum()),
        }
        for a in accommodations:
            row[f"accommodation_{a}"] = int((g["accommodation"] == a).sum())
        row["accommodation_unknown"] = int(g["accommodation"].isna().sum())
        rows.append(row)
    return pd.DataFrame(rows).astype({"days_min": "Int64", "days_max": "Int64"})


def victims_by_year(facts: pd.DataFrame, year: int) -> pd.DataFrame:
    """Victims per year from the first year with one to ``year``, never beyond (a later
    year is not over at the cut-off), 0 for a year without one."""
    counts = facts.groupby("year").size()
    first = min(int(counts.index.min()), year) if len(counts) else year
    years = np.arange(first, year + 1, dtype="int64")
    return pd.DataFrame(
        {"year": years, "count": np.array([int(counts.get(y, 0)) for y in years], "int64")}
    )


def reflection_periods(victims: pd.DataFrame) -> pd.DataFrame:
    """The year's victims offered a reflection period (the first offer of support that
    states one), and its length in days (GRETA asks for both)."""
    days = victims["reflection_days"].dropna()
    return pd.DataFrame(
        {
            "victims": [len(victims)],
            "offered_reflection_period": [len(days)],
            "days_min": [int_or_none(days.min()) if len(days) else None],
            "days_max": [int_or_none(days.max()) if len(days) else None],
            "days_mean": [float(days.mean()) if len(days) else None],
        }
    ).astype({"days_min": "Int64", "days_max": "Int64", "days_mean": "Float64"})


def any_form(victims: pd.DataFrame) -> pd.DataFrame:
    """Persons with each form of exploitation, as the primary form or an additional one."""
    additional = victims["additional_forms"].dropna() if "additional_forms" in victims else ()
    forms = [*victims["exploitation"], *(f for joined in additional for f in joined.split(","))]
    return count_codes(pd.Series(forms, dtype="object"), ExploitationForm.codes(), "exploitation")


def age_groups(ages: pd.Series) -> list[str]:
    return [AgeGroup.of(None if pd.isna(a) else int(a)).value for a in ages]


def citizenship_groups(victims: pd.DataFrame) -> pd.Series:
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


def top_citizenships(victims: pd.DataFrame) -> pd.DataFrame:
    counts = victims.groupby("citizenship").size().reset_index(name="count")
    counts = counts.sort_values(["count", "citizenship"], ascending=[False, True])
    top = counts.head(TOP_CITIZENSHIPS).reset_index(drop=True)
    total = len(victims)
    top.insert(0, "rank", np.arange(1, len(top) + 1, dtype="int64"))
    top["share"] = top["count"] / total if total else 0.0
    top["cumulative_share"] = top["share"].cumsum()
    return top.astype({"count": "int64", "share": "float64", "cumulative_share": "float64"})

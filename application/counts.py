"""Ad-hoc counts of assessed victims over the fact table's dimensions, for analysts: how
many persons of a year, as known at a cut-off, by any of the dimensions below. Counts of
persons, never the persons: no row names a person_ref or a date."""

from __future__ import annotations

from typing import Any

from application.ports import Adapters
from application.report import ReportRefused, check_as_of, check_year

DIMENSIONS = (
    "authority",
    "channel",
    "channel_group",
    "place",
    "citizenship",
    "region",
    "exploitation",
    "industry",
    "gender",
    "age_band",
    "legal_residence",
    "eu_citizen",
    "status",
    "return_support",
    "accommodation",
)
"""What a count may be broken down by: coded values only (no person_ref, age or date)."""


def fact_counts(adapters: Adapters, year: int, as_of: str, by: list[str]) -> list[dict[str, Any]]:
    """The assessed victims of ``year`` known at the end of ``as_of``, counted by the
    dimensions ``by`` (one row a combination that occurs, with ``count``)."""
    check_year(year)
    check_as_of(year, as_of)
    unknown = [d for d in by if d not in DIMENSIONS]
    if not by or unknown or len(set(by)) != len(by):
        raise ReportRefused(
            f"by: name one or more distinct dimensions of {', '.join(DIMENSIONS)}"
            + (f" (not {', '.join(unknown)})" if unknown else "")
        )
    facts = adapters.load_report_inputs(as_of, None).facts
    victims = facts[facts["year"] == year]
    counted = victims.groupby(by, dropna=False).size().reset_index(name="count")
    rows: list[dict[str, Any]] = []
    for record in counted.to_dict(orient="records"):
        rows.append(
            {
                str(k): (None if v != v else v.item() if hasattr(v, "item") else v)
                for k, v in record.items()
            }
        )
    return rows

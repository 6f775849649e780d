"""The exact annual report of a year as of a cut-off (for analysts, not for publication)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from application.ports import Adapters, ProgressCallback

if TYPE_CHECKING:
    import pandas as pd

FIRST_YEAR, LAST_YEAR = 1990, 2099
"""``domain.events.EARLIEST`` and ``LATEST``: no event lies outside these years."""


class ReportRefused(ValueError):
    """A report that cannot be meant: its message names the flag at fault."""


def check_year(year: int) -> int:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ReportRefused(
            f"{year} is outside the years events can have ({FIRST_YEAR}-{LAST_YEAR}); "
            "give the year in full, e.g. 2012"
        )
    return year


def check_as_of(year: int, as_of: str) -> None:
    """A year's figures need a cut-off on or after the year's last day."""
    if date.fromisoformat(as_of) < date(year, 12, 31):
        raise ReportRefused(
            f"--as-of {as_of} is before the end of {year}: a year's figures need a cut-off "
            f"on or after {year}-12-31 (the centre reports as at {year + 1}-01-31)"
        )


def has_figures(tables: dict[str, pd.DataFrame]) -> bool:
    """Whether any table of the year counts anything (a year with no events counts nothing;
    ``victims_by_year`` is the series of every year, so it does not say)."""
    for name, table in tables.items():
        if name == "victims_by_year":
            continue
        numbers = table.select_dtypes("number").drop(columns=["year"], errors="ignore")
        if not numbers.empty and bool((numbers.fillna(0) != 0).to_numpy().any()):
            return True
    return False


def report_tables(
    adapters: Adapters, year: int, as_of: str, progress: ProgressCallback | None = None
) -> dict[str, Any]:
    """Every table of the annual report of ``year`` as known at the end of ``as_of``, with
    the read model brought up to date first. No check: the demo reports what it made."""
    from projections.report import report_tables as tables_of

    inputs = adapters.load_report_inputs(as_of, progress)
    return tables_of(inputs.facts, inputs.hotline, inputs.outreach, year, inputs.contacts)


def annual_report(
    adapters: Adapters, year: int, as_of: str, progress: ProgressCallback | None = None
) -> dict[str, Any]:
    """:func:`report_tables`, refused (:class:`ReportRefused`) for a cut-off before the
    year's end and for a year of which the store holds no events by the cut-off."""
    check_year(year)
    check_as_of(year, as_of)
    tables = report_tables(adapters, year, as_of, progress)
    if not has_figures(tables):
        raise ReportRefused(
            f"--year {year}: the store holds no events of {year} recorded by {as_of}"
        )
    return tables

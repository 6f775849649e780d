"""The read model's rows: pure functions from a person's records, or from log records, to the
row tuples of the read-model tables (``facts``, ``contacts``, ``cases``, ``log_events``,
``hotline``, ``outreach``).

Every view adapter (``infra.view``) stores exactly these tuples; the adapters only decide
where they go and in which transaction. Bitemporal rows start with ``tx_from, tx_to``: valid
in transaction time from ``tx_from`` until ``tx_to`` (None while valid).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from operator import attrgetter
from typing import Any

from projections.bitemporal import normalise_timestamp
from projections.case_fold_fast import case_projection
from projections.case_rows import CONTACT_COLUMNS, FACT_COLUMNS
from projections.logs import HOTLINE_COLUMNS, OUTREACH_COLUMNS, log_row_versions
from projections.projection import Record

CASE_COLUMNS: tuple[str, ...] = (
    "person_ref",
    "contacts",
    "first_contact_channel",
    "first_contact_on",
    "assessed",
    "outcome",
    "authority",
    "exploitation",
    "industry",
    "citizenship",
    "gender",
    "age",
    "assessed_on",
    "status",
    "status_on",
    "accommodation",
    "departed_on",
    "days_in_denmark",
    "flags",
    "event_count",
    "last_recorded_at",
)

# Each read-model table's columns, in the order an update writes the tables (so a rebuild
# takes its locks in the same order).
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "facts": ("tx_from", "tx_to", *FACT_COLUMNS),
    "contacts": ("tx_from", "tx_to", *CONTACT_COLUMNS),
    "cases": CASE_COLUMNS,
    # A log record's position in the store: its record is read from there when a correction
    # makes its rows change.
    "log_events": ("event_id", "target_event_id", "position"),
    "hotline": ("tx_from", "tx_to", *HOTLINE_COLUMNS),
    "outreach": ("tx_from", "tx_to", *OUTREACH_COLUMNS),
}
VIEW_TABLES: tuple[str, ...] = tuple(TABLE_COLUMNS)
LOG_TABLES = VIEW_TABLES[3:]  # the order of ``LogRows``

BOOL_FACT_COLUMNS = frozenset({"legal_residence", "eu_citizen"})

Row = tuple[Any, ...]
# A person's fact rows, contact rows and case row.
CaseRows = tuple[list[Row], list[Row], Row]
# Rows of ``log_events``, ``hotline`` and ``outreach``.
LogRows = tuple[list[Row], list[Row], list[Row]]
# A log record and its position in the store.
LogRecord = tuple[int, Record]


@lru_cache(maxsize=8)
def _getter(columns: tuple[str, ...]) -> tuple[Callable[[Any], tuple[Any, ...]], tuple[int, ...]]:
    """A C-level getter of ``columns`` and the positions of boolean columns among them
    (stored as 0/1, which both databases take into an integer or text column)."""
    return attrgetter(*columns), tuple(i for i, c in enumerate(columns) if c in BOOL_FACT_COLUMNS)


def _row_values(row: Any, columns: tuple[str, ...]) -> Row:
    getter, bools = _getter(columns)
    values = getter(row)
    if not bools:
        return tuple(values)
    as_list = list(values)
    for i in bools:
        as_list[i] = int(as_list[i])
    return tuple(as_list)


def _versions_rows(versions: Sequence[tuple[str, Any]], columns: tuple[str, ...]) -> list[Row]:
    """Rows with [tx_from, tx_to) from a list of (recorded_at, row-or-None) versions."""
    rows = []
    for i, (t, row) in enumerate(versions):
        if row is None:
            continue
        tx_to = normalise_timestamp(versions[i + 1][0]) if i + 1 < len(versions) else None
        rows.append((normalise_timestamp(t), tx_to, *_row_values(row, columns)))
    return rows


def case_rows_for(person_ref: str, records: list[Record]) -> CaseRows:
    """Fact rows, contact rows and the current case row of one person, from all the
    person's records (in the store's order)."""
    versions, state = case_projection(person_ref, records)
    facts = _versions_rows([(v.recorded_at, v.fact) for v in versions], FACT_COLUMNS)
    return facts, contact_rows(versions), case_row(state)


def contact_rows(versions: Sequence[Any]) -> list[Row]:
    """Contact rows per (person, year) with their own validity intervals: a year's row is
    valid from the version that gave it its count until the next version that changed that
    year's count (or dropped the year), whatever other years did in between."""
    # Each year's changes, (recorded_at, row or None), in one pass over the versions. Most
    # versions change one year (the one a contact falls in) and the fold reuses the other
    # years' row objects, so most comparisons are between a row and itself.
    changes: dict[int, list[tuple[str, Any]]] = {}
    current: dict[int, Any] = {}
    for v in versions:
        t = v.recorded_at
        for row in v.contacts:
            year = row.year
            if current.get(year) != row:
                current[year] = row
                changes.setdefault(year, []).append((t, row))
        if len(current) > len(v.contacts):
            present = {row.year for row in v.contacts}
            for year, row in current.items():
                if row is not None and year not in present:
                    current[year] = None
                    changes[year].append((t, None))
    # A contact row is a tuple of CONTACT_COLUMNS already: its values go in as they are.
    rows: list[Row] = []
    for year_changes in changes.values():
        last = len(year_changes) - 1
        for i, (t, row) in enumerate(year_changes):
            if row is not None:
                tx_to = normalise_timestamp(year_changes[i + 1][0]) if i < last else None
                rows.append((normalise_timestamp(t), tx_to, *row))
    return rows


_CASE_GETTER = attrgetter(*CASE_COLUMNS)
_FLAGS = CASE_COLUMNS.index("flags")
_ASSESSED = CASE_COLUMNS.index("assessed")


def case_row(state: Any) -> Row:
    """The ``cases`` row of a folded case state (flags comma-separated, assessed "1"/"0")."""
    values = list(_CASE_GETTER(state))
    values[_FLAGS] = ",".join(values[_FLAGS])
    values[_ASSESSED] = "1" if values[_ASSESSED] else "0"
    return tuple(values)


def log_event_rows(records: Sequence[LogRecord]) -> list[Row]:
    """The ``log_events`` rows of log records: where in the store each one is."""
    return [(r["event_id"], r["payload"].get("target_event_id"), p) for p, r in records]


def hotline_outreach_rows(records: Sequence[Record]) -> tuple[list[Row], list[Row]]:
    """The ``hotline`` and ``outreach`` rows of the log events that ``records`` are all the
    records of (the events themselves and every correction of them)."""
    hotline: list[Row] = []
    outreach: list[Row] = []
    raw: str | None = None
    start = ""
    for tx_from, tx_to, row in log_row_versions(records):
        if tx_from is not raw:  # an outreach log's rows come together, with one time
            raw, start = tx_from, normalise_timestamp(tx_from)
        values = (start, None if tx_to is None else normalise_timestamp(tx_to), *row)
        (hotline if len(row) == len(HOTLINE_COLUMNS) else outreach).append(values)
    return hotline, outreach


def log_view_rows(records: Sequence[LogRecord]) -> LogRows:
    """Every row of the log tables when ``records`` are all the log records there are."""
    return (log_event_rows(records), *hotline_outreach_rows([r for _, r in records]))


def is_correction(record: Record) -> bool:
    return bool(record["type"] == "CorrectionRecorded")


def log_targets(records: Sequence[LogRecord]) -> list[str]:
    """The log events whose rows ``records`` change: each record's own event, or the target
    of a correction, sorted."""
    return sorted(
        {r["payload"]["target_event_id"] if is_correction(r) else r["event_id"] for _, r in records}
    )

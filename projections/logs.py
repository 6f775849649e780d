"""Log rows: hotline calls and outreach activity, which are not about one person.

Hotline calls and outreach logs are corrected like case events (``CorrectionRecorded`` without
a ``person_ref``), bitemporally: a correction counts from its own ``recorded_at``. The same
preparation as for cases (:func:`projections.bitemporal.prepare`) keeps the two consistent.

An outreach log carries several measures; each becomes one row, so a report can aggregate a
measure across logs without unpacking payloads.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

from domain.codes import OutreachMeasure
from domain.events import LOG_EVENT_TYPES
from domain.local_dates import local_date
from projections.bitemporal import (
    AsOf,
    Payload,
    Record,
    as_of_bound,
    effective_payloads,
    prepare,
)


class HotlineRow(NamedTuple):
    event_id: str
    occurred_on: str
    year: int
    caller: str
    reason: str


class OutreachRow(NamedTuple):
    event_id: str
    occurred_on: str
    year: int
    place: str
    period: str
    measure: str
    value: int


HOTLINE_COLUMNS: tuple[str, ...] = HotlineRow._fields
OUTREACH_COLUMNS: tuple[str, ...] = OutreachRow._fields
LogRow = HotlineRow | OutreachRow

_MEASURE_ORDER = {code: i for i, code in enumerate(OutreachMeasure.codes())}


@lru_cache(maxsize=256)
def _measure_order(measures: tuple[str, ...]) -> tuple[str, ...]:
    """Measures in code-list order (unknown ones last, as given): logs name the same few
    measures in the same order, so each order is sorted once."""
    return tuple(sorted(measures, key=lambda m: _MEASURE_ORDER.get(m, len(_MEASURE_ORDER))))


# NamedTuple's own ``__new__`` is a Python function; the tuple constructor builds the same
# row three times faster (a rebuild builds one for every measure of every outreach log).
_new_tuple = tuple.__new__


def _rows(event_id: str, kind: str, occurred: str, payload: Payload) -> list[LogRow]:
    on = local_date(occurred)
    year = int(on[:4])
    if kind == "HotlineCallReceived":
        return [HotlineRow(event_id, on, year, payload["caller"], payload["reason"])]
    measures = payload["measures"]
    place, period = payload["place"], payload["period"]
    return [
        _new_tuple(OutreachRow, (event_id, on, year, place, period, m, measures[m]))
        for m in _measure_order(tuple(measures))
    ]


def log_rows(
    records: Iterable[Record], as_of: AsOf = None
) -> tuple[list[HotlineRow], list[OutreachRow]]:
    """Hotline and outreach rows as known at ``as_of`` (all records if None), in occurrence
    order. Case events and corrections of case events in ``records`` are ignored; a correction
    naming no known log event of its target type is ignored too (logs have no flags)."""
    prepared = prepare(records, LOG_EVENT_TYPES)
    events, _, _ = effective_payloads(prepared, as_of_bound(as_of))
    hotline: list[HotlineRow] = []
    outreach: list[OutreachRow] = []
    for event, payload in events:
        for row in _rows(event.event_id, event.type, event.occurred, payload):
            if isinstance(row, HotlineRow):
                hotline.append(row)
            else:
                outreach.append(row)
    return hotline, outreach


def _row_key(row: LogRow) -> tuple[str, str]:
    return (row.event_id, row.measure if isinstance(row, OutreachRow) else "")


def log_row_versions(records: Iterable[Record]) -> list[tuple[str, str | None, LogRow]]:
    """Every log row with its transaction-time validity ``[tx_from, tx_to)`` (raw
    ``recorded_at`` strings; ``tx_to`` None while still valid), so that the rows valid at
    ``as_of`` (``tx_from <= as_of < tx_to``) are exactly ``log_rows(records, as_of)``.

    A row unchanged by a correction keeps one interval (a replacement that changes one measure
    of an outreach log closes only that measure's row). A correction recorded before its
    target takes effect when the target is recorded."""
    prepared = prepare(records, LOG_EVENT_TYPES)
    by_target: dict[str, list[tuple[str, str, str, Payload | None]]] = {}
    for c in prepared.corrections:
        by_target.setdefault(c.target_event_id, []).append(
            (c.recorded, c.recorded_raw, c.target_type, c.replacement)
        )
    out: list[tuple[str, str | None, LogRow]] = []
    for event in prepared.events:
        if event.event_id not in by_target:
            # Never corrected (most log events): its rows, valid from when it was recorded.
            raw = event.recorded_raw
            event_rows = _rows(event.event_id, event.type, event.occurred, event.payload)
            out.extend([(raw, None, row) for row in event_rows])
            continue
        # The event's payload over transaction time: (normalised t, raw t, payload or None).
        timeline: list[tuple[str, str, Payload | None]] = [
            (event.recorded, event.recorded_raw, event.payload)
        ]
        for recorded, raw, target_type, replacement in by_target.get(event.event_id, ()):
            if target_type != event.type:
                continue
            if recorded <= event.recorded:
                recorded, raw = event.recorded, event.recorded_raw
            if timeline[-1][0] == recorded:
                timeline[-1] = (recorded, raw, replacement)
            else:
                timeline.append((recorded, raw, replacement))
        open_rows: dict[tuple[str, str], tuple[str, LogRow]] = {}
        for _, raw, payload in timeline:
            rows = (
                {}
                if payload is None
                else {
                    _row_key(r): r
                    for r in _rows(event.event_id, event.type, event.occurred, payload)
                }
            )
            for key, (start, row) in list(open_rows.items()):
                if rows.get(key) != row:
                    out.append((start, raw, row))
                    del open_rows[key]
            for key, row in rows.items():
                if key not in open_rows:
                    open_rows[key] = (raw, row)
        out.extend((start, None, row) for start, row in open_rows.values())
    return out

"""Bitemporal records: what was known when, and what it said after its corrections.

Pure functions over records as ``domain.events.to_record`` returns them (plain dicts). Two
times order them. ``as_of`` selects what was *known* (``recorded_at <= as_of``); within that,
events are ordered by when they *happened* (``occurred_at``, then ``recorded_at``, then
``event_id``), so records may arrive in any order and read the same. Corrections are new
events that retract or replace an earlier event's payload from their own ``recorded_at`` on,
so a report as of an earlier date still shows the original. Cases
(:mod:`projections.case_fold`) and the hotline and outreach logs (:mod:`projections.logs`)
share this reading, which keeps the two consistent.

Timestamps are compared as strings after :func:`normalise_timestamp` makes them fixed width:
``to_record`` writes ``...:SSZ`` for whole seconds but ``...:SS.ffffffZ`` otherwise, and raw
string order would put ``10:00:00.5Z`` before ``10:00:00Z`` ('.' sorts before 'Z').
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from domain.codes import CorrectionAction
from domain.events import CASE_EVENT_TYPES
from domain.local_dates import end_of_local_day

Record = Mapping[str, Any]
Payload = Mapping[str, Any]
AsOf = str | datetime | date | None


def normalise_timestamp(value: str) -> str:
    """``value`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC), whose string order is time order."""
    if len(value) == 20 and value[19] == "Z" and value[10] == "T":
        return value[:19] + ".000000Z"
    if len(value) == 27 and value[26] == "Z" and value[19] == ".":
        return value
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:  # the store only holds UTC; a naive value is taken as UTC
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def as_of_bound(as_of: AsOf) -> str | None:
    """The normalised upper bound for ``recorded_at``; a bare date means the end of that day
    in Denmark (``domain.local_dates``), so ``as_of="2013-01-31"`` includes everything
    recorded on the 31st, Danish time."""
    if as_of is None:
        return None
    if isinstance(as_of, datetime):
        return normalise_timestamp(as_of.isoformat())
    if isinstance(as_of, str) and len(as_of) == 10:
        as_of = date.fromisoformat(as_of)
    if isinstance(as_of, date):
        return normalise_timestamp(end_of_local_day(as_of).isoformat())
    return normalise_timestamp(as_of)


# Preparing records once: normalised timestamps, sorted, as tuples (cheap to compare and hold).


class PreparedEvent(NamedTuple):
    occurred: str  # normalised
    recorded: str  # normalised
    event_id: str
    type: str
    payload: Payload
    recorded_raw: str


class PreparedCorrection(NamedTuple):
    recorded: str
    occurred: str
    event_id: str
    target_event_id: str
    target_type: str
    replacement: Payload | None  # None: retract
    recorded_raw: str


class Prepared(NamedTuple):
    """A person's records, sorted: events in occurrence order, corrections in recording order."""

    events: tuple[PreparedEvent, ...]
    corrections: tuple[PreparedCorrection, ...]


def prepare(records: Iterable[Record], event_types: frozenset[str] = CASE_EVENT_TYPES) -> Prepared:
    """Normalise and sort once, so folding as of many points in time only filters.

    A record whose ``event_id`` appears twice is kept once (the store is idempotent; an
    in-memory stream may not be): the earliest recorded copy wins."""
    events: dict[str, PreparedEvent] = {}
    corrections: dict[str, PreparedCorrection] = {}
    retract = CorrectionAction.RETRACT.value
    for r in records:
        kind = r["type"]
        event_id = str(r["event_id"])
        recorded_raw = r["recorded_at"]
        recorded = normalise_timestamp(recorded_raw)
        occurred = normalise_timestamp(r["occurred_at"])
        payload = r["payload"]
        if kind == "CorrectionRecorded":
            if payload["target_type"] not in event_types:
                continue
            corr = PreparedCorrection(
                recorded,
                occurred,
                event_id,
                str(payload["target_event_id"]),
                payload["target_type"],
                None if payload["action"] == retract else payload.get("replacement"),
                recorded_raw,
            )
            seen_c = corrections.get(event_id)
            if seen_c is None or corr.recorded < seen_c.recorded:
                corrections[event_id] = corr
        elif kind in event_types:
            event = PreparedEvent(occurred, recorded, event_id, kind, payload, recorded_raw)
            seen_e = events.get(event_id)
            if seen_e is None or event.recorded < seen_e.recorded:
                events[event_id] = event
    return Prepared(
        # Field order makes tuple order (occurred, recorded, event_id) for events and
        # (recorded, occurred, event_id) for corrections; ids are unique, so payloads are
        # never compared.
        tuple(sorted(events.values())),
        tuple(sorted(corrections.values())),
    )


def effective_payloads(
    prepared: Prepared, bound: str | None
) -> tuple[list[tuple[PreparedEvent, Payload]], bool, str | None]:
    """The events known by ``bound`` with their payloads after the corrections known by then,
    in occurrence order; whether a known correction names no known event of its target type;
    and the latest raw ``recorded_at`` among all known records.

    Corrections apply in recording order, so the latest one for a target decides (a replace
    after a retract reinstates the event with the replacement payload)."""
    known = [e for e in prepared.events if bound is None or e.recorded <= bound]
    last: tuple[str, str] | None = None
    for e in known:
        if last is None or e.recorded > last[0]:
            last = (e.recorded, e.recorded_raw)
    overrides: dict[str, Payload | None] = {}
    missing = False
    if prepared.corrections:
        types = {e.event_id: e.type for e in known}
        for c in prepared.corrections:
            if bound is not None and c.recorded > bound:
                break
            if last is None or c.recorded > last[0]:
                last = (c.recorded, c.recorded_raw)
            if types.get(c.target_event_id) != c.target_type:
                missing = True
                continue
            overrides[c.target_event_id] = c.replacement
    result: list[tuple[PreparedEvent, Payload]] = []
    for e in known:
        if e.event_id in overrides:
            replaced = overrides[e.event_id]
            if replaced is not None:
                result.append((e, replaced))
        else:
            result.append((e, e.payload))
    return result, missing, None if last is None else last[1]

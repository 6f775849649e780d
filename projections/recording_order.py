"""A person's case events in recording order, for the one-pass fold
(:mod:`projections.case_fold_fast`): what :func:`projections.bitemporal.prepare` does for the
definition, in the order and the form the one pass reads."""

from __future__ import annotations

from collections.abc import Iterable
from operator import itemgetter

from domain.events import CASE_EVENT_TYPES
from projections.bitemporal import Payload, Record, normalise_timestamp
from projections.case_fold import CONTACT

# (normalised recorded_at, normalised occurred_at, event_id, type, payload, raw recorded_at):
# recorded first, so that sorting gives recording order. A plain tuple read by position
# (``row[0]``) or unpacked, not a NamedTuple: a rebuild builds one per event, and a
# NamedTuple's ``__new__`` is a Python call each time (``bench.bench_ingest``'s rebuild
# figure pays for it). The fields come out of a record by one ``itemgetter`` call for the
# same reason.
Row = tuple[str, str, str, str, Payload, str]
_FIELDS = itemgetter("recorded_at", "occurred_at", "event_id", "type", "payload")


def scan(records: Iterable[Record]) -> tuple[list[Row], bool] | None:
    """The case events in recording order, deduplicated as
    :func:`~projections.bitemporal.prepare` does (the earliest recorded copy of an
    ``event_id`` wins), and whether any is not a contact; None if a correction of a case
    event is among the records, for which the one-pass fold does not hold."""
    rows: list[Row] = []
    ids: set[str] = set()
    mixed = False
    for raw, occurred, event_id, kind, payload in map(_FIELDS, records):
        # Contacts first: most events are contacts, and one comparison costs less than
        # hashing the type (every decoded record has a fresh string).
        if kind != CONTACT:
            if kind not in CASE_EVENT_TYPES:
                if kind == "CorrectionRecorded" and payload["target_type"] in CASE_EVENT_TYPES:
                    return None
                continue
            mixed = True
        # normalise_timestamp's first test, inlined (``[26:] == "Z"`` also says the length is
        # 27): the store's timestamps have that form, and a call per timestamp costs as much
        # as the rest of the scan.
        recorded = raw if raw[26:] == "Z" and raw[19] == "." else normalise_timestamp(raw)
        if not (occurred[26:] == "Z" and occurred[19] == "."):
            occurred = normalise_timestamp(occurred)
        event_id = str(event_id)
        ids.add(event_id)
        rows.append((recorded, occurred, event_id, kind, payload, raw))
    if len(ids) < len(rows):
        first: dict[str, Row] = {}
        for row in rows:
            seen = first.get(row[2])
            if seen is None or row[0] < seen[0]:
                first[row[2]] = row
        rows = list(first.values())
    # Ids are unique now, so tuple order never reaches the payloads.
    rows.sort()
    return rows, mixed


def last_recorded(rows: list[Row]) -> str | None:
    """The raw ``recorded_at`` that :func:`~projections.bitemporal.effective_payloads`
    reports: the greatest, from the first event in occurrence order that has it, which is the
    first row of the last group."""
    if not rows:
        return None
    j = len(rows) - 1
    latest = rows[j][0]
    while j > 0 and rows[j - 1][0] == latest:
        j -= 1
    return rows[j][5]

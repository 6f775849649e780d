"""Folding the store for a rebuild, in worker processes: whole streams in, read-model rows
out (``projections.read_model_rows``), for any SQL view.

A rebuild reads the store in primary-key order, so each stream's events come together and
each person is folded exactly once; the workers (``infra.workers``) decode and fold batches
of whole streams while the rebuilding process writes the rows of the batches before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, NamedTuple

from eventsourcing.utils import get_topic

from domain.case import Case
from infra.sealing import Erased
from infra.view_sql import collector_paused, loads_state
from projections.projection import Record, record_from_state
from projections.read_model_rows import (
    LogRecord,
    LogRows,
    Row,
    case_rows_for,
    is_correction,
    log_view_rows,
)

CASE_TOPIC_PREFIX = get_topic(Case) + "."
_CASE_TOPIC_LENGTH = len(CASE_TOPIC_PREFIX)

# A batch's fact, contact and case rows, its log streams' rows, and its log corrections.
Folded = tuple[list[Row], list[Row], list[Row], LogRows, list[LogRecord]]
# A stored event as the fold reads it: stream id, topic, state and position in the store.
StoredEvent = tuple[Any, str, Any, int]
# A stream as the fold reads it: (topic, state, position) of each event, ``Opened`` first.
Stream = list[tuple[str, bytes, int]]


class FoldedDatabase(NamedTuple):
    """A fold task's rows as a serialized in-memory SQLite database with the read model's
    tables, and its log corrections. On SQLite the rebuilding process copies such tables
    into its own in one statement each, in SQLite's C, without a Python object per row or
    value: writing the rows had been most of that process's work, and pickling them as
    tuples between the processes cost more than the copy (benchmark
    ``projection_rebuild_sqlite``, ``python -m bench.bench_ingest``)."""

    database: bytes
    corrections: list[LogRecord]


FoldResult = tuple[int, Folded | FoldedDatabase]  # the events read, and their rows
# What a fold worker runs: a function and its arguments.
FoldTask = tuple[Callable[..., FoldResult], tuple[Any, ...]]

# In a task list: every task before it has folded all the case streams, and none after it
# has case rows.
CASES_FOLDED = object()


def streams(rows: Iterator[StoredEvent]) -> Iterator[Stream]:
    """The store's rows in stream order, a stream at a time. States stay undecoded:
    decoding is part of the work the fold workers share."""
    stream: Stream = []
    current: Any = None
    for oid, topic, state, position in rows:
        if oid != current:
            if stream:
                yield stream
            stream = []
            current = oid
        stream.append((topic, bytes(state) if isinstance(state, memoryview) else state, position))
    if stream:
        yield stream


def stream_batches(rows: Iterator[StoredEvent], size: int) -> Iterator[list[Stream]]:
    """Whole streams, ``size`` to a batch."""
    all_streams = streams(rows)
    while batch := list(islice(all_streams, size)):
        yield batch


def log_records(events: Iterable[tuple[str, bytes, int]]) -> list[LogRecord]:
    """Log events (topic, state, position) as records with their positions, but for
    ``Opened`` events."""
    records = ((p, record_from_state(topic, loads_state(state))) for topic, state, p in events)
    return [(p, r) for p, r in records if r is not None]


def log_folded(records: list[LogRecord]) -> tuple[LogRows, list[LogRecord]]:
    """The log rows of ``records``, and those that are corrections (their targets may be in
    other batches: the caller projects those targets again)."""
    return log_view_rows(records), [(p, r) for p, r in records if is_correction(r)]


def _case_records(stream: Stream) -> list[Record]:
    """A case stream's records but its ``Opened`` event. The fold reads a record's fields by
    name, so a case event's decoded state, given its type, serves as its record without
    being copied into a new dict, as ``record_from_state`` would (a rebuild does this for
    every stored event; benchmark ``projection_rebuild_sqlite``)."""
    records: list[Record] = []
    for topic, state, _ in stream[1:]:
        record = loads_state(state)
        record["type"] = topic[_CASE_TOPIC_LENGTH:]
        records.append(record)
    return records


def fold_streams(batch: list[Stream]) -> Folded:
    """Decode and fold a batch of whole streams (runs in a fold worker): the rows of each
    case, the rows of the batch's log streams, and the batch's corrections of log events."""
    facts: list[Row] = []
    contacts: list[Row] = []
    cases: list[Row] = []
    logs: list[LogRecord] = []
    with collector_paused():
        for stream in batch:
            # A stream starts with its Opened event (version 1), which names the person.
            opened_topic, opened_state, _ = stream[0]
            if not opened_topic.startswith(CASE_TOPIC_PREFIX):
                logs.extend(log_records(stream))
                continue
            try:
                person_ref = loads_state(opened_state)["person_ref"]
                records = _case_records(stream)
            except Erased:
                continue  # erased (cmm erase): the person is in no table
            fact_rows, contact_rows, case_row = case_rows_for(person_ref, records)
            facts.extend(fact_rows)
            contacts.extend(contact_rows)
            cases.append(case_row)
        return facts, contacts, cases, *log_folded(logs)


def count_and_fold(batch: list[Stream]) -> tuple[int, Folded]:
    return sum(len(stream) for stream in batch), fold_streams(batch)

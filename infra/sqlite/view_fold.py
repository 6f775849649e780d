"""A rebuild's fold tasks on SQLite: each worker reads its share of the store itself, on a
read-only connection of its own, and hands back its rows, sealed (``infra.view_seal``), as a
small SQLite database."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import cast

from infra.view_fold import (
    CASE_TOPIC_PREFIX,
    CASES_FOLDED,
    Folded,
    FoldedDatabase,
    FoldResult,
    FoldTask,
    count_and_fold,
    log_folded,
    log_records,
    streams,
)
from infra.view_seal import seal_rows
from infra.view_sql import INSERT, TABLE_DDL, collector_paused
from projections.read_model_rows import VIEW_TABLES

REBUILD_MMAP_BYTES = 4 << 30  # address space, not memory: pages are the OS's page cache

# A rebuild splits the case streams' ids (hex text) into this many ranges, and the log
# events' positions into this many, one task each.
_RANGES = 64
_LOG_RANGES = 16

# Case events' topics sort between these two strings (``.`` is followed by ``/``).
_CASE_TOPICS = (CASE_TOPIC_PREFIX, CASE_TOPIC_PREFIX[:-1] + "/")


def bind_none_without_adapter_lookup() -> None:
    """Have sqlite3 bind None through an adapter found by one dict lookup. The standard
    library's sqlite3 binds None through its adapter protocol, whose failed attribute
    lookups make a NULL cost far more than a string, and read-model rows are mostly NULLs
    (a contacted person's case row has 13). Justified by the benchmark
    ``projection_rebuild_sqlite`` (``python -m bench.bench_ingest``)."""
    sqlite3.register_adapter(type(None), cast("Callable[[None], None]", {}.get))


bind_none_without_adapter_lookup()


def _as_database(counted: tuple[int, Folded]) -> FoldResult:
    """A fold result as a ``FoldedDatabase`` (unless this Python's sqlite3 cannot serialize
    one: the rows then go as they are)."""
    count, (facts, contacts, cases, logs, corrections) = counted
    db = sqlite3.connect(":memory:")
    if not hasattr(db, "serialize"):
        db.close()
        return counted
    try:
        for statement in TABLE_DDL:
            db.execute(statement)
        for table, rows in zip(VIEW_TABLES, (facts, contacts, cases, *logs), strict=True):
            # Sealed here, in the workers, rather than in the process that copies them.
            db.executemany(INSERT[table], seal_rows(table, rows))
        db.commit()
        return count, FoldedDatabase(db.serialize(), corrections)
    finally:
        db.close()


def _range_bounds(ranges: int) -> list[tuple[str, str | None]]:
    step = 256 // ranges
    starts = [f"{i:02x}" for i in range(0, 256, step)]
    return [(lo, starts[i + 1] if i + 1 < len(starts) else None) for i, lo in enumerate(starts)]


def _read_only(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60.0)
    db.execute(f"PRAGMA mmap_size={REBUILD_MMAP_BYTES}")
    db.execute("PRAGMA cache_size=-65536")
    return db


def fold_range(path: str, lo: str, hi: str | None, position: int) -> FoldResult:
    """Read and fold every case stream whose id is in [lo, hi) (runs in a fold worker, on a
    read-only connection of its own). Stored events up to ``position`` were committed before
    the rebuild took the write lock and are never changed, so this connection reads exactly
    the events the rebuild's transaction would."""
    db = _read_only(path)
    try:
        bound = "" if hi is None else "AND originator_id < ? "
        rows = db.execute(
            "SELECT originator_id, topic, state, rowid FROM stored_events "
            f"WHERE originator_id >= ? {bound}AND rowid <= ? AND topic >= ? AND topic < ? "
            "ORDER BY originator_id, originator_version",
            (lo, position, *_CASE_TOPICS) if hi is None else (lo, hi, position, *_CASE_TOPICS),
        )
        case_streams = list(streams(rows))
    finally:
        db.close()
    return _as_database(count_and_fold(case_streams))


def fold_log_range(path: str, after: int, upto: int) -> FoldResult:
    """Read and fold the events of log streams (every stream not a case's) stored at
    positions (after, upto] (runs in a fold worker). A log stream holds a year of hotline
    calls or of a place's outreach, tens of thousands of events: read by position, not by
    stream, the logs spread evenly over the tasks, however few and large they are. A log
    record's rows do not depend on other records of its stream, only on corrections, which
    the rebuild applies again at the end."""
    db = _read_only(path)
    try:
        rows = db.execute(
            "SELECT topic, state, rowid FROM stored_events "
            "WHERE rowid > ? AND rowid <= ? AND NOT (topic >= ? AND topic < ?)",
            (after, upto, *_CASE_TOPICS),
        ).fetchall()
    finally:
        db.close()
    with collector_paused():
        return _as_database((len(rows), ([], [], [], *log_folded(log_records(rows)))))


def sqlite_fold_tasks(path: str, position: int) -> Iterator[FoldTask | object]:
    """The case ranges (small tasks first, so the rebuilding process starts writing soon),
    then ``CASES_FOLDED``, then the log ranges."""
    for lo, hi in _range_bounds(_RANGES):
        yield fold_range, (path, lo, hi, position)
    yield CASES_FOLDED
    step = max(1, -(-position // _LOG_RANGES))
    for after in range(0, position, step):
        yield fold_log_range, (path, after, min(after + step, position))

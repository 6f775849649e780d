"""The read model: tables the projection maintains, for SQLite and PostgreSQL.

The read model lives in the same database as the event store. When a person's events arrive
(late, out of order, corrected), the view folds that person's whole stream again, read from
the store's own table in the same transaction: a person has a handful of events, and the
store's primary key already indexes them by stream.

Tables (the same on both databases):
- ``log_events``: where in the store each projected hotline and outreach record and each
  correction of one is, so that a log event's corrections can be applied again whatever
  order they arrive in.
- ``cases``: the current state of every case, for case workers.
- ``facts``, ``contacts``, ``hotline``, ``outreach``: bitemporal rows valid in transaction
  time from ``tx_from`` until ``tx_to`` (NULL while valid). A report as of D reads the rows
  valid at D, so corrections recorded later never change it.

Every ``apply`` runs in one transaction with the tracking record of the last event it covers.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sqlite3
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager, suppress
from functools import lru_cache
from itertools import islice
from operator import attrgetter
from typing import Any, NamedTuple, cast

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteTrackingRecorder, SQLiteTransaction
from eventsourcing.utils import get_topic
from pydantic_core import from_json

from domain.case import Case
from infra.workers import end_with_parent
from projections.bitemporal import normalise_timestamp
from projections.case_fold_fast import case_projection
from projections.case_rows import CONTACT_COLUMNS, FACT_COLUMNS
from projections.logs import HOTLINE_COLUMNS, OUTREACH_COLUMNS, log_row_versions
from projections.projection import Changes, Record, record_from_state

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

_BOOL_FACT_COLUMNS = frozenset({"legal_residence", "eu_citizen"})
_INT_COLUMNS = frozenset(
    {
        "year",
        "age",
        "days_in_denmark",
        "reflection_days",
        "contacts",
        "value",
        "event_count",
        "position",
    }
)


def _ddl(table: str, columns: Sequence[str], extra: str = "") -> str:
    cols = ", ".join(f"{c} {'BIGINT' if c in _INT_COLUMNS else 'TEXT'}" for c in columns)
    return f"CREATE TABLE IF NOT EXISTS {table} ({cols}{extra})"


# The read model's layout. The tables are derived from the store: a view whose recorded
# version differs is dropped and built again from the store by the next catch-up (a version is
# bumped whenever a table below changes shape).
VIEW_SCHEMA_VERSION = 4
# Each table's columns, in the order an update writes the tables (so a rebuild takes its locks
# in the same order).
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
_LOG_TABLES = VIEW_TABLES[3:]  # the order of ``LogRows``

# Indexes: a rebuild drops them and builds each once at the end, which is several times
# cheaper than keeping them up to date through a million inserts (a case row went in at 7.8 us
# with its key indexed, 5.5 us without).
INDEXES: dict[str, str] = {
    "log_events_id": "log_events (event_id)",
    "cases_person": "cases (person_ref)",
    "log_events_target": "log_events (target_event_id)",
    "facts_person": "facts (person_ref)",
    "facts_tx": "facts (tx_from, tx_to)",
    "contacts_person": "contacts (person_ref)",
    "hotline_event": "hotline (event_id)",
    "outreach_event": "outreach (event_id)",
}
# A case row per person, a log_events row per log record: the upserts' targets.
_UNIQUE_INDEXES = frozenset({"log_events_id", "cases_person"})
_CREATE_INDEXES = tuple(
    f"CREATE {'UNIQUE ' if n in _UNIQUE_INDEXES else ''}INDEX IF NOT EXISTS {n} ON {on}"
    for n, on in INDEXES.items()
)
_CASE_TABLES = frozenset({"facts", "contacts", "cases"})

TABLE_DDL: tuple[str, ...] = tuple(_ddl(t, columns) for t, columns in TABLE_COLUMNS.items())
SCHEMA: tuple[str, ...] = (*TABLE_DDL, *_CREATE_INDEXES)

_CREATE_VIEW_SCHEMA = "CREATE TABLE IF NOT EXISTS view_schema (version BIGINT NOT NULL)"

# Plain inserts, for rows of persons and log records that have none yet.
_INSERT = {
    table: f"INSERT INTO {table} VALUES ({','.join('?' * len(columns))})"
    for table, columns in TABLE_COLUMNS.items()
}
_UPSERT_CASES = (
    _INSERT["cases"]
    + " ON CONFLICT (person_ref) DO UPDATE SET "
    + ", ".join(f"{col} = excluded.{col}" for col in CASE_COLUMNS[1:])
)
_INSERT_NEW_LOG_EVENTS = _INSERT["log_events"] + " ON CONFLICT (event_id) DO NOTHING"

_IN_CHUNK = 500


def _create_indexes(c: Cursor, tables: frozenset[str] | None = None) -> None:
    """The indexes (of ``tables`` only, if given) that do not exist yet."""
    for statement, on in zip(_CREATE_INDEXES, INDEXES.values(), strict=True):
        if tables is None or on.split()[0] in tables:
            c.execute(statement)


# The standard library's sqlite3 binds None through its adapter protocol, whose failed
# attribute lookups make a NULL cost far more than a string: a row of 21 NULLs took 7.4 us
# to insert, 3.5 us with this adapter, which is found by one dict lookup and returns None as
# it is. Read-model rows are mostly NULLs (a contacted person's case row has 13).
sqlite3.register_adapter(type(None), cast("Callable[[None], None]", {}.get))


def loads_state(state: bytes | str | memoryview) -> Any:
    """Stored state as JSON values, parsed by pydantic-core (three times as fast as the
    standard library's parser, which a rebuild runs on every stored event). Only keys go
    through its string cache: values are mostly unique (ids, timestamps), and caching them
    made a parse 1.3 to 2.2 us against 1.0 us."""
    if isinstance(state, memoryview):
        state = bytes(state)
    return from_json(state, cache_strings="keys")


_CASE_TOPIC_PREFIX = get_topic(Case) + "."
_CASE_TOPIC_LENGTH = len(_CASE_TOPIC_PREFIX)


class Cursor:
    """A thin layer over a DB-API cursor that writes ``?`` placeholders for both databases."""

    def __init__(self, cursor: Any, placeholder: str) -> None:
        self._cursor = cursor
        self._ph = placeholder

    def _sql(self, sql: str) -> str:
        return sql if self._ph == "?" else sql.replace("?", self._ph)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        self._cursor.execute(self._sql(sql), params)
        try:
            return list(self._cursor.fetchall())
        except Exception:  # statements that return no rows
            return []

    def connection(self) -> Any:
        """The DB-API connection underneath."""
        return getattr(self._cursor, "sqlite_cursor", self._cursor).connection

    def iterate(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Any]:
        """Rows of a large query, fetched in slices rather than all at once."""
        # A cursor of its own: the caller writes through this one while iterating.
        raw = self.connection().cursor()
        raw.execute(self._sql(sql), params)
        while True:
            rows = raw.fetchmany(10_000)
            if not rows:
                return
            yield from rows

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._cursor.executemany(self._sql(sql), rows)

    def select_in(self, sql: str, keys: Sequence[Any]) -> list[Any]:
        """``sql`` with its ``IN ({0})`` lists (one or more) filled with ``keys``, in chunks."""
        result: list[Any] = []
        lists = max(1, sql.count("{0}"))
        for i in range(0, len(keys), _IN_CHUNK):
            chunk = list(keys[i : i + _IN_CHUNK])
            marks = ",".join("?" * len(chunk))
            result.extend(self.execute(sql.format(marks), chunk * lists))
        return result


@lru_cache(maxsize=8)
def _getter(columns: tuple[str, ...]) -> tuple[Callable[[Any], tuple[Any, ...]], tuple[int, ...]]:
    """A C-level getter of ``columns`` and the positions of boolean columns among them
    (stored as 0/1, which both databases take into an integer or text column)."""
    return attrgetter(*columns), tuple(i for i, c in enumerate(columns) if c in _BOOL_FACT_COLUMNS)


def _row_values(row: Any, columns: tuple[str, ...]) -> tuple[Any, ...]:
    getter, bools = _getter(columns)
    values = getter(row)
    if not bools:
        return tuple(values)
    as_list = list(values)
    for i in bools:
        as_list[i] = int(as_list[i])
    return tuple(as_list)


def _versions_rows(
    versions: Sequence[tuple[str, Any]], columns: tuple[str, ...]
) -> list[tuple[Any, ...]]:
    """Rows with [tx_from, tx_to) from a list of (recorded_at, row-or-None) versions."""
    rows = []
    for i, (t, row) in enumerate(versions):
        if row is None:
            continue
        tx_to = normalise_timestamp(versions[i + 1][0]) if i + 1 < len(versions) else None
        rows.append((normalise_timestamp(t), tx_to, *_row_values(row, columns)))
    return rows


REBUILD_MMAP_BYTES = 4 << 30  # address space, not memory: pages are the OS's page cache

APPLICATION_NAME = "Ledger"  # the application whose notification log the view follows


@contextmanager
def _no_gc() -> Iterator[None]:
    """A rebuild allocates millions of small objects and frees them in batches it controls;
    the cyclic collector would scan them over and over for nothing (there are no cycles)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class ViewLogic:
    """The read-model updates, written once for both databases."""

    events_table = "stored_events"
    position_column = "rowid"

    def view_version(self, c: Cursor) -> int | None:
        """The layout version of the read model in the database (None before there is one,
        or for a read model older than versions)."""
        rows = c.execute("SELECT version FROM view_schema")
        return int(rows[0][0]) if rows else None

    def create_view_tables(self, c: Cursor) -> None:
        """The read-model tables at ``VIEW_SCHEMA_VERSION``. A read model of another layout
        is dropped, with its tracked position, so the next catch-up builds it again from the
        store; one written by a newer version of this code is refused, not dropped. The
        caller holds the database's write lock (or DDL lock), so two processes cannot both
        migrate."""
        c.execute(_CREATE_VIEW_SCHEMA)
        current = self.view_version(c)
        if current == VIEW_SCHEMA_VERSION:
            # Nothing to create. Not even "IF NOT EXISTS": on PostgreSQL, CREATE INDEX locks
            # its table before it looks, and deadlocks with a projection writing the tables.
            return
        if current is not None and current > VIEW_SCHEMA_VERSION:
            raise RuntimeError(
                f"the read model has layout {current}, written by a newer CMM Ledger; this "
                f"one reads layout {VIEW_SCHEMA_VERSION}: upgrade it"
            )
        for table in VIEW_TABLES:
            c.execute(f"DROP TABLE IF EXISTS {table}")
        self.forget_position(c)
        c.execute("DELETE FROM view_schema")
        c.execute("INSERT INTO view_schema VALUES (?)", (VIEW_SCHEMA_VERSION,))
        for statement in SCHEMA:
            c.execute(statement)

    def forget_position(self, c: Cursor) -> None:
        """Delete the view's tracked position (the next catch-up starts from the first event).
        This is SQLite's tracking table, as ``events_table`` is its store's."""
        c.execute("DELETE FROM tracking WHERE application_name = ?", (APPLICATION_NAME,))

    def apply_changes(self, c: Cursor, changes: Changes, position: int) -> None:
        if changes.case_streams:
            histories = self._read_streams(c, sorted(changes.case_streams), position)
            self._replace_cases(c, histories)
        if changes.log_records:
            self._apply_logs(c, changes.log_records)

    def _read_streams(
        self, c: Cursor, originator_ids: Sequence[str], position: int
    ) -> dict[str, list[Record]]:
        """Each case stream's records, up to ``position`` of the notification log."""
        histories: dict[str, list[Record]] = {}
        opened: dict[str, str] = {}
        rows = c.select_in(
            f"SELECT originator_id, topic, state FROM {self.events_table} "
            f"WHERE originator_id IN ({{}}) AND {self.position_column} <= {int(position)}",
            list(originator_ids),
        )
        pending: dict[str, list[Record]] = {}
        for oid, topic, state in rows:
            decoded = loads_state(state)
            record = record_from_state(topic, decoded)
            if record is None:
                opened[_hex(oid)] = decoded["person_ref"]
            else:
                pending.setdefault(_hex(oid), []).append(record)
        for oid, person_ref in opened.items():
            histories[person_ref] = pending.get(oid, [])
        return histories

    def _replace_cases(
        self, c: Cursor, histories: dict[str, list[Record]], fresh: bool = False
    ) -> None:
        persons = list(histories)
        if not fresh:
            c.select_in("DELETE FROM facts WHERE person_ref IN ({})", persons)
            c.select_in("DELETE FROM contacts WHERE person_ref IN ({})", persons)
        fact_rows: list[tuple[Any, ...]] = []
        contact_rows: list[tuple[Any, ...]] = []
        case_rows: list[tuple[Any, ...]] = []
        for person_ref, records in histories.items():
            rows = case_rows_for(person_ref, records)
            fact_rows.extend(rows[0])
            contact_rows.extend(rows[1])
            case_rows.append(rows[2])
        self.insert_case_rows(c, fact_rows, contact_rows, case_rows)

    def insert_case_rows(
        self,
        c: Cursor,
        fact_rows: Sequence[tuple[Any, ...]],
        contact_rows: Sequence[tuple[Any, ...]],
        case_rows: Sequence[tuple[Any, ...]],
        fresh: bool = False,
    ) -> None:
        """Insert rows; ``fresh``: the persons have no case row yet (a rebuild, which has
        dropped the index the upsert needs)."""
        c.executemany(_INSERT["facts"], fact_rows)
        c.executemany(_INSERT["contacts"], contact_rows)
        if fresh:
            c.executemany(_INSERT["cases"], case_rows)
            return
        c.executemany(_UPSERT_CASES, case_rows)

    def _scan(self, c: Cursor, position: int) -> Iterator[StoredEvent]:
        """The store up to ``position`` in primary-key order: each stream's events together."""
        rows: Iterator[StoredEvent] = c.iterate(
            f"SELECT originator_id, topic, state, {self.position_column} FROM {self.events_table} "
            f"WHERE {self.position_column} <= {int(position)} "
            "ORDER BY originator_id, originator_version"
        )
        return rows

    def fold_tasks(
        self, c: Cursor, position: int, batch_streams: int
    ) -> Iterator[FoldTask | object]:
        """What the fold workers do, as (function, arguments): here, this process scans the
        store in the rebuild's transaction and hands out batches of whole streams."""
        for batch in _stream_batches(self._scan(c, position), batch_streams):
            yield count_and_fold, (batch,)

    def rebuild_in(
        self,
        c: Cursor,
        position: int,
        progress: Callable[[int, int], None] | None = None,
        batch_streams: int = 2_000,
        workers: int | None = None,
    ) -> int:
        """Rebuild every read-model table from the store up to ``position``, in ``c``'s
        transaction. The store is scanned in primary-key order, so each stream's events come
        together and each person is folded exactly once. Returns the events read."""
        for table in VIEW_TABLES:
            c.execute(f"DELETE FROM {table}")
        for index in INDEXES:
            c.execute(f"DROP INDEX IF EXISTS {index}")
        corrections: list[LogRecord] = []
        read = 0
        workers = default_fold_workers() if workers is None else workers
        with _fold_pool(workers) as pool:
            # None: every case row is stored once the results before it are.
            pending: deque[Future[tuple[int, Folded | FoldedDatabase]] | None] = deque()

            def store(counted: tuple[int, Folded | FoldedDatabase]) -> None:
                nonlocal read
                count, folded = counted
                if isinstance(folded, FoldedDatabase):
                    self.copy_rows(c, folded.database)
                    corrections.extend(folded.corrections)
                else:
                    facts, contacts, cases, logs, log_corrections = folded
                    self.insert_case_rows(c, facts, contacts, cases, fresh=True)
                    self._insert_log_rows(c, logs)
                    corrections.extend(log_corrections)
                read += count
                if progress:
                    progress(read, position)

            def handle(item: Future[tuple[int, Folded | FoldedDatabase]] | None) -> None:
                if item is None:  # every case row is stored
                    _create_indexes(c, _CASE_TABLES)
                else:
                    store(item.result())

            if pool is None:
                for batch in _stream_batches(self._scan(c, position), batch_streams):
                    store(count_and_fold(batch))
            else:
                tasks = self.fold_tasks(c, position, batch_streams)
                cases_folded = False
                for task in tasks:
                    if task is CASES_FOLDED:
                        # The rest has no case rows: the workers fold it while this process
                        # builds the case tables' indexes, which would otherwise wait for
                        # the end with one core idle. So the rest goes to them at once.
                        pending.append(None)
                        cases_folded = True
                        continue
                    function, args = cast("FoldTask", task)
                    pending.append(pool.submit(function, *args))
                    # Bounded read-ahead: a task per worker under way, one waiting.
                    while not cases_folded and len(pending) > 2 * workers:
                        handle(pending.popleft())
            while pending:
                handle(pending.popleft())
        _create_indexes(c)
        # Each batch folded its own log streams; a correction of a log event may sit in
        # another batch than its target, so the targets of every log correction are
        # projected again from all their records, as an incremental update would.
        if corrections:
            self._apply_logs(c, corrections)
        if progress:
            progress(read, position)
        return read

    def _apply_logs(self, c: Cursor, new: list[LogRecord]) -> None:
        """Store new log records and rewrite the rows of every log event they touch (the
        event itself, or the target of a correction) from all records about it, read from
        the store."""
        c.executemany(_INSERT_NEW_LOG_EVENTS, _log_event_rows(new))
        targets = sorted(
            {
                r["payload"]["target_event_id"]
                if r["type"] == "CorrectionRecorded"
                else r["event_id"]
                for _, r in new
            }
        )
        positions = [
            row[0]
            for row in c.select_in(
                "SELECT position FROM log_events "
                "WHERE event_id IN ({0}) OR target_event_id IN ({0})",
                targets,
            )
        ]
        records = [
            record
            for topic, state in c.select_in(
                f"SELECT topic, state FROM {self.events_table} "
                f"WHERE {self.position_column} IN ({{}})",
                positions,
            )
            if (record := record_from_state(topic, loads_state(state))) is not None
        ]
        c.select_in("DELETE FROM hotline WHERE event_id IN ({})", targets)
        c.select_in("DELETE FROM outreach WHERE event_id IN ({})", targets)
        self._insert_log_rows(c, ([], *_hotline_outreach_rows(records)))

    def _insert_log_rows(self, c: Cursor, rows: LogRows) -> None:
        """Insert log rows (``log_events`` rows: of records not stored there yet)."""
        for table, table_rows in zip(_LOG_TABLES, rows, strict=True):
            c.executemany(_INSERT[table], table_rows)

    def copy_rows(self, c: Cursor, database: bytes) -> None:
        """Insert the rows of a fold worker's serialized database (see ``FoldedDatabase``;
        only SQLite's fold tasks make them, and its rebuild attaches the schema)."""
        c.connection().deserialize(database, name=_FOLDED)
        for table in VIEW_TABLES:
            # Same columns, no index on either side (a rebuild has dropped them): SQLite
            # copies each row's record as it is.
            c.execute(f"INSERT INTO main.{table} SELECT * FROM {_FOLDED}.{table}")


LogRows = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]


# A log record and its position in the store.
LogRecord = tuple[int, Record]


def _log_event_rows(records: list[LogRecord]) -> list[tuple[Any, ...]]:
    return [(r["event_id"], r["payload"].get("target_event_id"), p) for p, r in records]


def _hotline_outreach_rows(
    records: list[Record],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    hotline: list[tuple[Any, ...]] = []
    outreach: list[tuple[Any, ...]] = []
    raw: str | None = None
    start = ""
    for tx_from, tx_to, row in log_row_versions(records):
        if tx_from is not raw:  # an outreach log's rows come together, with one time
            raw, start = tx_from, normalise_timestamp(tx_from)
        values = (start, None if tx_to is None else normalise_timestamp(tx_to), *row)
        (hotline if len(row) == len(HOTLINE_COLUMNS) else outreach).append(values)
    return hotline, outreach


def log_view_rows(records: list[LogRecord]) -> LogRows:
    """Every row of the log tables when ``records`` are all the log records there are (a
    rebuild; runs in a fold worker there)."""
    with _no_gc():
        return (_log_event_rows(records), *_hotline_outreach_rows([r for _, r in records]))


def _hex(originator_id: Any) -> str:
    return (
        originator_id.hex
        if hasattr(originator_id, "hex") and not isinstance(originator_id, str)
        else str(originator_id).replace("-", "")
    )


def case_rows_for(
    person_ref: str, records: list[Record]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], tuple[Any, ...]]:
    """Fact rows, contact rows and the current case row of one person."""
    versions, state = case_projection(person_ref, records)
    facts = _versions_rows([(v.recorded_at, v.fact) for v in versions], FACT_COLUMNS)
    return facts, _contact_rows(versions), _case_row(state)


def _contact_rows(versions: Sequence[Any]) -> list[tuple[Any, ...]]:
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
    rows: list[tuple[Any, ...]] = []
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


def _case_row(state: Any) -> tuple[Any, ...]:
    values = list(_CASE_GETTER(state))
    values[_FLAGS] = ",".join(values[_FLAGS])
    values[_ASSESSED] = "1" if values[_ASSESSED] else "0"
    return tuple(values)


# A batch's fact, contact and case rows, its log streams' rows, and its log corrections.
Folded = tuple[
    list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]], LogRows, list[LogRecord]
]
# A stored event as the fold reads it: stream id, topic, state and position in the store.
StoredEvent = tuple[Any, str, Any, int]


class FoldedDatabase(NamedTuple):
    """A fold task's rows as a serialized in-memory SQLite database with the read model's
    tables, and its log corrections. On SQLite the rebuilding process copies such tables
    into its own in one statement each, in SQLite's C, without a Python object per row or
    value: writing the rows had been most of that process's work, and sending them as
    pickled tuples cost 1.1 us an event between the two processes."""

    database: bytes
    corrections: list[LogRecord]


_FOLDED = "folded"  # the schema name of a fold worker's database in the rebuilding connection

# In a task list: every task before it has folded all the case streams, and none after it
# has case rows.
CASES_FOLDED = object()

# What a fold worker runs: a function and its arguments.
FoldTask = tuple[Callable[..., tuple[int, Folded | FoldedDatabase]], tuple[Any, ...]]


def _as_database(counted: tuple[int, Folded]) -> tuple[int, Folded | FoldedDatabase]:
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
            db.executemany(_INSERT[table], rows)
        db.commit()
        return count, FoldedDatabase(db.serialize(), corrections)
    finally:
        db.close()


# A stream as the fold reads it: (topic, state, position) of each event, ``Opened`` first.
Stream = list[tuple[str, bytes, int]]


def _streams(rows: Iterator[StoredEvent]) -> Iterator[Stream]:
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


def _stream_batches(rows: Iterator[StoredEvent], size: int) -> Iterator[list[Stream]]:
    """Whole streams, ``size`` to a batch."""
    streams = _streams(rows)
    while batch := list(islice(streams, size)):
        yield batch


def _log_records(events: Iterable[tuple[str, bytes, int]]) -> list[LogRecord]:
    """Log events (topic, state, position) as records with their positions, but for
    ``Opened`` events."""
    records = ((p, record_from_state(topic, loads_state(state))) for topic, state, p in events)
    return [(p, r) for p, r in records if r is not None]


def _log_folded(records: list[LogRecord]) -> tuple[LogRows, list[LogRecord]]:
    """The log rows of ``records``, and those that are corrections (their targets may be in
    other batches: the caller projects those targets again)."""
    corrections = [(p, r) for p, r in records if r["type"] == "CorrectionRecorded"]
    return log_view_rows(records), corrections


def fold_streams(batch: list[Stream]) -> Folded:
    """Decode and fold a batch of whole streams (runs in a fold worker): the rows of each
    case, the rows of the batch's log streams, and the batch's corrections of log events."""
    facts: list[tuple[Any, ...]] = []
    contacts: list[tuple[Any, ...]] = []
    cases: list[tuple[Any, ...]] = []
    logs: list[LogRecord] = []
    with _no_gc():
        for stream in batch:
            # A stream starts with its Opened event (version 1), which names the person.
            opened_topic, opened_state, _ = stream[0]
            if not opened_topic.startswith(_CASE_TOPIC_PREFIX):
                logs.extend(_log_records(stream))
                continue
            # The fold reads a record's fields by name, so a case event's decoded state,
            # given its type, serves as its record without being copied into a new dict
            # (a rebuild does this for every stored event).
            records: list[Record] = []
            for topic, state, _ in stream[1:]:
                record = loads_state(state)
                record["type"] = topic[_CASE_TOPIC_LENGTH:]
                records.append(record)
            person_ref = loads_state(opened_state)["person_ref"]
            fact_rows, contact_rows, case_row = case_rows_for(person_ref, records)
            facts.extend(fact_rows)
            contacts.extend(contact_rows)
            cases.append(case_row)
        return facts, contacts, cases, *_log_folded(logs)


def count_and_fold(batch: list[Stream]) -> tuple[int, Folded]:
    return sum(len(stream) for stream in batch), fold_streams(batch)


# A rebuild on SQLite splits the case streams' ids (hex text) into this many ranges, and the
# log events' positions into this many, one task each.
_RANGES = 64
_LOG_RANGES = 16

# Case events' topics sort between these two strings (``.`` is followed by ``/``).
_CASE_TOPICS = (_CASE_TOPIC_PREFIX, _CASE_TOPIC_PREFIX[:-1] + "/")


def _range_bounds(ranges: int) -> list[tuple[str, str | None]]:
    step = 256 // ranges
    starts = [f"{i:02x}" for i in range(0, 256, step)]
    return [(lo, starts[i + 1] if i + 1 < len(starts) else None) for i, lo in enumerate(starts)]


def _read_only(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60.0)
    db.execute(f"PRAGMA mmap_size={REBUILD_MMAP_BYTES}")
    db.execute("PRAGMA cache_size=-65536")
    return db


def fold_range(
    path: str, lo: str, hi: str | None, position: int
) -> tuple[int, Folded | FoldedDatabase]:
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
        streams = list(_streams(rows))
    finally:
        db.close()
    return _as_database(count_and_fold(streams))


def fold_log_range(path: str, after: int, upto: int) -> tuple[int, Folded | FoldedDatabase]:
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
    with _no_gc():
        return _as_database((len(rows), ([], [], [], *_log_folded(_log_records(rows)))))


def _sqlite_fold_tasks(path: str, position: int) -> Iterator[FoldTask | object]:
    """The case ranges (small tasks first, so the rebuilding process starts writing soon),
    then ``CASES_FOLDED``, then the log ranges."""
    for lo, hi in _range_bounds(_RANGES):
        yield fold_range, (path, lo, hi, position)
    yield CASES_FOLDED
    step = max(1, -(-position // _LOG_RANGES))
    for after in range(0, position, step):
        yield fold_log_range, (path, after, min(after + step, position))


def default_fold_workers() -> int:
    """Fold workers for a rebuild: one per core (the rebuilding process mostly waits on
    the database), none on a single core."""
    cores = os.cpu_count() or 1
    return cores if cores > 1 else 0


@contextmanager
def _fold_pool(count: int) -> Iterator[ProcessPoolExecutor | None]:
    if count <= 0:
        yield None
        return
    # Fork: the workers need this process's imports, not its database connection, which
    # they never touch; they end with os._exit, so nothing of the parent's is finalised.
    pool = ProcessPoolExecutor(
        max_workers=count,
        mp_context=multiprocessing.get_context("fork"),
        initializer=end_with_parent,
        initargs=(os.getpid(),),
    )
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _ImmediateTransaction(SQLiteTransaction):
    """eventsourcing's SQLite transaction (its commit, rollback and errors), begun
    IMMEDIATE rather than deferred."""

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        return cursor


class SQLiteLedgerView(SQLiteTrackingRecorder, ViewLogic):
    """The read model in SQLite, with eventsourcing's tracking table in the same file."""

    @contextmanager
    def _writing(self) -> Iterator[SQLiteCursor]:
        """A write transaction begun with ``BEGIN IMMEDIATE``: it takes the write lock before
        it reads anything, waiting (busy timeout) while an ingest, a consumer or another
        view writes the file. eventsourcing's transactions begin deferred: one that has read
        cannot wait for the write lock, and fails at once with "database is locked" if
        another connection holds it, or has committed since the read."""
        with (
            self.datastore.get_connection(commit=True) as conn,
            _ImmediateTransaction(conn, commit=True) as curs,
            curs,
        ):
            yield curs

    def create_table(self) -> None:
        """eventsourcing's tracking table and the read-model tables, in one transaction that
        holds the write lock (:meth:`_writing`) when anything is missing; when all is there
        (the common case) it only reads, and takes no lock."""
        with self.datastore.transaction(commit=False) as c:
            if self._tables_current(c):
                return
        with self._writing() as c:
            # What eventsourcing's create_table looks up first, read in the write lock.
            self.tracking_table_exists = self._has_table(c, "tracking")
            self.tracking_migration_previous = self.tracking_migration_current = (
                self._max_tracking_id(self.table_migration_identifier, c)
                if self.tracking_table_exists
                else None
            )
            self._create_table(c)  # eventsourcing's tracking table, and view_schema
            self.create_view_tables(Cursor(c, "?"))

    @staticmethod
    def _has_table(c: Any, name: str) -> bool:
        c.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
        return c.fetchone() is not None

    def _tables_current(self, c: Any) -> bool:
        return (
            self._has_table(c, "tracking")
            and self._has_table(c, "view_schema")
            and bool(self._max_tracking_id(self.table_migration_identifier, c))
            and self.view_version(Cursor(c, "?")) == VIEW_SCHEMA_VERSION
        )

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), _CREATE_VIEW_SCHEMA]

    def apply(self, changes: Changes, tracking: Tracking) -> None:
        # In the write lock from the start: it reads the streams it replaces.
        with self._writing() as c:
            self.apply_changes(Cursor(c, "?"), changes, tracking.notification_id)
            self._insert_tracking(c, tracking)

    def fold_tasks(
        self, c: Cursor, position: int, batch_streams: int
    ) -> Iterator[FoldTask | object]:
        """On SQLite the workers read the store themselves (a range of case stream ids,
        or of log event positions, each), so this process only writes: the scan and the
        transfer of every stored event to a worker were most of its work."""
        path = c.execute("PRAGMA database_list")[0][2]
        wal = c.execute("PRAGMA journal_mode")[0][0] == "wal"
        if not path or not wal:
            # In memory, or readers would wait for this transaction: scan here instead.
            yield from super().fold_tasks(c, position, batch_streams)
            return
        yield from _sqlite_fold_tasks(path, position)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql, params)
            return list(c.fetchall())

    def rebuild(
        self, progress: Callable[[int, int], None] | None = None, workers: int | None = None
    ) -> tuple[int, int]:
        """Rebuild the whole read model from the store; returns (events read, position).
        The transaction holds the write lock from its start, so its snapshot is the store as
        it is now: nothing appended meanwhile is half-seen."""
        connection: sqlite3.Connection | None = None
        try:
            with self._writing() as c, _no_gc():
                cursor = Cursor(c, "?")
                cursor.execute("DELETE FROM cases")
                # The scan is in stream order, not the order rows were appended: reads jump
                # about the whole file. Map it, and give this connection the store's page
                # cache (eventsourcing's default is 2 MiB), so they come from memory.
                cursor.execute("PRAGMA cache_size=-262144")
                cursor.execute(f"PRAGMA mmap_size={REBUILD_MMAP_BYTES}")
                # Where the fold workers' databases are opened, to be copied from.
                connection = cursor.connection()
                cursor.execute(f"ATTACH DATABASE ':memory:' AS {_FOLDED}")
                rows = cursor.execute(f"SELECT MAX(rowid) FROM {self.events_table}")
                position = int(rows[0][0] or 0)
                read = self.rebuild_in(cursor, position, progress, workers=workers)
                # Tracking only moves forward; a rebuild sets it, even to where it was.
                self.forget_position(cursor)
                self._insert_tracking(c, Tracking(APPLICATION_NAME, position))
        finally:
            if connection is not None:
                with suppress(sqlite3.Error):  # not attached if the rebuild failed first
                    connection.execute(f"DETACH DATABASE {_FOLDED}")
        return read, position

    def close(self) -> None:
        self.datastore.close()

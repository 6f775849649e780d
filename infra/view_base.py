"""The read-model updates on SQL, written once for SQLite and PostgreSQL.

``SQLView`` implements the view port (``infra.view.LedgerView``) over the SQL of
``infra.view_sql``; an adapter supplies its transactions and its tracking table (as
eventsourcing's tracking recorders do) through the hooks at the end of the class. There is
one write path: ``apply`` (the catch-up runner's chunks, and eventsourcing's
``ProjectionRunner`` through ``LedgerProjection``), ``insert_tracking`` and ``rebuild`` each
write their rows and their tracking position in one transaction.

When a person's events arrive (late, out of order, corrected), the view folds that person's
whole stream again, read from the store's own table in the same transaction: a person has a
handful of events, and the store's primary key already indexes them by stream.

Every personal value of a row is sealed (``infra.view_seal``) by the write path
(``insert_case_rows``, ``_insert_log_rows``; a SQLite rebuild's fold workers seal theirs in
``infra.sqlite.view_fold``) and opened by the read path (``valid_at``, ``cases``, ``rows``),
which return the rows of ``projections.read_model_rows`` as they are.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any, cast

from eventsourcing.persistence import Tracking

from infra.sealing import Erased, refresh_person_keys
from infra.view import APPLICATION_NAME, Progress
from infra.view_fold import (
    CASES_FOLDED,
    FoldedDatabase,
    FoldResult,
    FoldTask,
    StoredEvent,
    count_and_fold,
    stream_batches,
)
from infra.view_seal import open_rows, seal_rows
from infra.view_sql import (
    CASE_TABLES,
    CREATE_VIEW_SCHEMA,
    INDEXES,
    INSERT,
    INSERT_NEW_LOG_EVENTS,
    SCHEMA,
    UPSERT_CASES,
    VIEW_SCHEMA_VERSION,
    Cursor,
    collector_paused,
    create_indexes,
    hex_id,
    loads_state,
)
from infra.workers import default_workers, fork_pool
from projections.projection import Changes, Record, record_from_state
from projections.read_model_rows import (
    LOG_TABLES,
    TABLE_COLUMNS,
    VIEW_TABLES,
    LogRecord,
    LogRows,
    Row,
    case_rows_for,
    hotline_outreach_rows,
    log_event_rows,
    log_targets,
)


class SQLView(ABC):
    """The read model in the SQL database of the store it projects (a mixin of
    eventsourcing's tracking recorder for that database, which it comes before)."""

    events_table = "stored_events"
    position_column = "rowid"

    # -- the port: writes ------------------------------------------------------------------

    def apply(self, changes: Changes, tracking: Tracking) -> None:
        with self._write_transaction() as raw:
            if self._overtaken(raw, tracking):
                return
            if changes:
                self.apply_changes(self._cursor(raw), changes, tracking.notification_id)
            self._insert_tracking(raw, tracking)

    def insert_tracking(self, tracking: Tracking) -> None:
        self.apply(Changes(), tracking)

    def rebuild(
        self, progress: Progress | None = None, workers: int | None = None
    ) -> tuple[int, int]:
        """Rebuild the whole read model from the store; returns (events read, position).
        The transaction holds the write lock from its start, so its snapshot is the store as
        it is now: nothing appended meanwhile is half-seen."""
        with self._write_transaction() as raw, collector_paused():
            c = self._cursor(raw)
            self._prepare_rebuild(c)
            rows = c.execute(f"SELECT MAX({self.position_column}) FROM {self.events_table}")
            position = int(rows[0][0] or 0)
            read = self.rebuild_in(c, position, progress, workers=workers)
            # Tracking only moves forward; a rebuild sets it, even to where it was.
            self.forget_position(c)
            self._insert_tracking(raw, Tracking(APPLICATION_NAME, position))
        return read, position

    def forget_persons(self, person_refs: Sequence[str]) -> int:
        """Delete every row of these persons (their facts, as of every time, their contacts
        and their cases), for an erasure; returns the rows deleted. The stored events stay,
        unreadable (``infra.person_keys``), so no later catch-up or rebuild brings the rows
        back."""
        deleted = 0
        with self._write_transaction() as raw:
            c = self._cursor(raw)
            self._secure_delete(c, True)
            for table in ("facts", "contacts", "cases"):
                found = c.select_in(
                    f"SELECT COUNT(*) FROM {table} WHERE person_ref IN ({{}})", list(person_refs)
                )
                deleted += sum(int(row[0]) for row in found)
                c.select_in(f"DELETE FROM {table} WHERE person_ref IN ({{}})", list(person_refs))
            self._secure_delete(c, False)
        return deleted

    def _secure_delete(self, c: Cursor, on: bool) -> None:  # noqa: B027 (most have none)
        """Have the database zero what it deletes, where it can (SQLite)."""

    # -- the port: reads -------------------------------------------------------------------

    def valid_at(self, table: str, bound: str) -> list[tuple[Any, ...]]:
        if table not in TABLE_COLUMNS:
            raise ValueError(f"not a read-model table: {table!r}")
        stored = self.query(
            f"SELECT * FROM {table} WHERE tx_from <= ? AND (tx_to IS NULL OR tx_to > ?)",
            (bound, bound),
        )
        return [row[2:] for row in open_rows(table, stored)]

    def cases(self, person_ref: str | None = None) -> list[tuple[Any, ...]]:
        sql = "SELECT * FROM cases"
        params: tuple[Any, ...] = ()
        if person_ref is not None:
            sql += " WHERE person_ref = ?"
            params = (person_ref,)
        return open_rows("cases", self.query(sql + " ORDER BY person_ref", params))

    def rows(self, table: str) -> list[tuple[Any, ...]]:
        if table not in TABLE_COLUMNS:
            raise ValueError(f"not a read-model table: {table!r}")
        return open_rows(table, self.query(f"SELECT * FROM {table}"))

    # -- the layout ------------------------------------------------------------------------

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
        c.execute(CREATE_VIEW_SCHEMA)
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

    # -- incremental updates ---------------------------------------------------------------

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
        erased: set[str] = set()
        for oid, topic, state in rows:
            try:
                decoded = loads_state(state)
            except Erased:
                erased.add(hex_id(oid))  # cmm erase removed their rows; they stay out
                continue
            record = record_from_state(topic, decoded)
            if record is None:
                opened[hex_id(oid)] = decoded["person_ref"]
            else:
                pending.setdefault(hex_id(oid), []).append(record)
        for oid, person_ref in opened.items():
            if oid not in erased:
                histories[person_ref] = pending.get(oid, [])
        return histories

    def _replace_cases(self, c: Cursor, histories: dict[str, list[Record]]) -> None:
        persons = list(histories)
        c.select_in("DELETE FROM facts WHERE person_ref IN ({})", persons)
        c.select_in("DELETE FROM contacts WHERE person_ref IN ({})", persons)
        fact_rows: list[Row] = []
        contact_rows: list[Row] = []
        case_rows: list[Row] = []
        for person_ref, records in histories.items():
            rows = case_rows_for(person_ref, records)
            fact_rows.extend(rows[0])
            contact_rows.extend(rows[1])
            case_rows.append(rows[2])
        self.insert_case_rows(c, fact_rows, contact_rows, case_rows)

    def insert_case_rows(
        self,
        c: Cursor,
        fact_rows: Sequence[Row],
        contact_rows: Sequence[Row],
        case_rows: Sequence[Row],
        fresh: bool = False,
    ) -> None:
        """Insert rows; ``fresh``: the persons have no case row yet (a rebuild, which has
        dropped the index the upsert needs)."""
        c.executemany(INSERT["facts"], seal_rows("facts", fact_rows))
        c.executemany(INSERT["contacts"], seal_rows("contacts", contact_rows))
        c.executemany(INSERT["cases"] if fresh else UPSERT_CASES, seal_rows("cases", case_rows))

    def _apply_logs(self, c: Cursor, new: list[LogRecord]) -> None:
        """Store new log records and rewrite the rows of every log event they touch (the
        event itself, or the target of a correction) from all records about it, read from
        the store."""
        c.executemany(INSERT_NEW_LOG_EVENTS, log_event_rows(new))
        targets = log_targets(new)
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
        self._insert_log_rows(c, ([], *hotline_outreach_rows(records)))

    def _insert_log_rows(self, c: Cursor, rows: LogRows) -> None:
        """Insert log rows (``log_events`` rows: of records not stored there yet)."""
        for table, table_rows in zip(LOG_TABLES, rows, strict=True):
            c.executemany(INSERT[table], seal_rows(table, table_rows))

    # -- rebuilding ------------------------------------------------------------------------

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
        for batch in stream_batches(self._scan(c, position), batch_streams):
            yield count_and_fold, (batch,)

    def rebuild_in(
        self,
        c: Cursor,
        position: int,
        progress: Progress | None = None,
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
        # Every person key and erasure known before the workers fork: they inherit them.
        refresh_person_keys()
        corrections: list[LogRecord] = []
        read = 0
        workers = default_workers() if workers is None else workers
        with fork_pool(workers) as pool:
            # None: every case row is stored once the results before it are.
            pending: deque[Future[FoldResult] | None] = deque()

            def store(counted: FoldResult) -> None:
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

            def handle(item: Future[FoldResult] | None) -> None:
                if item is None:  # every case row is stored
                    create_indexes(c, CASE_TABLES)
                else:
                    store(item.result())

            if pool is None:
                for batch in stream_batches(self._scan(c, position), batch_streams):
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
        create_indexes(c)
        # Each batch folded its own log streams; a correction of a log event may sit in
        # another batch than its target, so the targets of every log correction are
        # projected again from all their records, as an incremental update would.
        if corrections:
            self._apply_logs(c, corrections)
        if progress:
            progress(read, position)
        return read

    def copy_rows(self, c: Cursor, database: bytes) -> None:
        """Insert the rows of a fold worker's serialized database (``FoldedDatabase``). Only
        SQLite's fold tasks make such databases, and only SQLite's view is handed them; any
        other view receiving one is a programming error."""
        raise TypeError(f"{type(self).__name__} folds rows, not SQLite databases")

    # -- what each adapter supplies --------------------------------------------------------

    @abstractmethod
    def _write_transaction(self) -> AbstractContextManager[Any]:
        """A transaction that commits on success: the DB-API cursor of the adapter's
        tracking recorder."""

    @abstractmethod
    def _cursor(self, raw: Any) -> Cursor:
        """The view logic's cursor over the adapter's."""

    @abstractmethod
    def _insert_tracking(self, raw: Any, tracking: Tracking) -> None:
        """eventsourcing's tracking insert, in ``raw``'s transaction."""

    @abstractmethod
    def forget_position(self, c: Cursor) -> None:
        """Delete the view's tracked position (the next catch-up starts from the first
        event)."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Rows of a query (``?`` placeholders) in a read-only transaction."""

    def _overtaken(self, raw: Any, tracking: Tracking) -> bool:
        """True if this write is to be skipped (an adapter that takes turns with catch-ups)."""
        return False

    def _prepare_rebuild(self, c: Cursor) -> None:  # noqa: B027 (optional hook: no-op)
        """Settings of the rebuild's connection, before it reads the store."""

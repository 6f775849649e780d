"""The read model in the SQLite store's own file, with eventsourcing's tracking table.

The view re-reads a person's stream from the store's table in the same transaction that
updates the person's rows; its rebuild has fold workers read the file themselves
(``infra.sqlite.view_fold``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteTrackingRecorder, SQLiteTransaction

from infra.sqlite.view_fold import REBUILD_MMAP_BYTES, sqlite_fold_tasks
from infra.view import APPLICATION_NAME, Progress
from infra.view_base import SQLView
from infra.view_fold import FoldTask
from infra.view_sql import CREATE_VIEW_SCHEMA, VIEW_SCHEMA_VERSION, Cursor
from projections.read_model_rows import VIEW_TABLES

_FOLDED = "folded"  # the schema name of a fold worker's database in the rebuilding connection


class _ImmediateTransaction(SQLiteTransaction):
    """eventsourcing's SQLite transaction (its commit, rollback and errors), begun
    IMMEDIATE rather than deferred."""

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        return cursor


class SQLiteLedgerView(SQLView, SQLiteTrackingRecorder):
    """The read model in SQLite, with eventsourcing's tracking table in the same file."""

    _attached: sqlite3.Connection | None = None

    @contextmanager
    def _write_transaction(self) -> Iterator[SQLiteCursor]:
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

    def _cursor(self, raw: Any) -> Cursor:
        return Cursor(raw, "?")

    def _secure_delete(self, c: Cursor, on: bool) -> None:
        c.execute(f"PRAGMA secure_delete={'ON' if on else 'OFF'}")

    def _insert_tracking(self, raw: Any, tracking: Tracking) -> None:
        SQLiteTrackingRecorder._insert_tracking(self, raw, tracking)

    def forget_position(self, c: Cursor) -> None:
        c.execute("DELETE FROM tracking WHERE application_name = ?", (APPLICATION_NAME,))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql, params)
            return list(c.fetchall())

    def create_table(self) -> None:
        """eventsourcing's tracking table and the read-model tables, in one transaction that
        holds the write lock (:meth:`_write_transaction`) when anything is missing; when all
        is there (the common case) it only reads, and takes no lock."""
        with self.datastore.transaction(commit=False) as c:
            if self._tables_current(c):
                return
        with self._write_transaction() as c:
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
        return [*super().construct_create_table_statements(), CREATE_VIEW_SCHEMA]

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
        yield from sqlite_fold_tasks(path, position)

    def _prepare_rebuild(self, c: Cursor) -> None:
        c.execute("DELETE FROM cases")
        # The scan is in stream order, not the order rows were appended: reads jump about
        # the whole file. Map it, and give this connection the store's page cache
        # (eventsourcing's default is 2 MiB), so they come from memory.
        c.execute("PRAGMA cache_size=-262144")
        c.execute(f"PRAGMA mmap_size={REBUILD_MMAP_BYTES}")
        # Where the fold workers' databases are opened, to be copied from (detached by
        # ``rebuild`` once the transaction has ended).
        self._attached = c.connection()
        c.execute(f"ATTACH DATABASE ':memory:' AS {_FOLDED}")

    def rebuild(
        self, progress: Progress | None = None, workers: int | None = None
    ) -> tuple[int, int]:
        try:
            return super().rebuild(progress, workers)
        finally:
            connection, self._attached = self._attached, None
            if connection is not None:
                with suppress(sqlite3.Error):  # not attached if the rebuild failed first
                    connection.execute(f"DETACH DATABASE {_FOLDED}")

    def copy_rows(self, c: Cursor, database: bytes) -> None:
        """Insert the rows of a fold worker's serialized database (``FoldedDatabase``; the
        rebuild has attached its schema)."""
        c.connection().deserialize(database, name=_FOLDED)
        for table in VIEW_TABLES:
            # Same columns, no index on either side (a rebuild has dropped them): SQLite
            # copies each row's record as it is.
            c.execute(f"INSERT INTO main.{table} SELECT * FROM {_FOLDED}.{table}")

    def close(self) -> None:
        self.datastore.close()

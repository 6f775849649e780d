"""The read model on PostgreSQL, and following the store with eventsourcing's ProjectionRunner.

``PostgresLedgerView`` is eventsourcing's PostgreSQL tracking recorder with the read-model
tables of ``infra.view_base`` (the same SQL as on SQLite, through its ``?`` placeholder
cursor): each write updates the tables and records the position in one transaction.

Two ways keep it up to date, through the same view methods (``infra.view.LedgerView``):

- the catch-up runner (``infra.readmodel.catch_up``), in chunks, as on SQLite;
- ``follow_postgres``: eventsourcing's ``ProjectionRunner`` subscribes to the ``Ledger``
  application's notification log (LISTEN/NOTIFY on ``ledger_events``, which the store's
  ``append`` notifies) and hands each event to ``LedgerProjection``.

Both track under the application name ``Ledger`` in ``ledger_projection_tracking`` (the
tracking table eventsourcing names after the projection), so either can continue where the
other stopped. They also take turns: a catch-up runs under ``infra.composition.updating`` (a
session advisory lock, ``VIEW_LOCK_KEY``), and the follower takes the same lock in each of
its transactions, then skips an event that a catch-up has projected meanwhile. Without it a
reader's catch-up and the follower both wrote the position, and one of them failed with
"Failed to record tracking".
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import uuid4

from eventsourcing.persistence import (
    InfrastructureFactory,
    InterfaceError,
    OperationalError,
    Tracking,
)
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import ProjectionRunner
from eventsourcing.utils import Environment, retry
from psycopg import Cursor as PgCursor
from psycopg import sql
from psycopg.rows import DictRow, tuple_row

from infra.app import LedgerApplication
from infra.postgres.env import postgres_env
from infra.postgres.tables import VIEW_LOCK_KEY, create_tables, ddl_lock
from infra.settings import Settings
from infra.view import APPLICATION_NAME
from infra.view_base import SQLView
from infra.view_sql import Cursor
from projections.projection import LedgerProjection


class _PgCursor(Cursor):
    """The view logic's cursor on psycopg: ``%s`` placeholders, and large scans (a rebuild)
    through a server-side cursor, so they stream instead of loading whole."""

    def iterate(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Any]:
        conn = self._cursor.connection
        with conn.cursor(name=f"cmm_scan_{uuid4().hex}", row_factory=tuple_row) as raw:
            raw.itersize = 10_000
            raw.execute(self._sql(sql), params)
            yield from raw


class PostgresLedgerView(SQLView, PostgresTrackingRecorder):
    """The read model in PostgreSQL, beside the store's ``ledger_events`` table.

    ``takes_turns``: each update first takes the read model's update lock for its
    transaction and does nothing if the position is already at or past its own (the
    ProjectionRunner's view, which catch-ups overtake). A view opened by
    :func:`open_postgres_view` is for a catch-up whose caller holds the lock for the
    session (``infra.composition.updating``) and does not: asking for it again from another
    connection would wait for itself."""

    events_table = f"{LedgerApplication.name.lower()}_events"
    position_column = "notification_id"
    takes_turns = True

    def _create_table(self, curs: PgCursor[DictRow]) -> None:
        # Under the DDL lock (``open_postgres_view``): one process at a time migrates.
        super()._create_table(curs)
        # Tuples, not eventsourcing's dict rows, in the same transaction.
        with curs.connection.cursor(row_factory=tuple_row) as tuples:
            self.create_view_tables(_PgCursor(tuples, "%s"))

    def forget_position(self, c: Cursor) -> None:
        c.execute(
            sql.SQL("DELETE FROM {} WHERE application_name = %s")
            .format(sql.Identifier(self.datastore.schema, self.tracking_table_name))
            .as_string(None),
            (APPLICATION_NAME,),
        )

    @contextmanager
    def _transaction(self, *, commit: bool) -> Iterator[PgCursor[Any]]:
        # Tuples, not eventsourcing's dict rows: the view logic unpacks rows.
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(force_rollback=not commit),
            conn.cursor(row_factory=tuple_row) as curs,
        ):
            yield curs

    def _write_transaction(self) -> Any:
        return self._transaction(commit=True)

    def _cursor(self, raw: Any) -> Cursor:
        return _PgCursor(raw, "%s")

    def _insert_tracking(self, raw: Any, tracking: Tracking) -> None:
        PostgresTrackingRecorder._insert_tracking(self, raw, tracking)

    def _overtaken(self, raw: Any, tracking: Tracking) -> bool:
        """Take the update lock for this transaction (if this view takes turns); True if
        the tracked position is already at or past ``tracking``'s."""
        if not self.takes_turns:
            return False
        raw.execute("SELECT pg_advisory_xact_lock(%s)", (VIEW_LOCK_KEY,))
        # eventsourcing's query (its _max_tracking_id reads dict rows; these are tuples).
        raw.execute(self.max_tracking_id_statement, (tracking.application_name,))
        row = raw.fetchone()
        position = None if row is None else row[0]
        return position is not None and position >= tracking.notification_id

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as eventsourcing's
    def insert_tracking(self, tracking: Tracking) -> None:
        super().insert_tracking(tracking)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._transaction(commit=False) as curs:
            return _PgCursor(curs, "%s").execute(sql, params)

    def close(self) -> None:
        self.datastore.close()


def view_env(settings: Settings) -> Environment:
    """The environment the ProjectionRunner gives the view's factory (named after the
    projection, which names the tracking table)."""
    assert settings.postgres_dsn is not None
    return postgres_env(settings.postgres_dsn, LedgerProjection.name)


def open_postgres_view(settings: Settings) -> PostgresLedgerView:
    """The view, its tables created if need be (for the catch-up runner and queries)."""
    assert settings.postgres_dsn is not None
    factory: Any = InfrastructureFactory.construct(view_env(settings))
    with ddl_lock(settings.postgres_dsn):
        view = factory.tracking_recorder(PostgresLedgerView)
    assert isinstance(view, PostgresLedgerView)
    view.takes_turns = False  # the catch-up's caller holds the update lock
    return view


def follow_postgres(
    settings: Settings,
    stop: threading.Event,
    *,
    started: threading.Event | None = None,
) -> None:
    """Keep the read model up to date with eventsourcing's ProjectionRunner until ``stop``
    is set; re-raises an error of the projection (after stopping the runner).

    ``started`` is set once the runner is subscribed (tests wait for it)."""
    # Create every table first, under the DDL lock; the runner's own factories then create
    # nothing, so starting beside a consumer (which creates tables too) cannot race it.
    create_tables(settings)
    open_postgres_view(settings).close()
    assert settings.postgres_dsn is not None
    env = postgres_env(settings.postgres_dsn)
    env["CREATE_TABLE"] = "false"
    with ProjectionRunner(
        application_class=LedgerApplication,
        projection_class=LedgerProjection,
        view_class=PostgresLedgerView,
        env=env,
    ) as runner:
        if started is not None:
            started.set()
        while not stop.is_set():
            # Returns early, raising it, if the runner's thread failed.
            runner.run_forever(timeout=0.5)
            if runner.is_interrupted.is_set():
                break

"""The composition root: the one module that knows both SQLite and PostgreSQL, and builds
the adapter the settings choose. Entry points ask it for a store; the adapters never
import each other."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from eventsourcing.persistence import InfrastructureFactory

from infra.settings import Settings
from infra.store import EventStore, SQLiteEventStore, ensure_database, file_lock
from infra.view import LedgerView


def open_store(settings: Settings) -> EventStore:
    """The store the settings choose: SQLite by default, PostgreSQL by configuration."""
    if settings.store == "postgres":
        from infra.postgres_store import PostgresEventStore

        assert settings.postgres_dsn is not None
        return PostgresEventStore(settings)
    return SQLiteEventStore(settings.sqlite_path)


def open_view(settings: Settings) -> LedgerView:
    """The read model for the store the settings choose (a tracking recorder with the
    read-model tables, ``infra.view.LedgerView``), its tables created if need be."""
    if settings.store == "postgres":
        from infra.postgres.view import open_postgres_view

        return open_postgres_view(settings)
    from infra.sqlite.view import SQLiteLedgerView

    ensure_database(settings.sqlite_path)
    factory = InfrastructureFactory.construct(
        env={  # type: ignore[arg-type]
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            # The read model shares the event store's file: the view re-reads a person's
            # stream in the same transaction that updates the person's rows.
            "SQLITE_DBNAME": str(settings.sqlite_path),
            "SQLITE_LOCK_TIMEOUT": "60",
        }
    )
    view = factory.tracking_recorder(SQLiteLedgerView)
    assert isinstance(view, SQLiteLedgerView)
    return view


@contextmanager
def updating(settings: Settings) -> Iterator[None]:
    """Hold the read model's update lock: at most one process at a time opens the read model
    and brings it up to date; the others wait, then find little or nothing left to do.

    Without it, two readers that both found the view behind wrote it at once: on SQLite the
    second got "database is locked" (a deferred transaction cannot wait for the write lock
    once it has read), on PostgreSQL the second failed to record its tracking position. An
    exclusive lock on a file beside the events (SQLite) or a session advisory lock
    (PostgreSQL, ``VIEW_LOCK_KEY``, which the ProjectionRunner's view also takes for each
    of its updates) serialises them. Reading the rows afterwards needs no lock."""
    if settings.store == "postgres":
        from infra.postgres_store import VIEW_LOCK_KEY, ddl_lock

        assert settings.postgres_dsn is not None
        with ddl_lock(settings.postgres_dsn, VIEW_LOCK_KEY):
            yield
        return
    with file_lock(Path(f"{settings.sqlite_path}.view.lock")):
        yield

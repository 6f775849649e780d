"""The composition root: the one module that knows both SQLite and PostgreSQL, and builds
the adapter the settings choose. Entry points ask it for a store; the adapters never
import each other."""

from __future__ import annotations

from infra.settings import Settings
from infra.store import EventStore, SQLiteEventStore


def open_store(settings: Settings) -> EventStore:
    """The store the settings choose: SQLite by default, PostgreSQL by configuration."""
    if settings.store == "postgres":
        from infra.postgres_store import PostgresEventStore

        assert settings.postgres_dsn is not None
        return PostgresEventStore(settings)
    return SQLiteEventStore(settings.sqlite_path)

"""The settings eventsourcing's SQLite persistence module reads for the event store's file."""

from __future__ import annotations

from pathlib import Path

LOCK_TIMEOUT_SECONDS = 60
"""How long a writer waits for another's write lock: an ingest's transaction is large."""


def sqlite_env(path: Path) -> dict[str, str]:
    """eventsourcing's environment (``PERSISTENCE_MODULE``) for the database at ``path``."""
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(path),
        "SQLITE_LOCK_TIMEOUT": str(LOCK_TIMEOUT_SECONDS),
    }

"""The settings eventsourcing's SQLite persistence module reads for the event store's file."""

from __future__ import annotations

from pathlib import Path

from eventsourcing.utils import Environment

from infra.app import APPLICATION_NAME
from infra.sealing import CIPHER_TOPIC

LOCK_TIMEOUT_SECONDS = 60
"""How long a writer waits for another's write lock: an ingest's transaction is large."""


def sqlite_env(path: Path, name: str = APPLICATION_NAME) -> Environment:
    """eventsourcing's environment (``PERSISTENCE_MODULE``) for the database at ``path``,
    for the application ``name``."""
    return Environment(
        name,
        {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": str(LOCK_TIMEOUT_SECONDS),
            "CIPHER_TOPIC": CIPHER_TOPIC,
        },
    )

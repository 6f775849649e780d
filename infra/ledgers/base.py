"""Ledgers that live with the data: eventsourcing applications stored in the event store itself.

The privacy budget and the record of partner releases must not be resettable by deleting or
swapping a side file, and a copy of the event store must carry them. So a ledger is stored
where the events are, in a table of its own:

- SQLite: the event store's database file (``events.sqlite3``), table
  ``stored_<name>_events``; eventsourcing's application recorder always writes
  ``stored_events``, which the projections read, so a ledger uses an aggregate recorder with
  a table of its own in the same file instead.
- PostgreSQL: the event store's database, table ``<name>_events`` (eventsourcing prefixes
  tables with the application name).

A ledger needs no notification log (nothing follows it), so an aggregate recorder is enough.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from typing import TypeVar, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, PersistenceError
from eventsourcing.sqlite import SQLiteFactory

OPEN_ATTEMPTS = 10

L = TypeVar("L", bound="StoredLedger")


class StoredLedger(Application[UUID]):
    """An eventsourcing application whose events are kept in a table of its own in the event
    store's database (see the module docstring). Subclasses name it: the name names the
    table."""

    def construct_recorder(self) -> ApplicationRecorder:
        factory = self.factory
        if isinstance(factory, SQLiteFactory):
            recorder = factory.aggregate_recorder(f"{self.name.lower()}_events")
        else:
            recorder = factory.aggregate_recorder("events")
        # Only the event store's aggregate interface is used (no notification log is read).
        return cast(ApplicationRecorder, recorder)


def open_ledger_application(cls: type[L], env: Mapping[str, str]) -> L:
    """``cls`` over the event store that eventsourcing's environment ``env`` names (built by
    :func:`infra.composition.application_env`).

    Several processes opening a new store at once race to create it: on SQLite to switch the
    file to WAL mode, which answers the losers "database is locked" at once (the busy timeout
    does not cover the journal-mode switch); on PostgreSQL ``CREATE TABLE IF NOT EXISTS`` can
    collide in the catalogue. So opening is retried a few times."""
    for attempt in range(OPEN_ATTEMPTS):
        try:
            return cls(env=env)
        except (sqlite3.OperationalError, PersistenceError):
            if attempt == OPEN_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover

"""The event store port, and its embedded SQLite adapter.

Both adapters store events in eventsourcing's own tables (``stored_events`` and ``tracking``,
created by eventsourcing's recorders), so eventsourcing's ``Application`` reads the same
aggregates and its notification log is the one projections follow. On top of that the store
keeps one table of its own, ``event_ids``, the idempotency index: an event id is stored once.

``append`` is the bulk write path: one transaction per batch holds the new events, their ids
and, optionally, tracking positions (e.g. Kafka offsets), so a crash never separates them.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from eventsourcing.persistence import InfrastructureFactory

from infra.encoding import Encoded, opened_state
from infra.settings import Settings

_CHUNK = 500


@dataclass(frozen=True)
class AppendResult:
    appended: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class StoredRow:
    """One entry of the notification log."""

    notification_id: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes


class EventStore(ABC):
    """What ingestion, the Kafka consumer and projections need from a store."""

    @abstractmethod
    def append(
        self, events: Sequence[Encoded], positions: Mapping[str, int] | None = None
    ) -> AppendResult:
        """Store the events not stored before (by event id), in one transaction with the
        given tracking positions (name -> position; a position only moves forward)."""

    @abstractmethod
    def position(self, name: str) -> int | None:
        """The tracked position stored under ``name``, if any."""

    @abstractmethod
    def read(self, after: int, limit: int) -> list[StoredRow]:
        """Notifications with id > ``after``, in order, at most ``limit``."""

    @abstractmethod
    def max_notification_id(self) -> int:
        """The id of the last notification (0 when empty)."""

    @abstractmethod
    def close(self) -> None: ...

    def iter_rows(
        self, after: int = 0, stop: int | None = None, chunk: int = 20_000
    ) -> Iterator[list[StoredRow]]:
        """Chunks of the notification log from ``after`` up to ``stop`` (inclusive)."""
        while True:
            rows = self.read(after, chunk)
            if stop is not None:
                rows = [r for r in rows if r.notification_id <= stop]
            if not rows:
                return
            yield rows
            after = rows[-1].notification_id
            if len(rows) < chunk:
                return

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _dedupe(events: Sequence[Encoded]) -> list[Encoded]:
    seen: set[bytes] = set()
    unique = []
    for e in events:
        if e[0] not in seen:
            seen.add(e[0])
            unique.append(e)
    return unique


def plan_rows(
    fresh: Sequence[Encoded], versions: Mapping[str, int]
) -> list[tuple[str, int, str, bytes]]:
    """Rows for ``stored_events``: each stream continues from its stored version; a new
    stream starts with its ``Opened`` event. Rows are grouped by stream, which keeps the
    primary-key index inserts local."""
    # Positional access throughout: events may be plain tuples fresh from a worker process.
    by_stream: dict[str, list[Encoded]] = {}
    for e in fresh:
        by_stream.setdefault(e[1], []).append(e)
    rows: list[tuple[str, int, str, bytes]] = []
    for oid, stream in by_stream.items():
        version = versions.get(oid, 0)
        if version == 0:
            _, _, kind, key, _, _, recorded_at = stream[0]
            topic, state = opened_state(kind, key, recorded_at)
            version = 1
            rows.append((oid, version, topic, state))
        for e in stream:
            version += 1
            rows.append((oid, version, e[4], e[5]))
    return rows


class SQLiteEventStore(EventStore):
    """The embedded default: one SQLite file in WAL mode, no server."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # Let eventsourcing create its own tables, exactly as its recorders expect them.
        factory = InfrastructureFactory.construct(
            env=_sqlite_env(path)  # type: ignore[arg-type]
        )
        factory.application_recorder()
        factory.tracking_recorder()
        factory.close()  # type: ignore[attr-defined]
        self._db = sqlite3.connect(path, isolation_level=None, timeout=60.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a process crash never loses a committed batch; the database stays
        # consistent on power loss. Positions commit with their events, so either way
        # nothing is separated.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS event_ids (event_id BLOB PRIMARY KEY) WITHOUT ROWID"
        )

    def append(
        self, events: Sequence[Encoded], positions: Mapping[str, int] | None = None
    ) -> AppendResult:
        unique = _dedupe(events)
        db = self._db
        # IMMEDIATE takes the write lock before reading versions, so two writers never
        # compute the same next version.
        db.execute("BEGIN IMMEDIATE")
        try:
            known = self._known_ids([e[0] for e in unique])
            fresh = [e for e in unique if e[0] not in known] if known else unique
            versions = self._versions({e[1] for e in fresh})
            rows = plan_rows(fresh, versions)
            db.executemany("INSERT INTO stored_events VALUES (?,?,?,?)", rows)
            db.executemany("INSERT INTO event_ids VALUES (?)", [(e[0],) for e in fresh])
            for name, pos in (positions or {}).items():
                db.execute(
                    "INSERT INTO tracking VALUES (?, ?) ON CONFLICT (application_name) "
                    "DO UPDATE SET notification_id = excluded.notification_id "
                    "WHERE tracking.notification_id < excluded.notification_id",
                    (name, pos),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return AppendResult(appended=len(fresh), duplicates=len(events) - len(fresh))

    def _known_ids(self, ids: list[bytes]) -> set[bytes]:
        known: set[bytes] = set()
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            sql = f"SELECT event_id FROM event_ids WHERE event_id IN ({','.join('?' * len(chunk))})"
            known.update(row[0] for row in self._db.execute(sql, chunk))
        return known

    def _versions(self, oids: set[str]) -> dict[str, int]:
        ids = list(oids)
        versions: dict[str, int] = {}
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            sql = (
                "SELECT originator_id, MAX(originator_version) FROM stored_events "
                f"WHERE originator_id IN ({','.join('?' * len(chunk))}) GROUP BY originator_id"
            )
            versions.update((row[0], row[1]) for row in self._db.execute(sql, chunk))
        return versions

    def position(self, name: str) -> int | None:
        row = self._db.execute(
            "SELECT notification_id FROM tracking WHERE application_name = ?", (name,)
        ).fetchone()
        return None if row is None else int(row[0])

    def read(self, after: int, limit: int) -> list[StoredRow]:
        cursor = self._db.execute(
            "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
            "WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (after, limit),
        )
        return [StoredRow(*row) for row in cursor]

    def max_notification_id(self) -> int:
        row = self._db.execute("SELECT MAX(rowid) FROM stored_events").fetchone()
        return int(row[0] or 0)

    def count_events(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM event_ids").fetchone()[0])

    def close(self) -> None:
        self._db.close()


def _sqlite_env(path: Path) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(path),
        "SQLITE_LOCK_TIMEOUT": "60",
    }


def open_store(settings: Settings) -> EventStore:
    """The store the settings choose: SQLite by default, PostgreSQL by configuration."""
    if settings.store == "postgres":
        from infra.postgres_store import PostgresEventStore

        assert settings.postgres_dsn is not None
        return PostgresEventStore(settings)
    return SQLiteEventStore(settings.sqlite_path)

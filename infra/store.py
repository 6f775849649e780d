"""The event store port, and its embedded SQLite adapter.

Both adapters store events in eventsourcing's own tables (``stored_events`` and ``tracking``,
created by eventsourcing's recorders), so eventsourcing's ``Application`` reads the same
aggregates and its notification log is the one projections follow. On top of that the store
keeps one table of its own, ``event_ids``, the idempotency index: an event id is stored once.

``append`` is the bulk write path: one transaction per batch holds the new events, their ids
and, optionally, tracking positions (e.g. Kafka offsets), so a crash never separates them.

An id is an idempotency key, not a licence to overwrite: an event whose id is stored
already is a no-op only when its content is the same. The same id with other content is a
*conflict*: it is not stored, the stored event is kept, and ``append`` reports it (with the
fields that differ, never their values) so the caller can reject it. Only the ids that were
stored already are compared, with the stored events of their streams: the path of new
events, nearly all of them, does no extra work.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

from eventsourcing.persistence import InfrastructureFactory

from infra.encoding import Encoded, opened_state

_CHUNK = 500
_VERSION_CACHE_LIMIT = 2_000_000
_STREAM_AND_VERSION = itemgetter(0, 1)
# A writer that finds more rows appended by others since it last wrote than this forgets its
# versions rather than reading them all (it then asks the database per stream, as at first).
_CATCH_UP_LIMIT = 500_000


@dataclass(frozen=True, slots=True)
class Conflict:
    """An event of an append whose id is stored already with other content."""

    index: int  # in the events given to ``append``
    reason: str


@dataclass(frozen=True)
class AppendResult:
    appended: int
    duplicates: int  # stored already, with the same content: nothing to do
    conflicts: tuple[Conflict, ...] = ()


OnConflict = Callable[[Sequence[Conflict]], None]
"""Called inside the append's transaction, before it commits, when there are conflicts: a
Kafka consumer dead-letters them there, so the positions that skip them are committed only
once the dead letters are acknowledged. If it raises, nothing of the batch is committed."""


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
        self,
        events: Sequence[Encoded],
        positions: Mapping[str, int] | None = None,
        on_conflict: OnConflict | None = None,
    ) -> AppendResult:
        """Store the events not stored before (by event id), in one transaction with the
        given tracking positions (name -> position; a position only moves forward). An
        event whose id is stored (or earlier in ``events``) with other content is a
        conflict: not stored, reported in the result and to ``on_conflict``."""

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

    @abstractmethod
    def reopen(self) -> EventStore:
        """A new connection to the same store, for another process (e.g. a worker forked
        by bulk ingestion) that writes beside this one."""

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


Repeat = tuple[int, Encoded, Encoded]
"""A later event of a batch that repeats an earlier one's id with other content: (its index
in the batch, it, the first event of the batch with that id)."""


def _dedupe(events: Sequence[Encoded]) -> tuple[list[Encoded], list[int] | None, list[Repeat]]:
    """The events with the first of each event id (a batch rarely repeats one), the index in
    ``events`` of each (None: the same as its place), and the later ones that repeat an id
    with other content (identical repeats are dropped)."""
    if len({e[0] for e in events}) == len(events):
        return list(events), None, []
    first: dict[bytes, Encoded] = {}
    unique = []
    where = []
    repeats = []
    for index, e in enumerate(events):
        seen = first.get(e[0])
        if seen is None:
            first[e[0]] = e
            unique.append(e)
            where.append(index)
        elif not _same_content(seen, e):
            repeats.append((index, e, seen))
    return unique, where, repeats


def split_repeats(
    repeats: Sequence[Repeat], is_stored: Callable[[bytes], bool]
) -> tuple[list[Conflict], list[tuple[int, Encoded]]]:
    """Conflicts of repeats whose id is new (with the batch's first event of that id), and
    the repeats of a stored id, to be compared with the stored event (which is the one
    kept: an identical resubmission of it stays a no-op, whatever else the batch holds)."""
    conflicts: list[Conflict] = []
    against_store: list[tuple[int, Encoded]] = []
    for index, e, seen in repeats:
        if is_stored(e[0]):
            against_store.append((index, e))
        else:
            reason = _difference(seen, e, "an earlier event of the same batch")
            if reason is not None:
                conflicts.append(Conflict(index, reason))
    return conflicts, against_store


def _same_content(a: Encoded, b: Encoded) -> bool:
    return a[1] == b[1] and a[4] == b[4] and (a[5] == b[5] or _load(a[5]) == _load(b[5]))


def _load(state: bytes) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(state)
    return loaded


def _differing_fields(stored: dict[str, object], new: dict[str, object]) -> list[str]:
    fields: list[str] = []
    for key in sorted(set(stored) | set(new)):
        if key == "timestamp":
            continue  # follows recorded_at
        a, b = stored.get(key), new.get(key)
        if key == "payload" and isinstance(a, dict) and isinstance(b, dict):
            fields.extend(f"payload.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))
        elif a != b:
            fields.append(key)
    return fields


def _difference(stored: Encoded, new: Encoded, what: str) -> str | None:
    """Why ``new`` conflicts with ``stored`` (the same id), or None when it is the same
    event. Names fields, never values: the values are personal data."""
    if _same_content(stored, new):
        return None
    fields = []
    if stored[4] != new[4]:
        fields.append("type")
    if stored[1] != new[1]:
        fields.append("person_ref" if new[2] == "case" else "the log it belongs to")
    else:
        fields.extend(_differing_fields(_load(stored[5]), _load(new[5])))
    return _conflict_reason(what, fields)


def _conflict_reason(what: str, fields: Sequence[str]) -> str:
    differ = f" ({', '.join(fields)} {'differs' if len(fields) == 1 else 'differ'})"
    return (
        f"event_id: conflict: the same event_id as {what}, with other content"
        f"{differ if fields else ''}; an event id stands for one event, so this one is not "
        "stored and the first is kept"
    )


def stored_conflicts(
    known: Sequence[tuple[int, Encoded]], stored: Iterable[tuple[str, str, bytes]]
) -> list[Conflict]:
    """Which of ``known`` (events whose id is stored already, with their index) differ from
    what is stored. ``stored``: (originator id, topic, state) of every stored event of
    their streams. An identical resubmission, the usual case, is found by its bytes; only
    the others are parsed."""
    rows = list(stored)
    exact = {(oid, topic, bytes(state)) for oid, topic, state in rows}
    pending = [(i, e) for i, e in known if (e[1], e[4], bytes(e[5])) not in exact]
    if not pending:
        return []
    by_id: dict[str, tuple[str, str, dict[str, object]]] = {}
    wanted = {_load(e[5])["event_id"] for _, e in pending}
    for oid, topic, state in rows:
        if b'"event_id"' not in state:
            continue  # a stream's Opened event
        loaded = _load(bytes(state))
        if loaded.get("event_id") in wanted:
            by_id[str(loaded["event_id"])] = (oid, topic, loaded)
    conflicts = []
    for index, e in pending:
        new = _load(e[5])
        found = by_id.get(str(new["event_id"]))
        if found is None:
            # Stored, but not in this event's stream: its stream key differs.
            fields = ["person_ref" if e[2] == "case" else "type or the log it belongs to"]
            reason = _conflict_reason("a stored event", fields)
        elif found[0] == e[1] and found[1] == e[4] and found[2] == new:
            continue  # the same event, serialised in another key order
        else:
            fields = ["type"] if found[1] != e[4] else []
            fields.extend(_differing_fields(found[2], new))
            reason = _conflict_reason("a stored event", fields)
        conflicts.append(Conflict(index, reason))
    return conflicts


def plan_rows(
    fresh: Sequence[Encoded], versions: Mapping[str, int]
) -> list[tuple[str, int, str, bytes]]:
    """Rows for ``stored_events``: each stream continues from its stored version; a new
    stream starts with its ``Opened`` event. Rows are grouped by stream (a stable sort keeps
    each stream's arrival order), which keeps the primary-key index inserts local."""
    # Positional access throughout: events may be plain tuples fresh from a worker process.
    rows: list[tuple[str, int, str, bytes]] = []
    append = rows.append
    current = ""
    version = 0
    for e in sorted(fresh, key=itemgetter(1)):
        oid = e[1]
        if oid != current:
            current = oid
            version = versions.get(oid, 0)
            if version == 0:
                topic, state = opened_state(e[2], e[3], e[6])
                version = 1
                append((oid, 1, topic, state))
        version += 1
        append((oid, version, e[4], e[5]))
    return rows


class SQLiteEventStore(EventStore):
    """The embedded default: one SQLite file in WAL mode, no server."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with schema_lock(path):
            ensure_database(path)
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
        # Stream ids are name-based, so index inserts land all over the B-tree: a page cache
        # that holds the index (256 MiB at most) keeps them off the disk.
        self._db.execute("PRAGMA cache_size=-262144")
        # Checkpoint every 64 MiB of WAL rather than every 1,000 pages: the same hot index
        # pages are then copied back to the database once per checkpoint, not once per batch.
        page_size = int(self._db.execute("PRAGMA page_size").fetchone()[0])
        self._db.execute(f"PRAGMA wal_autocheckpoint={(64 << 20) // page_size}")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS event_ids (event_id BLOB PRIMARY KEY) WITHOUT ROWID"
        )
        # Each stream's last version, exact for every row up to ``_seen_rowid``: before it
        # plans a batch, a writer reads what others appended since (in the write lock, so
        # nothing more can come). ``_all_streams``: the cache holds every stream there is
        # (the store was empty when this connection first wrote), so a stream it lacks is
        # new, with nothing to ask the database.
        self._versions_cache: dict[str, int] = {}
        self._seen_rowid: int | None = None
        self._all_streams = False
        self.replanned = 0  # batches planned again after a stale version (none expected)

    def append(
        self,
        events: Sequence[Encoded],
        positions: Mapping[str, int] | None = None,
        on_conflict: OnConflict | None = None,
    ) -> AppendResult:
        unique, where, repeated = _dedupe(events)
        db = self._db
        for attempt in (1, 2):
            # IMMEDIATE takes the write lock before anything is read, so what this
            # transaction reads (ids, versions) cannot change under it.
            db.execute("BEGIN IMMEDIATE")
            try:
                inserted = self._insert_ids([e[0] for e in unique])
                known: list[tuple[int, Encoded]] = []
                if len(inserted) == len(unique):
                    fresh = unique
                else:
                    fresh = [e for e in unique if e[0] in inserted]
                    known = [
                        (i if where is None else where[i], e)
                        for i, e in enumerate(unique)
                        if e[0] not in inserted
                    ]
                stored_ids = {e[0] for _, e in known}
                conflicts, against_store = split_repeats(repeated, stored_ids.__contains__)
                known.extend(against_store)
                if known:
                    conflicts.extend(stored_conflicts(known, self._stream_rows(known)))
                conflicts.sort(key=lambda c: c.index)
                if attempt == 1:
                    self._catch_up_versions()
                else:
                    self._forget_versions()
                versions = self._stream_versions({e[1] for e in fresh})
                rows = plan_rows(fresh, versions)
                db.executemany("INSERT INTO stored_events VALUES (?,?,?,?)", rows)
                for name, pos in (positions or {}).items():
                    db.execute(
                        "INSERT INTO tracking VALUES (?, ?) ON CONFLICT (application_name) "
                        "DO UPDATE SET notification_id = excluded.notification_id "
                        "WHERE tracking.notification_id < excluded.notification_id",
                        (name, pos),
                    )
                if conflicts and on_conflict is not None:
                    on_conflict(conflicts)
                db.execute("COMMIT")
            except sqlite3.IntegrityError:
                self._rollback()
                # Not expected (the cache is brought up to date in the write lock), but a
                # stale version must never lose an event: plan again from the database.
                self.replanned += 1
                if attempt == 2:
                    raise
                continue
            except BaseException:
                self._rollback()
                self._forget_versions()
                raise
            self._remember(rows)
            return AppendResult(
                appended=len(fresh),
                duplicates=len(events) - len(fresh) - len(conflicts),
                conflicts=tuple(conflicts),
            )
        raise AssertionError("unreachable")

    def _rollback(self) -> None:
        """End the failed transaction, if SQLite has not ended it already: on a full disk or
        an I/O error it rolls back by itself, and a ROLLBACK then would raise "no
        transaction is active" in place of the error that says what went wrong."""
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def _stream_rows(self, known: Sequence[tuple[int, Encoded]]) -> list[tuple[str, str, bytes]]:
        """(originator id, topic, state) of every stored event of the streams of ``known``."""
        oids = sorted({e[1] for _, e in known})
        rows: list[tuple[str, str, bytes]] = []
        for i in range(0, len(oids), _CHUNK):
            chunk = oids[i : i + _CHUNK]
            rows.extend(
                self._db.execute(
                    "SELECT originator_id, topic, state FROM stored_events "
                    f"WHERE originator_id IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
            )
        return rows

    def _insert_ids(self, ids: list[bytes]) -> set[bytes]:
        """Insert the ids not stored yet; return those. Usually all are new: one executemany
        inserts them, and the count of rows it changed says so (40% cheaper than having
        every row returned). When some were stored already, that insert is undone and done
        again with each new id returned."""
        db = self._db
        db.execute("SAVEPOINT new_ids")
        before = db.total_changes
        db.executemany(
            "INSERT INTO event_ids VALUES (?) ON CONFLICT DO NOTHING", [(i,) for i in ids]
        )
        if db.total_changes - before == len(ids):
            db.execute("RELEASE new_ids")
            return set(ids)
        db.execute("ROLLBACK TO new_ids")
        db.execute("RELEASE new_ids")
        inserted: set[bytes] = set()
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            sql = (
                f"INSERT INTO event_ids VALUES {','.join(['(?)'] * len(chunk))} "
                "ON CONFLICT DO NOTHING RETURNING event_id"
            )
            inserted.update(row[0] for row in db.execute(sql, chunk))
        return inserted

    def _catch_up_versions(self) -> None:
        """Bring the version cache up to date with the rows other writers (other workers of
        this ingest, a consumer, an eventsourcing application) appended since this
        connection last looked: one scan of those rows, in the write lock. Far cheaper than
        asking for each stream's version: 0.6 against 5.5 us an event."""
        last = int(self._db.execute("SELECT MAX(rowid) FROM stored_events").fetchone()[0] or 0)
        if self._seen_rowid is None or last - self._seen_rowid > _CATCH_UP_LIMIT:
            self._forget_versions()
            self._all_streams = last == 0
        elif last > self._seen_rowid:
            # Row ids grow with each append, and so do a stream's versions: a stream's last
            # row in row-id order holds its last version.
            self._versions_cache.update(
                self._db.execute(
                    "SELECT originator_id, originator_version FROM stored_events "
                    "WHERE rowid > ? ORDER BY rowid",
                    (self._seen_rowid,),
                )
            )
        self._seen_rowid = last

    def _forget_versions(self) -> None:
        self._versions_cache.clear()
        self._seen_rowid = None
        self._all_streams = False

    def _stream_versions(self, oids: set[str]) -> dict[str, int]:
        """Each stream's last stored version (absent: a new stream): from the cache, else
        from the database, unless the cache holds every stream."""
        cache = self._versions_cache
        versions: dict[str, int] = {}
        missing: list[str] = []
        for oid in oids:
            known = cache.get(oid)
            if known is not None:
                versions[oid] = known
            elif not self._all_streams:
                missing.append(oid)
        for i in range(0, len(missing), _CHUNK):
            chunk = missing[i : i + _CHUNK]
            sql = (
                "SELECT originator_id, MAX(originator_version) FROM stored_events "
                f"WHERE originator_id IN ({','.join('?' * len(chunk))}) GROUP BY originator_id"
            )
            versions.update(self._db.execute(sql, chunk).fetchall())
        return versions

    def _remember(self, rows: list[tuple[str, int, str, bytes]]) -> None:
        cache = self._versions_cache
        if len(cache) > _VERSION_CACHE_LIMIT:
            self._forget_versions()  # bounded memory; a cold cache only costs queries
            return
        cache.update(map(_STREAM_AND_VERSION, rows))  # rows in order: the last version wins
        if self._seen_rowid is not None:
            # This transaction's rows came right after every row seen so far.
            self._seen_rowid += len(rows)

    def reopen(self) -> SQLiteEventStore:
        return SQLiteEventStore(self.path)

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


# SQLite's default page is 4 KiB. Stream ids are name-based, so a batch's inserts land all
# over the primary-key index, and a commit writes every page they touched to the WAL, a frame
# (header, checksum, write call) a page. Appending 1M events in batches of 25k ran at 59-68k
# events/s with 4 KiB pages and 82-99k/s with 16 KiB (32 and 64 KiB did no better).
PAGE_SIZE = 16384


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (made if missing; it holds no data, and
    deleting it is harmless) for the block: the way processes of one data directory take
    turns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def schema_lock(path: Path) -> contextlib.AbstractContextManager[None]:
    """The lock under which the database at ``path`` and its tables are made.

    Two processes opening a new store at once would otherwise both find no tables, both
    create them and both write eventsourcing's tracking-table marker (``__migration__``); the
    second write fails with ``IntegrityError`` and that process stores nothing."""
    return file_lock(Path(f"{path}.lock"))


def ensure_database(path: Path) -> None:
    """Create the database file with the store's page size if there is none yet (the page
    size is fixed once the file exists), whichever of the store and the view opens it first."""
    if path.exists() and path.stat().st_size > 0:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    try:
        db.execute(f"PRAGMA page_size={PAGE_SIZE}")
        db.execute("PRAGMA journal_mode=WAL")
    finally:
        db.close()


def _sqlite_env(path: Path) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(path),
        "SQLITE_LOCK_TIMEOUT": "60",
    }

"""The embedded event store: SQLite, one file in WAL mode, no server.

The port, what it promises and how conflicts are found are in :mod:`infra.store` and
:mod:`infra.append_plan`; this module holds what is SQLite's own: the pragmas, the write lock
taken before anything is read, and a cache of each stream's last version, kept exact across
writers by reading what others appended since.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Mapping, Sequence
from operator import itemgetter
from pathlib import Path

from eventsourcing.persistence import InfrastructureFactory

from infra import person_keys, sealing
from infra.append_plan import dedupe, plan_rows, refuse_erased, split_repeats, stored_conflicts
from infra.encoding import Encoded
from infra.sealing import Erased, unseal
from infra.sqlite.database import ensure_database, schema_lock
from infra.sqlite.env import sqlite_env
from infra.store import ERASED_STATE, AppendResult, EventStore, OnConflict, StoredRow

_CHUNK = 500
_VERSION_CACHE_LIMIT = 2_000_000
_STREAM_AND_VERSION = itemgetter(0, 1)
# A writer that finds more rows appended by others since it last wrote than this forgets its
# versions rather than reading them all (it then asks the database per stream, as at first).
_CATCH_UP_LIMIT = 500_000


class SQLiteEventStore(EventStore):
    """The embedded default: one SQLite file in WAL mode, no server."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with schema_lock(path):
            ensure_database(path)
            # Let eventsourcing create its own tables, exactly as its recorders expect them.
            factory = InfrastructureFactory.construct(env=sqlite_env(path))
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
        for statement in person_keys.SQLITE_DDL:
            self._db.execute(statement)
        self._keys_of = register_sqlite_key_reader(path)
        # Each stream's last version, exact for every row up to ``_seen_rowid``: before it
        # plans a batch, a writer reads what others appended since (in the write lock, so
        # nothing more can come). ``_all_streams``: the cache holds every stream there is
        # (the store was empty when this connection first wrote), so a stream it lacks is
        # new, with nothing to ask the database.
        self._versions_cache: dict[str, int] = {}
        self._seen_rowid: int | None = None
        self._all_streams = False
        self.replanned = 0  # batches planned again after a stale version (none expected)

    # Events are read by position (``e[0]`` the id, ``e[1]`` the stream): they may be plain
    # tuples from a worker process (see ``infra.append_plan``).
    def append(
        self,
        events: Sequence[Encoded],
        positions: Mapping[str, int] | None = None,
        on_conflict: OnConflict | None = None,
    ) -> AppendResult:
        unique, where, repeated = dedupe(events)
        db = self._db
        made: list[str] = []
        for attempt in (1, 2):
            # IMMEDIATE takes the write lock before anything is read, so what this
            # transaction reads (ids, versions) cannot change under it.
            db.execute("BEGIN IMMEDIATE")
            try:
                if sealing.installed():
                    person_keys.check_writer(db.cursor(), "?", person_keys.CHECK_TABLE)
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
                keys = None
                if sealing.installed():
                    cases = {e[1] for e in fresh if e[2] == "case"}
                    keys, made, erased = person_keys.keys_for(
                        db.cursor(), "?", person_keys.TABLE, self._key_state(), cases
                    )
                    fresh, refused = refuse_erased(unique, where, fresh, erased)
                    if refused:
                        conflicts.extend(refused)
                        gone = {e[0] for e in unique} - {e[0] for e in fresh}
                        db.executemany(
                            "DELETE FROM event_ids WHERE event_id = ?",
                            [(i,) for i in gone & inserted],
                        )
                conflicts.sort(key=lambda c: c.index)
                if attempt == 1:
                    self._catch_up_versions()
                else:
                    self._forget_versions()
                versions = self._stream_versions({e[1] for e in fresh})
                rows = plan_rows(fresh, versions, keys)
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
                person_keys.forget(self._key_state(), made)
                # Not expected (the cache is brought up to date in the write lock), but a
                # stale version must never lose an event: plan again from the database.
                self.replanned += 1
                if attempt == 2:
                    raise
                continue
            except BaseException:
                self._rollback()
                person_keys.forget(self._key_state(), made)
                self._forget_versions()
                raise
            self._remember(rows)
            return AppendResult(
                appended=len(fresh),
                duplicates=len(events) - len(fresh) - len(conflicts),
                conflicts=tuple(conflicts),
            )
        raise AssertionError("unreachable")

    def _key_state(self) -> sealing.StoreKeys:
        return sealing.store_keys(self._keys_of)

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
        inserts them, and the count of rows it changed says so, which is cheaper than having
        every row returned (``bench.bench_ingest``'s ``ingest`` figure). When some were stored
        already, that insert is undone and done again with each new id returned."""
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
        asking for each stream's version, because the ingest workers write in turn and each
        finds only the other's last chunk to scan (``bench.bench_ingest``'s ``ingest``, and
        ``bench.paired`` against an earlier commit)."""
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
        return [StoredRow(n, oid, v, topic, _opened(state)) for n, oid, v, topic, state in cursor]

    def person_key_status(self, stream: str) -> str | None:
        return person_keys.key_status(self._db.cursor(), "?", person_keys.TABLE, stream)

    def has_stream(self, stream: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM stored_events WHERE originator_id = ? LIMIT 1", (stream,)
        ).fetchone()
        return row is not None

    def erase_person_key(self, stream: str, reason: str, at: str) -> bool:
        """Delete a case stream's data key (``infra.person_keys.erase``) with SQLite's
        ``secure_delete`` on, so the key's bytes are zeroed in the file, and then move the
        write-ahead log into the database and empty it, so no earlier copy of the key's page
        stays in the WAL file."""
        db = self._db
        db.execute("PRAGMA secure_delete=ON")
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                done = person_keys.erase(
                    db.cursor(), "?", person_keys.TABLE, self._key_state(), stream, reason, at
                )
                db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        finally:
            db.execute("PRAGMA secure_delete=OFF")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return done

    def max_notification_id(self) -> int:
        row = self._db.execute("SELECT MAX(rowid) FROM stored_events").fetchone()
        return int(row[0] or 0)

    def count_events(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM event_ids").fetchone()[0])

    def close(self) -> None:
        self._db.close()


def _opened(state: bytes) -> bytes:
    """A stored state opened; an erased person's, ``ERASED_STATE`` (readers skip it)."""
    try:
        return unseal(state)
    except Erased:
        return ERASED_STATE


def register_sqlite_key_reader(path: Path) -> str:
    """Have this process read the key table of the store at ``path`` when it meets a key it
    has not seen (on a read-only connection of its own); returns the store's identity."""
    location = str(Path(path).resolve())

    def connect() -> sqlite3.Connection:
        # Used by whichever thread meets an unknown key (one at a time: the reader's lock).
        return sqlite3.connect(
            f"file:{location}?mode=ro", uri=True, timeout=60.0, check_same_thread=False
        )

    return person_keys.register_reader(location, connect, "?", person_keys.TABLE)

"""The event store on PostgreSQL, chosen by configuration alone (``CMM_STORE=postgres``).

The tables are eventsourcing's own, created by its PostgreSQL recorders for the application
``Ledger``: ``ledger_events`` (stored events with a ``notification_id``; originator ids are
``uuid``) and ``ledger_tracking`` (positions), so eventsourcing's ``Application`` reads the
same aggregates and its ``ProjectionRunner`` follows the same notification log. The store adds
``event_ids``, the idempotency index.

``append`` writes a batch the way eventsourcing's ``PostgresApplicationRecorder`` inserts
events, only in bulk:

- ``LOCK TABLE ledger_events IN EXCLUSIVE MODE`` first, exactly as eventsourcing does: writers
  are serialised, so notification ids are issued in commit order and a reader tailing the log
  never passes over a gap that is filled later; and two writers never pick the same next
  version of a stream. Plain reads are not blocked.
- ``NOTIFY ledger_events`` in the same transaction, delivered on commit, which wakes the
  ``ProjectionRunner`` subscriptions that ``LISTEN`` on the channel.
- rows go in with ``COPY`` (text format written here, because the pure-Python psycopg
  adapts values row by row several times slower), and event ids are deduplicated with one
  ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` from a staged copy of the batch's ids.
- the tracking positions (e.g. Kafka offsets) are upserted in the same transaction and only
  move forward.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql

from infra import person_keys, sealing
from infra.append_plan import dedupe, plan_rows, refuse_erased, split_repeats, stored_conflicts
from infra.encoding import Encoded
from infra.postgres.tables import (
    create_tables,
    key_check_table,
    person_keys_table,
    postgres_key_reader,
)
from infra.sealing import Erased, unseal
from infra.settings import Settings
from infra.store import (
    ERASED_STATE,
    AppendResult,
    Conflict,
    EventStore,
    OnConflict,
    StoredRow,
)

_COPY_SPECIAL = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str) -> str:
    """A text value escaped for COPY's text format (topics never need it; be safe)."""
    return value.translate(_COPY_SPECIAL)


class PostgresEventStore(EventStore):
    """The event store on PostgreSQL (psycopg 3, one connection, autocommit outside
    ``append`` so no read leaves a transaction open)."""

    def __init__(self, settings: Settings) -> None:
        assert settings.postgres_dsn is not None
        self._settings = settings
        schema, events, tracking, channel = create_tables(settings)
        self.events_table = events
        self.tracking_table = tracking
        self._events = sql.Identifier(schema, events)
        self._tracking = sql.Identifier(schema, tracking)
        self._ids = sql.Identifier(schema, "event_ids")
        self.keys_table = person_keys_table(schema)
        self.check_table = key_check_table(schema)
        self._keys_of = postgres_key_reader(settings)
        self._channel = sql.Identifier(channel)
        self._conn: psycopg.Connection[Any] = psycopg.connect(
            settings.postgres_dsn, autocommit=True
        )
        # Staging for a batch's ids; per session, emptied by every commit.
        self._conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS cmm_batch_ids (event_id uuid) ON COMMIT DELETE ROWS"
        )
        self._sql_lock = sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(self._events)
        self._sql_notify = sql.SQL("NOTIFY {}").format(self._channel)
        self._sql_known = sql.SQL(
            "SELECT encode(uuid_send(event_id), 'hex') FROM {} JOIN cmm_batch_ids USING (event_id)"
        ).format(self._ids)
        self._sql_insert_ids = sql.SQL(
            "INSERT INTO {} SELECT event_id FROM cmm_batch_ids ON CONFLICT DO NOTHING"
        ).format(self._ids)
        self._sql_forget_ids = sql.SQL("DELETE FROM {} WHERE event_id = ANY(%s::uuid[])").format(
            self._ids
        )
        self._sql_stream_rows = sql.SQL(
            "SELECT encode(uuid_send(originator_id), 'hex'), topic, state "
            "FROM {} WHERE originator_id = ANY(%s::uuid[])"
        ).format(self._events)
        self._sql_versions = sql.SQL(
            "SELECT encode(uuid_send(originator_id), 'hex'), MAX(originator_version) "
            "FROM {} WHERE originator_id = ANY(%s::uuid[]) GROUP BY originator_id"
        ).format(self._events)
        self._sql_copy_events = sql.SQL(
            "COPY {} (originator_id, originator_version, topic, state) FROM STDIN"
        ).format(self._events)
        self._sql_track = sql.SQL(
            "INSERT INTO {0} (application_name, notification_id) VALUES (%s, %s) "
            "ON CONFLICT (application_name) DO UPDATE "
            "SET notification_id = excluded.notification_id "
            "WHERE {0}.notification_id < excluded.notification_id"
        ).format(self._tracking)

    # Events are read by position (``e[0]`` the id, ``e[1]`` the stream): they may be plain
    # tuples from a worker process (see ``infra.append_plan``).
    def append(
        self,
        events: Sequence[Encoded],
        positions: Mapping[str, int] | None = None,
        on_conflict: OnConflict | None = None,
    ) -> AppendResult:
        unique, where, repeated = dedupe(events)
        made: list[str] = []
        try:
            return self._append(events, unique, where, repeated, positions, on_conflict, made)
        except BaseException:
            person_keys.forget(self._key_state(), made)  # rolled back: the keys are gone
            raise

    def _append(
        self,
        events: Sequence[Encoded],
        unique: list[Encoded],
        where: list[int] | None,
        repeated: list[Any],
        positions: Mapping[str, int] | None,
        on_conflict: OnConflict | None,
        made: list[str],
    ) -> AppendResult:
        conflicts: list[Conflict] = []
        fresh: list[Encoded] = []
        keys: dict[str, bytes] | None = None
        conn = self._conn
        with conn.transaction(), conn.cursor() as cur:
            if unique:
                # The lock comes before anything else: see the module docstring.
                cur.execute(self._sql_lock)
                if sealing.installed():
                    person_keys.check_writer(cur, "%s", self.check_table)
                with cur.copy("COPY cmm_batch_ids (event_id) FROM STDIN") as copy:
                    copy.write("".join(e[0].hex() + "\n" for e in unique))
                # Under the lock no other writer can add an id meanwhile, so the ids found
                # here are all the duplicates; usually none, so little comes back.
                cur.execute(self._sql_known)
                known = {row[0] for row in cur.fetchall()}
                conflicts, against_store = split_repeats(repeated, lambda i: i.hex() in known)
                if known:
                    fresh = [e for e in unique if e[0].hex() not in known]
                    stored = [
                        (i if where is None else where[i], e)
                        for i, e in enumerate(unique)
                        if e[0].hex() in known
                    ]
                    stored.extend(against_store)
                    cur.execute(self._sql_stream_rows, (sorted({e[1] for _, e in stored}),))
                    conflicts.extend(stored_conflicts(stored, cur.fetchall()))
                    conflicts.sort(key=lambda c: c.index)
                else:
                    fresh = unique
                cur.execute(self._sql_insert_ids)
                if sealing.installed() and fresh:
                    cases = {e[1] for e in fresh if e[2] == "case"}
                    keys, made[:], erased = person_keys.keys_for(
                        cur, "%s", self.keys_table, self._key_state(), cases
                    )
                    fresh, refused = refuse_erased(unique, where, fresh, erased)
                    if refused:
                        conflicts.extend(refused)
                        conflicts.sort(key=lambda c: c.index)
                        kept = {e[0] for e in fresh}
                        gone = [e[0].hex() for e in unique if e[1] in erased and e[0] not in kept]
                        cur.execute(self._sql_forget_ids, (gone,))
            if fresh:
                versions = self._versions(cur, {e[1] for e in fresh})
                rows = plan_rows(fresh, versions, keys)
                with cur.copy(self._sql_copy_events) as copy:
                    copy.write("".join(_copy_lines(rows)))
                cur.execute(self._sql_notify)
            if positions:
                cur.executemany(self._sql_track, list(positions.items()))
            if conflicts and on_conflict is not None:
                on_conflict(conflicts)
        return AppendResult(
            appended=len(fresh),
            duplicates=len(events) - len(fresh) - len(conflicts),
            conflicts=tuple(conflicts),
        )

    def _key_state(self) -> sealing.StoreKeys:
        return sealing.store_keys(self._keys_of)

    def _versions(self, cur: psycopg.Cursor[Any], oids: set[str]) -> dict[str, int]:
        cur.execute(self._sql_versions, (list(oids),))
        return {row[0]: int(row[1]) for row in cur.fetchall()}

    def position(self, name: str) -> int | None:
        row = self._conn.execute(
            sql.SQL("SELECT notification_id FROM {} WHERE application_name = %s").format(
                self._tracking
            ),
            (name,),
        ).fetchone()
        return None if row is None else int(row[0])

    def read(self, after: int, limit: int) -> list[StoredRow]:
        # COPY out and split the text here: several times faster than the pure-Python
        # psycopg's per-value result loading.
        query = sql.SQL(
            "COPY (SELECT notification_id, encode(uuid_send(originator_id), 'hex'), "
            "originator_version, topic, encode(state, 'hex') FROM {} "
            "WHERE notification_id > {} ORDER BY notification_id LIMIT {}) TO STDOUT"
        ).format(self._events, sql.Literal(int(after)), sql.Literal(int(limit)))
        with self._conn.cursor() as cur, cur.copy(query) as copy:
            data = b"".join(bytes(chunk) for chunk in copy)
        rows = []
        for line in data.decode("utf8").splitlines():
            n, oid, version, topic, state = line.split("\t")
            if "\\" in topic:
                topic = _copy_unescape(topic)
            rows.append(StoredRow(int(n), oid, int(version), topic, _opened(bytes.fromhex(state))))
        return rows

    def check_key(self) -> None:
        """:class:`infra.sealing.WrongKey` unless the installed key opens what is stored."""
        with self._conn.cursor() as cur:
            cur.execute(
                sql.SQL("SELECT state FROM {} ORDER BY notification_id LIMIT 1").format(
                    self._events
                )
            )
            row = cur.fetchone()
            if row is not None and sealing.person_key_id(row[0]) is None:
                unseal(bytes(row[0]))
            person_keys.check_key(cur, self.keys_table, self.check_table)

    def person_key_status(self, stream: str) -> str | None:
        with self._conn.cursor() as cur:
            return person_keys.key_status(cur, "%s", self.keys_table, stream)

    def has_stream(self, stream: str) -> bool:
        row = self._conn.execute(
            sql.SQL("SELECT 1 FROM {} WHERE originator_id = %s::uuid LIMIT 1").format(self._events),
            (stream,),
        ).fetchone()
        return row is not None

    def erase_person_key(self, stream: str, reason: str, at: str) -> bool:
        """Delete a case stream's data key (``infra.person_keys.erase``), under the store's
        write lock, then rewrite the key table (``VACUUM FULL``), so that the deleted row's
        bytes are in no file of the table (a plain delete leaves them until the space is
        reused)."""
        conn = self._conn
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(self._sql_lock)
            done = person_keys.erase(
                cur, "%s", self.keys_table, self._key_state(), stream, reason, at
            )
        conn.execute(f"VACUUM FULL {self.keys_table}")
        return done

    def max_notification_id(self) -> int:
        row = self._conn.execute(
            sql.SQL("SELECT MAX(notification_id) FROM {}").format(self._events)
        ).fetchone()
        return int(row[0] or 0) if row else 0

    def count_events(self) -> int:
        row = self._conn.execute(sql.SQL("SELECT COUNT(*) FROM {}").format(self._ids)).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._conn.close()

    def reopen(self) -> PostgresEventStore:
        return PostgresEventStore(self._settings)


def _opened(state: bytes) -> bytes:
    """A stored state opened; an erased person's, ``ERASED_STATE`` (readers skip it)."""
    try:
        return unseal(state)
    except Erased:
        return ERASED_STATE


_UNESCAPE = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
_ESCAPED = re.compile(r"\\(.)")


def _copy_unescape(value: str) -> str:
    """Undo :func:`_copy_text` (COPY's text format escapes)."""
    return _ESCAPED.sub(lambda m: _UNESCAPE.get(m.group(1), m.group(1)), value)


def _copy_lines(rows: Iterable[tuple[str, int, str, bytes]]) -> Iterable[str]:
    # COPY text format; bytea in hex form, its backslash doubled for COPY's own escaping.
    for oid, version, topic, state in rows:
        yield f"{oid}\t{version}\t{_copy_text(topic)}\t\\\\x{state.hex()}\n"

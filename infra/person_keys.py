"""The key table: each person's data key, wrapped with the main key, beside the events.

Every event of a case stream is sealed with its person's data key (``infra.sealing``'s
``0x02`` format); this table, ``person_keys``, holds the keys, one row per case stream:

- ``originator_id``: the case stream's id (32 hex digits), the only thing that says whose;
- ``key_id``: the id a sealed event names its key by;
- ``wrapped_key``: the data key sealed with the main key; NULL once the person was erased
  (``cmm erase``): the key is gone, and with it every way to read the person's events;
- ``seq``: the order rows were written in (an erasure writes its row anew), so a process
  reads only what changed since it last looked; ``erased_at`` and ``reason``: the erasure,
  a time and a code, nothing more.

In the same database as the events, in a table of its own, so that a backup of the keys can
be handled apart from a backup of the events: an event backup restored without the keys
opens nothing of a person. Keys are made in the same transaction as the person's first
event, under the store's write lock, so an event is never stored without its key, and a
person gets one key however many writers meet them at once.

Both stores use these functions with their own DB-API cursor; ``ph`` is its placeholder
(``?`` for sqlite3, ``%s`` for psycopg) and ``table`` the table's (qualified) name.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from infra import sealing

TABLE = "person_keys"
ERASED_REASON = (
    "person_ref: the person's data was erased (cmm erase); events about an erased person "
    "are not stored"
)

CHECK_TABLE = "main_key_check"

SQLITE_DDL = (
    f"CREATE TABLE IF NOT EXISTS {CHECK_TABLE} (fingerprint BLOB NOT NULL)",
    # ``seq`` is the row id: rows are appended in the order they were written, so a reader
    # reads what changed since it last looked from the table's own B-tree, and a new key
    # costs one index insert (``originator_id``) besides it.
    f"CREATE TABLE IF NOT EXISTS {TABLE} (seq INTEGER PRIMARY KEY, "
    "originator_id TEXT NOT NULL UNIQUE, key_id BLOB NOT NULL, wrapped_key BLOB, "
    "erased_at TEXT, reason TEXT)",
)


def postgres_ddl(qualified: str, check: str) -> tuple[str, ...]:
    return (
        f"CREATE TABLE IF NOT EXISTS {check} (fingerprint bytea NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {qualified} (seq bigserial PRIMARY KEY, "
        "originator_id text NOT NULL UNIQUE, key_id bytea NOT NULL, wrapped_key bytea, "
        "erased_at text, reason text)",
    )


def read_changes(cur: Any, ph: str, table: str, store: sealing.StoreKeys) -> None:
    """Remember what changed in the key table since this process last read it."""
    cur.execute(
        f"SELECT originator_id, key_id, wrapped_key, seq FROM {table} WHERE seq > {ph} "
        "ORDER BY seq",
        (store.seen,),
    )
    seen = store.seen
    for oid, key_id, wrapped, seq in cur.fetchall():
        _remember(store, oid, key_id, wrapped)
        seen = max(seen, int(seq))
    store.seen = seen


def _remember(store: sealing.StoreKeys, oid: Any, key_id: Any, wrapped: Any) -> None:
    sealing.remember_person_key(
        store, str(oid), bytes(key_id), None if wrapped is None else bytes(wrapped)
    )


def _unknown(store: sealing.StoreKeys, streams: Iterable[str]) -> list[str]:
    return [s for s in streams if s not in store.by_stream and s not in store.erased_streams]


def keys_for(
    cur: Any, ph: str, table: str, store: sealing.StoreKeys, streams: Iterable[str]
) -> tuple[dict[str, bytes], list[str], set[str]]:
    """Make sure every case stream of ``streams`` has its data key (inside the writer's
    transaction, under its write lock): each stream's key id, the streams whose key was
    made here, and the streams that were erased (their events are not to be stored). The
    caller forgets the keys made here (:func:`forget`) if its transaction does not commit."""
    wanted = set(streams)
    missing = _unknown(store, wanted)
    if missing:
        # Every writer makes and erases keys under the write lock, which this one holds:
        # once it has read the changes, what it knows is the whole table.
        read_changes(cur, ph, table, store)
        missing = _unknown(store, missing)
    made: list[str] = []
    if missing:
        rows = []
        for stream in sorted(missing):
            key_id, dek, wrapped = sealing.new_person_key()
            sealing.remember_person_key(store, stream, key_id, wrapped, dek)
            rows.append((stream, key_id, wrapped))
            made.append(stream)
        cur.executemany(
            f"INSERT INTO {table} (originator_id, key_id, wrapped_key) VALUES ({ph}, {ph}, {ph})",
            rows,
        )
        # Read up to this transaction's own rows (it read every change before them).
        cur.execute(f"SELECT MAX(seq) FROM {table}")
        store.seen = int(cur.fetchone()[0])
    erased = wanted & store.erased_streams
    keys = {s: store.by_stream[s] for s in wanted - erased}
    return keys, made, erased


def forget(store: sealing.StoreKeys, streams: Iterable[str]) -> None:
    """Forget keys made in a transaction that did not commit: their rows are gone."""
    for stream in streams:
        sealing.forget_person_key(store, stream)


def erase(
    cur: Any, ph: str, table: str, store: sealing.StoreKeys, stream: str, reason: str, at: str
) -> bool:
    """Delete a case stream's data key (in the caller's transaction, under the write lock)
    and leave a row that says it was erased: False if it had no key left to delete. The
    row is deleted and a new one inserted, rather than updated, so that a database that
    zeroes what it deletes (SQLite's ``secure_delete``) leaves no copy of the key behind."""
    cur.execute(
        f"SELECT key_id FROM {table} WHERE originator_id = {ph} AND wrapped_key IS NOT NULL",
        (stream,),
    )
    row = cur.fetchone()
    if row is None:
        return False
    key_id = bytes(row[0])
    cur.execute(f"DELETE FROM {table} WHERE originator_id = {ph}", (stream,))
    # A new row, so a new ``seq``: every process sees the erasure among the changes.
    cur.execute(
        f"INSERT INTO {table} (originator_id, key_id, erased_at, reason) "
        f"VALUES ({ph}, {ph}, {ph}, {ph})",
        (stream, key_id, at, reason),
    )
    sealing.remember_person_key(store, stream, key_id, None)
    return True


def key_status(cur: Any, ph: str, table: str, stream: str) -> str | None:
    """``"live"``, ``"erased"``, or None: the key table holds no key for the stream."""
    try:
        cur.execute(
            f"SELECT wrapped_key IS NULL FROM {table} WHERE originator_id = {ph}", (stream,)
        )
    except Exception as error:
        if _no_table(error):
            return None
        raise
    row = cur.fetchone()
    if row is None:
        return None
    return "erased" if row[0] else "live"


REKEYED = (
    "the key does not open the stored events (check CMM_KEY_FILE or CMM_KEY): the store is "
    "sealed with another key (was it rotated with cmm key rotate?); nothing was written"
)


def check_writer(cur: Any, ph: str, check_table: str) -> None:
    """In a writer's transaction, under the write lock: :class:`infra.sealing.WrongKey`
    unless the installed key is the one the store is sealed with (the first writer records
    it). A writer started before a rotation, with the old key, is refused here."""
    cur.execute(f"SELECT fingerprint FROM {check_table}")
    row = cur.fetchone()
    mine = sealing.fingerprint()
    if row is None:
        cur.execute(f"INSERT INTO {check_table} VALUES ({ph})", (mine,))
    elif bytes(row[0]) != mine:
        raise sealing.WrongKey(REKEYED)


def check_key(cur: Any, table: str, check_table: str | None = None) -> None:
    """:class:`infra.sealing.WrongKey` unless the installed main key is the one the store
    recorded it is sealed with (``check_table``), and opens the key table's keys (one of
    them: they are all wrapped with the same key)."""
    if check_table is not None:
        try:
            cur.execute(f"SELECT fingerprint FROM {check_table}")
            row = cur.fetchone()
        except Exception as error:
            if not _no_table(error):
                raise
            row = None
        if row is not None and bytes(row[0]) != sealing.fingerprint():
            raise sealing.WrongKey(REKEYED)
    try:
        cur.execute(
            f"SELECT key_id, wrapped_key FROM {table} WHERE wrapped_key IS NOT NULL LIMIT 1"
        )
    except Exception as error:
        if _no_table(error):
            return
        raise
    row = cur.fetchone()
    if row is not None:
        sealing.unwrap_person_key(bytes(row[0]), bytes(row[1]))


class KeyTableReader:
    """How a process reads a store's key table when an event names a key it has not seen:
    a connection of its own (one per process: a forked worker opens its own), made by
    ``connect``."""

    def __init__(self, store: str, connect: Callable[[], Any], ph: str, table: str) -> None:
        self._store = store
        self._connect = connect
        self._ph = ph
        self._table = table
        self._conn: Any = None
        self._pid = 0
        self._lock = threading.Lock()  # a server's request threads share the reader

    def _cursor(self) -> Any:
        if self._conn is None or self._pid != os.getpid():
            self._conn = self._connect()
            self._pid = os.getpid()
        return self._conn.cursor()

    def __call__(self, key_id: bytes | None = None) -> None:
        # Every key is made and erased under the store's write lock, in order of ``seq``:
        # the changes since this process last read the table are all it can be missing.
        store = sealing.store_keys(self._store)
        try:
            with self._lock:
                read_changes(self._cursor(), self._ph, self._table, store)
        except Exception as error:
            if _no_table(error):
                return  # a store made before person keys: nothing to read
            self._conn = None  # connect again next time
            raise


def register_reader(store: str, connect: Callable[[], Any], ph: str, table: str) -> str:
    """Read ``store``'s key table through ``connect`` when needed (the reader registered
    first is kept, with its connection: the composition root and each store register the
    same store again); returns ``store``."""
    if not sealing.has_person_key_reader(store):
        sealing.set_person_key_reader(store, KeyTableReader(store, connect, ph, table))
    return store


def _no_table(error: Exception) -> bool:
    text = str(error)
    return "no such table" in text or "does not exist" in text


# -- rotation of the main key (``infra.rekey``) ---------------------------------------


def reseal_main(
    rows: list[tuple[Any, ...]], before: sealing.Sealer, after: sealing.Sealer
) -> list[tuple[Any, ...]]:
    """(new state, *key) of each (state, *key) sealed with the main key."""
    out: list[tuple[Any, ...]] = []
    for state, *key in rows:
        state = bytes(state)
        if state[:1] == sealing.VERSION:
            out.append((after.seal(before.unseal(state)), *key))
    return out


def rewrap(
    rows: list[tuple[Any, ...]], before: sealing.Sealer, after: sealing.Sealer
) -> list[tuple[Any, ...]]:
    """(wrapped with the new key, key id) of each (key id, wrapped with the old key)."""
    out: list[tuple[Any, ...]] = []
    for key_id, wrapped in rows:
        key_id, wrapped = bytes(key_id), bytes(wrapped)
        dek = sealing.unwrap_person_key(key_id, wrapped, before.key)
        out.append((sealing.wrap_person_key(key_id, dek, after.key), key_id))
    return out


def rekey_tables(
    cur: Any,
    ph: str,
    state_tables: Iterable[str],
    keys_table: str,
    check_table: str,
    view_tables: Iterable[str],
    tracking: tuple[str, str] | None,
    before: sealing.Sealer,
    after: sealing.Sealer,
) -> tuple[int, int]:
    """What a rotation does in the store's transaction, under its write lock, on either
    database (``ph`` its placeholder, every table name qualified and quoted as it needs):
    re-seal the main-key states of ``state_tables``, re-wrap the person keys, record the new
    key's fingerprint, empty the read model's ``view_tables`` and forget its position
    (``tracking``: the table, and the application name it tracks under). Returns (states
    sealed again, person keys wrapped again)."""
    events = 0
    for table in state_tables:
        cur.execute(
            f"SELECT state, originator_id, originator_version FROM {table} "
            f"WHERE substr(state, 1, 1) = {ph}",
            (sealing.VERSION,),
        )
        resealed = reseal_main(cur.fetchall(), before, after)
        cur.executemany(
            f"UPDATE {table} SET state = {ph} WHERE originator_id = {ph} "
            f"AND originator_version = {ph}",
            resealed,
        )
        events += len(resealed)
    cur.execute(f"SELECT key_id, wrapped_key FROM {keys_table} WHERE wrapped_key IS NOT NULL")
    keys = rewrap(cur.fetchall(), before, after)
    cur.executemany(f"UPDATE {keys_table} SET wrapped_key = {ph} WHERE key_id = {ph}", keys)
    cur.execute(f"DELETE FROM {check_table}")
    cur.execute(f"INSERT INTO {check_table} VALUES ({ph})", (sealing.fingerprint(after.key),))
    for table in view_tables:
        cur.execute(f"DELETE FROM {table}")
    if tracking is not None:
        cur.execute(f"DELETE FROM {tracking[0]} WHERE application_name = {ph}", (tracking[1],))
    return events, len(keys)

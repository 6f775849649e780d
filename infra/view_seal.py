"""The read model encrypted at rest: each row's personal values sealed in one column.

The read model is derived from the stored events and is as sensitive as they are, so no
read-model table holds a personal field or code in plain text. Each row keeps in plain only
what SQL filters, joins or orders on and is not itself about a person; everything else is
packed (compact JSON, which round-trips the rows' types exactly: text, integers, None) and
sealed with AES-256-GCM in a single ``sealed`` column, one call per row. The view
(``infra.view_base.SQLView``) seals on its one write path and opens on its read path, so
its port returns the same tuples as before and nothing above the view changes.

Columns per table (``projections.read_model_rows.TABLE_COLUMNS``):

- ``facts``, ``contacts``: plain ``tx_from, tx_to`` (the report's as-of filter) and
  ``person_ref`` (an update deletes a person's rows by it); sealed: everything else, the
  year and count of contacts included (a year says when a person was in contact).
- ``cases``: plain ``person_ref`` (the upsert's key, the case list's order and filter);
  sealed: every other column, from the first contact channel to the last recorded time.
- ``hotline``, ``outreach``: plain ``tx_from, tx_to`` and ``event_id`` (a correction
  rewrites a log event's rows by it); sealed: date, year, caller, reason, place, period,
  measure and value.
- ``log_events``: all plain: event ids and store positions, nothing about a person.

Why sealed columns rather than a wholly encrypted database file: the read model lives in
the store's own database (SQLite's file, PostgreSQL's tables beside ``ledger_events``),
updated in the same transactions as its tracking position; SQLite has no built-in
encryption and PostgreSQL's is the disk's. Sealing the values in the application works the
same on both, in every file the database writes (WAL, dumps, backups). The plain columns are
transaction times, pseudonymous references (``person_ref``, which the stored events also
show) and random event ids.

Sealed value: ``0x01``, a 12-byte random nonce, then AES-GCM (with its tag) of the JSON
array, with the table's name as associated data (a sealed value cannot be moved to another
table). The key is derived from the main key (``infra.sealing.derived_key``, HKDF info
``cmm read model``). Without an installed key (unit tests of the fast paths; ``cmm`` never
runs without one) the JSON is stored as it is, as ``infra.sealing.seal`` leaves states.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic_core import from_json, to_json

from infra import sealing
from projections.read_model_rows import BOOL_FACT_COLUMNS, TABLE_COLUMNS, Row

INFO = b"cmm read model"
SEALED_COLUMN = "sealed"
_VERSION = 1
_NONCE = 12

# How many leading columns of each table stay plain (the rest are sealed).
PLAIN_COLUMNS: dict[str, int] = {
    "facts": 3,  # tx_from, tx_to, person_ref
    "contacts": 3,  # tx_from, tx_to, person_ref
    "cases": 1,  # person_ref
    "log_events": 3,  # event_id, target_event_id, position: nothing sealed
    "hotline": 3,  # tx_from, tx_to, event_id
    "outreach": 3,  # tx_from, tx_to, event_id
}
assert PLAIN_COLUMNS.keys() == TABLE_COLUMNS.keys()

SEALED_TABLES = frozenset(t for t, n in PLAIN_COLUMNS.items() if n < len(TABLE_COLUMNS[t]))

# The columns each table has in the database: its plain ones, then ``sealed``.
STORED_COLUMNS: dict[str, tuple[str, ...]] = {
    table: columns[: PLAIN_COLUMNS[table]] + ((SEALED_COLUMN,) if table in SEALED_TABLES else ())
    for table, columns in TABLE_COLUMNS.items()
}

# Sealed text columns that rows give integers (booleans as 0/1): a text column of either
# database held them as text, so they are sealed as text, and read back as they were.
_AS_TEXT: dict[str, tuple[int, ...]] = {
    table: tuple(
        i - PLAIN_COLUMNS[table]
        for i, c in enumerate(TABLE_COLUMNS[table])
        if c in BOOL_FACT_COLUMNS and i >= PLAIN_COLUMNS[table]
    )
    for table in TABLE_COLUMNS
}
_AAD = {table: table.encode() for table in TABLE_COLUMNS}


class _Keyed:
    """The read model's AEAD for the installed main key (derived once per key)."""

    key: bytes | None = None
    aead: AESGCM | None = None


_keyed = _Keyed()


def _aead() -> AESGCM | None:
    key = sealing.derived_key(INFO)
    if key != _keyed.key:
        _keyed.key, _keyed.aead = key, None if key is None else AESGCM(key)
    return _keyed.aead


def seal_rows(table: str, rows: Sequence[Row]) -> list[Row]:
    """``rows`` as they are stored: the plain columns, then the rest sealed."""
    if table not in SEALED_TABLES or not rows:
        return list(rows)
    plain = PLAIN_COLUMNS[table]
    as_text = _AS_TEXT[table]
    aead = _aead()
    aad = _AAD[table]
    nonces = os.urandom(_NONCE * len(rows)) if aead is not None else b""
    stored: list[Row] = []
    for n, row in enumerate(rows):
        values: Any = row[plain:]
        if as_text:
            values = list(values)
            for i in as_text:
                if values[i] is not None:
                    values[i] = str(values[i])
        packed = to_json(values)
        if aead is not None:
            nonce = nonces[n * _NONCE : (n + 1) * _NONCE]
            packed = b"\x01" + nonce + aead.encrypt(nonce, packed, aad)
        stored.append((*row[:plain], packed))
    return stored


def open_rows(table: str, stored: Iterable[Sequence[Any]]) -> list[Row]:
    """Stored rows (``STORED_COLUMNS``) as the read model's rows (``TABLE_COLUMNS``)."""
    if table not in SEALED_TABLES:
        return [tuple(r) for r in stored]
    plain = PLAIN_COLUMNS[table]
    aead = _aead()
    aad = _AAD[table]
    rows: list[Row] = []
    for row in stored:
        sealed = row[plain]
        if isinstance(sealed, memoryview):
            sealed = bytes(sealed)
        if sealed[0] == _VERSION:
            if aead is None:
                raise sealing.MissingKey("the read model is encrypted and no key is installed")
            try:
                sealed = aead.decrypt(sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :], aad)
            except InvalidTag:
                raise sealing.WrongKey(
                    "the key does not open the read model (check CMM_KEY_FILE or CMM_KEY)"
                ) from None
        rows.append((*row[:plain], *from_json(sealed)))
    return rows

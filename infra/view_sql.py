"""The read model's SQL, the same on SQLite and PostgreSQL: its layout, the statements that
write it, and a cursor that writes ``?`` placeholders for both databases.

Tables (their rows are ``projections.read_model_rows.TABLE_COLUMNS``; their columns in the
database ``infra.view_seal.STORED_COLUMNS``: what SQL filters on in plain, every personal
value sealed in one column):
- ``log_events``: where in the store each projected hotline and outreach record and each
  correction of one is, so that a log event's corrections can be applied again whatever
  order they arrive in.
- ``cases``: the current state of every case, for case workers.
- ``facts``, ``contacts``, ``hotline``, ``outreach``: bitemporal rows valid in transaction
  time from ``tx_from`` until ``tx_to`` (NULL while valid). A report as of D reads the rows
  valid at D, so corrections recorded later never change it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pydantic_core import from_json

from infra.sealing import unseal
from infra.view_seal import SEALED_COLUMN, STORED_COLUMNS
from projections.read_model_rows import VIEW_TABLES

_INT_COLUMNS = frozenset(
    {
        "year",
        "age",
        "days_in_denmark",
        "reflection_days",
        "contacts",
        "value",
        "event_count",
        "position",
    }
)


def _type(column: str) -> str:
    # BYTEA: PostgreSQL's binary type; SQLite stores a blob as it is whatever the type name.
    if column == SEALED_COLUMN:
        return "BYTEA"
    return "BIGINT" if column in _INT_COLUMNS else "TEXT"


def _ddl(table: str, columns: Sequence[str]) -> str:
    cols = ", ".join(f"{c} {_type(c)}" for c in columns)
    return f"CREATE TABLE IF NOT EXISTS {table} ({cols})"


# The read model's layout. The tables are derived from the store: a view whose recorded
# version differs is dropped and built again from the store by the next catch-up (a version is
# bumped whenever a table changes shape). 6: personal values sealed (``infra.view_seal``).
VIEW_SCHEMA_VERSION = 6

# Indexes: a rebuild drops them and builds each once at the end (``rebuild_in``), several
# times cheaper than keeping them up to date through a million inserts (benchmark
# ``projection_rebuild_sqlite``, ``python -m bench.bench_ingest``).
INDEXES: dict[str, str] = {
    "log_events_id": "log_events (event_id)",
    "cases_person": "cases (person_ref)",
    "log_events_target": "log_events (target_event_id)",
    "facts_person": "facts (person_ref)",
    "facts_tx": "facts (tx_from, tx_to)",
    "contacts_person": "contacts (person_ref)",
    "hotline_event": "hotline (event_id)",
    "outreach_event": "outreach (event_id)",
}
# A case row per person, a log_events row per log record: the upserts' targets.
_UNIQUE_INDEXES = frozenset({"log_events_id", "cases_person"})
CREATE_INDEXES = tuple(
    f"CREATE {'UNIQUE ' if n in _UNIQUE_INDEXES else ''}INDEX IF NOT EXISTS {n} ON {on}"
    for n, on in INDEXES.items()
)
CASE_TABLES = frozenset({"facts", "contacts", "cases"})

TABLE_DDL: tuple[str, ...] = tuple(_ddl(t, columns) for t, columns in STORED_COLUMNS.items())
SCHEMA: tuple[str, ...] = (*TABLE_DDL, *CREATE_INDEXES)

CREATE_VIEW_SCHEMA = "CREATE TABLE IF NOT EXISTS view_schema (version BIGINT NOT NULL)"

# Plain inserts, for rows of persons and log records that have none yet (of stored rows:
# ``infra.view_seal.seal_rows``).
INSERT = {
    table: f"INSERT INTO {table} VALUES ({','.join('?' * len(columns))})"
    for table, columns in STORED_COLUMNS.items()
}
UPSERT_CASES = (
    INSERT["cases"]
    + " ON CONFLICT (person_ref) DO UPDATE SET "
    + ", ".join(f"{col} = excluded.{col}" for col in STORED_COLUMNS["cases"][1:])
)
INSERT_NEW_LOG_EVENTS = INSERT["log_events"] + " ON CONFLICT (event_id) DO NOTHING"

assert tuple(INSERT) == VIEW_TABLES

_IN_CHUNK = 500


def loads_state(state: bytes | str | memoryview) -> Any:
    """Stored state as JSON values, parsed by pydantic-core rather than the standard
    library's parser, which a rebuild runs on every stored event. Only keys go through its
    string cache: values are mostly unique (ids, timestamps), and caching them made parsing
    slower. Justified by the benchmark ``projection_rebuild_sqlite``
    (``python -m bench.bench_ingest``)."""
    if isinstance(state, str):
        state = state.encode()
    return from_json(unseal(state), cache_strings="keys")


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector. A rebuild allocates millions of small objects and
    frees them in batches it controls; the collector would scan them over and over for
    nothing (there are no cycles). Justified by the benchmark ``projection_rebuild_sqlite``
    (``python -m bench.bench_ingest``)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def hex_id(originator_id: Any) -> str:
    """A stream id (UUID, or text with or without dashes) as 32 hex digits."""
    return (
        originator_id.hex
        if hasattr(originator_id, "hex") and not isinstance(originator_id, str)
        else str(originator_id).replace("-", "")
    )


class Cursor:
    """A thin layer over a DB-API cursor that writes ``?`` placeholders for both databases."""

    def __init__(self, cursor: Any, placeholder: str) -> None:
        self._cursor = cursor
        self._ph = placeholder

    def _sql(self, sql: str) -> str:
        return sql if self._ph == "?" else sql.replace("?", self._ph)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        self._cursor.execute(self._sql(sql), params)
        try:
            return list(self._cursor.fetchall())
        except Exception:  # statements that return no rows
            return []

    def connection(self) -> Any:
        """The DB-API connection underneath."""
        return getattr(self._cursor, "sqlite_cursor", self._cursor).connection

    def iterate(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Any]:
        """Rows of a large query, fetched in slices rather than all at once."""
        # A cursor of its own: the caller writes through this one while iterating.
        raw = self.connection().cursor()
        raw.execute(self._sql(sql), params)
        while True:
            rows = raw.fetchmany(10_000)
            if not rows:
                return
            yield from rows

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._cursor.executemany(self._sql(sql), rows)

    def select_in(self, sql: str, keys: Sequence[Any]) -> list[Any]:
        """``sql`` with its ``IN ({0})`` lists (one or more) filled with ``keys``, in chunks."""
        result: list[Any] = []
        lists = max(1, sql.count("{0}"))
        for i in range(0, len(keys), _IN_CHUNK):
            chunk = list(keys[i : i + _IN_CHUNK])
            marks = ",".join("?" * len(chunk))
            result.extend(self.execute(sql.format(marks), chunk * lists))
        return result


def create_indexes(c: Cursor, tables: frozenset[str] | None = None) -> None:
    """The indexes (of ``tables`` only, if given) that do not exist yet."""
    for statement, on in zip(CREATE_INDEXES, INDEXES.values(), strict=True):
        if tables is None or on.split()[0] in tables:
            c.execute(statement)

"""Following the store and reading the read model: the catch-up runner, and the queries the
report, the case list and the privacy layer run.

eventsourcing's SQLite recorder cannot ``subscribe()``, so its ``ProjectionRunner`` cannot
follow a SQLite store. The catch-up runner reads the notification log from the position the
view has tracked, in chunks, and hands each chunk to the view, which applies it and moves the
position in one transaction: a crash between the store append and the projection update is
recovered by the next run, with nothing counted twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.utils import get_topic

from domain.case import Case
from infra.app import LedgerApplication
from infra.composition import open_store
from infra.settings import Settings
from infra.sqlite.database import ensure_database, file_lock
from infra.store import EventStore, StoredRow
from infra.views import CASE_COLUMNS, SQLiteLedgerView, loads_state
from projections.bitemporal import as_of_bound
from projections.case_rows import CONTACT_COLUMNS, FACT_COLUMNS
from projections.logs import HOTLINE_COLUMNS, OUTREACH_COLUMNS
from projections.projection import Changes, record_from_state

APPLICATION_NAME = LedgerApplication.name
CASE_TOPIC_PREFIX = get_topic(Case) + "."
CHUNK = 20_000


def open_view(settings: Settings) -> Any:
    """The view for the configured store (a tracking recorder with the read-model tables)."""
    if settings.store == "postgres":
        from infra.postgres_views import open_postgres_view

        return open_postgres_view(settings)
    ensure_database(settings.sqlite_path)
    factory = InfrastructureFactory.construct(
        env={  # type: ignore[arg-type]
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            # The read model shares the event store's file: the view re-reads a person's
            # stream in the same transaction that updates the person's rows.
            "SQLITE_DBNAME": str(settings.sqlite_path),
            "SQLITE_LOCK_TIMEOUT": "60",
        }
    )
    return factory.tracking_recorder(SQLiteLedgerView)


def changes_from_rows(rows: list[StoredRow]) -> Changes:
    """What a chunk of the notification log changes, decoded without eventsourcing's object
    mapping (log records only: case streams are re-read whole by the view)."""
    changes = Changes()
    for row in rows:
        if row.topic.startswith(CASE_TOPIC_PREFIX):
            changes.case_streams.add(row.originator_id)
        elif not row.topic.endswith(".Opened"):
            record = record_from_state(row.topic, loads_state(row.state))
            if record is not None:
                changes.log_records.append((row.notification_id, record))
    return changes


@dataclass(frozen=True)
class CatchUp:
    processed: int
    position: int


def catch_up(
    store: EventStore,
    view: Any,
    *,
    chunk: int = CHUNK,
    progress: Callable[[int, int], None] | None = None,
) -> CatchUp:
    """Project every notification after the view's tracked position, up to the log's end as
    it is now. ``progress(done, total)`` is called after each chunk."""
    start = view.max_tracking_id(APPLICATION_NAME) or 0
    stop = store.max_notification_id()
    if start == 0 and stop > chunk and hasattr(view, "rebuild"):
        # An empty view and a large log: one pass in stream order folds each person once.
        read, position = view.rebuild(progress)
        return CatchUp(processed=read, position=position)
    done = 0
    position = start
    for rows in store.iter_rows(start, stop, chunk):
        position = rows[-1].notification_id
        view.apply(changes_from_rows(rows), Tracking(APPLICATION_NAME, position))
        done += len(rows)
        if progress:
            progress(done, stop - start)
    return CatchUp(processed=done, position=position)


@dataclass(frozen=True)
class ReportInputs:
    facts: pd.DataFrame
    hotline: pd.DataFrame
    outreach: pd.DataFrame
    contacts: pd.DataFrame


def _valid_at(view: Any, table: str, columns: tuple[str, ...], bound: str) -> pd.DataFrame:
    rows = view.query(
        f"SELECT {', '.join(columns)} FROM {table} "
        "WHERE tx_from <= ? AND (tx_to IS NULL OR tx_to > ?)",
        (bound, bound),
    )
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(columns))
    for column in ("legal_residence", "eu_citizen"):
        if column in frame:
            frame[column] = frame[column].astype(int).astype(bool)
    return frame


def read_inputs(view: Any, as_of: str) -> ReportInputs:
    """The rows valid at ``as_of`` (a date means the end of that day, UTC)."""
    bound = as_of_bound(as_of)
    assert bound is not None
    return ReportInputs(
        facts=_valid_at(view, "facts", FACT_COLUMNS, bound),
        hotline=_valid_at(view, "hotline", HOTLINE_COLUMNS, bound),
        outreach=_valid_at(view, "outreach", OUTREACH_COLUMNS, bound),
        contacts=_valid_at(view, "contacts", CONTACT_COLUMNS, bound),
    )


@contextmanager
def updating(settings: Settings) -> Iterator[None]:
    """Hold the read model's update lock: at most one process at a time opens the read model
    and brings it up to date; the others wait, then find little or nothing left to do.

    Without it, two readers that both found the view behind wrote it at once: on SQLite the
    second got "database is locked" (a deferred transaction cannot wait for the write lock
    once it has read), on PostgreSQL the second failed to record its tracking position. An
    exclusive lock on a file beside the events (SQLite) or a session advisory lock
    (PostgreSQL, ``VIEW_LOCK_KEY``, which the ProjectionRunner's view also takes for each
    of its updates) serialises them. Reading the rows afterwards needs no lock."""
    if settings.store == "postgres":
        from infra.postgres.tables import VIEW_LOCK_KEY, ddl_lock

        assert settings.postgres_dsn is not None
        with ddl_lock(settings.postgres_dsn, VIEW_LOCK_KEY):
            yield
        return
    with file_lock(Path(f"{settings.sqlite_path}.view.lock")):
        yield


def up_to_date_view(
    settings: Settings, store: EventStore, progress: Callable[[int, int], None] | None = None
) -> Any:
    """The read model, opened and brought up to date under :func:`updating`."""
    with updating(settings):
        view = open_view(settings)
        try:
            catch_up(store, view, progress=progress)
        except BaseException:
            view.close()
            raise
    return view


def load_report_inputs(
    settings: Settings, as_of: str, progress: Callable[[int, int], None] | None = None
) -> ReportInputs:
    """Bring the projections up to date with the store, then read the rows valid at as_of."""
    store = open_store(settings)
    try:
        view = up_to_date_view(settings, store, progress)
    finally:
        store.close()
    try:
        return read_inputs(view, as_of)
    finally:
        view.close()


def case_rows(view: Any, person_ref: str | None = None) -> list[dict[str, Any]]:
    sql = f"SELECT {', '.join(CASE_COLUMNS)} FROM cases"
    params: tuple[Any, ...] = ()
    if person_ref is not None:
        sql += " WHERE person_ref = ?"
        params = (person_ref,)
    return [
        dict(zip(CASE_COLUMNS, tuple(r), strict=True))
        for r in view.query(sql + " ORDER BY person_ref", params)
    ]

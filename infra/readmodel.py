"""Following the store and reading the read model, through the view port
(``infra.view.LedgerView``) whatever its adapter: the catch-up runner, and the queries the
report, the case list and the privacy layer run.

eventsourcing's SQLite recorder cannot ``subscribe()``, so its ``ProjectionRunner`` cannot
follow a SQLite store. The catch-up runner reads the notification log from the position the
view has tracked, in chunks, and hands each chunk to the view, which applies it and moves the
position in one transaction: a crash between the store append and the projection update is
recovered by the next run, with nothing counted twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import Tracking
from eventsourcing.utils import resolve_topic

from infra.composition import open_store, open_view, updating
from infra.settings import Settings
from infra.store import EventStore, StoredRow
from infra.view import APPLICATION_NAME, LedgerView
from infra.view_sql import loads_state
from projections.bitemporal import as_of_bound
from projections.projection import Changes, projected_as, record_from_state
from projections.read_model_rows import CASE_COLUMNS, TABLE_COLUMNS

if TYPE_CHECKING:
    # Imported where the report's frames are built: a rebuild (cmm project) needs none, and
    # pandas was most of its start-up.
    import pandas as pd

CHUNK = 20_000


@cache
def _projected_as(topic: str) -> str | None:
    return projected_as(resolve_topic(topic))


def changes_from_rows(rows: list[StoredRow]) -> Changes:
    """What a chunk of the notification log changes: the changes ``LedgerProjection``'s
    handlers make of the same events (its dispatch decides, by event class), decoded without
    eventsourcing's object mapping."""
    changes = Changes()
    for row in rows:
        kind = _projected_as(row.topic)
        if kind == "case":
            changes.case_streams.add(row.originator_id)
        elif kind == "log":
            record = record_from_state(row.topic, loads_state(row.state))
            assert record is not None
            changes.log_records.append((row.notification_id, record))
    return changes


@dataclass(frozen=True)
class CatchUp:
    processed: int
    position: int


def catch_up(
    store: EventStore,
    view: LedgerView,
    *,
    chunk: int = CHUNK,
    progress: Callable[[int, int], None] | None = None,
) -> CatchUp:
    """Project every notification after the view's tracked position, up to the log's end as
    it is now. ``progress(done, total)`` is called after each chunk."""
    start = view.max_tracking_id(APPLICATION_NAME) or 0
    stop = store.max_notification_id()
    if start == 0 and stop > chunk:
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


def _valid_at(view: LedgerView, table: str, bound: str) -> pd.DataFrame:
    import pandas as pd

    columns = TABLE_COLUMNS[table][2:]
    rows = view.valid_at(table, bound)
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(columns))
    for column in ("legal_residence", "eu_citizen"):
        if column in frame:
            frame[column] = frame[column].astype(int).astype(bool)
    return frame


def read_inputs(view: LedgerView, as_of: str) -> ReportInputs:
    """The rows valid at ``as_of`` (a date means the end of that day, UTC)."""
    bound = as_of_bound(as_of)
    assert bound is not None
    return ReportInputs(
        facts=_valid_at(view, "facts", bound),
        hotline=_valid_at(view, "hotline", bound),
        outreach=_valid_at(view, "outreach", bound),
        contacts=_valid_at(view, "contacts", bound),
    )


def up_to_date_view(
    settings: Settings, store: EventStore, progress: Callable[[int, int], None] | None = None
) -> LedgerView:
    """The read model, opened and brought up to date under ``infra.composition.updating``."""
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


def case_rows(view: LedgerView, person_ref: str | None = None) -> list[dict[str, Any]]:
    return [dict(zip(CASE_COLUMNS, r, strict=True)) for r in view.cases(person_ref)]

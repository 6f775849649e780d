"""The read model in memory: the view port (``infra.view.LedgerView``) in plain Python, for
tests and as a reference for the SQL views.

It holds the same rows as the SQL views (``projections.read_model_rows``) and reads case
streams from the store it is given, as they read them from their database. Each write builds
the new tables beside the old and swaps them in with the position, so a failure leaves
neither; a position not past the tracked one is refused, as by eventsourcing's tracking
recorders.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.utils import get_topic

from domain.case import Case
from infra.store import ERASED_STATE, EventStore, StoredRow
from infra.view import APPLICATION_NAME, LedgerView, Progress
from projections.projection import Changes, Record, record_from_state
from projections.read_model_rows import (
    TABLE_COLUMNS,
    VIEW_TABLES,
    LogRecord,
    Row,
    case_rows_for,
    hotline_outreach_rows,
    log_event_rows,
    log_targets,
    log_view_rows,
)

_CASE_TOPIC_PREFIX = get_topic(Case) + "."
_TX_TO = 1  # a bitemporal row's tx_to


class MemoryLedgerView:
    """The read model as lists of rows, one per table, following ``store``."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._tables: dict[str, list[Row]] = {table: [] for table in VIEW_TABLES}
        self._log_records: dict[int, Record] = {}  # every log record projected, by position
        self._position: int | None = None

    # -- writes ----------------------------------------------------------------------------

    def max_tracking_id(self, application_name: str) -> int | None:
        return self._position if application_name == APPLICATION_NAME else None

    def apply(self, changes: Changes, tracking: Tracking) -> None:
        with self._lock:
            if self._position is not None and tracking.notification_id <= self._position:
                raise IntegrityError(
                    f"Failed to record tracking for {tracking.application_name} "
                    f"{tracking.notification_id}"
                )
            tables = {table: list(rows) for table, rows in self._tables.items()}
            log_records = dict(self._log_records)
            if changes.case_streams:
                self._replace_cases(tables, changes.case_streams, tracking.notification_id)
            if changes.log_records:
                self._apply_logs(tables, log_records, changes.log_records)
            self._tables, self._log_records = tables, log_records
            self._position = tracking.notification_id

    def insert_tracking(self, tracking: Tracking) -> None:
        self.apply(Changes(), tracking)

    def rebuild(
        self, progress: Progress | None = None, workers: int | None = None
    ) -> tuple[int, int]:
        """All rows from the whole store (``workers`` is ignored: there is one process)."""
        with self._lock:
            rows = [row for chunk in self._store.iter_rows() for row in chunk]
            position = rows[-1].notification_id if rows else 0
            tables: dict[str, list[Row]] = {table: [] for table in VIEW_TABLES}
            for case_rows in _case_rows(rows).values():
                tables["facts"].extend(case_rows[0])
                tables["contacts"].extend(case_rows[1])
                tables["cases"].append(case_rows[2])
            records = _log_records(rows)
            for table, table_rows in zip(VIEW_TABLES[3:], log_view_rows(records), strict=True):
                tables[table] = table_rows
            self._tables, self._log_records = tables, dict(records)
            self._position = position
        if progress:
            progress(len(rows), position)
        return len(rows), position

    def _replace_cases(
        self, tables: dict[str, list[Row]], streams: set[str], position: int
    ) -> None:
        wanted = {stream.replace("-", "") for stream in streams}
        rows = [
            row
            for chunk in self._store.iter_rows(0, position)
            for row in chunk
            if row.originator_id.replace("-", "") in wanted
        ]
        by_person = _case_rows(rows)
        for table in ("facts", "contacts", "cases"):
            tables[table] = [row for row in tables[table] if row[_person(table)] not in by_person]
        for facts, contacts, case in by_person.values():
            tables["facts"].extend(facts)
            tables["contacts"].extend(contacts)
            tables["cases"].append(case)

    @staticmethod
    def _apply_logs(
        tables: dict[str, list[Row]], log_records: dict[int, Record], new: list[LogRecord]
    ) -> None:
        """As the SQL views: store new records, rewrite the rows of the log events touched."""
        known = {row[0] for row in tables["log_events"]}
        for row, (position, record) in zip(log_event_rows(new), new, strict=True):
            if row[0] not in known:
                known.add(row[0])
                tables["log_events"].append(row)
                log_records[position] = record
        targets = set(log_targets(new))
        positions = {row[2] for row in tables["log_events"] if {row[0], row[1]} & targets}
        records = [log_records[p] for p in sorted(positions)]
        event_id = TABLE_COLUMNS["hotline"].index("event_id")
        assert event_id == TABLE_COLUMNS["outreach"].index("event_id")
        hotline, outreach = hotline_outreach_rows(records)
        for table, added in (("hotline", hotline), ("outreach", outreach)):
            kept = [row for row in tables[table] if row[event_id] not in targets]
            tables[table] = kept + added

    # -- reads -----------------------------------------------------------------------------

    def valid_at(self, table: str, bound: str) -> list[tuple[Any, ...]]:
        return [
            row[2:]
            for row in self._tables[table]
            if row[0] <= bound and (row[_TX_TO] is None or row[_TX_TO] > bound)
        ]

    def cases(self, person_ref: str | None = None) -> list[tuple[Any, ...]]:
        rows = self._tables["cases"]
        if person_ref is not None:
            rows = [row for row in rows if row[0] == person_ref]
        return sorted(rows, key=lambda row: str(row[0]))

    def forget_persons(self, person_refs: Sequence[str]) -> int:
        forgotten = set(person_refs)
        deleted = 0
        with self._lock:
            tables = dict(self._tables)
            for table in ("facts", "contacts", "cases"):
                at = _person(table)
                kept = [row for row in tables[table] if row[at] not in forgotten]
                deleted += len(tables[table]) - len(kept)
                tables[table] = kept
            self._tables = tables
        return deleted

    def rows(self, table: str) -> list[tuple[Any, ...]]:
        if table not in TABLE_COLUMNS:
            raise ValueError(f"not a read-model table: {table!r}")
        return list(self._tables[table])

    def close(self) -> None:
        pass


def _person(table: str) -> int:
    return TABLE_COLUMNS[table].index("person_ref")


def _case_rows(rows: Sequence[StoredRow]) -> dict[str, Any]:
    """The rows of every case stream among ``rows`` (whole streams, in the store's order),
    by person."""
    opened: dict[str, str] = {}
    records: dict[str, list[Record]] = {}
    for row in rows:
        if not row.topic.startswith(_CASE_TOPIC_PREFIX) or row.state == ERASED_STATE:
            continue  # a log's, or an erased person's (their other events are skipped too)
        state = json.loads(row.state)
        record = record_from_state(row.topic, state)
        if record is None:
            opened[row.originator_id] = state["person_ref"]
        else:
            records.setdefault(row.originator_id, []).append(record)
    return {
        person_ref: case_rows_for(person_ref, records.get(oid, []))
        for oid, person_ref in opened.items()
    }


def _log_records(rows: Iterable[StoredRow]) -> list[LogRecord]:
    return [
        (row.notification_id, record)
        for row in rows
        if not row.topic.startswith(_CASE_TOPIC_PREFIX)
        and (record := record_from_state(row.topic, json.loads(row.state))) is not None
    ]


if TYPE_CHECKING:  # the type checker holds it to the port
    _PORT: type[LedgerView] = MemoryLedgerView

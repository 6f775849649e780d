"""The view port's contract (``infra.view.LedgerView``), one abstract test case run on every
adapter, as eventsourcing's ``ApplicationRecorderTestCase`` runs on each recorder: the same
events in give the same rows and the same tracking position out, whichever way they come in
(the catch-up runner's chunks, a rebuild, eventsourcing's projection dispatch); applying
changes again changes no row; and rows and position are committed together, or neither.

The expected rows are the projection's own functions (``projections.read_model_rows``)
applied to the stored events, grouped by stream here.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking

from domain.case import Case
from infra.app import LedgerApplication
from infra.composition import open_store, open_view
from infra.files.ingest import ingest_file
from infra.memory.view import MemoryLedgerView
from infra.readmodel import changes_from_rows
from infra.settings import Settings
from infra.store import EventStore, StoredRow
from infra.view import APPLICATION_NAME, LedgerView
from projections.projection import Changes, LedgerProjection, Record, record_from_state
from projections.read_model_rows import VIEW_TABLES, case_rows_for, log_view_rows
from simulation.simulate import write_jsonl
from tests.integration.conftest import sample_events

CHUNK = 97  # small chunks: a person's events fall in several


def _events() -> list[dict[str, Any]]:
    """Some persons' events and some log events of a simulated year, with every correction
    and what it corrects."""
    events = sample_events(seed=5)
    corrections = [e for e in events if e["type"] == "CorrectionRecorded"]
    persons = sorted({e["person_ref"] for e in events if e.get("person_ref")})[:60]
    persons += [e["person_ref"] for e in corrections if e.get("person_ref")]
    logs = [e["event_id"] for e in events if not e.get("person_ref")][:60]
    chosen = {e["payload"]["target_event_id"] for e in corrections}.union(
        logs, (e["event_id"] for e in corrections)
    )
    return [e for e in events if e.get("person_ref") in persons or e["event_id"] in chosen]


Rows = dict[str, list[tuple[str | None, ...]]]


def _normalised(rows: list[tuple[Any, ...]]) -> list[tuple[str | None, ...]]:
    """Rows with their values as text (booleans are 0/1 and text columns hold them as text
    on SQLite), in a fixed order."""
    text = [tuple(None if v is None else str(v) for v in row) for row in rows]
    return sorted(text, key=lambda row: tuple("" if v is None else v for v in row))


def view_rows(view: LedgerView) -> Rows:
    return {table: _normalised(view.rows(table)) for table in VIEW_TABLES}


def expected_rows(rows: list[StoredRow]) -> Rows:
    """The rows of the read model of ``rows`` (the whole store), from the projection's
    row functions."""
    case_topic = f"{Case.__module__}:{Case.__qualname__}."
    persons: dict[str, str] = {}
    records: dict[str, list[Record]] = {}
    logs: list[tuple[int, Record]] = []
    for row in rows:
        state = json.loads(row.state)
        record = record_from_state(row.topic, state)
        if row.topic.startswith(case_topic):
            if record is None:
                persons[row.originator_id] = state["person_ref"]
            else:
                records.setdefault(row.originator_id, []).append(record)
        elif record is not None:
            logs.append((row.notification_id, record))
    tables: dict[str, list[tuple[Any, ...]]] = {table: [] for table in VIEW_TABLES}
    for oid, person_ref in persons.items():
        facts, contacts, case = case_rows_for(person_ref, records.get(oid, []))
        tables["facts"] += facts
        tables["contacts"] += contacts
        tables["cases"].append(case)
    for table, table_rows in zip(VIEW_TABLES[3:], log_view_rows(logs), strict=True):
        tables[table] = table_rows
    return {table: _normalised(table_rows) for table, table_rows in tables.items()}


class ViewContract(ABC):
    """Subclass per adapter with ``create_store`` and ``create_view``."""

    store: EventStore
    stored: list[StoredRow]

    @abstractmethod
    def create_store(self, tmp_path: Path, request: pytest.FixtureRequest) -> EventStore: ...

    @abstractmethod
    def create_view(self) -> LedgerView:
        """A new view (its tables created, empty) of ``self.store``."""

    @pytest.fixture(autouse=True)
    def _store(self, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[None]:
        self.store = self.create_store(tmp_path, request)
        source = tmp_path / "events.jsonl"
        write_jsonl(_events(), source)
        assert ingest_file(source, self.store, workers=0).ok
        self.stored = [row for chunk in self.store.iter_rows() for row in chunk]
        self.views: list[LedgerView] = []
        yield
        for view in self.views:
            view.close()
        self.store.close()

    def view(self) -> LedgerView:
        view = self.create_view()
        self.views.append(view)
        return view

    def apply_chunks(self, view: LedgerView, rows: list[StoredRow]) -> None:
        for i in range(0, len(rows), CHUNK):
            chunk = rows[i : i + CHUNK]
            view.apply(
                changes_from_rows(chunk), Tracking(APPLICATION_NAME, chunk[-1].notification_id)
            )

    @property
    def last(self) -> int:
        return self.stored[-1].notification_id

    def test_a_new_view_is_empty_and_has_no_position(self) -> None:
        view = self.view()
        assert view.max_tracking_id(APPLICATION_NAME) is None
        assert all(rows == [] for rows in view_rows(view).values())

    def test_chunks_applied_give_the_rows_of_the_events_and_their_position(self) -> None:
        view = self.view()
        self.apply_chunks(view, self.stored)
        assert view_rows(view) == expected_rows(self.stored)
        assert view.max_tracking_id(APPLICATION_NAME) == self.last

    @pytest.mark.parametrize("workers", [0, 2])
    def test_a_rebuild_gives_the_same_rows_and_position(self, workers: int) -> None:
        view = self.view()
        self.apply_chunks(view, self.stored[: len(self.stored) // 2])
        assert view.rebuild(workers=workers) == (len(self.stored), self.last)
        assert view_rows(view) == expected_rows(self.stored)
        assert view.max_tracking_id(APPLICATION_NAME) == self.last

    def test_the_projections_dispatch_gives_the_same_rows_and_position(self) -> None:
        """The path of eventsourcing's ProjectionRunner: an event at a time, through
        ``LedgerProjection``'s handlers."""
        view = self.view()
        mapper = LedgerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}).mapper
        projection = LedgerProjection(view=view)
        for row in self.stored:
            stored = StoredEvent(
                UUID(row.originator_id), row.originator_version, row.topic, row.state
            )
            projection.process_event(
                mapper.to_domain_event(stored), Tracking(APPLICATION_NAME, row.notification_id)
            )
        assert view_rows(view) == expected_rows(self.stored)
        assert view.max_tracking_id(APPLICATION_NAME) == self.last

    def test_changes_applied_again_change_no_row(self) -> None:
        view = self.view()
        self.apply_chunks(view, self.stored[:-1])
        # Everything again, with the last event, as a catch-up after a crash would.
        view.apply(changes_from_rows(self.stored), Tracking(APPLICATION_NAME, self.last))
        assert view_rows(view) == expected_rows(self.stored)
        assert view.max_tracking_id(APPLICATION_NAME) == self.last

    def test_a_position_not_past_the_tracked_one_is_refused_and_changes_nothing(self) -> None:
        view = self.view()
        half = len(self.stored) // 2
        self.apply_chunks(view, self.stored[:half])
        before = view_rows(view)
        tracked = self.stored[half - 1].notification_id
        for position in (tracked, tracked - 1):
            with pytest.raises(IntegrityError):
                view.apply(
                    changes_from_rows(self.stored[half:]), Tracking(APPLICATION_NAME, position)
                )
            with pytest.raises(IntegrityError):
                view.insert_tracking(Tracking(APPLICATION_NAME, position))
        assert view_rows(view) == before
        assert view.max_tracking_id(APPLICATION_NAME) == tracked

    def test_a_failure_mid_write_leaves_neither_rows_nor_position(self) -> None:
        view = self.view()
        half = len(self.stored) // 2
        self.apply_chunks(view, self.stored[:half])
        before = view_rows(view)
        rest = changes_from_rows(self.stored[half:])
        assert rest.case_streams and rest.log_records
        # The cases are written first, then the log records, of which the last is broken.
        broken: Record = {"event_id": "broken", "type": "HotlineCallReceived"}
        failing = Changes(rest.case_streams, [*rest.log_records, (self.last, broken)])
        with pytest.raises(KeyError):
            view.apply(failing, Tracking(APPLICATION_NAME, self.last))
        assert view_rows(view) == before
        assert view.max_tracking_id(APPLICATION_NAME) == self.stored[half - 1].notification_id
        # And the same changes, whole, go in afterwards.
        view.apply(rest, Tracking(APPLICATION_NAME, self.last))
        assert view_rows(view) == expected_rows(self.stored)

    def test_tracking_alone_moves_the_position_and_no_row(self) -> None:
        view = self.view()
        view.insert_tracking(Tracking(APPLICATION_NAME, 3))
        assert view.max_tracking_id(APPLICATION_NAME) == 3
        assert all(rows == [] for rows in view_rows(view).values())


class TestSQLiteView(ViewContract):
    def create_store(self, tmp_path: Path, request: pytest.FixtureRequest) -> EventStore:
        self.settings = Settings(data_dir=tmp_path / "data", store="sqlite")
        return open_store(self.settings)

    def create_view(self) -> LedgerView:
        return open_view(self.settings)


class TestPostgresView(ViewContract):
    def create_store(self, tmp_path: Path, request: pytest.FixtureRequest) -> EventStore:
        dsn = request.getfixturevalue("pg_dsn")
        self.settings = Settings(data_dir=tmp_path / "data", store="postgres", postgres_dsn=dsn)
        return open_store(self.settings)

    def create_view(self) -> LedgerView:
        return open_view(self.settings)


class TestMemoryView(ViewContract):
    def create_store(self, tmp_path: Path, request: pytest.FixtureRequest) -> EventStore:
        return open_store(Settings(data_dir=tmp_path / "data", store="sqlite"))

    def create_view(self) -> LedgerView:
        return MemoryLedgerView(self.store)

"""The EventStore port's behaviour, one abstract test case run against each adapter (as
eventsourcing's ``ApplicationRecorderTestCase`` is): SQLite and PostgreSQL.

What every adapter must do: store an event id once however often it is appended; commit the
tracking positions in the same transaction as the events (all or nothing) and only move them
forward; give the notification log in order with each stream's versions contiguous; write
exactly the bytes eventsourcing's own ``Application`` writes for the same events; and keep all
that with two writers at once.
"""

from __future__ import annotations

import copy
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.events import to_record, validate_event
from infra.composition import ledger_application
from infra.encoding import Encoded, encode_record
from infra.postgres.store import PostgresEventStore
from infra.settings import Settings
from infra.sqlite.store import SQLiteEventStore
from infra.store import EventStore, StoredRow
from tests.integration.conftest import sample_events

pytestmark = pytest.mark.integration


def encoded_events(count: int | None = None, seed: int = 7) -> list[Encoded]:
    return [encode_record(to_record(validate_event(e))) for e in sample_events(seed, count)]


def all_rows(store: EventStore) -> list[StoredRow]:
    return [row for chunk in store.iter_rows(chunk=1_000) for row in chunk]


def by_stream(rows: list[StoredRow]) -> dict[str, list[tuple[int, str, bytes]]]:
    streams: dict[str, list[tuple[int, str, bytes]]] = {}
    for row in rows:
        streams.setdefault(row.originator_id, []).append(
            (row.originator_version, row.topic, row.state)
        )
    return streams


class EventStoreContract(ABC):
    """The store port's behaviour, one subclass per adapter (as eventsourcing's
    ``ApplicationRecorderTestCase``). A subclass defines a ``settings`` fixture (a fresh,
    empty store) and ``open_store``."""

    @abstractmethod
    def open_store(self, settings: Settings) -> EventStore: ...

    @pytest.fixture
    def store(self, settings: Settings) -> Iterator[EventStore]:
        store = self.open_store(settings)
        yield store
        store.close()

    def test_an_event_id_is_stored_once(self, store: EventStore) -> None:
        events = encoded_events(300)
        first = store.append(events[:200])
        again = store.append(events[100:300])
        assert (first.appended, first.duplicates) == (200, 0)
        assert (again.appended, again.duplicates) == (100, 100)
        assert store.append(events).appended == 0
        rows = all_rows(store)
        stream_count = len({e.originator_id for e in events})
        assert len(rows) == len(events) + stream_count  # each stream opens once

    def test_duplicates_within_one_batch_are_stored_once(self, store: EventStore) -> None:
        events = encoded_events(50)
        result = store.append(events + events[:10])
        assert (result.appended, result.duplicates) == (50, 10)

    def test_positions_move_forward_only(self, store: EventStore) -> None:
        events = encoded_events(20)
        store.append(events[:10], {"kafka:t:0": 10, "kafka:t:1": 3})
        assert store.position("kafka:t:0") == 10
        store.append(events[10:], {"kafka:t:0": 7, "kafka:t:1": 5})
        assert store.position("kafka:t:0") == 10  # a late writer cannot move it back
        assert store.position("kafka:t:1") == 5
        store.append([], {"kafka:t:2": 1})  # positions alone, e.g. a batch of rejects
        assert store.position("kafka:t:2") == 1
        assert store.position("kafka:t:9") is None

    def test_events_and_positions_commit_together(
        self, store: EventStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        events = encoded_events(100)
        module = type(store).__module__

        def fail(*args: Any) -> Any:
            raise RuntimeError("crash between the id check and the insert")

        monkeypatch.setattr(f"{module}.plan_rows", fail)
        with pytest.raises(RuntimeError):
            store.append(events, {"kafka:t:0": 100})
        monkeypatch.undo()
        assert store.position("kafka:t:0") is None
        assert store.max_notification_id() == 0
        # Nothing of the failed batch was kept, not even its ids: all of it lands now.
        assert store.append(events, {"kafka:t:0": 100}).appended == 100
        assert store.position("kafka:t:0") == 100

    def test_notification_log_is_in_order_and_streams_contiguous(self, store: EventStore) -> None:
        events = encoded_events()
        for i in range(0, len(events), 700):
            store.append(events[i : i + 700])
        rows = all_rows(store)
        ids = [r.notification_id for r in rows]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        assert store.max_notification_id() == ids[-1]
        assert [r.notification_id for r in store.read(ids[9], 5)] == ids[10:15]
        expected: dict[str, list[bytes]] = {}
        for e in events:
            expected.setdefault(e.originator_id, []).append(e.state)
        for oid, stream in by_stream(rows).items():
            assert [v for v, _, _ in stream] == list(range(1, len(stream) + 1))
            assert stream[0][1].endswith(".Opened")
            # Arrival order within a stream is kept across batches.
            assert [s for _, _, s in stream[1:]] == expected[oid]

    def test_bytes_equal_the_application_path(
        self, settings: Settings, make_settings: Callable[[], Settings]
    ) -> None:
        records = sample_events(7, 1_500)
        store = self.open_store(settings)
        try:
            store.append([encode_record(to_record(validate_event(r))) for r in records])
            ours = by_stream(all_rows(store))
        finally:
            store.close()
        reference_settings = make_settings()
        app = ledger_application(reference_settings)
        try:
            for record in records:
                app.record(validate_event(record))
        finally:
            app.close()
        reference = self.open_store(reference_settings)
        try:
            theirs = by_stream(all_rows(reference))
        finally:
            reference.close()
        assert ours == theirs

    def test_the_same_id_with_other_content_is_a_conflict_and_keeps_the_stored_event(
        self, store: EventStore
    ) -> None:
        records = sample_events(7, 400)
        index = next(i for i, r in enumerate(records) if "age" in r["payload"])
        events = [encode_record(to_record(validate_event(r))) for r in records]
        store.append(events)
        before = all_rows(store)
        changed = copy.deepcopy(records[index])
        changed["payload"]["age"] = 16 if changed["payload"]["age"] != 16 else 17
        result = store.append(
            # The changed event, then the stored one again in the same batch: the stored one is
            # the reference, so only the changed one conflicts.
            [events[0], encode_record(to_record(validate_event(changed))), events[index]],
            {"kafka:t:0": 3},
        )
        assert (result.appended, result.duplicates) == (0, 2)
        assert [c.index for c in result.conflicts] == [1]
        reason = result.conflicts[0].reason
        assert reason.startswith("event_id: conflict") and "payload.age differs" in reason
        assert str(changed["payload"]["age"]) not in reason.replace("event_id", "")
        assert all_rows(store) == before  # the stored event is kept, nothing added
        assert store.position("kafka:t:0") == 3
        # Another person's reference under the same id: a conflict, not a new stream.
        moved = copy.deepcopy(records[index])
        moved["person_ref"] = "NGO-" + "e" * 16
        assert len(store.append([encode_record(to_record(validate_event(moved)))]).conflicts) == 1
        # The same event again, byte for byte or in another key order: silent.
        reordered = dict(reversed(list(records[index].items())))
        again = store.append([events[index], encode_record(to_record(validate_event(reordered)))])
        assert (again.appended, again.duplicates, again.conflicts) == (0, 2, ())
        assert all_rows(store) == before

    def test_a_conflict_within_one_batch_stores_the_first(self, store: EventStore) -> None:
        records = sample_events(7, 50)
        index = next(i for i, r in enumerate(records) if "age" in r["payload"])
        changed = copy.deepcopy(records[index])
        changed["payload"]["age"] = 16 if changed["payload"]["age"] != 16 else 17
        events = [encode_record(to_record(validate_event(r))) for r in [*records, changed]]
        result = store.append(events)
        assert (result.appended, result.duplicates) == (50, 0)
        assert [c.index for c in result.conflicts] == [50]
        assert "payload.age differs" in result.conflicts[0].reason
        stored = [r.state for r in all_rows(store)]
        assert events[index].state in stored and events[50].state not in stored

    def test_a_failing_conflict_handler_commits_nothing(self, store: EventStore) -> None:
        records = sample_events(7, 60)
        events = [encode_record(to_record(validate_event(r))) for r in records]
        store.append(events[:10], {"kafka:t:0": 10})
        changed = copy.deepcopy(
            records[next(i for i, r in enumerate(records) if "age" in r["payload"])]
        )
        changed["payload"]["age"] = 16 if changed["payload"]["age"] != 16 else 17
        bad = encode_record(to_record(validate_event(changed)))

        def refuse(conflicts: Any) -> None:
            raise RuntimeError("the dead-letter topic refused it")

        with pytest.raises(RuntimeError):
            store.append([*events[10:], bad], {"kafka:t:0": 61}, on_conflict=refuse)
        assert store.position("kafka:t:0") == 10
        assert len(all_rows(store)) == 10 + len({e.originator_id for e in events[:10]})

    def test_concurrent_writers_store_each_event_once(self, settings: Settings) -> None:
        events = encoded_events()
        halves = [events[: len(events) * 2 // 3], events[len(events) // 3 :]]
        self.open_store(settings).close()  # tables exist before the race
        errors: list[BaseException] = []

        def write(batch: list[Encoded], name: str) -> None:
            # A store per writer, opened in its thread (SQLite connections stay in theirs).
            try:
                store = self.open_store(settings)
                try:
                    for i in range(0, len(batch), 250):
                        store.append(batch[i : i + 250], {name: i + 250})
                finally:
                    store.close()
            except BaseException as error:
                errors.append(error)

        threads = [
            threading.Thread(target=write, args=(batch, f"writer{n}"))
            for n, batch in enumerate(halves)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors
        check = self.open_store(settings)
        try:
            rows = all_rows(check)
        finally:
            check.close()
        streams = by_stream(rows)
        assert sum(len(s) - 1 for s in streams.values()) == len(events)
        for stream in streams.values():
            assert [v for v, _, _ in stream] == list(range(1, len(stream) + 1))


class TestSQLiteEventStore(EventStoreContract):
    @pytest.fixture
    def make_settings(self, tmp_path: Path) -> Callable[[], Settings]:
        count = iter(range(1_000))
        return lambda: Settings(data_dir=tmp_path / f"store{next(count)}", store="sqlite")

    @pytest.fixture
    def settings(self, make_settings: Callable[[], Settings]) -> Settings:
        return make_settings()

    def open_store(self, settings: Settings) -> EventStore:
        return SQLiteEventStore(settings.sqlite_path)


class TestPostgresEventStore(EventStoreContract):
    @pytest.fixture
    def make_settings(
        self, tmp_path: Path, new_database: Callable[[], str]
    ) -> Callable[[], Settings]:
        return lambda: Settings(data_dir=tmp_path, store="postgres", postgres_dsn=new_database())

    @pytest.fixture
    def settings(self, make_settings: Callable[[], Settings]) -> Settings:
        return make_settings()

    def open_store(self, settings: Settings) -> EventStore:
        return PostgresEventStore(settings)

    def test_tables_are_eventsourcings(self, store: EventStore, settings: Settings) -> None:
        import psycopg

        assert isinstance(store, PostgresEventStore)
        assert (store.events_table, store.tracking_table) == ("ledger_events", "ledger_tracking")
        store.append(encoded_events(5))
        with psycopg.connect(str(settings.postgres_dsn)) as conn:
            kind = conn.execute(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_name = 'ledger_events' AND column_name = 'originator_id'"
            ).fetchone()
        assert kind == ("uuid",)

    def test_append_notifies_listeners(self, store: EventStore, settings: Settings) -> None:
        import psycopg

        with psycopg.connect(str(settings.postgres_dsn), autocommit=True) as listener:
            listener.execute("LISTEN ledger_events")
            store.append(encoded_events(5))
            notified = list(listener.notifies(timeout=10, stop_after=1))
        assert [n.channel for n in notified] == ["ledger_events"]

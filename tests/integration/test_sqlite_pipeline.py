"""The embedded pipeline end to end on SQLite: ingest, store, project, report."""

from __future__ import annotations

import json
import random
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import Tracking

from domain.events import to_record, validate_event
from infra.composition import ledger_application, open_store, open_view
from infra.encoding import encode_event, encode_record
from infra.files.ingest import ingest_file, rejects_path_for
from infra.readmodel import catch_up, changes_from_rows, read_inputs
from infra.sealing import unseal
from infra.settings import Settings
from infra.sqlite.database import PAGE_SIZE
from infra.sqlite.store import SQLiteEventStore
from infra.view_sql import VIEW_SCHEMA_VERSION
from projections.report import build_report, report_tables, report_to_json
from simulation.simulate import load_profile, simulate, write_jsonl
from tests.integration.read_model import READ_MODEL_TABLES, read_model

AS_OF = "2013-01-31"


def _records(seed: int) -> list[dict[str, Any]]:
    return [to_record(validate_event(e)) for e in simulate(load_profile("cmm-2012"), seed=seed)]


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    write_jsonl(records, path)
    return path


def _store_report(settings: Settings, as_of: str = AS_OF, year: int = 2012) -> dict[str, Any]:
    with open_store(settings) as store:
        view = open_view(settings)
        try:
            catch_up(store, view)
            inputs = read_inputs(view, as_of)
        finally:
            view.close()
    tables = report_tables(inputs.facts, inputs.hotline, inputs.outreach, year, inputs.contacts)
    return report_to_json(tables)


def _oracle(records: list[dict[str, Any]], as_of: str = AS_OF) -> dict[str, Any]:
    return report_to_json(build_report(records, 2012, as_of))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.mark.parametrize("seed", [1, 2])
def test_store_backed_report_equals_the_in_memory_oracle(
    tmp_path: Path, settings: Settings, seed: int
) -> None:
    records = _records(seed)
    with open_store(settings) as store:
        report = ingest_file(_write(tmp_path / "events.jsonl", records), store)
    assert report.ok and report.appended == len(records)
    stored = _store_report(settings)
    assert stored == _oracle(records)
    assert sum(r["count"] for r in stored["by_authority"]) == 66


def test_reingesting_the_same_file_adds_nothing(tmp_path: Path, settings: Settings) -> None:
    source = _write(tmp_path / "events.jsonl", _records(1))
    with open_store(settings) as store:
        first = ingest_file(source, store)
        before = _store_report(settings)
        assert isinstance(store, SQLiteEventStore)
        stored_before = store.count_events(), store.max_notification_id()
        second = ingest_file(source, store)
        assert (store.count_events(), store.max_notification_id()) == stored_before
    assert first.appended > 0 and second.appended == 0
    assert second.duplicates == first.appended
    assert _store_report(settings) == before


def test_rejected_lines_are_reported_and_everything_else_lands(
    tmp_path: Path, settings: Settings
) -> None:
    records = _records(1)[:300]
    lines = [json.dumps(r) for r in records]
    bad = dict(records[10])
    bad["event_id"] = str(uuid.uuid4())
    bad["payload"] = {**bad["payload"], "channel": "carrier_pigeon"}
    lines.insert(5, "{not json")
    lines.insert(50, json.dumps(bad))
    lines.insert(120, json.dumps({**records[0], "event_id": str(uuid.uuid4()), "extra": 1}))
    source = tmp_path / "mixed.jsonl"
    source.write_text("\n".join(lines) + "\n")
    with open_store(settings) as store:
        report = ingest_file(source, store)
        assert isinstance(store, SQLiteEventStore)
        assert store.count_events() == len(records)
    assert report.appended == len(records)
    assert [r.line for r in report.rejects] == [6, 51, 121]
    assert "extra: Extra inputs are not permitted" in report.rejects[2].reason
    written = [json.loads(line) for line in rejects_path_for(source).read_text().splitlines()]
    assert [w["line"] for w in written] == [6, 51, 121]
    assert written[0]["raw"] == "{not json"
    assert "payload.channel" in written[1]["reason"]


def test_late_and_out_of_order_events_project_as_in_order(
    tmp_path: Path, settings: Settings
) -> None:
    records = _records(2)
    shuffled = records[:]
    random.Random(7).shuffle(shuffled)
    # Arrive in three separate deliveries, in a random order, projected after each.
    with open_store(settings) as store:
        view = open_view(settings)
        try:
            for i, part in enumerate((shuffled[:1000], shuffled[1000:3000], shuffled[3000:])):
                ingest_file(_write(tmp_path / f"part{i}.jsonl", part), store)
                catch_up(store, view, chunk=777)
        finally:
            view.close()
    assert _store_report(settings) == _oracle(records)


def test_as_of_report_is_unchanged_by_corrections_recorded_later(
    tmp_path: Path, settings: Settings
) -> None:
    records = _records(1)
    with open_store(settings) as store:
        ingest_file(_write(tmp_path / "events.jsonl", records), store)
    before = _store_report(settings)
    # A correction recorded in March 2013 retracts a 2012 victim's assessment.
    target = next(
        r
        for r in records
        if r["type"] == "AssessmentDecided" and r["occurred_at"].startswith("2012")
    )
    correction = to_record(
        validate_event(
            {
                "event_id": str(uuid.uuid4()),
                "type": "CorrectionRecorded",
                "schema_version": 1,
                "occurred_at": "2013-03-01T09:00:00Z",
                "recorded_at": "2013-03-01T09:00:00Z",
                "source": "cmm",
                "person_ref": target["person_ref"],
                "payload": {
                    "target_event_id": target["event_id"],
                    "target_type": "AssessmentDecided",
                    "action": "retract",
                    "reason": "decision_withdrawn",
                },
            }
        )
    )
    with open_store(settings) as store:
        ingest_file(_write(tmp_path / "late.jsonl", [correction]), store)
    assert _store_report(settings) == before
    later = _store_report(settings, as_of="2013-06-30")
    victims_later = sum(r["count"] for r in later["by_authority"])
    assert victims_later == 65
    assert later == _oracle([*records, correction], as_of="2013-06-30")


class _Crash(Exception):
    pass


def _crash_on_tracking_call(view: Any, call: int) -> None:
    """Make the view die inside its transaction, after its read-model writes, on the
    ``call``-th tracking insert (0-based)."""
    calls = 0
    real = view._insert_tracking

    def insert_tracking(*args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls > call:
            raise _Crash
        real(*args)

    view._insert_tracking = insert_tracking


@pytest.mark.parametrize("crash_after_chunks", [0, 1, 3])
def test_a_crash_in_incremental_projection_is_recovered_without_double_counting(
    tmp_path: Path, settings: Settings, crash_after_chunks: int
) -> None:
    records = _records(3)
    with open_store(settings) as store:
        ingest_file(_write(tmp_path / "first.jsonl", records[:500]), store)
        view = open_view(settings)
        catch_up(store, view, chunk=1000)
        projected = view.max_tracking_id("Ledger")
        view.close()
        ingest_file(_write(tmp_path / "rest.jsonl", records[500:]), store)
        view = open_view(settings)
        _crash_on_tracking_call(view, crash_after_chunks)
        with pytest.raises(_Crash):
            catch_up(store, view, chunk=1000)
        view.close()
        # Exactly the chunks before the crash are tracked (notification ids are 1, 2, ...).
        view = open_view(settings)
        assert view.max_tracking_id("Ledger") == projected + crash_after_chunks * 1000
        result = catch_up(store, view, chunk=1000)
        assert result.position == store.max_notification_id()
        view.close()
    assert _store_report(settings) == _oracle(records)


def test_a_crash_in_a_full_rebuild_leaves_nothing_half_done(
    tmp_path: Path, settings: Settings
) -> None:
    records = _records(3)
    with open_store(settings) as store:
        ingest_file(_write(tmp_path / "events.jsonl", records), store)
        view = open_view(settings)
        _crash_on_tracking_call(view, 0)
        with pytest.raises(_Crash):
            catch_up(store, view, chunk=1000)
        view.close()
        view = open_view(settings)
        assert view.max_tracking_id("Ledger") is None
        assert view.query("SELECT COUNT(*) FROM facts")[0][0] == 0
        catch_up(store, view, chunk=1000)
        view.close()
    assert _store_report(settings) == _oracle(records)


def test_rebuild_with_fold_workers_equals_serial_rebuild_and_incremental_catch_up(
    tmp_path: Path,
) -> None:
    """The rebuild folds batches of streams, log streams included, in worker processes, then
    projects again the targets of log corrections that sat in other batches; whatever the
    number of workers, it writes the read model that projecting the log chunk by chunk
    writes."""
    records = _records(5)
    source = _write(tmp_path / "events.jsonl", records)
    models = {}
    for name, workers in (("parallel", 2), ("serial", 0), ("incremental", None)):
        settings = Settings(data_dir=tmp_path / name)
        with open_store(settings) as store:
            ingest_file(source, store)
            view = open_view(settings)
            try:
                if workers is None:
                    # A view with a position is brought up to date chunk by chunk.
                    first = store.read(0, 300)
                    view.apply(
                        changes_from_rows(first), Tracking("Ledger", first[-1].notification_id)
                    )
                    caught_up = catch_up(store, view, chunk=700)
                    assert caught_up.processed == store.max_notification_id() - 300
                else:
                    read, position = view.rebuild(workers=workers)
                    assert read == position == store.max_notification_id()
                models[name] = read_model(view)
                # The rebuild drops the secondary indexes while it loads, and makes them again.
                indexes = {r[0] for r in view.query("SELECT name FROM sqlite_master")}
                assert {"facts_person", "contacts_person", "hotline_event"} <= indexes
            finally:
                view.close()
    assert models["parallel"] == models["serial"] == models["incremental"]
    assert all(models["parallel"][table] for table in READ_MODEL_TABLES)


def test_log_events_point_at_the_stored_event_they_project(
    tmp_path: Path, settings: Settings
) -> None:
    """``log_events`` keeps a log record's position, not a copy of it: each position holds
    the event of that id, whether the rebuild or the incremental path wrote the row."""
    records = _records(4)
    with open_store(settings) as store:
        ingest_file(_write(tmp_path / "first.jsonl", records[:3000]), store)
        view = open_view(settings)
        try:
            view.rebuild(workers=2)
            ingest_file(_write(tmp_path / "rest.jsonl", records[3000:]), store)
            catch_up(store, view, chunk=500)
            rows = view.query(
                "SELECT l.event_id, e.state FROM log_events l "
                "JOIN stored_events e ON e.rowid = l.position"
            )
            count = view.query("SELECT COUNT(*) FROM log_events")[0][0]
        finally:
            view.close()
    logged = {r["event_id"] for r in records if "person_ref" not in r}
    assert len(rows) == count == len(logged)
    assert all(json.loads(unseal(state))["event_id"] == event_id for event_id, state in rows)
    assert {event_id for event_id, _ in rows} == logged


def _sqlite(settings: Settings) -> sqlite3.Connection:
    return sqlite3.connect(settings.sqlite_path, isolation_level=None)


def test_a_read_model_of_an_older_layout_is_built_again_from_the_store(
    tmp_path: Path, settings: Settings
) -> None:
    """A read model written before layouts had versions (``log_events`` held a JSON copy of
    each record) is dropped with its position when the view opens, and the next catch-up
    builds the current layout from the store."""
    records = _records(3)
    with open_store(settings) as store:
        ingest_file(_write(tmp_path / "events.jsonl", records), store)
        end = store.max_notification_id()
    db = _sqlite(settings)
    db.execute(
        "CREATE TABLE log_events (event_id TEXT PRIMARY KEY, target_event_id TEXT, record TEXT)"
    )
    db.execute("INSERT INTO log_events VALUES ('x', NULL, '{}')")
    db.execute("CREATE TABLE cases (person_ref TEXT PRIMARY KEY, status TEXT)")
    db.execute("INSERT OR REPLACE INTO tracking VALUES ('Ledger', ?)", (end,))
    db.close()

    view = open_view(settings)
    try:
        assert view.max_tracking_id("Ledger") is None
        assert [tuple(r) for r in view.query("SELECT version FROM view_schema")] == [
            (VIEW_SCHEMA_VERSION,)
        ]
        columns = [row[1] for row in view.query("PRAGMA table_info(log_events)")]
        assert columns == ["event_id", "target_event_id", "position"]
        assert view.query("SELECT COUNT(*) FROM log_events")[0][0] == 0
    finally:
        view.close()
    assert _store_report(settings) == _oracle(records)
    # Opening a view of the current layout keeps it, and its position.
    view = open_view(settings)
    try:
        assert view.max_tracking_id("Ledger") == end
    finally:
        view.close()


def test_a_read_model_of_a_newer_layout_is_refused_not_dropped(settings: Settings) -> None:
    open_view(settings).close()
    db = _sqlite(settings)
    db.execute("UPDATE view_schema SET version = ?", (VIEW_SCHEMA_VERSION + 1,))
    db.close()
    with pytest.raises(Exception, match="newer CMM Ledger"):
        open_view(settings)
    db = _sqlite(settings)
    assert db.execute("SELECT version FROM view_schema").fetchall() == [(VIEW_SCHEMA_VERSION + 1,)]
    db.close()


def test_bulk_path_writes_exactly_what_the_eventsourcing_application_writes(
    tmp_path: Path,
) -> None:
    records = _records(1)[:400]
    slow = ledger_application(Settings(data_dir=tmp_path / "slow"))
    for r in records:
        slow.record(validate_event(r))
    fast = SQLiteEventStore(tmp_path / "fast" / "events.sqlite3")
    for i in range(0, len(records), 64):
        fast.append([encode_record(r) for r in records[i : i + 64]])
    slow_rows = SQLiteEventStore(Settings(data_dir=tmp_path / "slow").sqlite_path).read(0, 10_000)
    fast_rows = fast.read(0, 10_000)

    def by_stream(rows: list[Any]) -> dict[tuple[str, int], tuple[str, bytes]]:
        return {(r.originator_id, r.originator_version): (r.topic, r.state) for r in rows}

    assert by_stream(fast_rows) == by_stream(slow_rows)
    # And eventsourcing reads the bulk-written aggregates back.
    reader = ledger_application(Settings(data_dir=tmp_path / "fast"))
    person = next(r["person_ref"] for r in records if "person_ref" in r)
    case = reader.case(person)
    assert {r["event_id"] for r in case.records} == {
        r["event_id"] for r in records if r.get("person_ref") == person
    }


def _ingest_in_process(path: str, data_dir: str) -> int:
    with open_store(Settings(data_dir=Path(data_dir))) as store:
        return ingest_file(Path(path), store, workers=0, chunk_lines=300).appended


def test_concurrent_writers_share_streams_without_losing_or_repeating_events(
    tmp_path: Path, settings: Settings
) -> None:
    import multiprocessing

    records = _records(4)
    # Two deliveries that interleave the same people's events, written at the same time.
    odd = _write(tmp_path / "odd.jsonl", records[1::2])
    even = _write(tmp_path / "even.jsonl", records[0::2])
    with open_store(settings):
        pass  # create the tables before two processes race to
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        appended = pool.starmap(
            _ingest_in_process,
            [(str(odd), str(settings.data_dir)), (str(even), str(settings.data_dir))],
        )
    assert sum(appended) == len(records)
    with open_store(settings) as store:
        rows = store.read(0, 1_000_000)
    versions: dict[str, list[int]] = {}
    for row in rows:
        versions.setdefault(row.originator_id, []).append(row.originator_version)
    assert all(sorted(v) == list(range(1, len(v) + 1)) for v in versions.values())
    assert len(rows) == len(records) + len(versions)  # every stream has one Opened event
    assert _store_report(settings) == _oracle(records)


def test_writing_workers_store_what_one_process_stores_in_file_order(tmp_path: Path) -> None:
    """Workers parse chunks side by side but write them in turn: every stream holds its
    events in the order of the file, exactly as when one process ingests."""
    records = _records(6)
    source = _write(tmp_path / "events.jsonl", records)
    stored = {}
    for name, workers in (("workers", 2), ("one", 0)):
        with SQLiteEventStore(Settings(data_dir=tmp_path / name).sqlite_path) as store:
            report = ingest_file(source, store, workers=workers, chunk_lines=97)
            assert report.appended == len(records)
            stored[name] = {
                (r.originator_id, r.originator_version): (r.topic, r.state)
                for r in store.read(0, 10 * len(records))
            }
    assert stored["workers"] == stored["one"]


def test_a_batch_mixing_stored_and_new_events_stores_exactly_the_new_ones(
    tmp_path: Path,
) -> None:
    events = [encode_event(validate_event(r)) for r in _records(2)[:600]]
    stored, new = events[:400], events[400:]
    with SQLiteEventStore(tmp_path / "events.sqlite3") as store:
        assert store.append(stored).appended == len(stored)
        mixed = [*stored[::3], *new, *stored[1::7]]
        outcome = store.append(mixed)
        assert (outcome.appended, outcome.duplicates) == (len(new), len(mixed) - len(new))
        assert store.append(mixed).appended == 0
        assert store.count_events() == len(events)
        states = {bytes(r.state) for r in store.read(0, 10_000)}
        assert {e.state for e in events} <= states


def test_a_new_database_has_the_store_page_size_whoever_creates_it(tmp_path: Path) -> None:
    """The page size is fixed when the file is made: the store and the view both make it
    with the store's (larger than SQLite's default, for the append path)."""
    for first in ("store", "view"):
        settings = Settings(data_dir=tmp_path / first)
        if first == "view":
            open_view(settings).close()
        with open_store(settings) as store:
            assert isinstance(store, SQLiteEventStore)
            assert store._db.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE != 4096
        view = open_view(settings)
        try:
            assert view.query("PRAGMA page_size")[0][0] == PAGE_SIZE
        finally:
            view.close()


def test_writers_taking_turns_on_the_same_streams_know_each_others_versions(
    tmp_path: Path,
) -> None:
    """Each writer reads what the others appended since it last wrote, so none plans a
    batch on a stale version (the database would refuse it, and the batch would be planned
    again), and a writer that joins a store that already has events asks for versions."""
    records = [validate_event(r) for r in _records(3)]
    path = tmp_path / "events.sqlite3"
    first = SQLiteEventStore(path)
    second = SQLiteEventStore(path)
    writers = [first, second]
    size = 97
    batches = [records[i : i + size] for i in range(0, len(records), size)]
    for n, batch in enumerate(batches[:-1]):
        writers[n % 2].append([encode_event(e) for e in batch])
    # A third writer opens on a store that already holds the same people's streams.
    late = SQLiteEventStore(path)
    late.append([encode_event(e) for e in batches[-1]])
    assert first.replanned == second.replanned == late.replanned == 0
    rows = first.read(0, 1_000_000)
    versions: dict[str, list[int]] = {}
    for row in rows:
        versions.setdefault(row.originator_id, []).append(row.originator_version)
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values())
    assert len(rows) == len(records) + len(versions)
    for store in (first, second, late):
        store.close()


class _PoisonedStore(SQLiteEventStore):
    """Fails to append the batch holding one given event (in whatever process)."""

    poison = b""

    def append(self, events: Any, positions: Any = None) -> Any:
        if any(e[0] == self.poison for e in events):
            raise RuntimeError("disk on fire")
        return super().append(events, positions)

    def reopen(self) -> _PoisonedStore:
        return _PoisonedStore(self.path)


def test_a_worker_failing_to_write_fails_the_ingest_without_hanging_the_others(
    tmp_path: Path,
) -> None:
    records = _records(6)
    source = _write(tmp_path / "events.jsonl", records)
    chunk = 101
    bad_chunk = 7
    _PoisonedStore.poison = uuid.UUID(records[bad_chunk * chunk + 3]["event_id"]).bytes
    with _PoisonedStore(tmp_path / "events.sqlite3") as store:
        with pytest.raises(RuntimeError, match="disk on fire"):
            ingest_file(source, store, workers=2, chunk_lines=chunk)
        kept = {bytes(r[0]) for r in store._db.execute("SELECT event_id FROM event_ids")}
    # Every chunk before the failed one was stored, and nothing of the failed one.
    before = {uuid.UUID(r["event_id"]).bytes for r in records[: bad_chunk * chunk]}
    failed = {
        uuid.UUID(r["event_id"]).bytes for r in records[bad_chunk * chunk : (bad_chunk + 1) * chunk]
    }
    assert before <= kept
    assert not failed & kept

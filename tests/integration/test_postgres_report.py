"""The deployable path gives the same report as the embedded one.

Events of the 2012 profile go ``cmm produce`` -> Kafka -> ``cmm consume`` -> PostgreSQL ->
report, and the same file goes ``cmm ingest`` -> SQLite -> report: the two reports are equal,
table by table. And on PostgreSQL the read model that eventsourcing's ProjectionRunner keeps
(following LISTEN/NOTIFY, one event at a time) equals the one the catch-up runner builds.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from infra.composition import open_store
from infra.postgres.store import PostgresEventStore
from infra.postgres.view import follow_postgres, open_postgres_view
from infra.readmodel import load_report_inputs, read_inputs
from infra.settings import Settings
from projections.report import report_tables
from tests.integration.conftest import Topics, cmm_env, run_cmm, sample_events, wait_until
from tests.integration.read_model import read_model

pytestmark = pytest.mark.integration

SEED = 5


def _profile() -> tuple[int, str]:
    """(report year, as-of date) of the simulated profile."""
    try:
        from simulation.simulate import load_profile
    except ImportError:  # the synthetic stream is about 2012
        return 2012, "2013-01-31"
    profile = load_profile("cmm-2012")
    return int(profile.year), str(profile.status_cutoff)


def _write(path: Path, events: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf8") as handle:
        for event in events:
            handle.write(json.dumps(event, separators=(",", ":")) + "\n")
    return path


def _tables(settings: Settings, year: int, as_of: str) -> dict[str, pd.DataFrame]:
    inputs = load_report_inputs(settings, as_of)
    return report_tables(inputs.facts, inputs.hotline, inputs.outreach, year, inputs.contacts)


def test_kafka_to_postgres_report_equals_the_sqlite_report(
    tmp_path: Path, topics: Topics, pg_dsn: str
) -> None:
    year, as_of = _profile()
    events = sample_events(SEED)
    source = _write(tmp_path / "events.jsonl", events)
    topics.create(partitions=3)
    postgres = Settings(data_dir=tmp_path / "pg", store="postgres", postgres_dsn=pg_dsn)
    sqlite = Settings(data_dir=tmp_path / "sqlite", store="sqlite")
    env = cmm_env(postgres, topics)

    produced = run_cmm(["produce", str(source)], env)
    assert produced.returncode == 0, produced.stderr
    assert f"{len(events):,} events sent" in produced.stdout
    consumed = run_cmm(["consume", "--max-messages", str(len(events))], env)
    assert consumed.returncode == 0, consumed.stderr
    ingested = run_cmm(["ingest", str(source)], cmm_env(sqlite))
    assert ingested.returncode == 0, ingested.stderr

    with open_store(postgres) as pg_store, open_store(sqlite) as sqlite_store:
        assert pg_store.max_notification_id() == sqlite_store.max_notification_id()

    ours, theirs = _tables(postgres, year, as_of), _tables(sqlite, year, as_of)
    assert list(ours) == list(theirs)
    for name in theirs:
        pd.testing.assert_frame_equal(ours[name], theirs[name], obj=name)
    assert any(not table.empty for table in theirs.values())

    # And as a user sees it: `cmm report` prints the same JSON from either store.
    args = ["report", "--year", str(year), "--as-of", as_of, "--format", "json"]
    pg_report = run_cmm(args, cmm_env(postgres))
    sqlite_report = run_cmm(args, cmm_env(sqlite))
    assert pg_report.returncode == 0, pg_report.stderr
    assert json.loads(pg_report.stdout) == json.loads(sqlite_report.stdout)


def test_projection_runner_keeps_the_same_read_model_as_catch_up(
    tmp_path: Path, new_database: Any
) -> None:
    _, as_of = _profile()
    from domain.events import to_record, validate_event
    from infra.encoding import encode_record

    # The runner projects one event per transaction: a part of the year is enough here.
    encoded = [encode_record(to_record(validate_event(e))) for e in sample_events(SEED, 1_500)]
    caught_up = Settings(data_dir=tmp_path, store="postgres", postgres_dsn=new_database())
    followed = Settings(data_dir=tmp_path, store="postgres", postgres_dsn=new_database())

    with PostgresEventStore(caught_up) as store:
        store.append(encoded)
    load_report_inputs(caught_up, as_of)  # the catch-up runner brings its view up to date

    stop = threading.Event()
    started = threading.Event()
    errors: list[BaseException] = []

    def follow() -> None:
        try:
            follow_postgres(followed, stop, started=started)
        except BaseException as error:  # surfaced below
            errors.append(error)
            started.set()

    runner = threading.Thread(target=follow, name="projection-runner")
    runner.start()
    try:
        assert started.wait(60) and not errors, errors
        # Appended after the runner subscribed: it learns of them by NOTIFY.
        with PostgresEventStore(followed) as store:
            for i in range(0, len(encoded), 1_000):
                store.append(encoded[i : i + 1_000])
            last = store.max_notification_id()
        view = open_postgres_view(followed)
        try:
            wait_until(
                lambda: bool(errors) or (view.max_tracking_id("Ledger") or 0) >= last,
                300,
                "the ProjectionRunner to reach the end of the log",
                interval=0.2,
            )
        finally:
            view.close()
    finally:
        stop.set()
        runner.join(60)
    assert not errors, errors
    assert not runner.is_alive()

    expected_view, actual_view = open_postgres_view(caught_up), open_postgres_view(followed)
    try:
        assert read_model(actual_view) == read_model(expected_view)
        expected, actual = read_inputs(expected_view, as_of), read_inputs(actual_view, as_of)
    finally:
        expected_view.close()
        actual_view.close()
    assert len(expected.facts) > 0
    for name in ("facts", "hotline", "outreach", "contacts"):
        key = list(getattr(expected, name).columns)
        pd.testing.assert_frame_equal(
            getattr(actual, name).sort_values(key).reset_index(drop=True),
            getattr(expected, name).sort_values(key).reset_index(drop=True),
            obj=name,
        )


def test_rebuild_of_an_empty_view_equals_incremental_catch_up(
    tmp_path: Path, new_database: Any
) -> None:
    """An empty view over a long log is rebuilt in one pass (a server-side cursor over the
    store in stream order); the result is the read model event-by-chunk projection gives."""
    from domain.events import to_record, validate_event
    from infra.encoding import encode_record
    from infra.readmodel import catch_up

    encoded = [encode_record(to_record(validate_event(e))) for e in sample_events(SEED)]
    rebuilt = Settings(data_dir=tmp_path, store="postgres", postgres_dsn=new_database())
    incremental = Settings(data_dir=tmp_path, store="postgres", postgres_dsn=new_database())
    models = []
    for settings, chunk in ((rebuilt, 500), (incremental, 1_000_000)):
        with PostgresEventStore(settings) as store:
            for i in range(0, len(encoded), 2_000):
                store.append(encoded[i : i + 2_000])
            view = open_postgres_view(settings)
            try:
                result = catch_up(store, view, chunk=chunk)
                assert result.position == store.max_notification_id()
                assert view.max_tracking_id("Ledger") == result.position
                models.append(read_model(view))
            finally:
                view.close()
    assert models[0] == models[1]
    assert models[0]["cases"]


def test_a_read_model_of_another_layout_is_dropped_and_built_again(
    tmp_path: Path, new_database: Any
) -> None:
    """As on SQLite: a view whose recorded layout is not this code's loses its tables and
    its position when it is opened, and the next catch-up builds it again from the store."""
    import psycopg

    from domain.events import to_record, validate_event
    from infra.encoding import encode_record
    from infra.readmodel import catch_up

    year, as_of = _profile()
    encoded = [encode_record(to_record(validate_event(e))) for e in sample_events(SEED, 2_000)]
    settings = Settings(data_dir=tmp_path, store="postgres", postgres_dsn=new_database())
    with PostgresEventStore(settings) as store:
        store.append(encoded)
        end = store.max_notification_id()
    before = _tables(settings, year, as_of)
    assert settings.postgres_dsn is not None
    with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
        conn.execute("UPDATE view_schema SET version = version - 1")

    view = open_postgres_view(settings)
    try:
        assert view.max_tracking_id("Ledger") is None
        assert view.query("SELECT COUNT(*) FROM facts")[0][0] == 0
        with PostgresEventStore(settings) as store:
            assert catch_up(store, view).position == end
        assert view.max_tracking_id("Ledger") == end
    finally:
        view.close()
    after = _tables(settings, year, as_of)
    assert list(after) == list(before)
    for name in before:
        pd.testing.assert_frame_equal(after[name], before[name], obj=name)

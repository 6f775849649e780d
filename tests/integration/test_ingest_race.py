"""Two ingests started together on a new data directory both succeed (issue: the second died
with ``IntegrityError ... __migration__ 1`` while both created eventsourcing's tables)."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

PROCESSES = 4
ROUNDS = 4


def _ingest_after(data: str, source: str, start: Any, results: Any) -> None:
    from infra.composition import open_store
    from infra.files.ingest import ingest_file
    from infra.settings import Settings

    try:
        start.wait(timeout=120)
        store = open_store(Settings(data_dir=Path(data)))  # all at once, on an empty folder
        report = ingest_file(Path(source), store, workers=0)
        store.close()
    except Exception as error:  # reported to the parent, which asserts on it
        results.put(f"{type(error).__name__}: {error}")
    else:
        results.put(f"ok {report.appended + report.duplicates}")


def test_ingests_started_together_on_a_new_data_directory_all_succeed(tmp_path: Path) -> None:
    import json

    from simulation.simulate import simulate

    source = tmp_path / "events.jsonl"
    with source.open("w") as handle:
        for record in simulate("cmm-2012", seed=2):
            handle.write(json.dumps(record) + "\n")
    lines = sum(1 for _ in source.open())
    ctx = mp.get_context("spawn")
    for round_ in range(ROUNDS):
        data = tmp_path / f"data-{round_}"
        start = ctx.Barrier(PROCESSES)
        results = ctx.Queue()
        procs = [
            ctx.Process(target=_ingest_after, args=(str(data), str(source), start, results))
            for _ in range(PROCESSES)
        ]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=300) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        assert outcomes == [f"ok {lines}"] * PROCESSES, outcomes
        with sqlite3.connect(data / "events.sqlite3") as db:
            (stored,) = db.execute("SELECT COUNT(*) FROM event_ids").fetchone()
        assert stored == lines

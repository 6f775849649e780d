"""A full disk says so: the store's own error reaches the user, not "cannot rollback - no
transaction is active", and the store stays whole and usable afterwards."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from infra.files.ingest import ingest_file
from infra.sqlite.store import SQLiteEventStore
from simulation.simulate import simulate


def _file(path: Path, seed: int) -> Path:
    with path.open("w") as handle:
        for record in simulate("cmm-2012", seed=seed):
            handle.write(json.dumps(record) + "\n")
    return path


def test_a_full_database_reports_itself_and_loses_nothing(tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    first = ingest_file(_file(tmp_path / "a.jsonl", 1), store, workers=0)
    db = store._db  # the store's own connection: the limit must apply to its writes
    pages = int(db.execute("PRAGMA page_count").fetchone()[0])
    db.execute(f"PRAGMA max_page_count={pages + 4}")  # what a full disk does to SQLite
    second = _file(tmp_path / "b.jsonl", 2)
    with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
        ingest_file(second, store, workers=0)
    db.execute("PRAGMA max_page_count=4294967294")
    again = ingest_file(second, store, workers=0)
    assert again.duplicates == 0  # nothing of the failed batch was kept
    with sqlite3.connect(tmp_path / "events.sqlite3") as check:
        stored = check.execute("SELECT COUNT(*) FROM event_ids").fetchone()[0]
    assert stored == first.appended + again.appended
    store.close()

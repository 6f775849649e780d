"""Re-keying the SQLite store (``infra.rekey``): one ``BEGIN IMMEDIATE`` transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from infra import person_keys, sealing
from infra.view import APPLICATION_NAME
from projections.read_model_rows import VIEW_TABLES


def rekey_sqlite(path: Path, before: sealing.Sealer, after: sealing.Sealer) -> tuple[int, int]:
    db = sqlite3.connect(path, isolation_level=None, timeout=60.0)
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            existing = [n for (n,) in db.execute("SELECT name FROM sqlite_master")]
            state_tables = [
                name
                for name in existing
                if {"state", "originator_id", "originator_version"}
                <= {col[1] for col in db.execute(f"PRAGMA table_info({name})")}
            ]
            done = person_keys.rekey_tables(
                db.cursor(),
                "?",
                state_tables,
                person_keys.TABLE,
                person_keys.CHECK_TABLE,
                [t for t in VIEW_TABLES if t in existing],
                ("tracking", APPLICATION_NAME) if "tracking" in existing else None,
                before,
                after,
            )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return done

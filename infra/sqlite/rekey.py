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
            tables = [
                name
                for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                if {"state", "originator_id", "originator_version"}
                <= {col[1] for col in db.execute(f"PRAGMA table_info({name})")}
            ]
            events = 0
            for table in tables:
                rows = db.execute(
                    f"SELECT state, originator_id, originator_version FROM {table} "
                    "WHERE substr(state, 1, 1) = ?",
                    (sealing.VERSION,),
                ).fetchall()
                resealed = person_keys.reseal_main(rows, before, after)
                db.executemany(
                    f"UPDATE {table} SET state = ? WHERE originator_id = ? "
                    "AND originator_version = ?",
                    resealed,
                )
                events += len(resealed)
            keys = person_keys.rewrap(
                db.execute(
                    f"SELECT key_id, wrapped_key FROM {person_keys.TABLE} "
                    "WHERE wrapped_key IS NOT NULL"
                ).fetchall(),
                before,
                after,
            )
            db.executemany(f"UPDATE {person_keys.TABLE} SET wrapped_key = ? WHERE key_id = ?", keys)
            db.execute(f"DELETE FROM {person_keys.CHECK_TABLE}")
            db.execute(
                f"INSERT INTO {person_keys.CHECK_TABLE} VALUES (?)",
                (sealing.fingerprint(after.key),),
            )
            existing = {n for (n,) in db.execute("SELECT name FROM sqlite_master")}
            for table in VIEW_TABLES:
                if table in existing:
                    db.execute(f"DELETE FROM {table}")
            if "tracking" in existing:
                db.execute("DELETE FROM tracking WHERE application_name = ?", (APPLICATION_NAME,))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return events, len(keys)

"""Re-keying the PostgreSQL store (``infra.rekey``): one transaction under the events table's
write lock."""

from __future__ import annotations

from infra import person_keys, sealing
from infra.view import APPLICATION_NAME
from projections.read_model_rows import VIEW_TABLES


def rekey_postgres(dsn: str, before: sealing.Sealer, after: sealing.Sealer) -> tuple[int, int]:
    import psycopg

    from infra.postgres.tables import key_check_table, person_keys_table

    schema = "public"
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute(f'LOCK TABLE "{schema}".ledger_events IN EXCLUSIVE MODE')
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = %s "
                "AND column_name IN ('state', 'originator_id', 'originator_version') "
                "GROUP BY table_name HAVING COUNT(*) = 3",
                (schema,),
            ).fetchall()
        ]
        events = 0
        for table in tables:
            rows = conn.execute(
                f'SELECT state, originator_id, originator_version FROM "{schema}"."{table}" '
                "WHERE substring(state from 1 for 1) = %s",
                (sealing.VERSION,),
            ).fetchall()
            resealed = person_keys.reseal_main(rows, before, after)
            with conn.cursor() as cur:
                cur.executemany(
                    f'UPDATE "{schema}"."{table}" SET state = %s WHERE originator_id = %s '
                    "AND originator_version = %s",
                    resealed,
                )
            events += len(resealed)
        keys_table = person_keys_table(schema)
        keys = person_keys.rewrap(
            conn.execute(
                f"SELECT key_id, wrapped_key FROM {keys_table} WHERE wrapped_key IS NOT NULL"
            ).fetchall(),
            before,
            after,
        )
        with conn.cursor() as cur:
            cur.executemany(f"UPDATE {keys_table} SET wrapped_key = %s WHERE key_id = %s", keys)
        check = key_check_table(schema)
        conn.execute(f"DELETE FROM {check}")
        conn.execute(f"INSERT INTO {check} VALUES (%s)", (sealing.fingerprint(after.key),))
        existing = {
            name
            for (name,) in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            ).fetchall()
        }
        for table in VIEW_TABLES:
            if table in existing:
                conn.execute(f'DELETE FROM "{schema}"."{table}"')
        if "ledger_projection_tracking" in existing:
            conn.execute(
                f'DELETE FROM "{schema}".ledger_projection_tracking WHERE application_name = %s',
                (APPLICATION_NAME,),
            )
    return events, len(keys)

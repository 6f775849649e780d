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
    with psycopg.connect(dsn) as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute(f'LOCK TABLE "{schema}".ledger_events IN EXCLUSIVE MODE')
        cur.execute(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = %s "
            "AND column_name IN ('state', 'originator_id', 'originator_version') "
            "GROUP BY table_name HAVING COUNT(*) = 3",
            (schema,),
        )
        state_tables = [f'"{schema}"."{name}"' for (name,) in cur.fetchall()]
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        )
        existing = {name for (name,) in cur.fetchall()}
        tracking = "ledger_projection_tracking"
        return person_keys.rekey_tables(
            cur,
            "%s",
            state_tables,
            person_keys_table(schema),
            key_check_table(schema),
            [f'"{schema}"."{t}"' for t in VIEW_TABLES if t in existing],
            (f'"{schema}".{tracking}', APPLICATION_NAME) if tracking in existing else None,
            before,
            after,
        )

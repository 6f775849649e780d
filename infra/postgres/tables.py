"""The PostgreSQL tables of the event store, made by eventsourcing's own recorders, and the
database-wide advisory locks under which processes make tables and update the read model."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresTrackingRecorder
from psycopg import sql

from infra import person_keys
from infra.postgres.env import postgres_env
from infra.settings import Settings

# Key of the advisory lock that serialises creating tables: eventsourcing's recorders
# (re)create their tables, types and functions whenever they are constructed, and two
# processes doing so at once fail ("tuple concurrently updated").
DDL_LOCK_KEY = 0x636D6D5F646466  # "cmm_ddl"
# The read model's update lock (``infra.readmodel.updating``, ``PostgresLedgerView``).
VIEW_LOCK_KEY = 0x636D6D5F76696577  # "cmm_view"


@contextmanager
def ddl_lock(dsn: str, key: int = DDL_LOCK_KEY) -> Iterator[None]:
    """Hold the database-wide lock for creating tables (a session lock on a connection of
    its own, so it also covers the connections eventsourcing's factory opens). Other keys
    name other database-wide locks (``infra.readmodel.updating``)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def person_keys_table(schema: str) -> str:
    """The key table's qualified name (``infra.person_keys``), quoted for SQL text."""
    return '"' + schema.replace('"', '""') + '".' + person_keys.TABLE


def key_check_table(schema: str) -> str:
    """The table of the main key's fingerprint (``infra.person_keys.check_writer``)."""
    return '"' + schema.replace('"', '""') + '".' + person_keys.CHECK_TABLE


def create_tables(settings: Settings) -> tuple[str, str, str, str]:
    """Let eventsourcing create its tables for the application (``infra.app``'s
    ``APPLICATION_NAME``), and add ``event_ids``; returns (schema, events table, tracking
    table, notify channel)."""
    assert settings.postgres_dsn is not None
    env = postgres_env(settings.postgres_dsn)
    with ddl_lock(settings.postgres_dsn):
        factory = InfrastructureFactory.construct(env)
        try:
            recorder = factory.application_recorder()
            tracking = factory.tracking_recorder()
            assert isinstance(recorder, PostgresApplicationRecorder)
            assert isinstance(tracking, PostgresTrackingRecorder)
            schema = recorder.datastore.schema
            with psycopg.connect(settings.postgres_dsn, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("CREATE TABLE IF NOT EXISTS {} (event_id uuid PRIMARY KEY)").format(
                        sql.Identifier(schema, "event_ids")
                    )
                )
                for statement in person_keys.postgres_ddl(
                    person_keys_table(schema), key_check_table(schema)
                ):
                    conn.execute(statement)
            return (
                schema,
                recorder.events_table_name,
                tracking.tracking_table_name,
                recorder.channel_name,
            )
        finally:
            factory.close()  # type: ignore[attr-defined]


def postgres_key_reader(settings: Any) -> str:
    """Have this process read the key table (``infra.person_keys``) of the store on
    PostgreSQL when it meets a key it has not seen, on a connection of its own from the
    DSN; returns the store's identity. The tables are in ``public``: eventsourcing's default
    schema, which ``postgres_env`` leaves as it is."""
    dsn = settings.postgres_dsn

    def connect() -> psycopg.Connection[Any]:
        return psycopg.connect(dsn, autocommit=True)

    return person_keys.register_reader(
        f"postgres {dsn}", connect, "%s", person_keys_table("public")
    )

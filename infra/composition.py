"""The composition root: the one module that knows both SQLite and PostgreSQL, and builds what
the settings choose. Entry points ask it for the store, the eventsourcing application and
the ledgers; the adapters never import each other (a test in ``tests/unit/test_layers.py``
keeps it so), and nothing else decides by ``settings.store``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from infra import person_keys, sealing
from infra.app import APPLICATION_NAME, LedgerApplication
from infra.postgres.env import postgres_env
from infra.safe_files import private_dir
from infra.settings import Settings
from infra.sqlite.database import ensure_database, file_lock
from infra.sqlite.env import sqlite_env
from infra.sqlite.store import SQLiteEventStore, register_sqlite_key_reader
from infra.store import EventStore
from infra.view import LedgerView

_KEY_CHECKED: set[tuple[str, str]] = set()


def use_key(settings: Settings, check: bool = True) -> None:
    """Install the encryption key of the configuration (``CMM_KEY_FILE`` or ``CMM_KEY``) for
    everything this process stores and reads, and where the persons' data keys are read
    from (``infra.person_keys``), and check that it opens what is stored already: without a
    key, or with another key, nothing is opened and nothing written
    (:class:`infra.sealing.MissingKey`, :class:`infra.sealing.WrongKey`)."""
    sealing.install(sealing.key_from_env(os.environ))
    where = (settings.store, str(settings.postgres_dsn or settings.sqlite_path))
    if settings.store == "postgres":
        from infra.postgres.tables import postgres_key_reader

        postgres_key_reader(settings)
    else:
        register_sqlite_key_reader(settings.sqlite_path)
    if not check or where in _KEY_CHECKED:
        return
    if settings.store == "postgres":
        from infra.postgres.store import PostgresEventStore

        store = PostgresEventStore(settings)
        try:
            store.check_key()
        finally:
            store.close()
    elif settings.sqlite_path.is_file():
        db = sqlite3.connect(f"file:{settings.sqlite_path}?mode=ro", uri=True, timeout=60.0)
        try:
            try:
                row = db.execute(
                    "SELECT state FROM stored_events ORDER BY rowid LIMIT 1"
                ).fetchone()
            except sqlite3.OperationalError:
                row = None  # no events table yet
            if row is not None and sealing.person_key_id(row[0]) is None:
                sealing.unseal(row[0])
            person_keys.check_key(db.cursor(), person_keys.TABLE, person_keys.CHECK_TABLE)
        finally:
            db.close()
    _KEY_CHECKED.add(where)


if TYPE_CHECKING:
    # Imported where a ledger is opened: most commands open none, and the ledgers' modules
    # (the privacy budget's arithmetic among them) were a tenth of every command's start-up.
    from infra.ledgers.access import AccessLedger
    from infra.ledgers.budget import BudgetLedger
    from infra.ledgers.erasure import ErasureLedger
    from infra.ledgers.partner import PartnerLedger


def application_env(settings: Settings, name: str = APPLICATION_NAME) -> Environment:
    """The environment eventsourcing's infrastructure factory reads (``PERSISTENCE_MODULE``
    and its options) for the configured store, under the application ``name``. On SQLite
    the data directory is made here, as eventsourcing's recorder expects the file's folder.
    Its mapper encrypts what it stores with the configured key (``CIPHER_TOPIC``); the key
    is checked against the stored events by what opens the store (below), not here."""
    use_key(settings, check=False)
    if settings.store == "postgres":
        assert settings.postgres_dsn is not None
        env = postgres_env(settings.postgres_dsn, name)
    else:
        private_dir(settings.data_dir)
        env = sqlite_env(settings.sqlite_path, name)
    return env  # with eventsourcing's CIPHER_TOPIC: see infra.sealing


def open_store(settings: Settings) -> EventStore:
    """The store the settings choose: SQLite by default, PostgreSQL by configuration."""
    use_key(settings)
    if settings.store == "postgres":
        # Imported here: psycopg is not loaded by commands on the embedded store.
        from infra.postgres.store import PostgresEventStore

        assert settings.postgres_dsn is not None
        return PostgresEventStore(settings)
    return SQLiteEventStore(settings.sqlite_path)


def store_absent(settings: Settings) -> Literal["not_a_folder", "empty"] | None:
    """Why the configured store cannot be read, or None when it can be: a read command must
    not make an empty store by opening it. On SQLite the data directory may be a file
    (``not_a_folder``) or hold no database yet (``empty``); a PostgreSQL store is the
    server's, and opening it creates nothing a reader would mistake for data."""
    if settings.store == "postgres":
        return None
    if settings.data_dir.exists() and not settings.data_dir.is_dir():
        return "not_a_folder"
    if not settings.sqlite_path.is_file():
        return "empty"
    return None


def store_notifies(settings: Settings) -> bool:
    """Whether the store announces new events itself (PostgreSQL's LISTEN/NOTIFY), so that a
    follower of the read model is woken by it instead of polling."""
    return settings.store == "postgres"


def ledger_application(settings: Settings, **extra: Any) -> LedgerApplication:
    """eventsourcing's application over the configured store; ``extra``: more of its
    environment (e.g. ``CREATE_TABLE``)."""
    use_key(settings)
    env = application_env(settings)
    env.update({k: str(v) for k, v in extra.items()})
    return LedgerApplication(env=env)


def open_budget_ledger(settings: Settings) -> BudgetLedger:
    """The budget ledger in the configured store's database, with an earlier version's
    ledger file imported (SQLite only: see :mod:`infra.ledgers.budget`)."""
    from infra.ledgers.base import open_ledger_application
    from infra.ledgers.budget import BudgetLedger, import_legacy_file

    use_key(settings)
    ledger = open_ledger_application(BudgetLedger, application_env(settings))
    if settings.store == "sqlite":
        import_legacy_file(ledger, settings.data_dir, settings.max_year_epsilon)
    return ledger


def open_partner_ledger(settings: Settings) -> PartnerLedger:
    """The partner ledger in the configured store's database."""
    from infra.ledgers.base import open_ledger_application
    from infra.ledgers.partner import PartnerLedger

    use_key(settings)
    return open_ledger_application(PartnerLedger, application_env(settings))


def open_erasure_ledger(settings: Settings) -> ErasureLedger:
    """The record of erasures in the configured store's database."""
    from infra.ledgers.base import open_ledger_application
    from infra.ledgers.erasure import ErasureLedger

    use_key(settings)
    return open_ledger_application(ErasureLedger, application_env(settings))


def open_access_ledger(settings: Settings) -> AccessLedger:
    """The users and the audit trail in the configured store's database."""
    from infra.ledgers.access import AccessLedger
    from infra.ledgers.base import open_ledger_application

    use_key(settings)
    return open_ledger_application(AccessLedger, application_env(settings))


def case_timeline(settings: Settings, person_ref: str) -> list[dict[str, Any]]:
    """A person's events in the order they happened (none: an empty list)."""
    from eventsourcing.application import AggregateNotFoundError

    application = ledger_application(settings)
    sealing.refresh_person_keys()  # an erasure by another process since is seen here
    try:
        return application.case(person_ref).in_occurrence_order()
    except (AggregateNotFoundError, sealing.Erased):
        return []
    finally:
        application.close()


def rekey_store(
    settings: Settings, before: sealing.Sealer, after: sealing.Sealer
) -> tuple[int, int]:
    """Seal the configured store again from key ``before`` to ``after`` (``infra.rekey``):
    (events sealed again, person keys wrapped again)."""
    if settings.store == "postgres":
        from infra.postgres.rekey import rekey_postgres

        assert settings.postgres_dsn is not None
        return rekey_postgres(settings.postgres_dsn, before, after)
    from infra.sqlite.rekey import rekey_sqlite

    return rekey_sqlite(settings.sqlite_path, before, after)


def open_view(settings: Settings) -> LedgerView:
    """The read model for the store the settings choose (a tracking recorder with the
    read-model tables, ``infra.view.LedgerView``), its tables created if need be."""
    use_key(settings)
    if settings.store == "postgres":
        from infra.postgres.view import open_postgres_view

        return open_postgres_view(settings)
    from infra.sqlite.view import SQLiteLedgerView

    ensure_database(settings.sqlite_path)
    # The read model shares the event store's file: the view re-reads a person's stream in
    # the same transaction that updates the person's rows.
    factory = InfrastructureFactory.construct(
        env=Environment(APPLICATION_NAME, sqlite_env(settings.sqlite_path))
    )
    view = factory.tracking_recorder(SQLiteLedgerView)
    assert isinstance(view, SQLiteLedgerView)
    return view


@contextmanager
def updating(settings: Settings) -> Iterator[None]:
    """Hold the read model's update lock: at most one process at a time opens the read model
    and brings it up to date; the others wait, then find little or nothing left to do.

    Without it, two readers that both found the view behind wrote it at once: on SQLite the
    second got "database is locked" (a deferred transaction cannot wait for the write lock
    once it has read), on PostgreSQL the second failed to record its tracking position. An
    exclusive lock on a file beside the events (SQLite) or a session advisory lock
    (PostgreSQL, ``VIEW_LOCK_KEY``, which the ProjectionRunner's view also takes for each
    of its updates) serialises them. Reading the rows afterwards needs no lock."""
    if settings.store == "postgres":
        from infra.postgres.tables import VIEW_LOCK_KEY, ddl_lock

        assert settings.postgres_dsn is not None
        with ddl_lock(settings.postgres_dsn, VIEW_LOCK_KEY):
            yield
        return
    with file_lock(Path(f"{settings.sqlite_path}.view.lock")):
        yield

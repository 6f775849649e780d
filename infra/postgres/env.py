"""The settings eventsourcing's PostgreSQL persistence module reads, from the store's DSN."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, unquote, urlparse

from eventsourcing.utils import Environment

from infra.app import APPLICATION_NAME
from infra.sealing import CIPHER_TOPIC

POOL_SIZE = 4


def postgres_env(dsn: str, name: str = APPLICATION_NAME) -> Environment:
    """eventsourcing's environment (``PERSISTENCE_MODULE``) for the database of ``dsn``, for
    the application ``name`` (which names its tables); the DSN's TLS options are handed to
    libpq on the way (:func:`export_libpq_tls`)."""
    url = urlparse(dsn)
    export_libpq_tls(dsn)
    return Environment(
        name,
        {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.lstrip("/") or "cmm",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "cmm"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_POOL_SIZE": str(POOL_SIZE),
            "CIPHER_TOPIC": CIPHER_TOPIC,
        },
    )


LIBPQ_TLS_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "sslnegotiation": "PGSSLNEGOTIATION",
}
"""The DSN's TLS options and the libpq environment variables that carry the same settings."""


def export_libpq_tls(dsn: str) -> None:
    """Hand the DSN's TLS options (``?sslmode=require&sslrootcert=...``) to libpq.

    eventsourcing's PostgreSQL pool is configured from separate host, port, user and password
    settings and has no TLS option, so a DSN's ``sslmode`` would be lost on its connections
    (the budget and partner ledgers, the projection's tracking). libpq reads the same options
    from ``PGSSLMODE`` and friends, so they are set for this process from the DSN, overriding
    whatever the environment said: the DSN is the one place TLS is configured, and every
    connection of every command follows it. Connections made from the DSN itself (psycopg)
    read it directly."""
    query = parse_qs(urlparse(dsn).query)
    for option, variable in LIBPQ_TLS_OPTIONS.items():
        values = query.get(option)
        if values:
            os.environ[variable] = values[-1]

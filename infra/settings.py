"""Settings: where the data lives and which store, from the environment or the CLI.

The store is chosen by configuration, never by code: ``CMM_STORE=sqlite`` (the embedded
default, no server) or ``CMM_STORE=postgres`` with ``CMM_POSTGRES_DSN``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

StoreKind = Literal["sqlite", "postgres"]
DEFAULT_MAX_YEAR_EPSILON = 10.0
"""Twice the default year budget: room for a second look, not for near-exact counts."""


def _max_epsilon(raw: str | None) -> float:
    if raw is None or raw == "":
        return DEFAULT_MAX_YEAR_EPSILON
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"CMM_MAX_YEAR_EPSILON must be a positive number, not {raw!r}")
    return value


def default_data_dir() -> Path:
    """Per-user data directory (XDG), so nothing lands in the working tree by accident."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cmm-ledger"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    store: StoreKind = "sqlite"
    postgres_dsn: str | None = None
    kafka_bootstrap: str | None = None
    kafka_topic: str = "cmm.events"
    kafka_dead_letter_topic: str = "cmm.events.dead-letter"
    kafka_group: str = "cmm-ledger"
    max_year_epsilon: float = DEFAULT_MAX_YEAR_EPSILON
    """The largest privacy budget ``cmm budget allocate`` opens a year with
    (``CMM_MAX_YEAR_EPSILON``)."""

    @classmethod
    def from_env(
        cls,
        data_dir: str | Path | None = None,
        store: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Settings:
        e = os.environ if env is None else env
        chosen = (store or e.get("CMM_STORE") or "sqlite").lower()
        if chosen not in ("sqlite", "postgres"):
            raise ValueError(f"CMM_STORE must be 'sqlite' or 'postgres', not {chosen!r}")
        dsn = e.get("CMM_POSTGRES_DSN") or None
        if chosen == "postgres" and not dsn:
            raise ValueError(
                "CMM_STORE=postgres needs CMM_POSTGRES_DSN, "
                "e.g. postgresql://cmm:cmm@127.0.0.1:5432/cmm"
            )
        directory = Path(data_dir or e.get("CMM_DATA_DIR") or default_data_dir())
        return cls(
            data_dir=directory.expanduser(),
            store=chosen,  # type: ignore[arg-type]
            postgres_dsn=dsn,
            kafka_bootstrap=e.get("CMM_KAFKA_BOOTSTRAP") or None,
            kafka_topic=e.get("CMM_KAFKA_TOPIC", "cmm.events"),
            kafka_dead_letter_topic=e.get("CMM_KAFKA_DLQ_TOPIC", "cmm.events.dead-letter"),
            kafka_group=e.get("CMM_KAFKA_GROUP", "cmm-ledger"),
            max_year_epsilon=_max_epsilon(e.get("CMM_MAX_YEAR_EPSILON")),
        )

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "events.sqlite3"

    def eventsourcing_env(self) -> dict[str, str]:
        """The environment eventsourcing's infrastructure factory reads (PERSISTENCE_MODULE)."""
        if self.store == "sqlite":
            self.data_dir.mkdir(parents=True, exist_ok=True)
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.sqlite_path),
                "SQLITE_LOCK_TIMEOUT": "60",
            }
        assert self.postgres_dsn is not None
        url = urlparse(self.postgres_dsn)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.lstrip("/") or "cmm",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "cmm"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_POOL_SIZE": "4",
        }

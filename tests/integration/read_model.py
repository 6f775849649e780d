"""Reading a whole read model, to compare two views row for row."""

from __future__ import annotations

from typing import Any

READ_MODEL_TABLES = ("cases", "facts", "contacts", "hotline", "outreach", "log_events")


def read_model(view: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read-model table, in a fixed order."""
    return {
        table: sorted(
            (tuple(row) for row in view.query(f"SELECT * FROM {table}")),
            key=lambda row: tuple("" if v is None else str(v) for v in row),
        )
        for table in READ_MODEL_TABLES
    }

"""Reading a whole read model, to compare two views row for row."""

from __future__ import annotations

from typing import Any

READ_MODEL_TABLES = ("cases", "facts", "contacts", "hotline", "outreach", "log_events")


def read_model(view: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read-model table, in a fixed order. A log event's position in the
    store is shown as the stored event it points to (stream and version), so two stores that
    numbered the same events differently still compare equal, and a wrong pointer does not."""
    # The tables' rows through the view, which opens their sealed values (sealed twice,
    # the same row is two different ciphertexts).
    tables = {table: view.rows(table) for table in READ_MODEL_TABLES}
    tables["log_events"] = view.query(
        "SELECT l.event_id, l.target_event_id, e.originator_id, e.originator_version "
        f"FROM log_events l LEFT JOIN {view.events_table} e "
        f"ON e.{view.position_column} = l.position"
    )
    return {
        table: sorted(
            (tuple(row) for row in rows),
            key=lambda row: tuple("" if v is None else str(v) for v in row),
        )
        for table, rows in tables.items()
    }

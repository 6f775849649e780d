"""One case for a case worker: its current state and its full timeline, every event of
the person in the order it happened (as the projections order them), corrections included."""

from __future__ import annotations

from typing import Any

from application.cases import cases
from application.ports import Adapters


def case_detail(adapters: Adapters, person_ref: str) -> dict[str, Any] | None:
    """``{"case": the case's row, "timeline": its events}``, or None for a person_ref with
    no events."""
    rows = cases(adapters, person_ref)
    if not rows or adapters.case_timeline is None:
        return None
    timeline = adapters.case_timeline(person_ref)
    return {"case": rows[0], "timeline": timeline}

"""One case for a case worker: its current state and its full timeline, every event of
the person in the order it happened (as the projections order them), corrections included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
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


def needing_attention(
    adapters: Adapters,
    *,
    flagged: bool = False,
    unanswered_days: int | None = None,
    on: date | None = None,
) -> list[dict[str, Any]]:
    """The cases, or (either filter given) those that need attention: ``flagged``, whose
    history is inconsistent; ``unanswered_days``, offered support with no answer for at
    least that many days on ``on`` (default: today, UTC)."""
    rows = cases(adapters)
    if not flagged and unanswered_days is None:
        return rows
    if unanswered_days is not None and unanswered_days < 0:
        raise ValueError("unanswered_days must not be negative")
    day = on or datetime.now(UTC).date()
    latest = None if unanswered_days is None else day - timedelta(days=unanswered_days)

    def unanswered(row: dict[str, Any]) -> bool:
        if latest is None or row.get("status") != "offered" or not row.get("status_on"):
            return False
        return date.fromisoformat(str(row["status_on"])[:10]) <= latest

    return [r for r in rows if (flagged and r["flags"]) or unanswered(r)]

"""The audit trail's write: one new event per access, appended after the day's last without
copying the day's record, and never lost when two server processes write at once."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import eventsourcing.application
import pytest

from application.access import audit, record_access
from domain.access import AuditDay
from infra.composition import open_access_ledger
from infra.settings import Settings


def _entry(ledger: Any, n: int) -> None:
    record_access(
        ledger, who=f"user-{n}", role="analyst", action="report", route="GET /v1/x", status=200
    )


def test_two_writers_lose_no_entry_and_no_append_copies_the_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    one, other = open_access_ledger(settings), open_access_ledger(settings)
    for n in range(40):  # interleaved: each writer's cached record is behind the other's
        _entry(one if n % 2 else other, n)

    copied: list[str] = []
    original = copy.deepcopy

    def watching(value: Any, *args: Any) -> Any:
        if isinstance(value, AuditDay):
            copied.append(value.day)
        return original(value, *args)

    monkeypatch.setattr(eventsourcing.application, "deepcopy", watching)
    for n in range(40, 46):
        _entry(one if n % 2 else other, n)
    monkeypatch.undo()
    assert copied == []  # an append never copies the record it appends to

    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).date()  # and yesterday: the test may cross midnight
    trail = audit(open_access_ledger(settings), today - timedelta(days=1), today)
    whos = [e["who"] for e in trail]
    assert sorted(whos) == sorted(f"user-{n}" for n in range(46))

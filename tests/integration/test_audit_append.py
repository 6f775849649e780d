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


def test_the_servers_writer_stores_every_concurrent_entry_in_few_transactions(
    tmp_path: Path,
) -> None:
    """Requests hand their entries to one writer thread, which writes the ones handed over
    meanwhile together (a group commit): all of them stored, each request waiting for its
    own, in fewer transactions than entries; a failed write reaches every waiting request."""
    import asyncio
    from datetime import UTC, datetime, timedelta

    from application.access import access_entry
    from infra.http.audit import AuditWriter

    settings = Settings(data_dir=tmp_path / "data")
    ledger = open_access_ledger(settings)
    batches: list[int] = []
    record_entries = ledger.record_entries

    def counting(entries: Any) -> None:
        batches.append(len(entries))
        record_entries(entries)

    ledger.record_entries = counting  # type: ignore[method-assign]
    writer = AuditWriter(ledger)

    async def requests() -> None:
        entries = [
            access_entry(
                who=f"user-{n}", role="analyst", action="report", route="GET /v1/x", status=200
            )
            for n in range(60)
        ]
        await asyncio.gather(*(writer.write(day, entry) for day, entry in entries))

    asyncio.run(requests())
    assert sum(batches) == 60 and len(batches) < 60
    today = datetime.now(UTC).date()
    trail = audit(open_access_ledger(settings), today - timedelta(days=1), today)
    assert sorted(e["who"] for e in trail) == sorted(f"user-{n}" for n in range(60))

    def failing(entries: Any) -> None:
        raise OSError("disk full")

    ledger.record_entries = failing  # type: ignore[method-assign]

    async def refused() -> list[BaseException | None]:
        day, entry = access_entry(
            who="x", role="analyst", action="a", route="GET /v1/x", status=200
        )
        return await asyncio.gather(
            *(writer.write(day, entry) for _ in range(5)), return_exceptions=True
        )

    assert all(isinstance(r, OSError) for r in asyncio.run(refused()))

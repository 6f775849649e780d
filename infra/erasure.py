"""Erasing a person (``cmm erase``): their data key deleted, their read-model rows removed, the
erasure recorded; and erasing, the same way, every case with no event for longer than the
retention period (``cmm erase --older-than``).

What an erasure does, in this order, under the read model's update lock (so no catch-up
runs meanwhile):

1. records the erasure in the erasure ledger (``domain.erasure``): the case stream's id, the
   reason code, the time; nothing personal;
2. deletes the person's data key (``infra.person_keys``): from then on none of their events
   can be opened by anyone, and the store refuses new events about them;
3. deletes their rows from the read model (facts as of every time, contacts, cases).

Each step can be done again: an erasure interrupted after the first or second is completed
by running the same command again. A rebuild of the read model leaves the person out too,
as it cannot open their events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.erasure import ErasureReason
from domain.events import PERSON_REF_PATTERN
from infra.composition import open_erasure_ledger, open_store, open_view, updating
from infra.encoding import case_hex
from infra.settings import Settings


class EraseRefused(ValueError):
    """An erasure that cannot be made; nothing was changed."""


@dataclass(frozen=True)
class ErasureDone:
    stream_id: str
    reason: str
    erased_at: str
    rows_removed: int
    completed: bool  # an interrupted erasure, completed now


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def check_person_ref(person_ref: str) -> str:
    if not re.fullmatch(PERSON_REF_PATTERN, person_ref):
        raise EraseRefused(
            "PERSON_REF is not a person reference (a prefix of capital letters, a hyphen, "
            "8 to 64 lowercase hex digits, as in the events); nothing was changed"
        )
    return person_ref


def erase_person(
    settings: Settings, person_ref: str, reason: ErasureReason, at: str | None = None
) -> ErasureDone:
    """Erase one person (see the module docstring); :class:`EraseRefused` for a malformed
    reference, a person the store does not hold, or one erased already (with nothing left
    to complete)."""
    check_person_ref(person_ref)
    stream = case_hex(person_ref)
    with updating(settings):
        store = open_store(settings)
        try:
            status = store.person_key_status(stream)
            if status is None:
                if store.has_stream(stream):
                    raise EraseRefused(
                        "that person's events were stored before person keys, so they "
                        "cannot be erased by deleting a key; nothing was changed"
                    )
                raise EraseRefused("no person with that reference is stored; nothing was changed")
            view = open_view(settings)
            try:
                if status == "erased" and not view.cases(person_ref):
                    raise EraseRefused("that person was erased already; nothing was changed")
                ledger = open_erasure_ledger(settings)
                try:
                    record = ledger.record(stream, reason.value, at or _now())
                finally:
                    ledger.close()
                store.erase_person_key(stream, record.reason, record.erased_at)
                removed = view.forget_persons([person_ref])
            finally:
                view.close()
        finally:
            store.close()
    return ErasureDone(stream, record.reason, record.erased_at, removed, status == "erased")


def expired_cases(settings: Settings, days: int, now: datetime | None = None) -> list[str]:
    """The person_refs of the cases whose last event was recorded more than ``days`` days
    before ``now``, from the read model brought up to date first."""
    if days < 1:
        raise EraseRefused("--older-than must be at least 1 day; nothing was changed")
    from infra.readmodel import catch_up

    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    with updating(settings):
        store = open_store(settings)
        view = open_view(settings)
        try:
            catch_up(store, view)
            rows = view.cases()
        finally:
            view.close()
            store.close()
    from projections.read_model_rows import CASE_COLUMNS

    person = CASE_COLUMNS.index("person_ref")
    last = CASE_COLUMNS.index("last_recorded_at")
    expired = []
    for row in rows:
        recorded = row[last]
        if not recorded:
            continue
        when = datetime.fromisoformat(str(recorded))
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if when < cutoff:
            expired.append(str(row[person]))
    return expired

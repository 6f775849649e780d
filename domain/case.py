"""Event-sourced aggregates: a case per person, and logs for what is not about one person.

Streams:
- ``Case``: every event about one ``person_ref``.
- ``Log``: hotline calls of a year, outreach activity of a place and year, and corrections of
  those log events of a year.

An aggregate's events are the contract's envelopes, stored as they were validated (plain JSON
values), in the order they arrived. Arrival order is not the order things happened: events
from different services arrive late and out of order, so the aggregate keeps every event and
the projections order them by ``occurred_at``. Nothing is dropped for arriving late.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.events import CASE_EVENT_TYPES, SCHEMA_VERSION, Event, to_record
from domain.versions import upcast

# Stream ids are name-based (UUIDv5), so every ingest process, on any store, maps the same
# person or log to the same aggregate without a lookup table.
STREAM_NAMESPACE = uuid5(NAMESPACE_URL, "urn:cmm-ledger:stream")


@lru_cache(maxsize=65536)
def case_id(person_ref: str) -> UUID:
    return uuid5(STREAM_NAMESPACE, f"case/{person_ref}")


def log_key(record: dict[str, Any]) -> str:
    """The log a non-case event belongs to, e.g. ``hotline/2012`` or
    ``outreach/street_odense/2012``. Corrections of log events go to ``corrections/<year>``
    (the year the correction happened)."""
    year = record["occurred_at"][:4]
    kind = record["type"]
    if kind == "HotlineCallReceived":
        return f"hotline/{year}"
    if kind == "OutreachActivityLogged":
        place = record["payload"]["place"]
        return f"outreach/{getattr(place, 'value', place)}/{year}"
    return f"corrections/{year}"


@lru_cache(maxsize=4096)
def log_id(key: str) -> UUID:
    return uuid5(STREAM_NAMESPACE, f"log/{key}")


def stream_of(record: dict[str, Any]) -> tuple[UUID, str, str]:
    """(aggregate id, aggregate kind, stream key) for a stored event record."""
    person_ref = record.get("person_ref")
    if person_ref is not None:
        return case_id(person_ref), "case", person_ref
    key = log_key(record)
    return log_id(key), "log", key


class _Stream(Aggregate):
    """Common behaviour: an append-only, idempotent sequence of recorded envelopes."""

    class Recorded(Aggregate.Event):
        """Base of every recorded fact: the envelope's fields, without ``person_ref`` (the
        stream says whose it is) and without ``type`` (the event class says it)."""

        event_id: str
        schema_version: int
        occurred_at: str
        recorded_at: str
        source: str
        payload: dict[str, Any]

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, _Stream)
            aggregate.event_ids.add(self.event_id)
            aggregate.records.append(self.as_record())

        def as_record(self) -> dict[str, Any]:
            """The record in the contract's current version (``domain.versions``): the
            event itself keeps the version it was recorded in, as it is stored."""
            record = {
                "event_id": self.event_id,
                "type": type(self).__name__,
                "schema_version": self.schema_version,
                "occurred_at": self.occurred_at,
                "recorded_at": self.recorded_at,
                "source": self.source,
                "payload": self.payload,
            }
            return record if self.schema_version == SCHEMA_VERSION else upcast(record)

    def __init__(self) -> None:
        self.event_ids: set[str] = set()
        self.records: list[dict[str, Any]] = []

    def record(self, event: Event) -> bool:
        """Record a validated event; False (and nothing recorded) if its id is already here."""
        record = to_record(event)
        if record["event_id"] in self.event_ids:
            return False
        event_class = getattr(type(self), record["type"])
        self.trigger_event(event_class, **event_fields(record))
        return True

    def in_occurrence_order(self) -> list[dict[str, Any]]:
        # Stored timestamps are fixed-width UTC ISO strings: string order is time order.
        return sorted(
            self.records, key=lambda r: (r["occurred_at"], r["recorded_at"], r["event_id"])
        )


def event_fields(record: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of a ``Recorded`` event (and its stored state, in this order)."""
    return {
        "timestamp": datetime.fromisoformat(record["recorded_at"]),
        "event_id": record["event_id"],
        "schema_version": record["schema_version"],
        "occurred_at": record["occurred_at"],
        "recorded_at": record["recorded_at"],
        "source": record["source"],
        "payload": record["payload"],
    }


class Case(_Stream):
    """Everything recorded about one person, identified only by a pseudonym."""

    class Opened(Aggregate.Created):
        person_ref: str

    def __init__(self, person_ref: str) -> None:
        super().__init__()
        self.person_ref = person_ref

    @classmethod
    def open(cls, person_ref: str, at: datetime) -> Case:
        return cls._create(cls.Opened, id=case_id(person_ref), person_ref=person_ref, timestamp=at)

    class ContactRegistered(_Stream.Recorded):
        pass

    class AssessmentDecided(_Stream.Recorded):
        pass

    class SupportOffered(_Stream.Recorded):
        pass

    class SupportStatusChanged(_Stream.Recorded):
        pass

    class AccommodationChanged(_Stream.Recorded):
        pass

    class DepartedDenmark(_Stream.Recorded):
        pass

    class CorrectionRecorded(_Stream.Recorded):
        pass


class Log(_Stream):
    """Hotline calls of a year, one outreach place's activity in a year, or corrections."""

    class Opened(Aggregate.Created):
        key: str

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    @classmethod
    def open(cls, key: str, at: datetime) -> Log:
        return cls._create(cls.Opened, id=log_id(key), key=key, timestamp=at)

    class HotlineCallReceived(_Stream.Recorded):
        pass

    class OutreachActivityLogged(_Stream.Recorded):
        pass

    class CorrectionRecorded(_Stream.Recorded):
        pass


assert {name for name in vars(Case) if not name.startswith("_")} >= CASE_EVENT_TYPES

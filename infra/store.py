"""The event store port: what ingestion, the Kafka consumer and projections need from a store.

The adapters (:mod:`infra.sqlite.store`, :mod:`infra.postgres.store`) store events in
eventsourcing's own tables (stored events and tracking, created by eventsourcing's recorders),
so eventsourcing's ``Application`` reads the same aggregates and its notification log is the
one projections follow. On top of that each keeps one table of its own, ``event_ids``, the
idempotency index: an event id is stored once. :mod:`infra.composition` chooses the adapter
from the settings; nothing else names one.

``append`` is the bulk write path: one transaction per batch holds the new events, their ids
and, optionally, tracking positions (e.g. Kafka offsets), so a crash never separates them.

An id is an idempotency key, not a licence to overwrite: an event whose id is stored
already is a no-op only when its content is the same. The same id with other content is a
*conflict*: it is not stored, the stored event is kept, and ``append`` reports it (with the
fields that differ, never their values) so the caller can reject it. How both adapters find
conflicts and plan rows is in :mod:`infra.append_plan`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from infra.encoding import Encoded


@dataclass(frozen=True, slots=True)
class Conflict:
    """An event of an append whose id is stored already with other content."""

    index: int  # in the events given to ``append``
    reason: str


@dataclass(frozen=True)
class AppendResult:
    appended: int
    duplicates: int  # stored already, with the same content: nothing to do
    conflicts: tuple[Conflict, ...] = ()


OnConflict = Callable[[Sequence[Conflict]], None]
"""Called inside the append's transaction, before it commits, when there are conflicts: a
Kafka consumer dead-letters them there, so the positions that skip them are committed only
once the dead letters are acknowledged. If it raises, nothing of the batch is committed."""


ERASED_STATE = b""
"""What ``read`` gives as the state of an erased person's event (``cmm erase``): it can no
longer be opened, and readers leave it out."""


@dataclass(frozen=True, slots=True)
class StoredRow:
    """One entry of the notification log."""

    notification_id: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes


class EventStore(ABC):
    """What ingestion, the Kafka consumer and projections need from a store."""

    @abstractmethod
    def append(
        self,
        events: Sequence[Encoded],
        positions: Mapping[str, int] | None = None,
        on_conflict: OnConflict | None = None,
    ) -> AppendResult:
        """Store the events not stored before (by event id), in one transaction with the
        given tracking positions (name -> position; a position only moves forward). An
        event whose id is stored (or earlier in ``events``) with other content is a
        conflict: not stored, reported in the result and to ``on_conflict``."""

    @abstractmethod
    def position(self, name: str) -> int | None:
        """The tracked position stored under ``name``, if any."""

    @abstractmethod
    def read(self, after: int, limit: int) -> list[StoredRow]:
        """Notifications with id > ``after``, in order, at most ``limit``."""

    @abstractmethod
    def max_notification_id(self) -> int:
        """The id of the last notification (0 when empty)."""

    @abstractmethod
    def person_key_status(self, stream: str) -> str | None:
        """Of a case stream's data key (``infra.person_keys``): ``"live"``, ``"erased"``, or
        None (no key: no such person, or one stored before person keys)."""

    @abstractmethod
    def has_stream(self, stream: str) -> bool:
        """Whether any event of the stream is stored."""

    @abstractmethod
    def erase_person_key(self, stream: str, reason: str, at: str) -> bool:
        """Delete the case stream's data key, leaving no copy of it in the store's files
        that the database can avoid; False if it had none left."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def reopen(self) -> EventStore:
        """A new connection to the same store, for another process (e.g. a worker forked
        by bulk ingestion) that writes beside this one."""

    def iter_rows(
        self, after: int = 0, stop: int | None = None, chunk: int = 20_000
    ) -> Iterator[list[StoredRow]]:
        """Chunks of the notification log from ``after`` up to ``stop`` (inclusive)."""
        while True:
            rows = self.read(after, chunk)
            if stop is not None:
                rows = [r for r in rows if r.notification_id <= stop]
            if not rows:
                return
            yield rows
            after = rows[-1].notification_id
            if len(rows) < chunk:
                return

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""The access ledger's store: ``domain.access``'s users and audit trail in the event store's
own database (a table of its own, as the other ledgers: ``infra.ledgers.base``), so a copy
of the store carries who could read it and who did, and deleting a side file resets
neither. :func:`infra.composition.open_access_ledger` opens it.

Two writers at once (two requests, or a request and ``cmm users``) both save the next
version of the same aggregate; the second is refused by the store and tries again on the
aggregate as it is now, so no entry is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain.access import DIRECTORY_ID as _DIRECTORY_ID
from domain.access import AuditDay, TokenFailures, UserDirectory, audit_day_id, token_failures_id
from infra.ledgers.base import StoredLedger

SAVE_ATTEMPTS = 20

A = TypeVar("A", bound=Aggregate)


class AccessLedger(StoredLedger):
    name = "AccessLedger"
    # Every request reads the directory and appends to the day's audit record: kept in
    # memory and brought forward with only the events stored since (eventsourcing's cache
    # with fast-forward; what it hands out is a copy), instead of replayed from the start.
    env: ClassVar[dict[str, str]] = {"AGGREGATE_CACHE_MAXSIZE": "16"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The requests of one server all append to the same day's record: taking turns here
        # spares them the store's refusals and retries (other processes still retry).
        self._writing = threading.Lock()

    def directory(self) -> UserDirectory:
        """The users as stored now (an empty directory if none was ever added)."""
        try:
            found: object = self.repository.get(_DIRECTORY_ID)
        except AggregateNotFoundError:
            return UserDirectory()
        assert isinstance(found, UserDirectory)
        return found

    def change_users(self, change: Callable[[UserDirectory], None]) -> None:
        """Apply ``change`` to the directory and save it (again on a fresh copy if another
        writer saved first); ``change``'s refusals pass through, saving nothing."""
        self._save_with(self.directory, change)

    def day(self, day: str) -> AuditDay | None:
        try:
            found: object = self.repository.get(audit_day_id(day))
        except AggregateNotFoundError:
            return None
        assert isinstance(found, AuditDay)
        return found

    def record(self, day: str, entry: dict[str, Any]) -> None:
        """Append one access to the day's record: one new event after the record's last,
        written without copying the record (a day's record grows with every request, and
        a copy of it per request made each request slower than the one before). Another
        writer that appended first makes the store refuse this one; it is then made again
        after that writer's, so no entry is lost."""
        with self._writing:
            for attempt in range(SAVE_ATTEMPTS):
                try:
                    # The cached record itself, brought forward from the store: read only.
                    current: object = self.repository.get(
                        audit_day_id(day), deepcopy_from_cache=False
                    )
                except AggregateNotFoundError:
                    current = None
                pending: Any
                if current is None:
                    pending = AuditDay(day)
                    pending.record(**entry)
                else:
                    assert isinstance(current, AuditDay)
                    recorded: Any = AuditDay.AccessRecorded  # type: ignore[attr-defined]
                    pending = recorded(
                        originator_id=current.id,
                        originator_version=current.version + 1,
                        timestamp=recorded.create_timestamp(),
                        **entry,
                    )
                try:
                    self.save(pending)
                    return
                except IntegrityError:
                    if attempt == SAVE_ATTEMPTS - 1:
                        raise

    def token_failures(self, client: str, since: float) -> int:
        """How many wrong tokens ``client`` presented after ``since``, in any process."""
        try:
            found: object = self.repository.get(token_failures_id(client))
        except AggregateNotFoundError:
            return 0
        assert isinstance(found, TokenFailures)
        return found.since(since)

    def token_failed(self, client: str, at: float) -> None:
        """Record one wrong token from ``client``."""

        def load() -> TokenFailures:
            try:
                found: object = self.repository.get(token_failures_id(client))
            except AggregateNotFoundError:
                return TokenFailures(client)
            assert isinstance(found, TokenFailures)
            return found

        self._save_with(load, lambda failures: failures.failed(at))

    def _save_with(self, load: Callable[[], A], change: Callable[[A], None]) -> None:
        with self._writing:
            self._save_with_retries(load, change)

    def _save_with_retries(self, load: Callable[[], A], change: Callable[[A], None]) -> None:
        for attempt in range(SAVE_ATTEMPTS):
            aggregate = load()
            change(aggregate)
            try:
                self.save(aggregate)
                return
            except IntegrityError:
                if attempt == SAVE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

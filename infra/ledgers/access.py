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
from collections.abc import Callable, Sequence
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
        self.writing = threading.Lock()
        # Each day's record's last version as this process last wrote it: the next entries
        # follow it without reading the record first (a refusal says another process wrote
        # meanwhile, and the record is read again).
        self._day_versions: dict[str, int] = {}

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
        """Append one access to the day's record (:meth:`record_entries`). A server writes
        its requests' entries in batches instead (``infra.http.audit.AuditWriter``)."""
        with self.writing:
            self.record_entries([(day, entry)])

    def record_entries(self, entries: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Append ``(day, entry)`` pairs to the days' records, in one transaction (the
        caller holds ``writing``: :meth:`record`, or a server's audit writer). Each entry is
        one new event after the record's last, written without copying the record (a day's
        record grows with every request). Another process that appended first makes the
        store refuse the batch; it is then made again after that process's entries, so no
        entry is lost."""
        days: dict[str, list[dict[str, Any]]] = {}
        for day, entry in entries:
            days.setdefault(day, []).append(entry)
        for attempt in range(SAVE_ATTEMPTS):
            to_save: list[Any] = []
            versions: dict[str, int] = {}
            for day, day_entries in days.items():
                version = self._day_versions.get(day)
                if version is None:
                    version = self._stored_version(day)
                if version == 0:
                    new_day = AuditDay(day)
                    for entry in day_entries:
                        new_day.record(**entry)
                    to_save.append(new_day)
                else:
                    recorded: Any = AuditDay.AccessRecorded  # type: ignore[attr-defined]
                    day_id = audit_day_id(day)
                    to_save.extend(
                        recorded(
                            originator_id=day_id,
                            originator_version=version + n,
                            timestamp=recorded.create_timestamp(),
                            **entry,
                        )
                        for n, entry in enumerate(day_entries, start=1)
                    )
                versions[day] = version + len(day_entries) + (1 if version == 0 else 0)
            try:
                self.save(*to_save)
            except IntegrityError:
                # Another process appended first: read the records as they are now.
                self._day_versions.clear()
                if attempt == SAVE_ATTEMPTS - 1:
                    raise
                continue
            except BaseException:
                self._day_versions.clear()
                raise
            if len(self._day_versions) > 4:
                self._day_versions.clear()
            self._day_versions.update(versions)
            return

    def _stored_version(self, day: str) -> int:
        """The last version of the day's record in the store (0: none yet)."""
        try:
            # The cached record itself, brought forward from the store: read only.
            current: object = self.repository.get(audit_day_id(day), deepcopy_from_cache=False)
        except AggregateNotFoundError:
            return 0
        assert isinstance(current, AuditDay)
        return int(current.version)

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
        with self.writing:
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

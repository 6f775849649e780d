"""The erasure ledger: ``domain.erasure``'s records in the event store's own database (a table
of its own, as the other ledgers: ``infra.ledgers.base``), so a copy of the store carries
which persons were erased, why and when, and nothing personal."""

from __future__ import annotations

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from domain.erasure import Erasure, erasure_id
from infra.ledgers.base import StoredLedger


class ErasureLedger(StoredLedger):
    name = "ErasureLedger"

    def erasure(self, stream_id: str) -> Erasure | None:
        try:
            found: object = self.repository.get(erasure_id(stream_id))
        except AggregateNotFoundError:
            return None
        assert isinstance(found, Erasure)
        return found

    def record(self, stream_id: str, reason: str, erased_at: str) -> Erasure:
        """Record the erasure of a case stream; the one recorded already, if there is one
        (an erasure that was interrupted is completed under its first record)."""
        known = self.erasure(stream_id)
        if known is not None:
            return known
        erasure = Erasure(stream_id, reason, erased_at)
        try:
            self.save(erasure)
        except IntegrityError:
            found = self.erasure(stream_id)
            assert found is not None
            return found
        return erasure

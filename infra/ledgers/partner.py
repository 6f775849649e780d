"""The partner ledger's store: ``privacy.partner_ledger`` in the event store's own database.

Built on ``infra.ledgers.base.StoredLedger``, so the record of partner releases is a
table of the event store (SQLite: the events file; PostgreSQL: the events database;
:func:`infra.composition.open_partner_ledger` opens it there):
deleting files beside the store cannot reset it, and a copy of the store carries it.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from infra.ledgers.base import StoredLedger
from privacy.partner_ledger import Cell, PartnerReleases, partner_ledger_id


class PartnerLedgerConflict(RuntimeError):
    """Another partner release of the year was recorded since this one was audited."""


class PartnerLedger(StoredLedger):
    name = "PartnerLedger"

    def year(self, year: int) -> PartnerReleases | None:
        """The year's record as stored now, or None if no partner release was made."""
        try:
            found: object = self.repository.get(partner_ledger_id(year))
        except AggregateNotFoundError:
            return None
        assert isinstance(found, PartnerReleases)
        return found

    def record(
        self,
        year: int,
        seen_version: int | None,
        *,
        release_id: str,
        released_by: str,
        released_at: str,
        as_of: str,
        threshold: int,
        protection: float,
        cells: Iterable[Cell],
    ) -> UUID:
        """Record a release audited against the year's record at ``seen_version`` (None: no
        record yet). Raises :class:`PartnerLedgerConflict`, recording nothing, if another
        release was recorded since: the new one must be audited against it first."""
        ledger = self.year(year)
        version = None if ledger is None else ledger.version
        if version != seen_version:
            raise PartnerLedgerConflict(f"another partner release of {year} was recorded")
        if ledger is None:
            ledger = PartnerReleases(year)
        ledger.record(
            release_id=release_id,
            released_by=released_by,
            released_at=released_at,
            as_of=as_of,
            threshold=threshold,
            protection=protection,
            cells=cells,
        )
        try:
            self.save(ledger)
        except IntegrityError as race:
            raise PartnerLedgerConflict(f"another partner release of {year} was recorded") from race
        return ledger.id

"""The record of partner releases: one event-sourced aggregate per reporting year.

Every ``cmm publish --method suppression`` of a year is recorded (``PartnerReleaseRecorded``:
who, when, the cut-off, the threshold and protection level, and every cell with its exact
count and whether it was hidden) before its package is written. A later partner release of
the year is audited together with all of them (``privacy.sdc_joint``), so that no difference
between releases narrows a cell or exposes a change of fewer than ``threshold`` persons.

The exact counts of hidden cells are sensitive: the ledger lives in the event store itself
(``infra.ledgers.partner``), as sensitive as the events it summarises, and is never published.
Optimistic concurrency on the aggregate's version means two releases of a year made at once
cannot both be audited without the other: the second to save is refused and audits again.

Imports only the standard library and ``eventsourcing.domain``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

PARTNER_NAMESPACE = uuid5(NAMESPACE_URL, "urn:cmm-ledger:partner-releases")

Cell = tuple[str, tuple[str, ...], int, bool]
"""(table, key, exact count, hidden)."""


def partner_ledger_id(year: int) -> UUID:
    """The partner ledger of ``year``: name-based, so every process finds the same one."""
    return uuid5(PARTNER_NAMESPACE, f"partner-releases/{int(year)}")


class PartnerReleases(Aggregate):
    """A reporting year's partner releases, in the order they were recorded."""

    @staticmethod
    def create_id(year: int) -> UUID:
        return partner_ledger_id(year)

    @event("PartnerLedgerOpened")
    def __init__(self, year: int) -> None:
        self.year = year
        self.releases: list[dict[str, Any]] = []

    def record(
        self,
        *,
        release_id: str,
        released_by: str,
        released_at: str,
        as_of: str,
        threshold: int,
        protection: float,
        cells: Iterable[Cell],
    ) -> None:
        """Record a release (refused if its id was recorded before)."""
        if any(r["release_id"] == release_id for r in self.releases):
            raise ValueError(f"release {release_id} is already recorded")
        rows = [[t, list(k), int(v), bool(h)] for t, k, v, h in cells]
        if not rows:
            raise ValueError("a partner release has cells")
        self._recorded(
            release_id=release_id,
            released_by=released_by,
            released_at=released_at,
            as_of=as_of,
            threshold=int(threshold),
            protection=float(protection),
            cells=rows,
        )

    @event("PartnerReleaseRecorded")
    def _recorded(
        self,
        release_id: str,
        released_by: str,
        released_at: str,
        as_of: str,
        threshold: int,
        protection: float,
        cells: list[list[Any]],
    ) -> None:
        self.releases.append(
            {
                "release_id": release_id,
                "released_by": released_by,
                "released_at": released_at,
                "as_of": as_of,
                "threshold": threshold,
                "protection": protection,
                "cells": cells,
            }
        )

    @staticmethod
    def cells_of(release: dict[str, Any]) -> list[Cell]:
        """A recorded release's cells as (table, key, exact count, hidden)."""
        return [
            (str(t), tuple(str(x) for x in k), int(v), bool(h)) for t, k, v, h in release["cells"]
        ]

"""The view port: what every read-model adapter implements.

A view is a tracking recorder with the read-model tables (as eventsourcing's
``TrackingRecorder``, and its ``examples/ftsprojection`` view whose inserts carry their
tracking): each write changes the rows and records the position of the last event it covers
in one transaction, so a crash leaves both or neither and a restart neither loses nor repeats
work. Every way of keeping the read model up to date goes through these methods alone:

- the catch-up runner (``infra.readmodel.catch_up``) hands the view chunks of the
  notification log as :class:`~projections.projection.Changes` (``apply``), or has it
  ``rebuild`` itself when it is empty and the log is large;
- eventsourcing's ``ProjectionRunner`` (PostgreSQL follow mode) runs
  ``projections.projection.LedgerProjection``, which calls ``apply`` and ``insert_tracking``.

Adapters: ``infra.sqlite.view`` (the store's SQLite file), ``infra.postgres.view`` (beside the
PostgreSQL store), ``infra.memory.view`` (in memory, a reference and a fake for tests).
``infra.composition.open_view`` builds the one the settings choose. The contract test
``tests/integration/test_view_contract.py`` runs the same cases on each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from eventsourcing.persistence import Tracking

from infra.app import LedgerApplication
from projections.projection import Changes, ProjectedView

APPLICATION_NAME = LedgerApplication.name  # the application whose notification log is projected

# ``progress(done, total)``: events read so far, of how many.
Progress = Callable[[int, int], None]


class LedgerView(ProjectedView, Protocol):
    """The read model and its tracked position in the ``Ledger`` notification log."""

    def max_tracking_id(self, application_name: str) -> int | None:
        """The position of the last event projected (None before any)."""

    def apply(self, changes: Changes, tracking: Tracking) -> None:
        """Apply what a run of events changes and record ``tracking`` (its last event's
        position), in one transaction. Case streams are folded again from the store up to
        that position, so applying the same changes again gives the same rows. A position
        not past the tracked one is refused (eventsourcing's ``IntegrityError``) and
        changes nothing, unless the adapter takes turns with catch-ups and skips it."""

    def insert_tracking(self, tracking: Tracking) -> None:
        """Move past events that change no rows (``Opened`` events), as ``apply``."""

    def rebuild(
        self, progress: Progress | None = None, workers: int | None = None
    ) -> tuple[int, int]:
        """Every table rebuilt from the whole store, and the position set to the store's last
        event, in one transaction; returns (events read, position). ``workers``: fold
        processes (``infra.workers.default_workers`` if None)."""

    def forget_persons(self, person_refs: Sequence[str]) -> int:
        """Delete every row of these persons, in every table and as of every time (an
        erasure: ``cmm erase``); returns the rows deleted."""

    def valid_at(self, table: str, bound: str) -> list[tuple[Any, ...]]:
        """The rows of a bitemporal table valid at ``bound`` (a normalised timestamp), without
        their ``tx_from, tx_to``."""

    def cases(self, person_ref: str | None = None) -> list[tuple[Any, ...]]:
        """The ``cases`` rows (of one person, if given), by ``person_ref``."""

    def rows(self, table: str) -> list[tuple[Any, ...]]:
        """Every row of a read-model table, in no particular order (tests compare views)."""

    def close(self) -> None: ...

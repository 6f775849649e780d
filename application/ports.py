"""What the use cases need from the adapters, and nothing more.

The adapters (``infra``) satisfy these protocols; the composition root binds them to the
settings and hands the use cases one :class:`Adapters`. Tests may hand in other adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

ProgressCallback = Callable[[int, int], None]
"""``(done, total)``: how far a long step is."""


class LedgerConflict(RuntimeError):
    """Another writer recorded in the ledger first; the use case may read it again and retry."""


class Closable(Protocol):
    def close(self) -> None: ...


class EventStore(Closable, Protocol):
    """The event store: what the use cases do with it is hand it on to the adapters."""

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> Any: ...


class CatchUpResult(Protocol):
    @property
    def processed(self) -> int: ...

    @property
    def position(self) -> int: ...


class Staging(Protocol):
    """A folder prepared for one package (``infra.package_out.Staging``)."""

    def commit(self, write: Callable[[Path], object]) -> Path: ...

    def discard(self) -> None: ...


class BudgetLedger(Protocol):
    """The years' privacy budgets (``infra.ledgers.budget.BudgetLedger``)."""

    def budget(self, year: int) -> Any: ...

    def allocate(self, year: int, epsilon: float, allocated_by: str, *, maximum: float) -> Any: ...

    def spend(self, year: int, epsilons: Mapping[str, Any], **recorded: Any) -> Any: ...

    def record_measurements(self, year: int, release_id: str, measurements: Any) -> Any: ...

    def mark_written(self, year: int, release_id: str) -> Any: ...


class PartnerLedger(Protocol):
    """The years' partner releases; ``record`` raises :class:`LedgerConflict` when another
    release of the year was recorded since ``version``."""

    def year(self, year: int) -> Any: ...

    def record(self, year: int, version: int | None, **recorded: Any) -> Any: ...


@dataclass(frozen=True)
class Adapters:
    """Everything the use cases reach outside themselves for, bound to one configuration."""

    open_store: Callable[[], EventStore]
    """A new connection to the configured event store."""
    ingest_file: Callable[..., Any]
    """``(source, store, *, workers, clock_skew, progress, on_reject) -> IngestReport``."""
    open_view: Callable[[], Closable]
    """The read model (a tracking recorder), not yet brought up to date."""
    updating: Callable[[], AbstractContextManager[None]]
    """The read model's update lock: one process at a time brings it up to date."""
    catch_up: Callable[..., CatchUpResult]
    """``(store, view, progress=...)``: apply what the view has not seen yet."""
    load_report_inputs: Callable[[str, ProgressCallback | None], Any]
    """``(as_of, progress)``: the read model brought up to date, its rows valid at as_of."""
    case_rows: Callable[[Any, str | None], list[dict[str, Any]]]
    """``(view, person_ref)``: the case read model's rows."""
    open_budget_ledger: Callable[[], BudgetLedger]
    open_partner_ledger: Callable[[], PartnerLedger]
    stage: Callable[[Path], Staging]
    """Check an output folder and prepare its staging folder (refuses before any spend)."""
    write_release: Callable[[Any, Path], Path]
    """Write a release's data package into a folder."""
    max_year_epsilon: float
    """The most a year's privacy budget may be allocated."""
    clock_skew_seconds: float = 0.0
    """How far an event's ``recorded_at`` may lie ahead of now."""
    case_timeline: Callable[[str], list[dict[str, Any]]] | None = None
    """``(person_ref)``: the person's events in the order they happened."""
    open_access_ledger: Callable[[], Any] | None = None
    """The users and the audit trail (``application.access.AccessLedger``)."""

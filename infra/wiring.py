"""The use cases' adapters, bound to one configuration: what the CLI (and the HTTP API)
hand to :mod:`application`.

Every adapter is imported when first used, not here: a command that moves events starts
without the analysis stack (pandas), which the read model's modules import.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from application.ports import Adapters, LedgerConflict, ProgressCallback
from infra.settings import Settings


class _PartnerLedgerPort:
    """The partner ledger, its conflicts told as the port's :class:`LedgerConflict`."""

    def __init__(self, ledger: Any) -> None:
        self._ledger = ledger

    def year(self, year: int) -> Any:
        return self._ledger.year(year)

    def record(self, year: int, version: int | None, **recorded: Any) -> Any:
        from infra.ledgers.partner import PartnerLedgerConflict

        try:
            return self._ledger.record(year, version, **recorded)
        except PartnerLedgerConflict as conflict:
            raise LedgerConflict(str(conflict)) from conflict


def adapters(settings: Settings) -> Adapters:
    """The adapters the settings choose (SQLite or PostgreSQL), for the use cases."""

    def open_store() -> Any:
        from infra.composition import open_store

        return open_store(settings)

    def ingest_file(*args: Any, **kwargs: Any) -> Any:
        from infra.files.ingest import ingest_file

        return ingest_file(*args, **kwargs)

    def open_view() -> Any:
        from infra.composition import open_view

        return open_view(settings)

    @contextmanager
    def updating() -> Iterator[None]:
        from infra.composition import updating

        with updating(settings):
            yield

    def catch_up(*args: Any, **kwargs: Any) -> Any:
        from infra import readmodel

        return readmodel.catch_up(*args, **kwargs)

    def load_report_inputs(as_of: str, progress: ProgressCallback | None) -> Any:
        from infra import readmodel

        if progress is None:  # the shape that callers (and tests) replacing it know
            return readmodel.load_report_inputs(settings, as_of)
        return readmodel.load_report_inputs(settings, as_of, progress)

    def case_rows(view: Any, person_ref: str | None) -> list[dict[str, Any]]:
        from infra import readmodel

        return readmodel.case_rows(view, person_ref)

    def open_budget_ledger() -> Any:
        from infra.composition import open_budget_ledger

        return open_budget_ledger(settings)

    def open_partner_ledger() -> Any:
        from infra.composition import open_partner_ledger

        return _PartnerLedgerPort(open_partner_ledger(settings))

    def case_timeline(person_ref: str) -> list[dict[str, Any]]:
        from infra.composition import case_timeline

        return case_timeline(settings, person_ref)

    def open_access_ledger() -> Any:
        from infra.composition import open_access_ledger

        return open_access_ledger(settings)

    def stage(out_dir: Path) -> Any:
        from infra.package_out import stage

        return stage(out_dir)

    def write_release(release: Any, out_dir: Path) -> Path:
        from privacy.package import write_package

        return write_package(release, out_dir)

    return Adapters(
        open_store=open_store,
        ingest_file=ingest_file,
        open_view=open_view,
        updating=updating,
        catch_up=catch_up,
        load_report_inputs=load_report_inputs,
        case_rows=case_rows,
        open_budget_ledger=open_budget_ledger,
        open_partner_ledger=open_partner_ledger,
        stage=stage,
        write_release=write_release,
        max_year_epsilon=settings.max_year_epsilon,
        clock_skew_seconds=settings.clock_skew_seconds,
        case_timeline=case_timeline,
        open_access_ledger=open_access_ledger,
    )

"""Store a file of events: every valid line once, every invalid one rejected with its reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from application.ports import Adapters

LineProgress = Callable[[int, int | None, bool], None]
"""``(lines read, lines in the file or None, whether that total is exact)``."""


class MissingInput(ValueError):
    """An input file that does not exist (nothing was read or stored)."""


def estimated_lines(source: Path) -> tuple[int | None, bool]:
    """How many lines ``source`` has, for a progress bar: counted when the file is small,
    estimated from its first MiB otherwise (exact: False); None for a compressed file."""
    sample_size = 1 << 20
    with source.open("rb") as handle:
        sample = handle.read(sample_size)
    if sample.startswith(b"\x1f\x8b"):
        return None, False
    lines = sample.count(b"\n") + (0 if sample.endswith(b"\n") or not sample else 1)
    size = source.stat().st_size
    if size <= sample_size or not lines:
        return lines, True
    return round(size * lines / len(sample)), False


def ingest(
    adapters: Adapters,
    source: Path,
    *,
    workers: int | None = None,
    progress: LineProgress | None = None,
    on_reject: Callable[[Any], None] | None = None,
) -> Any:
    """Store the events of one JSON-lines file (plain or gzip) and return its
    ``IngestReport``: lines read, events stored, already stored, rejected (written with
    their reasons beside the file). Raises :class:`MissingInput` for a file that does not
    exist; the adapter's errors (unreadable or damaged input, a store that cannot write)
    pass through, with every batch stored whole or not at all."""
    if not source.is_file():
        raise MissingInput(f"no such file: {source}")
    total, exact = estimated_lines(source)

    def show(report: Any) -> None:
        if progress is not None:
            progress(report.lines, total, exact)

    with adapters.open_store() as store:
        return adapters.ingest_file(
            source,
            store,
            workers=workers,
            clock_skew=timedelta(seconds=adapters.clock_skew_seconds),
            progress=show,
            on_reject=on_reject,
        )

"""Bulk ingestion of JSON-lines event files.

The file is streamed in chunks of lines. Parsing, validation and encoding (the expensive,
per-event Python work) run in worker processes; this process only writes batches to the
store, so on two cores the parser and the writer run side by side. Chunks come back in file
order, and at most a few are in flight, so memory stays bounded whatever the file size.

A line that breaks the contract is reported with its line number and reason, and written
with both to a rejects file beside the input; every valid line around it still lands, and
the command exits non-zero. Ingesting the same file again adds nothing (idempotent by id).
"""

from __future__ import annotations

import gc
import json
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, Any

from domain.events import InvalidEvent, parse_event
from infra.encoding import Encoded, encode_event
from infra.store import EventStore

CHUNK_LINES = 5_000
# Events per store transaction. Every commit writes each page it dirtied: stream ids are
# name-based, so a batch's index inserts touch pages all over the index, and a batch ten
# times larger writes far fewer pages per event (2.3x the writer's rate at a million events).
BATCH_EVENTS = 50_000


@dataclass(frozen=True, slots=True)
class Reject:
    line: int
    reason: str
    raw: str


@dataclass
class IngestReport:
    lines: int = 0
    appended: int = 0
    duplicates: int = 0
    rejects: list[Reject] = field(default_factory=list)
    rejects_path: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.rejects


def parse_chunk(first_line: int, lines: list[bytes]) -> tuple[list[Encoded], list[Reject]]:
    """Validate and encode one chunk (runs in a worker process)."""
    encoded: list[Encoded] = []
    rejects: list[Reject] = []
    # Validation allocates many short-lived objects and no cycles: the cyclic collector
    # would only rescan the chunk's results again and again.
    gc.disable()
    try:
        _parse_into(first_line, lines, encoded, rejects)
    finally:
        gc.enable()
    return encoded, rejects


def _parse_into(
    first_line: int, lines: list[bytes], encoded: list[Encoded], rejects: list[Reject]
) -> None:
    for number, raw in enumerate(lines, start=first_line):
        if not raw.strip():
            continue
        try:
            # Plain tuples: they cross back to the writer process, and pickle fastest.
            encoded.append(tuple(encode_event(parse_event(raw))))  # type: ignore[arg-type]
        except InvalidEvent as error:
            rejects.append(Reject(number, error.reason, raw.decode("utf8", "replace").rstrip()))


def _chunks(handle: IO[bytes], size: int) -> Iterator[tuple[int, list[bytes]]]:
    first = 1
    while True:
        lines = list(islice(handle, size))
        if not lines:
            return
        yield first, lines
        first += len(lines)


def default_workers() -> int:
    """One parser per core: validating an event costs about twice what writing it does, so
    the writer shares a core with a parser rather than keeping one to itself."""
    return max(1, os.cpu_count() or 2)


def rejects_path_for(source: Path) -> Path:
    return source.with_name(source.name + ".rejects.jsonl")


def ingest_file(
    source: Path,
    store: EventStore,
    *,
    workers: int | None = None,
    chunk_lines: int = CHUNK_LINES,
    batch_events: int = BATCH_EVENTS,
    progress: Callable[[IngestReport], None] | None = None,
    on_reject: Callable[[Reject], None] | None = None,
) -> IngestReport:
    """Ingest a JSON-lines file into the store. ``workers=0`` parses in this process."""
    report = IngestReport()
    rejects_path = rejects_path_for(source)
    rejects_file: IO[str] | None = None
    workers = default_workers() if workers is None else workers

    batch: list[Encoded] = []

    def flush() -> None:
        if batch:
            outcome = store.append(batch)
            report.appended += outcome.appended
            report.duplicates += outcome.duplicates
            batch.clear()

    def handle(first: int, lines: list[bytes], result: tuple[list[Encoded], list[Reject]]) -> None:
        nonlocal rejects_file
        encoded, rejects = result
        batch.extend(encoded)
        if len(batch) >= batch_events:
            flush()
        for reject in rejects:
            if rejects_file is None:
                rejects_file = rejects_path.open("w", encoding="utf8")
                report.rejects_path = rejects_path
            rejects_file.write(json.dumps(_reject_json(reject), ensure_ascii=False) + "\n")
            report.rejects.append(reject)
            if on_reject:
                on_reject(reject)
        report.lines = first + len(lines) - 1
        if progress:
            progress(report)

    try:
        with source.open("rb") as handle_in:
            if workers == 0:
                for first, lines in _chunks(handle_in, chunk_lines):
                    handle(first, lines, parse_chunk(first, lines))
            else:
                with ProcessPoolExecutor(max_workers=workers) as pool:
                    pending: deque[tuple[int, list[bytes], Future[Any]]] = deque()
                    # Bounded read-ahead: enough to keep every worker busy while a whole
                    # batch is written.
                    ahead = 2 * workers + max(1, batch_events // chunk_lines)
                    for first, lines in _chunks(handle_in, chunk_lines):
                        pending.append((first, lines, pool.submit(parse_chunk, first, lines)))
                        while len(pending) > ahead:
                            f, ls, future = pending.popleft()
                            handle(f, ls, future.result())
                    for f, ls, future in pending:
                        handle(f, ls, future.result())
            flush()
    finally:
        if rejects_file is not None:
            rejects_file.close()
    if not report.rejects and rejects_path.exists():
        # A stale rejects file from an earlier run would mislead: this run had none.
        rejects_path.unlink()
    return report


def _reject_json(reject: Reject) -> dict[str, Any]:
    return {"line": reject.line, "reason": reject.reason, "raw": reject.raw}

"""Bulk ingestion of JSON-lines event files.

The file is streamed in chunks of lines. Worker processes parse, validate and encode a
chunk each (the expensive, per-event Python work) and write it to the store themselves, one
transaction per chunk. They parse side by side but write in turn, in file order, so a
person's events are stored in the order of the file, exactly as one process would store
them. This process only reads lines and reports; at most a few chunks are in flight, so
memory stays bounded whatever the file size.

A line that breaks the contract is reported with its line number and reason, and written
with both to a rejects file beside the input (the line itself capped at
:data:`RAW_LIMIT` bytes); every valid line around it still lands, and the command exits
non-zero. Ingesting the same file again adds nothing (idempotent by id); a line that reuses
a stored event's id with other content is a conflict, rejected like an invalid line, and
the stored event is kept.

The input is UTF-8 JSON lines, plain or gzip-compressed; text in another encoding is refused
as a whole (:mod:`infra.files.input`). Rejects are kept as :mod:`infra.files.rejects` says.

The workers are :mod:`infra.workers`' pool, under its one policy; what is ingest's own is
how they take turns, so that chunks are written in file order.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import multiprocessing.util
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import IO, Any

from domain.events import CLOCK_SKEW, InvalidEvent, latest_recorded_at
from infra.encoding import Encoded, parse_and_encode
from infra.files.input import DamagedInput, UnreadableInput, open_input, sniff, unpacked
from infra.files.rejects import (
    RAW_LIMIT,
    Reject,
    conflict_rejects,
    make_reject,
    reject_json,
    rejects_path_for,
)
from infra.safe_files import AtomicFile, refuse_symlink
from infra.store import AppendResult, EventStore
from infra.workers import default_workers, fork_pool

__all__ = [
    "RAW_LIMIT",
    "DamagedInput",
    "IngestReport",
    "Reject",
    "UnreadableInput",
    "ingest_file",
    "parse_chunk",
    "rejects_path_for",
]

CHUNK_LINES = 5_000
# Events per store transaction. Every commit writes each page it dirtied: stream ids are
# name-based, so a batch's index inserts touch pages all over the index, and a batch ten
# times larger writes far fewer pages per event (``bench.bench_ingest``'s ``ingest`` figure
# at a million events).
BATCH_EVENTS = 50_000
# With writing workers a chunk is a transaction: large, for the same reason.
WORKER_CHUNK_LINES = 25_000


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


def parse_chunk(
    first_line: int, lines: list[bytes], clock_skew: timedelta = CLOCK_SKEW
) -> tuple[list[Encoded], list[Reject], list[int]]:
    """Validate and encode one chunk (runs in a worker process); the third list holds the
    line number of each encoded event."""
    encoded: list[Encoded] = []
    rejects: list[Reject] = []
    numbers: list[int] = []
    # Validation allocates many short-lived objects and no cycles: the cyclic collector
    # would only rescan the chunk's results again and again.
    gc.disable()
    try:
        # The clock is read once a chunk: a chunk is parsed in well under a minute.
        not_after = latest_recorded_at(datetime.now(UTC), clock_skew)
        _parse_into(first_line, lines, not_after, encoded, rejects, numbers)
    finally:
        gc.enable()
    return encoded, rejects, numbers


def _parse_into(
    first_line: int,
    lines: list[bytes],
    not_after: str,
    encoded: list[Encoded],
    rejects: list[Reject],
    numbers: list[int],
) -> None:
    for number, raw in enumerate(lines, start=first_line):
        if not raw.strip():
            continue
        try:
            # Plain tuples (what ``parse_and_encode`` returns, not ``Encoded``): they cross back
            # to the writer process, and a plain tuple pickles faster than a named tuple
            # (``bench.bench_ingest``'s ``ingest`` figure).
            encoded.append(parse_and_encode(raw, not_after))  # type: ignore[arg-type]
        except InvalidEvent as error:
            rejects.append(make_reject(number, error.reason, raw))
        else:
            numbers.append(number)


class _Turns:
    """Whose turn it is to write: chunk numbers, shared by the workers through fork."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("fork")
        self.next = context.Value("q", 0, lock=False)
        self.changed = context.Condition()

    def wait_for(self, index: int) -> None:
        with self.changed:
            while self.next.value != index:
                self.changed.wait()

    def done(self, index: int) -> None:
        with self.changed:
            self.next.value = index + 1
            self.changed.notify_all()


# In a worker: what it inherits from the ingesting process, and its own connection.
_WORKER_SETUP: tuple[EventStore, _Turns, Path, timedelta] | None = None
_WORKER_STORE: EventStore | None = None


def _init_worker(store: EventStore, turns: _Turns, source: Path, clock_skew: timedelta) -> None:
    """Runs in each worker after fork (and after :func:`infra.workers.end_with_parent`): it
    keeps what it inherits, and opens a connection of its own on first use."""
    global _WORKER_SETUP
    _WORKER_SETUP = (store, turns, source, clock_skew)


def _read_lines(source: Path, offset: int, length: int) -> list[bytes]:
    """The lines of ``source`` in bytes [offset, offset + length), which end at a line end
    (or the end of the file)."""
    with source.open("rb") as handle:
        handle.seek(offset)
        data = handle.read(length)
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # after the last line end
    return lines


def parse_and_store(
    index: int, first_line: int, offset: int, length: int
) -> tuple[AppendResult, list[Reject]]:
    """Read and parse chunk ``index`` (its lines are at ``offset`` in the file) and, when
    every chunk before it is stored, store it (runs in a worker). The turn is always taken
    and always passed on, failure or not, so no other chunk waits for ever; the caller
    reports the failure."""
    global _WORKER_STORE
    assert _WORKER_SETUP is not None
    # The ingesting process's store, inherited through fork: never written through here (its
    # connection is the parent's); each worker opens one of its own from it.
    inherited_store, turns, source, clock_skew = _WORKER_SETUP
    failure: BaseException | None = None
    encoded: list[Encoded] = []
    rejects: list[Reject] = []
    numbers: list[int] = []
    lines: list[bytes] = []
    try:
        lines = _read_lines(source, offset, length)
        encoded, rejects, numbers = parse_chunk(first_line, lines, clock_skew)
    except BaseException as error:
        failure = error
    turns.wait_for(index)
    # While this worker holds the turn, the other waits for it. The append allocates a row
    # per event beside the chunk's encoded events, and the cyclic collector, left on, would
    # scan them all again and again (about a tenth of the append): it runs after the turn.
    collecting = gc.isenabled()
    gc.disable()
    try:
        if failure is not None:
            raise failure
        if _WORKER_STORE is None:
            _WORKER_STORE = inherited_store.reopen()
            # Closed when the worker exits (multiprocessing runs its finalizers then).
            multiprocessing.util.Finalize(None, _WORKER_STORE.close, exitpriority=10)
        outcome = _WORKER_STORE.append(encoded) if encoded else AppendResult(0, 0)
    finally:
        turns.done(index)
        if collecting:
            gc.enable()
    if outcome.conflicts:
        rejects.extend(
            conflict_rejects(outcome.conflicts, numbers, lambda n: lines[n - first_line])
        )
        rejects.sort(key=lambda r: r.line)
    return outcome, rejects


def _chunks(handle: IO[bytes], size: int) -> Iterator[tuple[int, list[bytes]]]:
    first = 1
    while True:
        lines = list(islice(handle, size))
        if not lines:
            return
        yield first, lines
        first += len(lines)


_READ_BYTES = 1 << 22


def _spans(handle: IO[bytes], size: int, start: int = 0) -> Iterator[tuple[int, int, int, int]]:
    """(first line number, offset, length, lines) of each run of ``size`` lines, read from
    ``handle``, which is at ``start`` of the file: where the workers read their chunks
    themselves. This process only finds the line ends, so the lines are neither made into
    objects here nor sent through a pipe (a second copy of the whole file, and most of this
    process's work)."""
    buffer = b""  # from the current chunk's start
    offset = start  # of the current chunk in the file
    first = 1
    end_of_file = False
    while True:
        position = count = 0
        while count < size:
            found = buffer.find(b"\n", position)
            if found >= 0:
                position, count = found + 1, count + 1
            elif end_of_file:
                if position < len(buffer):  # a last line with no line end
                    position, count = len(buffer), count + 1
                break
            else:
                more = handle.read(_READ_BYTES)
                buffer += more
                end_of_file = not more
        if count == 0:
            return
        yield first, offset, position, count
        first += count
        offset += position
        buffer = buffer[position:]


def ingest_file(
    source: Path,
    store: EventStore,
    *,
    workers: int | None = None,
    chunk_lines: int | None = None,
    batch_events: int = BATCH_EVENTS,
    clock_skew: timedelta = CLOCK_SKEW,
    progress: Callable[[IngestReport], None] | None = None,
    on_reject: Callable[[Reject], None] | None = None,
) -> IngestReport:
    """Ingest a JSON-lines file into the store. ``workers=0`` parses and writes in this
    process, in transactions of ``batch_events``; with workers, each chunk of
    ``chunk_lines`` is one transaction. A gzip-compressed file is read as a stream, in this
    process. Raises :class:`UnreadableInput` (before storing anything) for a file that is
    not UTF-8 text; ``clock_skew``: how far ``recorded_at`` may lie ahead of now."""
    compressed, skip = sniff(source)
    report = IngestReport()
    rejects_path = rejects_path_for(source)
    refuse_symlink(rejects_path, "the rejects file")  # before anything is stored
    rejects_file: AtomicFile | None = None
    workers = default_workers() if workers is None else workers
    if compressed:
        workers = 0  # workers read their chunks at file offsets: not in a compressed stream

    # In this process (workers=0): the batch, and each event's line number and line.
    batch: list[Encoded] = []
    batch_numbers: list[int] = []
    batch_lines: dict[int, bytes] = {}

    def write_rejects(rejects: list[Reject]) -> None:
        nonlocal rejects_file
        for reject in rejects:
            if rejects_file is None:
                rejects_file = AtomicFile(rejects_path)
                report.rejects_path = rejects_path
            rejects_file.handle.write(json.dumps(reject_json(reject), ensure_ascii=False) + "\n")
            report.rejects.append(reject)
            if on_reject:
                on_reject(reject)

    def flush() -> None:
        if batch:
            outcome = store.append(batch)
            stored(outcome)
            if outcome.conflicts:
                raw_of = batch_lines.__getitem__
                write_rejects(conflict_rejects(outcome.conflicts, batch_numbers, raw_of))
            batch.clear()
            batch_numbers.clear()
            batch_lines.clear()

    def handle(first: int, count: int, rejects: list[Reject]) -> None:
        write_rejects(rejects)
        report.lines = first + count - 1
        if progress:
            progress(report)

    def stored(outcome: AppendResult) -> None:
        report.appended += outcome.appended
        report.duplicates += outcome.duplicates

    try:
        with open_input(source, compressed) as handle_in:
            handle_in.seek(skip)  # past a UTF-8 byte order mark
            if workers == 0:
                chunks = _chunks(handle_in, chunk_lines or CHUNK_LINES)
                for first, lines in unpacked(chunks, compressed, lambda: report.lines, flush):
                    encoded, rejects, numbers = parse_chunk(first, lines, clock_skew)
                    batch.extend(encoded)
                    batch_numbers.extend(numbers)
                    # Kept for a conflict's reject (references, not copies).
                    batch_lines.update((n, lines[n - first]) for n in numbers)
                    if len(batch) >= batch_events:
                        flush()
                    handle(first, len(lines), rejects)
                flush()
            else:
                turns = _Turns()
                with fork_pool(workers, _init_worker, (store, turns, source, clock_skew)) as pool:
                    assert pool is not None
                    # Stopped (SIGTERM, Ctrl-C) or failed, the pool (``fork_pool``) drops
                    # the chunks not started, and those under way commit whole, in order;
                    # a rerun stores the rest.
                    pending: deque[tuple[int, int, Future[Any]]] = deque()
                    size = chunk_lines or WORKER_CHUNK_LINES
                    for index, (first, offset, length, count) in enumerate(
                        _spans(handle_in, size, skip)
                    ):
                        task = pool.submit(parse_and_store, index, first, offset, length)
                        pending.append((first, count, task))
                        # Bounded read-ahead: a chunk per worker under way, one waiting.
                        while len(pending) > workers + 1:
                            f, n, future = pending.popleft()
                            outcome, rejects = future.result()
                            stored(outcome)
                            handle(f, n, rejects)
                    for f, n, future in pending:
                        outcome, rejects = future.result()
                        stored(outcome)
                        handle(f, n, rejects)
    finally:
        if rejects_file is not None:
            # Also when stopped part way: the rejects found so far are worth having.
            rejects_file.commit()
    if not report.rejects and rejects_path.exists():
        # A stale rejects file from an earlier run would mislead: this run had none.
        rejects_path.unlink()
    return report

"""``cmm consume``: the Kafka consumer that appends events to the store, exactly once in effect.

Delivery from Kafka is at least once; the effect is exactly once because

- appends are idempotent (by event id, in the store), and
- the consumed positions (next offset per topic and partition, as tracking records named
  ``kafka:<topic>:<partition>``) are written in the same transaction as the events.

The store, not Kafka, holds the truth about what was consumed. On start and on every
rebalance the consumer seeks each assigned partition to its stored position (or to the
beginning when the store has none), so a consumer killed at any point resumes exactly after
the last committed batch. The offsets it also commits to Kafka are for monitoring tools
only.

Several consumers in one group share the partitions. During a rebalance a partition's old
and new owner may both write a few batches: each writes a contiguous run of offsets, in
order, positions only move forward and duplicates are dropped by id, so the store ends the
same as with one consumer, and one person's events (one key, one partition) keep their order.

A message that breaks the contract goes to the dead-letter topic with its original key, value
and headers, plus the reason and its origin in ``cmm.dlq.*`` headers. It is acknowledged to
the dead-letter topic before the position that skips it is committed: never dropped silently,
never blocking its partition.

Three stages overlap: the consumer thread fetches from Kafka, a worker process validates
and encodes (the expensive per-event Python work), and a writer thread appends each batch
with its positions, in fetch order, mostly waiting on the database meanwhile.

A restarted member with the same ``instance_id`` (static membership) takes its partitions
back at once; without one, a killed member's partitions move after its session timeout.
kafka-python 3.0.12 can lose a rebalance that completes between two polls (the member then
never gets partitions); ``_keep_finished_rebalances`` works around it.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TextIO

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.structs import OffsetAndMetadata

from domain.events import InvalidEvent, parse_event
from infra.encoding import Encoded, encode_event
from infra.store import EventStore

log = logging.getLogger(__name__)

DLQ_REASON = "cmm.dlq.reason"
DLQ_TOPIC = "cmm.dlq.topic"
DLQ_PARTITION = "cmm.dlq.partition"
DLQ_OFFSET = "cmm.dlq.offset"
DLQ_GROUP = "cmm.dlq.group"
_REASON_LIMIT = 2_000


def position_name(topic: str, partition: int) -> str:
    """The tracking record name of a partition's consumed position."""
    return f"kafka:{topic}:{partition}"


# ----------------------------------------------------------------------------------------------
# A kafka-python 3.0 race, worked around


class _FinishedJoin:
    """A join/sync task that completed while no ``poll`` was waiting for it, presented as
    still pending so that the coordinator awaits it (and applies its assignment) instead of
    discarding it."""

    is_done = False

    def __init__(self, future: Any) -> None:
        self._future = future

    def add_callback(self, f: Any, *args: Any, **kwargs: Any) -> Any:
        return self._future.add_callback(f, *args, **kwargs)

    def add_errback(self, f: Any, *args: Any, **kwargs: Any) -> Any:
        return self._future.add_errback(f, *args, **kwargs)


def _keep_finished_rebalances() -> None:
    """kafka-python 3.0.12 loses a rebalance when ``poll`` times out while the JoinGroup /
    SyncGroup round trip is in flight and the round trip then completes before the next
    ``poll``: the finished task is discarded, and when the rebalance was started by a
    metadata or subscription change nothing asks to rejoin again, so the member keeps an
    empty assignment for ever (seen here under load: a consumer that never gets its
    partitions). The fix: a finished, unconsumed join counts as "rejoin needed", and is
    awaited rather than replaced. Applied once; a kafka-python without these internals is
    left alone."""
    from kafka.coordinator.base import BaseCoordinator
    from kafka.coordinator.consumer import ConsumerCoordinator

    if getattr(BaseCoordinator, "_cmm_keeps_finished_rebalances", False):
        return
    original_join = getattr(BaseCoordinator, "join_group_async", None)
    original_need = getattr(ConsumerCoordinator, "need_rejoin", None)
    if original_join is None or original_need is None:
        return

    def unconsumed(self: Any) -> bool:
        task = getattr(self, "_join_task", None)
        if isinstance(task, _FinishedJoin):
            return True
        return bool(task is not None and task.is_done and getattr(self, "rejoining", False))

    def need_rejoin(self: Any) -> bool:
        return unconsumed(self) or bool(original_need(self))

    async def join_group_async(self: Any, timeout_ms: Any = None) -> Any:
        task = getattr(self, "_join_task", None)
        if task is not None and not isinstance(task, _FinishedJoin) and unconsumed(self):
            log.info("completing a rebalance that finished between two polls")
            self._join_task = _FinishedJoin(task)
        return await original_join(self, timeout_ms)

    ConsumerCoordinator.need_rejoin = need_rejoin  # type: ignore[method-assign]
    BaseCoordinator.join_group_async = join_group_async  # type: ignore[method-assign]
    BaseCoordinator._cmm_keeps_finished_rebalances = True  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------------------------
# Validation (runs in the worker process)


def validate_values(
    values: Sequence[bytes | None],
) -> tuple[list[Encoded], list[tuple[int, str]]]:
    """Encoded events for the valid values, and (index, reason) for the others."""
    encoded: list[Encoded] = []
    rejects: list[tuple[int, str]] = []
    for index, raw in enumerate(values):
        if raw is None:
            rejects.append((index, "message has no value"))
            continue
        try:
            # Plain tuples: they pickle several times faster than named tuples.
            encoded.append(tuple(encode_event(parse_event(raw))))  # type: ignore[arg-type]
        except InvalidEvent as error:
            rejects.append((index, error.reason))
        except (ValueError, KeyError) as error:  # valid, yet no stream takes it
            rejects.append((index, f"cannot be stored: {error}"))
    return encoded, rejects


def _worker_init(parent: int) -> None:
    """The worker leaves shutdown to its parent (signals go to the whole process group on a
    terminal) and exits when the parent is gone, even if it was killed with SIGKILL."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        # Linux: the kernel kills the worker when its parent dies.
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


# ----------------------------------------------------------------------------------------------
# The consumer


@dataclass
class ConsumeStats:
    messages: int = 0
    appended: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    batches: int = 0
    lag: int | None = None
    started: float = field(default_factory=time.monotonic)
    first_message_at: float | None = None  # monotonic; throughput excludes joining the group
    last_stored_at: float | None = None


@dataclass
class ConsumerConfig:
    bootstrap_servers: str
    topic: str = "cmm.events"
    dead_letter_topic: str = "cmm.events.dead-letter"
    group: str = "cmm-ledger"
    batch_size: int = 5_000
    workers: int = 1
    max_in_flight: int = 3
    max_messages: int | None = None
    idle_exit_seconds: float | None = None
    report_every: float = 10.0
    replay: bool = False
    session_timeout_ms: int = 10_000
    instance_id: str | None = None
    client_id: str = "cmm-consumer"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Batch:
    records: list[Any]
    positions: dict[TopicPartition, int]
    # The worker's result; None when validation runs in the writer thread (no workers).
    result: Future[tuple[list[Encoded], list[tuple[int, str]]]] | None


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Runs on kafka-python's IO thread: it only notes the newly assigned partitions; the
    consumer thread seeks them to the stored positions before using any of their records
    (no database work on the IO thread, which also sends the heartbeats)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: set[TopicPartition] = set()

    def on_partitions_revoked(self, revoked: Any) -> None:
        log.info("partitions revoked: %s", sorted(_names(revoked)))

    def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("partitions assigned: %s", sorted(_names(assigned)))
        with self.lock:
            self.pending.update(assigned)

    def take(self) -> set[TopicPartition]:
        with self.lock:
            pending, self.pending = self.pending, set()
        return pending


def _names(partitions: Any) -> list[str]:
    return [f"{tp.topic}:{tp.partition}" for tp in partitions]


class EventConsumer:
    """One member of the consumer group; ``run`` until stopped, idle or at the limit.

    Three stages overlap: this thread fetches from Kafka (and seeks on rebalance), the
    worker process validates and encodes, and a writer thread appends each batch, in order,
    with its positions. The writer spends most of its time waiting on the database, which
    frees the interpreter for the other two. ``open_store`` is called twice: the writer's
    store, and one this thread reads positions from (an SQLite connection stays in the
    thread that opened it)."""

    def __init__(
        self,
        config: ConsumerConfig,
        open_store: Callable[[], EventStore],
        report: Callable[[ConsumeStats, float], None] | None = None,
        stopping: threading.Event | None = None,
    ) -> None:
        self.config = config
        self.report = report
        self.stats = ConsumeStats()
        # Given by a caller that installed its signal handlers before the slow start-up.
        self.stopping = stopping or threading.Event()
        self._open_store = open_store
        self._pool: ProcessPoolExecutor | None = None
        if config.workers > 0:
            # Started (forked) now, before any thread of ours or of the Kafka clients.
            self._pool = ProcessPoolExecutor(
                max_workers=config.workers, initializer=_worker_init, initargs=(os.getpid(),)
            )
            for ready in [self._pool.submit(validate_values, []) for _ in range(config.workers)]:
                ready.result()
        self._positions = open_store()
        self._queue: queue.Queue[_Batch | None] = queue.Queue(maxsize=config.max_in_flight)
        self._writer = threading.Thread(target=self._write, name="cmm-store-writer", daemon=True)
        self._writer_error: BaseException | None = None
        self._submitted = 0
        _keep_finished_rebalances()
        self._listener = _Rebalance()
        self._assigned = False
        self._next: dict[TopicPartition, int] = {}
        self._consumer = KafkaConsumer(
            bootstrap_servers=config.bootstrap_servers,
            group_id=config.group,
            client_id=config.client_id,
            enable_auto_commit=False,
            # Only used if a partition were ever read before being sought: never, in effect.
            auto_offset_reset="earliest",
            max_poll_records=config.batch_size,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            # A crashed member holds its partitions until its session times out (the
            # broker's minimum is 6 s); a slow batch is not a crash.
            session_timeout_ms=config.session_timeout_ms,
            heartbeat_interval_ms=min(3_000, config.session_timeout_ms // 3),
            max_poll_interval_ms=300_000,
            # Static membership: a restarted member with the same id takes its partitions
            # back at once, without a rebalance.
            group_instance_id=config.instance_id,
            **config.extra,
        )
        self._dlq = KafkaProducer(
            bootstrap_servers=config.bootstrap_servers,
            client_id=f"{config.client_id}-dlq",
            acks="all",
            enable_idempotence=True,
        )
        self._consumer.subscribe([config.topic], listener=self._listener)

    # -- lifecycle

    def stop(self) -> None:
        """Ask ``run`` to finish the batches under way and return (signal-safe)."""
        self.stopping.set()

    def close(self) -> None:
        try:
            self._dlq.close()
        finally:
            try:
                # Leaving the group now lets the others take over at once.
                self._consumer.close(autocommit=False)
            finally:
                self._positions.close()
                if self._pool is not None:
                    self._pool.shutdown(wait=True, cancel_futures=True)

    # -- the fetching thread

    def run(self) -> ConsumeStats:
        """Consume until stopped (or idle, or at ``max_messages``); every batch taken from
        Kafka is stored before this returns. Re-raises a failure of the writer."""
        config = self.config
        last_message = time.monotonic()
        last_report = time.monotonic()
        reported_messages = 0
        self._writer.start()
        try:
            while not self.stopping.is_set():
                remaining = self._remaining()
                if remaining == 0:
                    break
                polled = self._consumer.poll(
                    timeout_ms=200,
                    max_records=min(config.batch_size, remaining or config.batch_size),
                )
                now = time.monotonic()
                polled, assigned = self._seek_assigned(polled)
                if assigned:
                    # Idle time counts from joining the group: joining can take a while.
                    self._assigned = True
                    last_message = now
                if polled:
                    last_message = now
                    if self.stats.first_message_at is None:
                        self.stats.first_message_at = now
                    self._enqueue(self._submit(polled))
                if now - last_report >= config.report_every:
                    self._report(now - last_report, self.stats.messages - reported_messages)
                    last_report, reported_messages = now, self.stats.messages
                if (
                    config.idle_exit_seconds is not None
                    and self._assigned
                    and self.stats.messages == self._submitted
                    and now - last_message >= config.idle_exit_seconds
                ):
                    break
        finally:
            self._queue.put(None)  # the writer stores what is queued, then stops
            self._writer.join()
            elapsed = max(time.monotonic() - self.stats.started, 1e-9)
            self._report(elapsed, self.stats.messages, final=True)
        if self._writer_error is not None:
            raise self._writer_error
        return self.stats

    def _enqueue(self, batch: _Batch) -> None:
        # Waits while the writer is max_in_flight batches behind (back-pressure); gives up
        # if the writer failed, which also sets ``stopping``.
        while self._writer_error is None:
            try:
                self._queue.put(batch, timeout=0.5)
                self._submitted += len(batch.records)
                return
            except queue.Full:
                continue

    def _remaining(self) -> int | None:
        if self.config.max_messages is None:
            return None
        return max(self.config.max_messages - self._submitted, 0)

    def _seek_assigned(
        self, polled: dict[TopicPartition, list[Any]]
    ) -> tuple[dict[TopicPartition, list[Any]], bool]:
        """Seek newly assigned partitions to their stored positions; records already
        fetched for them came from elsewhere and are dropped. True if any were assigned.

        Batches of the same partition still queued for the writer may be behind the stored
        position read here; the offsets read twice are then duplicates, which the store
        recognises, and the writer keeps every partition's batches in offset order."""
        pending = self._listener.take()
        if not pending:
            return polled, False
        assigned = self._consumer.assignment()
        for tp in pending & assigned:
            stored = (
                None
                if self.config.replay
                else self._positions.position(position_name(tp.topic, tp.partition))
            )
            if stored is None:
                self._consumer.seek_to_beginning(tp)
                self._next.pop(tp, None)
                log.info("%s:%s: no stored position, from the beginning", tp.topic, tp.partition)
            else:
                self._consumer.seek(tp, stored)
                self._next[tp] = stored
                log.info("%s:%s: resuming at stored offset %d", tp.topic, tp.partition, stored)
        return {tp: records for tp, records in polled.items() if tp not in pending}, True

    def _submit(self, polled: dict[TopicPartition, list[Any]]) -> _Batch:
        records = [r for rs in polled.values() for r in rs]
        positions = {tp: rs[-1].offset + 1 for tp, rs in polled.items() if rs}
        result = None
        if self._pool is not None:
            result = self._pool.submit(validate_values, [r.value for r in records])
        return _Batch(records, positions, result)

    # -- the writer thread

    def _write(self) -> None:
        store: EventStore | None = None
        try:
            store = self._open_store()
            while (batch := self._queue.get()) is not None:
                self._complete(store, batch)
        except BaseException as error:
            log.error("storing failed, stopping: %r", error)
            self._writer_error = error
            self.stopping.set()
            while self._queue.get() is not None:  # unblock the fetching thread
                pass
        finally:
            if store is not None:
                store.close()

    def _complete(self, store: EventStore, batch: _Batch) -> None:
        if batch.result is None:
            encoded, rejects = validate_values([r.value for r in batch.records])
        else:
            encoded, rejects = batch.result.result()
        if rejects:
            self._dead_letter(batch.records, rejects)
        outcome = store.append(
            encoded,
            {position_name(tp.topic, tp.partition): pos for tp, pos in batch.positions.items()},
        )
        self._next.update(batch.positions)
        stats = self.stats
        stats.appended += outcome.appended
        stats.duplicates += outcome.duplicates
        stats.dead_lettered += len(rejects)
        stats.batches += 1
        stats.last_stored_at = time.monotonic()
        stats.messages += len(batch.records)  # last: the fetching thread compares it

    def _dead_letter(self, records: list[Any], rejects: list[tuple[int, str]]) -> None:
        for index, reason in rejects:
            record = records[index]
            headers = [
                *[(k, bytes(v)) for k, v in (record.headers or [])],
                (DLQ_REASON, reason[:_REASON_LIMIT].encode("utf8")),
                (DLQ_TOPIC, record.topic.encode()),
                (DLQ_PARTITION, str(record.partition).encode()),
                (DLQ_OFFSET, str(record.offset).encode()),
                (DLQ_GROUP, self.config.group.encode()),
            ]
            key = record.key if record.key is not None or record.value is not None else b""
            self._dlq.send(
                self.config.dead_letter_topic, value=record.value, key=key, headers=headers
            )
            log.warning(
                "%s:%s@%s dead-lettered: %s", record.topic, record.partition, record.offset, reason
            )
        # Acknowledged before the position that skips these messages is committed.
        self._dlq.flush()

    # -- reporting (the fetching thread)

    def lag(self) -> int | None:
        """Messages in the assigned partitions not yet stored (from the last fetch's
        high-water marks)."""
        total = 0
        known = False
        stored = dict(self._next)
        for tp in self._consumer.assignment():
            high = self._consumer.highwater(tp)
            if high is None:
                continue
            known = True
            total += max(high - stored.get(tp, 0), 0)
        return total if known else None

    def _report(self, seconds: float, messages: int, final: bool = False) -> None:
        try:
            self.stats.lag = self.lag()
        except Exception:  # reporting must never stop consumption
            self.stats.lag = None
        if self.report:
            self.report(self.stats, messages / seconds)
        if self._next and not final:
            # For monitoring tools only (kafka-consumer-groups.sh): the store is the truth.
            try:
                self._consumer.commit_async(
                    {tp: OffsetAndMetadata(pos, "", -1) for tp, pos in dict(self._next).items()}
                )
            except Exception as error:
                log.debug("offset commit for monitoring failed: %s", error)


def install_stop_handlers(stopping: threading.Event) -> None:
    """SIGTERM and SIGINT set ``stopping``: the consumer finishes the batches under way,
    leaves the group and exits."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())


def print_report(stream: TextIO | None = None) -> Callable[[ConsumeStats, float], None]:
    """A reporter that writes one line per report: totals, throughput and lag."""
    out = stream or sys.stderr

    def report(stats: ConsumeStats, rate: float) -> None:
        lag = "?" if stats.lag is None else f"{stats.lag:,}"
        elapsed = time.monotonic() - (stats.first_message_at or stats.started)
        overall = stats.messages / elapsed if elapsed > 0 else 0.0
        out.write(
            f"consume: {stats.messages:,} messages, {stats.appended:,} stored, "
            f"{stats.duplicates:,} duplicates, {stats.dead_lettered:,} dead-lettered; "
            f"{rate:,.0f}/s now, {overall:,.0f}/s overall; lag {lag}\n"
        )
        out.flush()

    return report


def default_workers() -> int:
    """One validating worker beside this process when there is a second core."""
    return 1 if (os.cpu_count() or 1) >= 2 else 0

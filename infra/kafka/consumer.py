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

A message that breaks the contract goes to the dead-letter topic (:mod:`infra.kafka.sink`),
acknowledged there before the position that skips it is committed.

Two stages overlap: this process fetches from Kafka (kafka-python decodes every record in
Python, which takes about half of a core at the target rate), and worker processes validate,
dead-letter and append. Each worker owns a fixed share of the partitions (partition number
modulo the number of workers) and handles its batches one after another, so a partition's
batches are stored in offset order, each in one transaction with its positions.

A restarted member with the same ``instance_id`` (static membership) takes its partitions
back at once; without one, a killed member's partitions move after its session timeout.
kafka-python 3.0.12 can lose a rebalance that completes between two polls (the member then
never gets partitions); :mod:`infra.kafka.rebalance_fix` works around it.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TextIO

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.structs import OffsetAndMetadata

from infra.kafka.config import ConsumerConfig, position_name
from infra.kafka.rebalance_fix import keep_finished_rebalances
from infra.kafka.sink import (
    Message,
    Sink,
    Stored,
    close_in_worker,
    store_in_worker,
    validate_values,
    worker_init,
)
from infra.store import EventStore
from infra.workers import default_workers as pool_default
from infra.workers import fork_executor

log = logging.getLogger(__name__)


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
class _Batch:
    count: int
    positions: dict[TopicPartition, int]
    result: Future[Stored]


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

    This thread fetches from Kafka (and seeks on rebalance); ``workers`` processes validate
    and store, each the batches of its own share of the partitions, in order. With
    ``workers=0`` this thread stores each batch itself. ``open_store`` gives each worker its
    store (it is called in the worker, which inherits it by fork), and this thread one to
    read positions from."""

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
        self._sink = Sink(config, open_store)
        # One single-process executor per worker: a worker runs its tasks in order, and a
        # partition's batches always go to the same worker.
        self._workers: list[ProcessPoolExecutor] = []
        for _ in range(max(config.workers, 0)):
            # Started (forked) now, before any thread of ours or of the Kafka clients.
            worker = fork_executor(1, worker_init, (self._sink,))
            worker.submit(validate_values, []).result()
            self._workers.append(worker)
        self._positions = open_store()
        self._pending: deque[_Batch] = deque()
        self._error: BaseException | None = None
        self._submitted = 0
        keep_finished_rebalances()
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
        self._consumer.subscribe([config.topic], listener=self._listener)

    # -- lifecycle

    def stop(self) -> None:
        """Ask ``run`` to finish the batches under way and return (signal-safe)."""
        self.stopping.set()

    def close(self) -> None:
        try:
            # Leaving the group now lets the others take over at once.
            self._consumer.close(autocommit=False)
        finally:
            try:
                self._positions.close()
                self._sink.close()
            finally:
                for worker in self._workers:
                    with contextlib.suppress(Exception):
                        worker.submit(close_in_worker).result(timeout=30)
                    worker.shutdown(wait=True, cancel_futures=True)

    # -- the fetching thread

    def run(self) -> ConsumeStats:
        """Consume until stopped (or idle, or at ``max_messages``); every batch taken from
        Kafka is stored before this returns. Re-raises a failure to store."""
        config = self.config
        last_message = time.monotonic()
        last_report = time.monotonic()
        reported_messages = 0
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
                    self._submit(polled)
                self._collect(block=False)
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
            # Every batch taken from Kafka is stored (or has failed) before returning.
            while self._pending:
                self._collect(block=True)
            elapsed = max(time.monotonic() - self.stats.started, 1e-9)
            self._report(elapsed, self.stats.messages, final=True)
        if self._error is not None:
            raise self._error
        return self.stats

    def _remaining(self) -> int | None:
        if self.config.max_messages is None:
            return None
        return max(self.config.max_messages - self._submitted, 0)

    def _seek_assigned(
        self, polled: dict[TopicPartition, list[Any]]
    ) -> tuple[dict[TopicPartition, list[Any]], bool]:
        """Seek newly assigned partitions to their stored positions; records already
        fetched for them came from elsewhere and are dropped. True if any were assigned.

        Batches of the same partition still being stored may be behind the stored position
        read here; the offsets read twice are then duplicates, which the store recognises,
        and a partition's batches are still stored in offset order (by the same worker)."""
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

    def _submit(self, polled: dict[TopicPartition, list[Any]]) -> None:
        """Hand each worker the records of its partitions, as one batch. The assignment is
        fixed (partition modulo workers), not by load: a partition's batches then always
        have the same writer, which stores them one after the other in offset order."""
        shares: dict[int, dict[TopicPartition, list[Any]]] = {}
        count = max(len(self._workers), 1)
        for tp, records in polled.items():
            if records:
                shares.setdefault(tp.partition % count, {})[tp] = records
        for index, share in shares.items():
            messages: list[Message] = [
                (r.value, r.key, r.headers or None, r.partition, r.offset)
                for records in share.values()
                for r in records
            ]
            positions = {tp: records[-1].offset + 1 for tp, records in share.items()}
            names = {position_name(tp.topic, tp.partition): p for tp, p in positions.items()}
            result: Future[Stored]
            if self._workers:
                result = self._workers[index].submit(store_in_worker, messages, names)
            else:
                result = Future()
                try:
                    result.set_result(self._sink.store(messages, names))
                except Exception as error:
                    result.set_exception(error)
            self._pending.append(_Batch(len(messages), positions, result))
            self._submitted += len(messages)
        # Back-pressure: wait while the workers are more than a few batches behind.
        while len(self._pending) > self.config.max_in_flight * count:
            self._collect(block=True)

    def _collect(self, block: bool) -> None:
        """Account for finished batches (the oldest first; with ``block``, wait for it)."""
        while self._pending and (block or self._pending[0].result.done()):
            batch = self._pending.popleft()
            try:
                stored = batch.result.result()
            except BaseException as error:
                log.error("storing failed, stopping: %r", error)
                if self._error is None:
                    self._error = error
                self.stopping.set()
                continue
            self._next.update(batch.positions)
            stats = self.stats
            stats.appended += stored.appended
            stats.duplicates += stored.duplicates
            stats.dead_lettered += stored.dead_lettered
            stats.batches += 1
            stats.last_stored_at = time.monotonic()
            stats.messages += batch.count
            if block:
                return

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
    """One storing worker per core beside this process, which fetches (``infra.workers``'
    policy), at most four: a worker owns whole partitions, and more rarely help
    (``bench.bench_kafka`` into SQLite, run with one worker and with two)."""
    return pool_default(most=4)

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

Two stages overlap: this process fetches from Kafka (kafka-python decodes every record in
Python, which takes about half of a core at the target rate), and worker processes validate,
dead-letter and append. Each worker owns a fixed share of the partitions (partition number
modulo the number of workers) and handles its batches one after another, so a partition's
batches are stored in offset order, each in one transaction with its positions.

A restarted member with the same ``instance_id`` (static membership) takes its partitions
back at once; without one, a killed member's partitions move after its session timeout.
kafka-python 3.0.12 can lose a rebalance that completes between two polls (the member then
never gets partitions); ``_keep_finished_rebalances`` works around it.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from domain.events import CLOCK_SKEW, InvalidEvent, latest_recorded_at
from infra.encoding import Encoded, parse_and_encode
from infra.store import Conflict, EventStore
from infra.workers import end_with_parent

log = logging.getLogger(__name__)

DLQ_REASON = "cmm.dlq.reason"
DLQ_TOPIC = "cmm.dlq.topic"
DLQ_PARTITION = "cmm.dlq.partition"
DLQ_OFFSET = "cmm.dlq.offset"
DLQ_GROUP = "cmm.dlq.group"
DLQ_NULL_HEADERS = "cmm.dlq.null-headers"
"""Positions (comma-separated) of the original headers whose value was null: a producer
cannot send a null header value, so they are sent empty and listed here."""
DLQ_MAX_REQUEST_BYTES = 16 * 1024 * 1024
"""The dead-letter producer's largest request: above anything the consumer fetches (8 MiB a
partition), so no message it can read is too large to send on. The dead-letter topic's own
``max.message.bytes`` must be as large as the events topic's, or the broker refuses it."""
DLQ_CONFIRM_S = 120.0
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
    values: Sequence[bytes | None], clock_skew: timedelta = CLOCK_SKEW
) -> tuple[list[Encoded], list[tuple[int, str]], list[int]]:
    """Encoded events for the valid values, (index, reason) for the others, and the index
    of each encoded event among ``values``."""
    encoded: list[Encoded] = []
    rejects: list[tuple[int, str]] = []
    indices: list[int] = []
    not_after = latest_recorded_at(datetime.now(UTC), clock_skew)  # once a batch
    for index, raw in enumerate(values):
        if raw is None:
            rejects.append((index, "message has no value"))
            continue
        try:
            # Plain tuples: they pickle several times faster than named tuples.
            encoded.append(parse_and_encode(raw, not_after))  # type: ignore[arg-type]
        except InvalidEvent as error:
            rejects.append((index, error.reason))
        except (ValueError, KeyError) as error:  # valid, yet no stream takes it
            rejects.append((index, f"cannot be stored: {error}"))
        else:
            indices.append(index)
    return encoded, rejects, indices


# What a worker needs of a fetched record: value, key, headers, partition, offset (the topic is
# the consumer's). Plain tuples: they cross to the worker process.
Message = tuple[bytes | None, bytes | None, list[tuple[str, bytes]] | None, int, int]


class DeadLetterFailed(RuntimeError):
    """A dead letter was not confirmed by Kafka: nothing of its batch was stored and the
    stored positions did not move, so the message is consumed again after a restart."""


@dataclass(frozen=True)
class Stored:
    """What storing one batch did."""

    appended: int
    duplicates: int
    dead_lettered: int


class _Sink:
    """Validates a batch, sends its invalid messages to the dead-letter topic, and appends the
    valid ones with the batch's positions in one transaction. The dead letters are
    acknowledged before the positions that skip them are committed."""

    def __init__(self, config: ConsumerConfig, open_store: Callable[[], EventStore]) -> None:
        self.config = config
        self._open_store = open_store
        self._store: EventStore | None = None
        self._dlq: KafkaProducer | None = None

    def store(self, messages: list[Message], positions: dict[str, int]) -> Stored:
        encoded, rejects, indices = validate_values(
            [m[0] for m in messages], timedelta(seconds=self.config.clock_skew_seconds)
        )
        if rejects:
            self._dead_letter(messages, rejects)
        if self._store is None:
            self._store = self._open_store()

        def conflicting(conflicts: Sequence[Conflict]) -> None:
            # In the append's transaction: the positions that skip these messages commit
            # only once the dead-letter topic has them.
            self._dead_letter(messages, [(indices[c.index], c.reason) for c in conflicts])

        outcome = self._store.append(encoded, positions, on_conflict=conflicting)
        return Stored(outcome.appended, outcome.duplicates, len(rejects) + len(outcome.conflicts))

    def _dead_letter(self, messages: list[Message], rejects: list[tuple[int, str]]) -> None:
        """Send the batch's invalid messages to the dead-letter topic and wait until Kafka has
        confirmed every one; raise :class:`DeadLetterFailed` otherwise, before the batch's
        positions are stored (Kafka Connect's ``errors.tolerance=all`` with a dead-letter
        queue does the same)."""
        config = self.config
        if self._dlq is None:
            self._dlq = KafkaProducer(
                bootstrap_servers=config.bootstrap_servers,
                client_id=f"{config.client_id}-dlq",
                acks="all",
                enable_idempotence=True,
                max_request_size=DLQ_MAX_REQUEST_BYTES,
                **config.security_options(),
            )
        sent = []
        for index, reason in rejects:
            value, key, headers, partition, offset = messages[index]
            original = list(headers or [])
            nulls = [str(i) for i, (_, v) in enumerate(original) if v is None]
            all_headers = [
                *[(k, b"" if v is None else bytes(v)) for k, v in original],
                (DLQ_REASON, reason[:_REASON_LIMIT].encode("utf8")),
                (DLQ_TOPIC, config.topic.encode()),
                (DLQ_PARTITION, str(partition).encode()),
                (DLQ_OFFSET, str(offset).encode()),
                (DLQ_GROUP, config.group.encode()),
            ]
            if nulls:
                all_headers.append((DLQ_NULL_HEADERS, ",".join(nulls).encode()))
            key = key if key is not None or value is not None else b""
            try:
                future = self._dlq.send(
                    config.dead_letter_topic, value=value, key=key, headers=all_headers
                )
            except (KafkaError, ValueError, TypeError) as error:
                raise self._failed(partition, offset, error) from None
            sent.append((partition, offset, reason, future))
        self._dlq.flush(timeout=DLQ_CONFIRM_S)
        for partition, offset, reason, future in sent:
            try:
                future.get(timeout=DLQ_CONFIRM_S)
            except KafkaError as error:
                raise self._failed(partition, offset, error) from None
            log.warning("%s:%s@%s dead-lettered: %s", config.topic, partition, offset, reason)

    def _failed(self, partition: int, offset: int, error: BaseException) -> DeadLetterFailed:
        config = self.config
        hint = (
            " (the message is larger than the dead-letter topic takes: raise its "
            "max.message.bytes to the events topic's)"
            if "TooLarge" in type(error).__name__
            else ""
        )
        return DeadLetterFailed(
            f"{config.topic}:{partition}@{offset} is invalid and could not be dead-lettered to "
            f"{config.dead_letter_topic}: {type(error).__name__}{hint}. Nothing of its batch "
            "was stored and the stored position did not move: it is consumed again after a "
            "restart"
        )

    def close(self) -> None:
        try:
            if self._dlq is not None:
                self._dlq.close()
        finally:
            if self._store is not None:
                self._store.close()


_WORKER_SINK: _Sink | None = None


def _worker_init(parent: int, sink: _Sink) -> None:
    """The worker leaves shutdown to its parent (signals go to the whole process group on a
    terminal) and exits when the parent is gone, even if it was killed with SIGKILL. The
    sink comes through fork, unpickled; it opens its store and producer on first use."""
    global _WORKER_SINK
    _WORKER_SINK = sink
    end_with_parent(parent)


def _store_in_worker(messages: list[Message], positions: dict[str, int]) -> Stored:
    assert _WORKER_SINK is not None
    return _WORKER_SINK.store(messages, positions)


def _close_in_worker() -> None:
    """Close the worker's store and producer (the last task a worker runs)."""
    if _WORKER_SINK is not None:
        _WORKER_SINK.close()


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
    clock_skew_seconds: float = CLOCK_SKEW.total_seconds()
    extra: dict[str, Any] = field(default_factory=dict)
    """More kafka-python consumer options; the security ones (TLS, SASL: see
    ``infra.settings.kafka_security_from_env``) are given to the dead-letter producer too."""

    def security_options(self) -> dict[str, Any]:
        return {k: v for k, v in self.extra.items() if k.startswith(("security_", "sasl_", "ssl_"))}


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
        self._sink = _Sink(config, open_store)
        # One single-process executor per worker: a worker runs its tasks in order, and a
        # partition's batches always go to the same worker.
        self._workers: list[ProcessPoolExecutor] = []
        fork = multiprocessing.get_context("fork")
        for _ in range(max(config.workers, 0)):
            # Started (forked) now, before any thread of ours or of the Kafka clients.
            worker = ProcessPoolExecutor(
                max_workers=1,
                mp_context=fork,
                initializer=_worker_init,
                initargs=(os.getpid(), self._sink),
            )
            worker.submit(validate_values, []).result()
            self._workers.append(worker)
        self._positions = open_store()
        self._pending: deque[_Batch] = deque()
        self._error: BaseException | None = None
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
                        worker.submit(_close_in_worker).result(timeout=30)
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
                result = self._workers[index].submit(_store_in_worker, messages, names)
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
    """One storing worker per core beside this process, which fetches; none on a single
    core. Fetching takes about half a core at full speed, so two workers on two cores beat
    one (measured: 32k against 25k events/s into SQLite). More than four rarely help: a
    worker owns whole partitions."""
    cores = os.cpu_count() or 1
    return min(cores, 4) if cores >= 2 else 0

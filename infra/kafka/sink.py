"""Storing a batch of Kafka messages: validate, dead-letter the invalid ones, append the
valid ones with the batch's positions in one transaction. Runs in the consumer's worker
processes (or in the consumer itself with no workers).

A message that breaks the contract goes to the dead-letter topic with its original key,
value and headers, plus the reason and its origin in ``cmm.dlq.*`` headers. It is
acknowledged to the dead-letter topic before the position that skips it is committed: never
dropped silently, never blocking its partition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kafka import KafkaProducer
from kafka.errors import KafkaError

from domain.events import CLOCK_SKEW, InvalidEvent, latest_recorded_at
from infra.encoding import Encoded, parse_and_encode
from infra.kafka.config import ConsumerConfig
from infra.store import Conflict, EventStore

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
            # Plain tuples (not ``Encoded``): a batch's events are pickled back from the
            # worker, and plain tuples pickle faster than named tuples (``bench.bench_kafka``).
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


class Sink:
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


_WORKER_SINK: Sink | None = None


def worker_init(sink: Sink) -> None:
    """Runs in each worker after fork (and after :func:`infra.workers.end_with_parent`, so
    the worker leaves shutdown to its parent and ends with it). The sink comes through fork,
    unpickled; it opens its store and producer on first use."""
    global _WORKER_SINK
    _WORKER_SINK = sink


def store_in_worker(messages: list[Message], positions: dict[str, int]) -> Stored:
    assert _WORKER_SINK is not None
    return _WORKER_SINK.store(messages, positions)


def close_in_worker() -> None:
    """Close the worker's store and producer (the last task a worker runs)."""
    if _WORKER_SINK is not None:
        _WORKER_SINK.close()

"""The producer client services use to publish events, and ``cmm produce`` for backfills.

Every event is validated against the contract before it is sent, so a producing service
learns of a broken event at once, with the field named, instead of the consumer parking it
in the dead-letter topic later. What travels is the event's canonical record
(``domain.events.to_record``: UTC timestamps with ``Z``, no nulls), as compact JSON.

Messages are keyed by ``person_ref``, or for events not about one person by the log they
belong to (``hotline/2012``, ...): Kafka keeps the order of messages with the same key, so
one person's events reach the store in the order they were produced.

The Kafka producer is idempotent with ``acks="all"``: a retried send is written once, and a
send counts as done only when every in-sync replica has it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import TopicAlreadyExistsError

from domain.case import log_key
from domain.events import Event, InvalidEvent, parse_event, to_record, validate_event

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def message_key(record: dict[str, Any]) -> str:
    """The partitioning key: the person, or the log a non-person event belongs to."""
    person_ref = record.get("person_ref")
    return person_ref if person_ref is not None else log_key(record)


def encode_message(event: Event) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of the Kafka message for a validated event."""
    record = to_record(event)
    headers = [
        ("type", record["type"].encode()),
        ("schema_version", str(record["schema_version"]).encode()),
    ]
    return (
        message_key(record).encode("utf8"),
        _ENCODER.encode(record).encode("utf8"),
        headers,
    )


def validated(event: Event | dict[str, Any] | str | bytes) -> Event:
    """The event checked against the contract; :class:`InvalidEvent` names the field."""
    if isinstance(event, str | bytes):
        return parse_event(event)
    if isinstance(event, dict):
        return validate_event(event)
    return event


class EventProducer:
    """Validates and publishes events to the events topic.

    ``send`` raises :class:`~domain.events.InvalidEvent` for an event that breaks the
    contract (nothing is sent); delivery errors surface from ``flush``.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str = "cmm.events",
        *,
        client_id: str = "cmm-producer",
        linger_ms: int = 20,
        batch_size: int = 256 * 1024,
        **config: Any,
    ) -> None:
        self.topic = topic
        self._errors: list[BaseException] = []
        self.sent = 0
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            # Idempotence keeps order and removes duplicates for up to 5 requests in flight.
            max_in_flight_requests_per_connection=5,
            linger_ms=linger_ms,
            batch_size=batch_size,
            **config,
        )

    def send(self, event: Event | dict[str, Any] | str | bytes) -> None:
        key, value, headers = encode_message(validated(event))
        future = self._producer.send(self.topic, value=value, key=key, headers=headers)
        future.add_errback(self._errors.append)
        self.sent += 1

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every event sent so far is acknowledged by all in-sync replicas."""
        self._producer.flush(timeout=timeout)
        if self._errors:
            error = self._errors[0]
            self._errors.clear()
            raise RuntimeError(f"Kafka did not accept every event: {error!r}") from error

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._producer.close()

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class ProduceReport:
    lines: int = 0
    sent: int = 0
    rejects: list[tuple[int, str]] = field(default_factory=list)


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield number, raw


def produce_file(
    path: Path,
    producer: EventProducer,
    progress: Callable[[ProduceReport], None] | None = None,
    *,
    on_reject: Callable[[int, str], None] | None = None,
) -> ProduceReport:
    """Send every valid line of a JSON-lines file; a line that breaks the contract is
    reported with its number and reason, and the lines around it are still sent. Returns
    after every sent event is acknowledged."""
    report = ProduceReport()
    for number, raw in _lines(path):
        report.lines = number
        try:
            producer.send(raw)
        except InvalidEvent as error:
            report.rejects.append((number, error.reason))
            if on_reject:
                on_reject(number, error.reason)
            continue
        report.sent += 1
        if progress and report.sent % 1000 == 0:
            progress(report)
    producer.flush()
    if progress:
        progress(report)
    return report


def create_topic(
    bootstrap_servers: str, name: str, partitions: int = 1, replication_factor: int = -1
) -> bool:
    """Create a topic with ``partitions`` partitions; False if it already existed.

    Brokers auto-create topics with their default partition count; the consumer group
    spreads partitions over consumers, so a deployment creates its topic explicitly.
    """
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="cmm-admin")
    try:
        admin.create_topics(
            {name: {"num_partitions": partitions, "replication_factor": replication_factor}},
            wait_for_metadata=True,
        )
    except TopicAlreadyExistsError:
        return False
    finally:
        admin.close()
    return True

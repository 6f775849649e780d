"""Benchmark: Kafka to store, end to end (target: 25,000 events/s or more).

    python -m bench.bench_kafka --events 200000 [--store sqlite|postgres|both]

Needs a broker: ``CMM_KAFKA_BOOTSTRAP`` (or ``infra/servers/kafka.sh start``); for the
PostgreSQL store also ``CMM_POSTGRES_DSN`` (a throw-away database is created on it).

The events (synthetic, shaped like the centre's; see ``bench.bench_postgres``) are produced
once to a new topic. Then, over that same topic:

- the baseline: a bare kafka-python consume loop (``poll`` until every message has been
  seen, doing nothing with them), with the consumer's fetch settings;
- ``cmm consume``'s consumer (``infra.kafka.consumer.EventConsumer``): validation against
  the contract, encoding, idempotent append with the offsets in the same transaction.

Both rates run from the first message received to the last one handled (joining the group
and connecting are not part of the throughput). Prints JSON lines
``{"name", "value", "unit", "baseline", "ratio"}``; ``ratio`` is the consumer's rate over the
bare loop's.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from bench.bench_postgres import scratch_database, synthetic_events
from bench.common import REPEAT, emit_runs

if TYPE_CHECKING:
    from infra.settings import Settings

POLL_RECORDS = 5_000
FETCH = {"fetch_max_bytes": 64 * 1024 * 1024, "max_partition_fetch_bytes": 8 * 1024 * 1024}


def produce(bootstrap: str, topic: str, count: int, partitions: int) -> float:
    from infra.kafka.producer import EventProducer, create_topic

    create_topic(bootstrap, topic, partitions)
    started = time.perf_counter()
    with EventProducer(bootstrap, topic) as producer:
        for event in synthetic_events(count):
            producer.send(event)
    return count / (time.perf_counter() - started)


def bare_loop(bootstrap: str, topic: str, count: int) -> float:
    """A kafka-python consumer that only counts what it receives."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=POLL_RECORDS,
        **FETCH,
    )
    seen = 0
    first: float | None = None
    try:
        while seen < count:
            batch = consumer.poll(timeout_ms=1_000)
            if batch and first is None:
                first = time.perf_counter()
            for records in batch.values():
                for _record in records:
                    seen += 1
        assert first is not None
        return seen / (time.perf_counter() - first)
    finally:
        consumer.close()


def consume_into(store_kind: str, bootstrap: str, topic: str, count: int, workers: int) -> float:
    """The ledger's consumer into a new store of the given kind; events/s."""
    from infra.settings import Settings

    with tempfile.TemporaryDirectory(prefix="cmm-bench-kafka-") as tmp:
        if store_kind == "postgres":
            dsn = os.environ.get("CMM_POSTGRES_DSN")
            if not dsn:
                sys.exit("bench: --store postgres needs CMM_POSTGRES_DSN")
            with scratch_database(dsn) as db:
                settings = Settings(data_dir=Path(tmp), store="postgres", postgres_dsn=db)
                return _run_consumer(settings, bootstrap, topic, count, workers)
        settings = Settings(data_dir=Path(tmp), store="sqlite")
        return _run_consumer(settings, bootstrap, topic, count, workers)


def _run_consumer(
    settings: Settings, bootstrap: str, topic: str, count: int, workers: int
) -> float:
    from infra.composition import open_store
    from infra.kafka.config import ConsumerConfig
    from infra.kafka.consumer import EventConsumer, default_workers

    consumer = EventConsumer(
        ConsumerConfig(
            bootstrap_servers=bootstrap,
            topic=topic,
            dead_letter_topic=f"{topic}.dead-letter",
            group=f"bench-{uuid.uuid4().hex[:8]}",
            workers=default_workers() if workers < 0 else workers,
            max_messages=count,
            report_every=3_600,
        ),
        lambda: open_store(settings),
    )
    try:
        stats = consumer.run()
    finally:
        consumer.close()
    assert stats.appended == count, f"stored {stats.appended} of {count}"
    assert stats.first_message_at is not None and stats.last_stored_at is not None
    return stats.messages / (stats.last_stored_at - stats.first_message_at)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=REPEAT, help="runs; the median is reported")
    parser.add_argument(
        "--workers", type=int, default=-1, help="storing workers (-1: the consumer's default)"
    )
    args = parser.parse_args(argv)
    bootstrap = os.environ.get("CMM_KAFKA_BOOTSTRAP")
    if not bootstrap:
        sys.exit('bench: set CMM_KAFKA_BOOTSTRAP (e.g. eval "$(infra/servers/kafka.sh start)")')
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    if args.store == "both" and not os.environ.get("CMM_POSTGRES_DSN"):
        stores = ["sqlite"]
    topic = f"cmm-bench-{uuid.uuid4().hex[:10]}"
    try:
        rate = produce(bootstrap, topic, args.events, args.partitions)
        print(f"bench: produced {args.events:,} events at {rate:,.0f}/s", file=sys.stderr)
        for store in stores:
            baselines: list[float] = []
            runs: list[float] = []
            for _ in range(args.repeat):
                # The baseline runs right before each measurement: the machine's load drifts.
                baselines.append(bare_loop(bootstrap, topic, args.events))
                runs.append(consume_into(store, bootstrap, topic, args.events, args.workers))
            emit_runs(f"kafka_to_{store}_store", runs, "events/s", baselines)
    finally:
        _delete_topic(bootstrap, topic)
    return 0


def _delete_topic(bootstrap: str, topic: str) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="cmm-bench")
    try:
        admin.delete_topics([topic])
    except Exception as error:  # a leftover topic is harmless
        print(f"bench: could not delete {topic}: {error}", file=sys.stderr)
    finally:
        admin.close()


if __name__ == "__main__":
    sys.exit(main())

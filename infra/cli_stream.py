"""The streaming commands of ``cmm``: ``consume``, ``produce`` and ``schema export``; and
``project --follow`` on PostgreSQL (eventsourcing's ProjectionRunner).

Registered by ``infra.cli`` through ``EXTRA_COMMANDS``; Kafka's client is imported only when
a command runs, so the other commands start without it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from infra.settings import Settings

EXIT_OK = 0
EXIT_REJECTS = 1
EXIT_USAGE = 2
EXIT_FAILED = 4


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(data_dir=args.data_dir, store=args.store)


def _bootstrap(args: argparse.Namespace, settings: Settings) -> str:
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    if not bootstrap:
        raise ValueError(
            "no Kafka broker: set CMM_KAFKA_BOOTSTRAP or --bootstrap (e.g. 127.0.0.1:19092)"
        )
    return str(bootstrap)


def _logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # kafka-python reports every connection at INFO; keep it to problems.
    logging.getLogger("kafka").setLevel(max(logging.WARNING, logging.getLogger().level))


# ----------------------------------------------------------------------------------------------
# consume


def cmd_consume(args: argparse.Namespace) -> int:
    from infra.composition import open_store
    from infra.kafka.config import ConsumerConfig
    from infra.kafka.consumer import (
        EventConsumer,
        default_workers,
        install_stop_handlers,
        print_report,
    )
    from infra.kafka.sink import DeadLetterFailed

    # First of all: a SIGTERM during start-up (e.g. a deployment rolling on) stops cleanly.
    stopping = threading.Event()
    install_stop_handlers(stopping)
    _logging(args.log_level)
    settings = _settings(args)
    config = ConsumerConfig(
        bootstrap_servers=_bootstrap(args, settings),
        topic=args.topic or settings.kafka_topic,
        dead_letter_topic=args.dead_letter_topic or settings.kafka_dead_letter_topic,
        group=args.group or settings.kafka_group,
        batch_size=args.batch_size,
        workers=default_workers() if args.workers is None else args.workers,
        max_messages=args.max_messages,
        idle_exit_seconds=args.idle_exit_seconds,
        report_every=args.report_every,
        replay=args.replay,
        session_timeout_ms=int(args.session_timeout * 1000),
        instance_id=args.instance_id,
        extra=settings.kafka_client_options(),
        clock_skew_seconds=settings.clock_skew_seconds,
    )
    consumer = EventConsumer(
        config, lambda: open_store(settings), report=print_report(), stopping=stopping
    )
    try:
        stats = consumer.run()
    except DeadLetterFailed as failed:
        print(f"cmm consume: stopped: {failed}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        consumer.close()
    print(
        f"consume: stopped; {stats.messages:,} messages, {stats.appended:,} events stored, "
        f"{stats.duplicates:,} already stored, {stats.dead_lettered:,} dead-lettered",
        file=sys.stderr,
    )
    return EXIT_OK


# ----------------------------------------------------------------------------------------------
# produce


def cmd_produce(args: argparse.Namespace) -> int:
    from infra.cli_common import Progress
    from infra.kafka.producer import EventProducer, ProduceReport, produce_file

    settings = _settings(args)
    source = Path(args.file)
    if not source.is_file():
        print(f"cmm produce: no such file: {source}", file=sys.stderr)
        return EXIT_USAGE
    progress = Progress(f"produce {source.name}")

    def show(report: ProduceReport) -> None:
        progress(report.sent)

    def reject(line: int, reason: str) -> None:
        print(f"{source}:{line}: rejected: {reason}", file=sys.stderr)

    topic = args.topic or settings.kafka_topic
    with EventProducer(
        _bootstrap(args, settings), topic, **settings.kafka_client_options()
    ) as producer:
        report = produce_file(source, producer, show, on_reject=reject)
    progress.done(report.sent)
    print(f"{source}: {report.sent:,} events sent to {topic}, {len(report.rejects):,} rejected")
    return EXIT_REJECTS if report.rejects else EXIT_OK


# ----------------------------------------------------------------------------------------------
# schema export


def cmd_schema_export(args: argparse.Namespace) -> int:
    from infra.schema_export import export

    settings = _settings(args)
    written = export(
        Path(args.dir),
        events_topic=settings.kafka_topic,
        dead_letter_topic=settings.kafka_dead_letter_topic,
    )
    for path in written:
        print(path)
    return EXIT_OK


# ----------------------------------------------------------------------------------------------
# project --follow on PostgreSQL


def project_follow_postgres(settings: Settings) -> int:
    """Follow the store with eventsourcing's ProjectionRunner until SIGTERM or Ctrl-C."""
    from infra.postgres.view import follow_postgres

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print("project: following PostgreSQL (LISTEN/NOTIFY); SIGTERM to stop", file=sys.stderr)
    follow_postgres(settings, stop)
    print("project: stopped", file=sys.stderr)
    return EXIT_OK


# ----------------------------------------------------------------------------------------------
# Parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="data directory (default: $CMM_DATA_DIR or per user)")
    parser.add_argument("--store", choices=["sqlite", "postgres"], help="event store")
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers ($CMM_KAFKA_BOOTSTRAP)")


def _positive(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {value}")
    return number


def register(sub: Any) -> None:
    """Add the streaming subcommands to ``cmm``'s subparsers."""
    p = sub.add_parser("consume", help="store events from Kafka (long-running, exactly once)")
    _common(p)
    p.add_argument("--topic", help="events topic ($CMM_KAFKA_TOPIC, default cmm.events)")
    p.add_argument("--dead-letter-topic", help="where invalid messages go ($CMM_KAFKA_DLQ_TOPIC)")
    p.add_argument("--group", help="consumer group ($CMM_KAFKA_GROUP, default cmm-ledger)")
    p.add_argument("--batch-size", type=_positive, default=5_000, help="messages per transaction")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes that validate and store, each for its share of the partitions "
        "(default: one per core, at most 4; 0: store in this process)",
    )
    p.add_argument("--max-messages", type=_positive, help="stop after this many messages")
    p.add_argument(
        "--idle-exit-seconds", type=float, help="stop when no message came for this long"
    )
    p.add_argument(
        "--report-every", type=float, default=10.0, help="seconds between lag/throughput lines"
    )
    p.add_argument(
        "--replay",
        action="store_true",
        help="read the topic again from offset 0 (stored events are recognised and skipped)",
    )
    p.add_argument(
        "--instance-id",
        help="static group membership: a restart with the same id resumes its partitions "
        "at once (one id per running consumer)",
    )
    p.add_argument(
        "--session-timeout",
        type=float,
        default=10.0,
        help="seconds before the group gives a silent member's partitions to the others",
    )
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=cmd_consume)

    p = sub.add_parser("produce", help="send a JSON-lines file of events to Kafka (backfill)")
    _common(p)
    p.add_argument("file", help="events, one JSON object per line")
    p.add_argument("--topic", help="events topic ($CMM_KAFKA_TOPIC, default cmm.events)")
    p.set_defaults(func=cmd_produce)

    p = sub.add_parser("schema", help="the event contract for other languages")
    schema_sub = p.add_subparsers(dest="schema_command", required=True)
    e = schema_sub.add_parser("export", help="write JSON Schema per event type and AsyncAPI 3")
    e.add_argument("dir", help="output directory")
    e.add_argument("--data-dir", help=argparse.SUPPRESS)
    e.add_argument("--store", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    e.set_defaults(func=cmd_schema_export)

"""The streaming commands of ``cmm``: ``consume`` and ``produce``; and ``project --follow`` on
PostgreSQL (eventsourcing's ProjectionRunner).

Kafka's client is imported only when a command runs, so the other commands start without it.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from infra.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REJECTS,
    EXIT_USAGE,
    DataDir,
    Store,
    UsageError,
    epilog,
    say,
    settings_of,
)
from infra.settings import Settings

Bootstrap = Annotated[
    str | None,
    typer.Option(
        help="Kafka bootstrap servers (default: $CMM_KAFKA_BOOTSTRAP).", show_default=False
    ),
]
Topic = Annotated[
    str | None,
    typer.Option(
        help="Events topic (default: $CMM_KAFKA_TOPIC, else cmm.events).", show_default=False
    ),
]


class LogLevel(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


def _bootstrap(given: str | None, settings: Settings) -> str:
    bootstrap = given or settings.kafka_bootstrap
    if not bootstrap:
        raise UsageError(
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


def _positive(value: int | None) -> int | None:
    if value is not None and value <= 0:
        raise typer.BadParameter(f"must be positive, not {value}")
    return value


def consume(
    data_dir: DataDir = None,
    store: Store = None,
    bootstrap: Bootstrap = None,
    topic: Topic = None,
    dead_letter_topic: Annotated[
        str | None,
        typer.Option(
            help="Where invalid messages go (default: $CMM_KAFKA_DLQ_TOPIC).", show_default=False
        ),
    ] = None,
    group: Annotated[
        str | None,
        typer.Option(
            help="Consumer group (default: $CMM_KAFKA_GROUP, else cmm-ledger).", show_default=False
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(callback=_positive, help="Messages per transaction.")
    ] = 5_000,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Worker processes that validate and store, each for its share of the "
            "partitions (default: one per core, at most 4; 0: store in this process).",
            show_default=False,
        ),
    ] = None,
    max_messages: Annotated[
        int | None, typer.Option(callback=_positive, help="Stop after this many messages.")
    ] = None,
    idle_exit_seconds: Annotated[
        float | None, typer.Option(help="Stop when no message came for this long.")
    ] = None,
    report_every: Annotated[
        float, typer.Option(help="Seconds between lag/throughput lines.")
    ] = 10.0,
    replay: Annotated[
        bool,
        typer.Option(
            help="Read the topic again from offset 0 (stored events are recognised and skipped)."
        ),
    ] = False,
    instance_id: Annotated[
        str | None,
        typer.Option(
            help="Static group membership: a restart with the same id resumes its partitions "
            "at once (one id per running consumer)."
        ),
    ] = None,
    session_timeout: Annotated[
        float,
        typer.Option(help="Seconds before the group gives a silent member's partitions to others."),
    ] = 10.0,
    log_level: Annotated[LogLevel, typer.Option(help="Log level.")] = LogLevel.info,
) -> int:
    """Store events from Kafka, exactly once (long-running; SIGTERM stops it cleanly)."""
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
    _logging(log_level.value)
    settings = settings_of(data_dir, store)
    config = ConsumerConfig(
        bootstrap_servers=_bootstrap(bootstrap, settings),
        topic=topic or settings.kafka_topic,
        dead_letter_topic=dead_letter_topic or settings.kafka_dead_letter_topic,
        group=group or settings.kafka_group,
        batch_size=batch_size,
        workers=default_workers() if workers is None else workers,
        max_messages=max_messages,
        idle_exit_seconds=idle_exit_seconds,
        report_every=report_every,
        replay=replay,
        session_timeout_ms=int(session_timeout * 1000),
        instance_id=instance_id,
        extra=settings.kafka_client_options(),
        clock_skew_seconds=settings.clock_skew_seconds,
    )
    consumer = EventConsumer(
        config, lambda: open_store(settings), report=print_report(), stopping=stopping
    )
    try:
        stats = consumer.run()
    except DeadLetterFailed as failed:
        say(f"cmm consume: stopped: {failed}")
        return EXIT_FAILED
    finally:
        consumer.close()
    say(
        f"consume: stopped; {stats.messages:,} messages, {stats.appended:,} events stored, "
        f"{stats.duplicates:,} already stored, {stats.dead_lettered:,} dead-lettered"
    )
    return EXIT_OK


def produce(
    file: Annotated[Path, typer.Argument(help="Events, one JSON object per line.")],
    data_dir: DataDir = None,
    store: Store = None,
    bootstrap: Bootstrap = None,
    topic: Topic = None,
) -> int:
    """Send a JSON-lines file of events to Kafka (a backfill); invalid lines are rejected
    here and never sent."""
    from infra.cli.progress import Progress
    from infra.kafka.producer import EventProducer, ProduceReport, produce_file

    settings = settings_of(data_dir, store)
    if not file.is_file():
        say(f"cmm produce: no such file: {file}")
        return EXIT_USAGE
    progress = Progress(f"produce {file.name}")

    def show(report: ProduceReport) -> None:
        progress(report.sent)

    def reject(line: int, reason: str) -> None:
        say(f"{file}:{line}: rejected: {reason}")

    chosen = topic or settings.kafka_topic
    with EventProducer(
        _bootstrap(bootstrap, settings), chosen, **settings.kafka_client_options()
    ) as producer:
        report = produce_file(file, producer, show, on_reject=reject)
    progress.done(report.sent)
    print(f"{file}: {report.sent:,} events sent to {chosen}, {len(report.rejects):,} rejected")
    return EXIT_REJECTS if report.rejects else EXIT_OK


def project_follow_postgres(settings: Settings) -> int:
    """Follow the store with eventsourcing's ProjectionRunner until SIGTERM or Ctrl-C."""
    from infra.postgres.view import follow_postgres

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    say("project: following PostgreSQL (LISTEN/NOTIFY); SIGTERM to stop")
    follow_postgres(settings, stop)
    say("project: stopped")
    return EXIT_OK


def register(app: typer.Typer) -> None:
    app.command(
        short_help="Store events from Kafka (long-running).",
        epilog=epilog(
            "CMM_KAFKA_BOOTSTRAP=127.0.0.1:19092 cmm consume",
            "cmm consume --bootstrap 127.0.0.1:19092 --idle-exit-seconds 30",
        ),
    )(consume)
    app.command(
        short_help="Send a file of events to Kafka.",
        epilog=epilog("cmm produce events.jsonl --bootstrap 127.0.0.1:19092 --topic cmm.events"),
    )(produce)

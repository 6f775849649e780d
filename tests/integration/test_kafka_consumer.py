"""``cmm consume`` against a real broker and real stores: exactly-once effect.

Every test runs the consumer as a user would, a ``python -m infra.cli consume`` subprocess,
and judges the store it leaves: each event stored once, none lost, each stream (one person,
one log) in the order its messages were produced. Nothing here sleeps to synchronise: tests
poll the store or the consumer's output for a condition, with a deadline.
"""

from __future__ import annotations

import random
import re
import signal
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer

from domain.events import to_record, validate_event
from infra.composition import open_store
from infra.encoding import encode_record
from infra.kafka.producer import EventProducer, message_key
from infra.kafka.sink import DLQ_OFFSET, DLQ_PARTITION, DLQ_REASON, DLQ_TOPIC
from infra.settings import Settings
from infra.store import EventStore
from tests.integration.conftest import (
    CmmProcess,
    Topics,
    alive,
    children_of,
    cmm_env,
    run_cmm,
    sample_events,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture(params=["postgres", "sqlite"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return Settings(data_dir=tmp_path / "data", store="sqlite")
    dsn = request.getfixturevalue("pg_dsn")
    return Settings(data_dir=tmp_path / "data", store="postgres", postgres_dsn=dsn)


@pytest.fixture
def pg_settings(tmp_path: Path, pg_dsn: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", store="postgres", postgres_dsn=pg_dsn)


# ----------------------------------------------------------------------------------------------
# Helpers


def produce(topics: Topics, events: list[dict[str, Any]]) -> None:
    with EventProducer(topics.bootstrap, topics.events) as producer:
        for event in events:
            producer.send(event)


def expected_streams(events: list[dict[str, Any]]) -> dict[str, list[bytes]]:
    """Each stream's stored states, in the order produced, each event once."""
    streams: dict[str, list[bytes]] = {}
    seen: set[str] = set()
    for event in events:
        if event["event_id"] in seen:
            continue
        seen.add(event["event_id"])
        encoded = encode_record(to_record(validate_event(event)))
        streams.setdefault(encoded.originator_id, []).append(encoded.state)
    return streams


def stored_streams(settings: Settings) -> dict[str, list[bytes]]:
    """Each stream's stored states (without its ``Opened``), checking versions are 1..n."""
    with open_store(settings) as store:
        rows = [row for chunk in store.iter_rows() for row in chunk]
    streams: dict[str, list[tuple[int, bytes]]] = {}
    for row in rows:
        streams.setdefault(row.originator_id, []).append((row.originator_version, row.state))
    result: dict[str, list[bytes]] = {}
    for oid, stream in streams.items():
        stream.sort()
        assert [v for v, _ in stream] == list(range(1, len(stream) + 1)), oid
        result[oid] = [state for _, state in stream[1:]]
    return result


def count_events(store: EventStore) -> int:
    counter = getattr(store, "count_events", None)
    assert counter is not None, f"{type(store).__name__} cannot count its events"
    return int(counter())


def stored_count(settings: Settings) -> int:
    with open_store(settings) as store:
        return count_events(store)


def consume(
    settings: Settings, topics: Topics, tmp_path: Path, *args: str, name: str = "consume"
) -> CmmProcess:
    return CmmProcess(
        ["consume", "--report-every", "0.5", *args],
        cmm_env(settings, topics),
        tmp_path / f"{name}.log",
    )


def final_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("consume: stopped")]
    assert lines, output
    return lines[-1]


def dead_letters(topics: Topics, expected: int) -> list[Any]:
    consumer = KafkaConsumer(
        topics.dead_letter,
        bootstrap_servers=topics.bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=15_000,
    )
    messages: list[Any] = []
    try:
        for message in consumer:
            messages.append(message)
            if len(messages) >= expected:
                break
    finally:
        consumer.close()
    return messages


# ----------------------------------------------------------------------------------------------
# Tests


def test_invalid_messages_go_to_the_dead_letter_topic_with_reasons(
    settings: Settings, topics: Topics, tmp_path: Path
) -> None:
    topics.create(partitions=2)
    valid = sample_events(7, 400)
    person = next(e for e in valid if e.get("person_ref"))
    key = message_key(person).encode()
    unknown_field = {**person, "event_id": "0190c1d2-0000-7000-8000-000000000001", "name": "x"}
    bad_code = {
        **person,
        "event_id": "0190c1d2-0000-7000-8000-000000000002",
        "type": "ContactRegistered",
        "payload": {"channel": "telepathy"},
    }
    no_person = {k: v for k, v in bad_code.items() if k != "person_ref"}
    no_person["payload"] = {"channel": "police"}
    digits = {**no_person, "person_ref": "P-12345678"}
    bad: list[tuple[bytes | None, str]] = [
        (b"not json at all", "Invalid JSON"),
        (_json(unknown_field), "name: Extra inputs are not permitted"),
        (_json(bad_code), "payload.channel"),
        (_json(no_person), "person_ref is required for ContactRegistered"),
        (_json(digits), "all digits"),
        (b"\xff\xfe\x00", "Invalid JSON"),
        (b"", "Invalid JSON"),
        (None, "message has no value"),
    ]
    raw = KafkaProducer(bootstrap_servers=topics.bootstrap, acks="all")
    sent: dict[tuple[int, int], str] = {}
    try:
        with EventProducer(topics.bootstrap, topics.events) as producer:
            for i, event in enumerate(valid):
                producer.send(event)
                if i % 50 == 25 and bad:
                    producer.flush()  # keep the bad ones among the good, in order
                    value, reason = bad.pop(0)
                    meta = raw.send(topics.events, value=value, key=key).get(timeout=30)
                    sent[(meta.partition, meta.offset)] = reason
    finally:
        raw.close()
    assert not bad and len(sent) == 8
    total = len(valid) + len(sent)

    result = run_cmm(
        ["consume", "--max-messages", str(total)], cmm_env(settings, topics), timeout=180
    )
    assert result.returncode == 0, result.stderr
    assert "8 dead-lettered" in final_line(result.stderr)
    assert stored_streams(settings) == expected_streams(valid)

    letters = dead_letters(topics, 8)
    assert len(letters) == 8
    for letter in letters:
        headers = {k: v.decode() for k, v in letter.headers}
        origin = (int(headers[DLQ_PARTITION]), int(headers[DLQ_OFFSET]))
        assert headers[DLQ_TOPIC] == topics.events
        assert sent[origin] in headers[DLQ_REASON], headers[DLQ_REASON]
        assert letter.key == key
    values = sorted(letter.value or b"" for letter in letters)
    assert values == sorted(
        [b"not json at all", b"\xff\xfe\x00", b"", b""]
        + [_json(x) for x in (unknown_field, bad_code, no_person, digits)]
    )


def _json(data: dict[str, Any]) -> bytes:
    import json

    return json.dumps(data).encode()


def test_duplicates_and_a_replay_from_offset_zero_change_nothing(
    pg_settings: Settings, topics: Topics, tmp_path: Path
) -> None:
    topics.create(partitions=3)
    events = sample_events(11, 1_500)
    produce(topics, events)
    produce(topics, events[:700])  # the same events sent again
    total = len(events) + 700
    env = cmm_env(pg_settings, topics)

    # Validation in the writer thread this time (no worker process).
    first = run_cmm(["consume", "--workers", "0", "--max-messages", str(total)], env, timeout=180)
    assert first.returncode == 0, first.stderr
    assert "1,500 events stored, 700 already stored" in final_line(first.stderr)
    with open_store(pg_settings) as store:
        before = [row for chunk in store.iter_rows() for row in chunk]
    assert stored_streams(pg_settings) == expected_streams(events)

    replay = run_cmm(["consume", "--replay", "--max-messages", str(total)], env, timeout=180)
    assert replay.returncode == 0, replay.stderr
    assert f"0 events stored, {total:,} already stored" in final_line(replay.stderr)
    with open_store(pg_settings) as store:
        after = [row for chunk in store.iter_rows() for row in chunk]
    assert after == before


def test_sigkill_at_random_points_loses_and_duplicates_nothing(
    settings: Settings, topics: Topics, tmp_path: Path
) -> None:
    topics.create(partitions=3)
    events = sample_events(21) + sample_events(22)
    produce(topics, events)
    expected = expected_streams(events)
    total_events = sum(len(s) for s in expected.values())
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    print(f"kill points from seed {seed}")
    killed_at: list[int] = []
    for round_ in range(3):
        low = stored_count(settings) if round_ else 0
        if total_events - low < 2:
            break  # a kill landed after (all but one of) the events were stored: none left
        threshold = rng.randint(low + 1, low + (total_events - low) // 2)
        # A static member id: the restarted consumer takes the partitions back at once,
        # instead of after the killed one's session times out.
        process = consume(
            settings,
            topics,
            tmp_path,
            *("--batch-size", "400", "--instance-id", "killed"),
            name=f"r{round_}",
        )

        def reached(process: CmmProcess = process, threshold: int = threshold) -> bool:
            return process.proc.poll() is not None or stored_count(settings) >= threshold

        try:
            # Polled often: the consumer stores thousands of events a second, and a kill
            # that lands late leaves the next rounds nothing to interrupt.
            wait_until(reached, 120, f"{threshold} stored events", interval=0.005)
            workers = children_of(process.proc.pid)
            process.proc.send_signal(signal.SIGKILL)
            process.wait()
        finally:
            process.kill()
        assert process.proc.returncode == -signal.SIGKILL, process.output()
        killed_at.append(stored_count(settings))

        # The validating worker dies with its parent, not left behind.
        def gone(workers: list[int] = workers) -> bool:
            return not any(alive(pid) for pid in workers)

        wait_until(gone, 30, "the worker processes to exit")

    process = consume(settings, topics, tmp_path, "--instance-id", "killed", name="final")
    try:
        process.wait_for_output("partitions assigned: ['")
        wait_until(lambda: stored_count(settings) >= total_events, 180, "every event stored")
        process.proc.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, process.output()
    finally:
        process.kill()
    print(f"killed with {killed_at} events stored")
    assert stored_streams(settings) == expected


def test_two_consumers_in_one_group_end_as_one_consumer(
    topics: Topics, tmp_path: Path, new_database: Any
) -> None:
    topics.create(partitions=4)
    shared = Settings(data_dir=tmp_path / "a", store="postgres", postgres_dsn=new_database())
    alone = Settings(data_dir=tmp_path / "b", store="postgres", postgres_dsn=new_database())
    events = sample_events(31)

    first = consume(shared, topics, tmp_path, name="first")
    second: CmmProcess | None = None
    try:
        first.wait_for_output("partitions assigned: ['")
        second = consume(shared, topics, tmp_path, name="second")
        second.wait_for_output("partitions assigned: ['")
        produce(topics, events)
        total = sum(len(s) for s in expected_streams(events).values())
        wait_until(lambda: stored_count(shared) >= total, 180, "every event stored")
        for process in (first, second):
            process.proc.send_signal(signal.SIGTERM)
        for process in (first, second):
            assert process.wait(60) == 0, process.output()
    finally:
        first.kill()
        if second is not None:
            second.kill()
    shares = [_messages(final_line(p.output())) for p in (first, second) if p]
    assert all(share > 0 for share in shares), shares  # both did part of the work

    single = run_cmm(
        ["consume", "--group", topics.group + "-alone", "--max-messages", str(len(events))],
        cmm_env(alone, topics),
        timeout=180,
    )
    assert single.returncode == 0, single.stderr
    assert stored_streams(shared) == stored_streams(alone) == expected_streams(events)


def _messages(line: str) -> int:
    match = re.search(r"stopped; ([\d,]+) messages", line)
    assert match, line
    return int(match.group(1).replace(",", ""))


def test_sigterm_stops_cleanly_mid_stream_and_reports_lag(
    pg_settings: Settings, topics: Topics, tmp_path: Path
) -> None:
    topics.create(partitions=1)
    events = sample_events(41) + sample_events(42)
    produce(topics, events)
    process = consume(pg_settings, topics, tmp_path, "--batch-size", "300", name="term")
    try:
        wait_until(lambda: stored_count(pg_settings) >= 1_000, 120, "a first thousand events")
        workers = children_of(process.proc.pid)
        process.proc.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, process.output()
    finally:
        process.kill()
    output = process.output()
    assert re.search(r"consume: [\d,]+ messages, .*/s now, .*/s overall; lag [\d,]+", output)
    assert "partitions revoked: ['" in output  # it left the group on the way out
    assert not any(alive(p) for p in workers)
    # One partition, no duplicates in it: the stored position counts the stored events.
    with open_store(pg_settings) as store:
        position = store.position(f"kafka:{topics.events}:0")
        assert position is not None and position == count_events(store) < len(events)

    result = run_cmm(
        ["consume", "--max-messages", str(len(events) - position)],
        cmm_env(pg_settings, topics),
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert stored_streams(pg_settings) == expected_streams(events)


def test_a_rebalance_finishing_between_short_polls_is_not_lost(topics: Topics) -> None:
    """kafka-python 3.0.12 drops a JoinGroup/SyncGroup that completes while no ``poll`` is
    waiting for it; with only short polls the member then never gets partitions. The
    consumer module works around it (``keep_finished_rebalances``)."""
    import time

    from infra.kafka.rebalance_fix import keep_finished_rebalances

    keep_finished_rebalances()
    topics.create(partitions=2)
    consumer = KafkaConsumer(
        bootstrap_servers=topics.bootstrap, group_id=topics.group, enable_auto_commit=False
    )
    try:
        consumer.subscribe([topics.events])
        deadline = time.monotonic() + 30
        while not consumer.assignment() and time.monotonic() < deadline:
            consumer.poll(timeout_ms=1)
        assert len(consumer.assignment()) == 2
    finally:
        consumer.close()


def test_idle_exit_after_the_topic_is_drained(
    pg_settings: Settings, topics: Topics, tmp_path: Path
) -> None:
    topics.create(partitions=2)
    events = sample_events(51, 300)
    produce(topics, events)
    result = run_cmm(
        ["consume", "--idle-exit-seconds", "2"], cmm_env(pg_settings, topics), timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "300 events stored" in final_line(result.stderr)
    assert stored_streams(pg_settings) == expected_streams(events)

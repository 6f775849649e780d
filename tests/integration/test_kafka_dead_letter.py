"""Dead letters that cannot block a partition or be lost: an oversized invalid message, a
record with a null header value, and a dead-letter topic that refuses a message.

Against the real broker: the events topic takes 4 MiB messages, as a deployment may allow.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

from infra.composition import open_store
from infra.kafka.config import ConsumerConfig
from infra.kafka.producer import EventProducer
from infra.kafka.sink import DLQ_NULL_HEADERS, DLQ_OFFSET, DLQ_REASON, Sink
from infra.settings import Settings
from tests.integration.conftest import Topics, cmm_env, run_cmm, sample_events

pytestmark = pytest.mark.integration

BIG = 1_500_000  # above Kafka's 1 MB default, below the events topic's 4 MiB
FOUR_MIB = str(4 * 1024 * 1024)


def _create(topics: Topics, dead_letter_max: str | None) -> None:
    admin = KafkaAdminClient(bootstrap_servers=topics.bootstrap, client_id="cmm-test-admin")
    try:
        dlq_configs = {} if dead_letter_max is None else {"max.message.bytes": dead_letter_max}
        admin.create_topics(
            [
                NewTopic(topics.events, 1, 1, topic_configs={"max.message.bytes": FOUR_MIB}),
                NewTopic(topics.dead_letter, 1, 1, topic_configs=dlq_configs),
            ]
        )
    finally:
        admin.close()
    topics.created += [topics.events, topics.dead_letter]


def _stored(settings: Settings) -> int:
    with open_store(settings) as store:
        return int(store.count_events())  # type: ignore[attr-defined]


def _produce_around_a_big_bad_message(topics: Topics) -> tuple[int, int]:
    """200 valid events, the 1.5 MB invalid one, 200 more; (valid count, its offset)."""
    events = sample_events(3, 400)
    with EventProducer(topics.bootstrap, topics.events) as producer:
        for event in events[:200]:
            producer.send(event)
    raw = KafkaProducer(
        bootstrap_servers=topics.bootstrap, acks="all", max_request_size=8 * 1024 * 1024
    )
    try:
        offset = raw.send(topics.events, value=b"{" + b"x" * BIG, key=b"k").get(timeout=60).offset
    finally:
        raw.close()
    with EventProducer(topics.bootstrap, topics.events) as producer:
        for event in events[200:]:
            producer.send(event)
    return len({e["event_id"] for e in events}), offset


def _letters(topics: Topics) -> list[Any]:
    consumer = KafkaConsumer(
        topics.dead_letter,
        bootstrap_servers=topics.bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=10_000,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    try:
        return list(consumer)
    finally:
        consumer.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", store="sqlite")


def test_an_oversized_invalid_message_is_dead_lettered_and_blocks_nothing(
    settings: Settings, topics: Topics
) -> None:
    _create(topics, dead_letter_max=FOUR_MIB)
    valid, offset = _produce_around_a_big_bad_message(topics)
    env = cmm_env(settings, topics)
    result = run_cmm(["consume", "--max-messages", "401"], env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _stored(settings) >= valid  # every valid event behind it is stored
    (letter,) = _letters(topics)
    assert len(letter.value) == BIG + 1  # the original bytes, whole
    assert dict(letter.headers)[DLQ_OFFSET] == str(offset).encode()


def test_a_refused_dead_letter_stops_the_consumer_and_moves_no_position(
    settings: Settings, topics: Topics
) -> None:
    _create(topics, dead_letter_max=None)  # the broker's 1 MB default: too small
    valid, offset = _produce_around_a_big_bad_message(topics)
    env = cmm_env(settings, topics)
    stopped = run_cmm(["consume", "--max-messages", "401"], env, timeout=300)
    assert stopped.returncode == 4, stopped.stderr[-3000:]
    assert "could not be dead-lettered" in stopped.stderr
    assert "max.message.bytes" in stopped.stderr and "Traceback" not in stopped.stderr
    assert f"@{offset}" in stopped.stderr
    assert _letters(topics) == []
    before = _stored(settings)
    assert before < valid  # the batch holding it, and all after, were not stored

    again = run_cmm(["consume", "--max-messages", "401"], env, timeout=300)
    assert again.returncode == 4  # still refused: the message was not skipped
    assert _stored(settings) == before

    admin = KafkaAdminClient(bootstrap_servers=topics.bootstrap, client_id="cmm-test-admin")
    try:
        admin.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC,
                    topics.dead_letter,
                    configs={"max.message.bytes": FOUR_MIB},
                )
            ]
        )
    finally:
        admin.close()
    fixed = run_cmm(["consume", "--idle-exit-seconds", "5"], env, timeout=300)
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert _stored(settings) >= valid
    assert len(_letters(topics)) == 1


def test_a_null_header_value_is_dead_lettered_not_a_crash(
    settings: Settings, topics: Topics
) -> None:
    """kafka-python hands a wire-legal null header value over as None: the sink sends it on
    empty and says which headers were null."""
    _create(topics, dead_letter_max=FOUR_MIB)
    config = ConsumerConfig(
        bootstrap_servers=topics.bootstrap,
        topic=topics.events,
        dead_letter_topic=topics.dead_letter,
        group=topics.group,
    )
    sink = Sink(config, lambda: open_store(settings))
    try:
        message = (b"not json", b"key", [("trace", None), ("origin", b"hotline")], 0, 7)
        outcome = sink.store([message], {f"{topics.events}:0": 8})
    finally:
        sink.close()
    assert outcome.dead_lettered == 1
    (letter,) = _letters(topics)
    headers = dict(letter.headers)
    assert headers["trace"] == b"" and headers["origin"] == b"hotline"
    assert headers[DLQ_NULL_HEADERS] == b"0"
    assert letter.value == b"not json"


def test_a_conflicting_resubmission_is_dead_lettered_and_the_stored_event_kept(
    settings: Settings, topics: Topics
) -> None:
    _create(topics, dead_letter_max=FOUR_MIB)
    events = sample_events(3, 150)
    index = next(i for i, e in enumerate(events[:100]) if "age" in e["payload"])
    original_age = events[index]["payload"]["age"]
    changed = copy.deepcopy(events[index])
    changed["payload"]["age"] = 16 if original_age != 16 else 17
    with EventProducer(topics.bootstrap, topics.events) as producer:
        for event in events[:100]:
            producer.send(event)
    env = cmm_env(settings, topics)
    first = run_cmm(["consume", "--max-messages", "100"], env, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    before = _stored(settings)
    with EventProducer(topics.bootstrap, topics.events) as producer:
        producer.send(changed)  # offset 100
        producer.send(events[index])  # the same event again: a silent no-op
        for event in events[100:]:
            producer.send(event)

    second = run_cmm(["consume", "--max-messages", "52"], env, timeout=300)

    assert second.returncode == 0, second.stderr[-3000:]
    (letter,) = _letters(topics)
    headers = dict(letter.headers)
    reason = headers[DLQ_REASON].decode()
    assert reason.startswith("event_id: conflict") and "payload.age differs" in reason
    assert headers[DLQ_OFFSET] == b"100"
    assert json.loads(letter.value)["payload"]["age"] == changed["payload"]["age"]
    assert _stored(settings) == before + 50  # the valid messages behind it are stored
    with open_store(settings) as store:
        states = [
            json.loads(row.state)
            for chunk in store.iter_rows(chunk=1_000)
            for row in chunk
            if events[index]["event_id"].encode() in row.state
        ]
    assert [s["payload"]["age"] for s in states] == [original_age]
    again = run_cmm(["consume", "--idle-exit-seconds", "3"], env, timeout=300)
    assert again.returncode == 0 and len(_letters(topics)) == 1  # the position moved past it

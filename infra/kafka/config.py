"""The consumer's configuration, and the names under which it tracks Kafka positions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.events import CLOCK_SKEW


def position_name(topic: str, partition: int) -> str:
    """The tracking record name of a partition's consumed position."""
    return f"kafka:{topic}:{partition}"


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

"""Benchmark: bulk ingest into the PostgreSQL event store (target: 20,000 events/s or more).

    python -m bench.bench_postgres --events 200000

Needs a PostgreSQL server: ``CMM_POSTGRES_DSN`` (or ``infra/servers/postgres.sh start``).
Each run uses a new, throw-away database on that server.

Prints JSON lines ``{"name", "value", "unit", "baseline", "ratio"}``:

- ``postgres_append``: ``PostgresEventStore.append`` of pre-encoded events in batches of
  5,000 (the consumer's write path), against the same events written with eventsourcing's own
  ``PostgresApplicationRecorder.insert_events`` in the same batches (the baseline: the
  recorder's bulk insert without the idempotency index).
- ``postgres_ingest_file``: ``cmm ingest`` of a JSON-lines file into PostgreSQL (validation
  and encoding in worker processes, as on SQLite), against the same file into SQLite.
- ``postgres_read``: reading the notification log back (the catch-up runner's input),
  against eventsourcing's ``select_notifications``.

Events are synthetic but shaped like the centre's: a few events per person, persons
interleaved, a hotline log, UUIDv7 event ids.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse, urlunparse

from bench.common import REPEAT, emit, emit_runs

if TYPE_CHECKING:
    from infra.store import EventStore

BATCH = 5_000


def _uuid7(unix_ms: int, rng: random.Random) -> str:
    r = rng.getrandbits(74)
    ms = unix_ms & 0xFFFF_FFFF_FFFF
    return (
        f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-{0x7000 | (r >> 62):04x}-"
        f"{0x8000 | ((r >> 48) & 0x3FFF):04x}-{r & 0xFFFF_FFFF_FFFF:012x}"
    )


def _iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def synthetic_events(count: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """``count`` valid events (contract records) in arrival order: persons with contact,
    assessment, support offer and status, with a hotline call every tenth event."""
    rng = random.Random(seed)
    start = 1_325_376_000  # 2012-01-01
    now = start
    open_persons: list[list[dict[str, Any]]] = []
    produced = 0
    while produced < count:
        now += rng.randint(1, 600)
        if rng.random() < 0.1:
            occurred = now - rng.randint(0, 86_400)
            yield {
                "event_id": _uuid7(now * 1000, rng),
                "type": "HotlineCallReceived",
                "schema_version": 1,
                "occurred_at": _iso(occurred),
                "recorded_at": _iso(now),
                "source": "hotline",
                "payload": {
                    "caller": rng.choice(["police", "ngo", "private_person"]),
                    "reason": rng.choice(["suspicion", "advice", "other"]),
                },
            }
            produced += 1
            continue
        if not open_persons or (len(open_persons) < 200 and rng.random() < 0.3):
            open_persons.append(_person_events(rng, f"P-{rng.getrandbits(64):016x}"))
        index = rng.randrange(len(open_persons))
        pending = open_persons[index]
        body = pending.pop(0)
        if not pending:
            open_persons.pop(index)
        occurred = now - rng.randint(0, 7 * 86_400)
        yield {
            "event_id": _uuid7(now * 1000, rng),
            **body,
            "schema_version": 1,
            "occurred_at": _iso(occurred),
            "recorded_at": _iso(now),
        }
        produced += 1


def _person_events(rng: random.Random, person_ref: str) -> list[dict[str, Any]]:
    victim = rng.random() < 0.7
    form = rng.choice(["sexual_exploitation", "forced_labour", "forced_criminality"])
    legal_residence = rng.random() < 0.4
    assessment: dict[str, Any] = {
        # The centre assesses people with legal residence, the Immigration Service the rest.
        "authority": "cmm" if legal_residence else "immigration_service",
        "outcome": "victim" if victim else "not_victim",
        "citizenship": rng.choice(["NG", "RO", "TH", "UG", "BG", "VN"]),
        "gender": rng.choice(["female", "male"]),
        "age": rng.randint(16, 55),
        "legal_residence": legal_residence,
    }
    if victim:
        assessment["exploitation"] = form
        if form == "forced_labour":
            assessment["industry"] = rng.choice(["cleaning", "construction", "agriculture"])
    events: list[dict[str, Any]] = [
        {
            "type": "ContactRegistered",
            "source": "police",
            "person_ref": person_ref,
            "payload": {"channel": rng.choice(["police", "street_outreach", "hotline"])},
        },
        {
            "type": "AssessmentDecided",
            "source": "immigration_service",
            "person_ref": person_ref,
            "payload": assessment,
        },
    ]
    if victim:
        events.append(
            {
                "type": "SupportOffered",
                "source": "cmm",
                "person_ref": person_ref,
                "payload": {"reflection_days": rng.choice([30, 120])},
            }
        )
        events.append(
            {
                "type": "SupportStatusChanged",
                "source": "cmm",
                "person_ref": person_ref,
                "payload": {"status": rng.choice(["accepted", "declined", "left"])},
            }
        )
    return events


def write_events(path: Path, count: int, seed: int = 1) -> int:
    with path.open("w", encoding="utf8") as handle:
        for event in synthetic_events(count, seed):
            handle.write(json.dumps(event, separators=(",", ":")) + "\n")
    return count


def admin_dsn() -> str:
    dsn = os.environ.get("CMM_POSTGRES_DSN")
    if not dsn:
        sys.exit('bench: set CMM_POSTGRES_DSN (e.g. eval "$(infra/servers/postgres.sh start)")')
    return dsn


@contextmanager
def scratch_database(dsn: str) -> Iterator[str]:
    """A new database on the server of ``dsn``, dropped afterwards; yields its DSN."""
    import psycopg

    name = f"cmm_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(urlparse(dsn)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _encoded(count: int) -> list[Any]:
    from domain.events import to_record, validate_event
    from infra.encoding import encode_record

    return [encode_record(to_record(validate_event(e))) for e in synthetic_events(count)]


def bench_append(dsn: str, count: int) -> None:
    from eventsourcing.persistence import InfrastructureFactory, StoredEvent

    from infra.append_plan import plan_rows
    from infra.composition import application_env
    from infra.postgres.store import PostgresEventStore
    from infra.settings import Settings

    encoded = _encoded(count)
    with scratch_database(dsn) as db:
        store = PostgresEventStore(Settings(store="postgres", postgres_dsn=db))
        started = time.perf_counter()
        for i in range(0, len(encoded), BATCH):
            store.append(encoded[i : i + BATCH], {"bench:0": i + BATCH})
        ours = len(encoded) / (time.perf_counter() - started)
        store.close()
    with scratch_database(dsn) as db:
        settings = Settings(store="postgres", postgres_dsn=db)
        factory = InfrastructureFactory.construct(application_env(settings))
        recorder = factory.application_recorder()
        versions: dict[str, int] = {}
        started = time.perf_counter()
        for i in range(0, len(encoded), BATCH):
            rows = plan_rows(encoded[i : i + BATCH], versions)
            for oid, version, _, _ in rows:
                versions[oid] = version
            recorder.insert_events(
                [StoredEvent(uuid.UUID(o), v, t, s) for o, v, t, s in rows]  # type: ignore[arg-type]
            )
        baseline = len(encoded) / (time.perf_counter() - started)
        factory.close()  # type: ignore[attr-defined]
    emit("postgres_append", ours, "events/s", baseline)


def _ingest_rate(source: Path, store: EventStore, close: bool = True) -> float:
    from infra.files.ingest import ingest_file

    try:
        started = time.perf_counter()
        report = ingest_file(source, store)
        return report.appended / (time.perf_counter() - started)
    finally:
        if close:
            store.close()


def bench_ingest_and_read(dsn: str, count: int, repeat: int = REPEAT) -> None:
    from eventsourcing.persistence import InfrastructureFactory

    from infra.composition import application_env
    from infra.postgres.store import PostgresEventStore
    from infra.settings import Settings
    from infra.sqlite.store import SQLiteEventStore

    with tempfile.TemporaryDirectory(prefix="cmm-bench-") as tmp:
        source = Path(tmp) / "events.jsonl"
        write_events(source, count)
        runs: list[float] = []
        baselines: list[float] = []
        for run in range(1, repeat):
            # Earlier runs on databases of their own; the last one's store is read below.
            with scratch_database(dsn) as db:
                settings = Settings(data_dir=Path(tmp), store="postgres", postgres_dsn=db)
                with PostgresEventStore(settings) as store:
                    runs.append(_ingest_rate(source, store))
            baselines.append(_ingest_rate(source, SQLiteEventStore(Path(tmp) / f"{run}.sqlite3")))
        with scratch_database(dsn) as db:
            settings = Settings(data_dir=Path(tmp), store="postgres", postgres_dsn=db)
            store = PostgresEventStore(settings)
            runs.append(_ingest_rate(source, store, close=False))
            baselines.append(_ingest_rate(source, SQLiteEventStore(Path(tmp) / "0.sqlite3")))
            emit_runs("postgres_ingest_file", runs, "events/s", baselines)

            started = time.perf_counter()
            rows = sum(len(chunk) for chunk in store.iter_rows())
            ours = rows / (time.perf_counter() - started)
            store.close()
            factory = InfrastructureFactory.construct(application_env(settings))
            recorder = factory.application_recorder()
            started = time.perf_counter()
            after, seen = 0, 0
            while True:
                notes = recorder.select_notifications(  # type: ignore[attr-defined]
                    after, 20_000, inclusive_of_start=False
                )
                if not notes:
                    break
                seen += len(notes)
                after = notes[-1].id
            baseline = seen / (time.perf_counter() - started)
            factory.close()  # type: ignore[attr-defined]
            emit("postgres_read", ours, "rows/s", baseline)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument(
        "--repeat", type=int, default=REPEAT, help="ingest runs; the median is reported"
    )
    args = parser.parse_args(argv)
    dsn = admin_dsn()
    bench_append(dsn, args.events)
    bench_ingest_and_read(dsn, args.events, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())

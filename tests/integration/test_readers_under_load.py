"""Readers get an answer while the store is being written (issue 12 item 4): twenty readers,
reports and case queries mixed, started while a ``cmm ingest`` and a ``cmm consume`` both
write the store and the projector (``cmm project --follow``, as in docker-compose) follows
it, on SQLite and on PostgreSQL. Every reader exits 0 with a well-formed answer, the writers
and the projector end cleanly, and once the writers are done a report and the case list
equal the in-memory oracle of all the events written.

Nothing sleeps to synchronise: the test waits for the consumer to have stored its first
share of the messages, for the ingest to have stored its first batch, then starts the
readers and, while they run, sends the consumer the rest of its messages, so both writers
are still writing while the readers bring the read model up to date. On SQLite the readers
start while the test holds the store's write lock, as a writer mid-batch does, until one of
them waits for it (sleeps in SQLite's busy handler, read from /proc) or fails: the first
open creates the read-model tables, and must wait rather than fail with "database is
locked".
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from domain.events import to_record, validate_event
from infra.composition import open_store
from infra.kafka.producer import EventProducer
from infra.postgres.store import PostgresEventStore
from infra.settings import Settings
from infra.sqlite.store import SQLiteEventStore
from projections.read_model_rows import CASE_COLUMNS
from projections.report import build_report, report_to_json
from simulation.simulate import load_profile, simulate, write_jsonl
from tests.integration.conftest import (
    REPO_ROOT,
    CmmProcess,
    Topics,
    cmm_command,
    cmm_env,
    wait_until,
)

pytestmark = pytest.mark.integration

READERS = 20
YEAR = 2012
AS_OF = "2013-01-31"
PARTITIONS = 2
REPORT = ["report", "--year", str(YEAR), "--as-of", AS_OF, "--format", "json"]
# A mix of the readers an analyst and case workers run.
READER_COMMANDS = [
    REPORT,
    ["cases", "--flagged", "--format", "json"],
    REPORT,
    ["cases", "--format", "json"],
]


@pytest.fixture
def settings(either_store: Settings) -> Settings:
    return either_store


def _stored(settings: Settings, topic: str) -> tuple[int, int]:
    """(events in the store, messages the consumer has stored: the sum of its positions)."""
    with open_store(settings) as store:
        assert isinstance(store, SQLiteEventStore | PostgresEventStore)
        consumed = sum(
            store.position(f"kafka:{topic}:{partition}") or 0 for partition in range(PARTITIONS)
        )
        return store.count_events(), consumed


@contextmanager
def _mid_batch(settings: Settings) -> Iterator[None]:
    """On SQLite, hold the store's write lock for the block, as a writer does in the middle
    of a batch: the ingest and the consumer write small batches with pauses between, and
    the first reader must meet one mid-batch to show that it waits for it."""
    if settings.store != "sqlite":
        yield
        return
    db = sqlite3.connect(settings.sqlite_path, timeout=60.0, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        yield
        db.execute("COMMIT")
    finally:
        db.close()


# x86-64 and arm64 numbers of the system calls SQLite's busy handler sleeps in (usleep).
_SLEEPS = {35, 230} if os.uname().machine == "x86_64" else {101, 115}


def _sleeping(pid: int) -> bool:
    """True while the process sleeps (read from /proc, never from the code under test): a
    reader only sleeps in SQLite's busy handler, waiting for the write lock."""
    try:
        call = Path(f"/proc/{pid}/syscall").read_text().split()
    except OSError:
        return False
    return bool(call) and call[0].isdigit() and int(call[0]) in _SLEEPS


def _start_reader(command: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*cmm_command(), *command],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _answers(commands: list[list[str]], procs: list[subprocess.Popen[str]]) -> list[Any]:
    """Each reader's answer (its JSON output); fails naming every reader that failed, with
    the last line of its error, and the first one's whole traceback."""
    outputs = []
    for command, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=900)
        outputs.append((command, proc.returncode, out, err))
    failed = [(c, code, err) for c, code, _out, err in outputs if code != 0]
    lines = [
        f"{' '.join(c)} exited {code}: {(err.strip() or '-').splitlines()[-1]}"
        for c, code, err in failed
    ]
    assert not failed, (
        f"{len(failed)} of {len(procs)} readers failed:\n"
        + "\n".join(lines)
        + f"\n\nthe first:\n{failed[0][2][-3000:]}"
    )
    return [json.loads(out) for _c, _code, out, _err in outputs]


def test_twenty_readers_answer_while_an_ingest_and_a_consumer_write(
    settings: Settings, topics: Topics, tmp_path: Path, processes: list[CmmProcess]
) -> None:
    topics.create(partitions=PARTITIONS)
    env = cmm_env(settings, topics)
    profile = load_profile("cmm-2012")
    ingested = list(simulate(profile, seed=61, scale=12))
    consumed = list(simulate(profile, seed=62, scale=4))
    source = tmp_path / "events.jsonl"
    write_jsonl(ingested, source)
    first, rest = consumed[: len(consumed) // 3], consumed[len(consumed) // 3 :]

    # The consumer, small batches, until it has every message; its first share sent now.
    with EventProducer(topics.bootstrap, topics.events) as producer:
        for event in first:
            producer.send(event)
    consumer = CmmProcess(
        [
            "consume",
            *("--batch-size", "200", "--max-messages", str(len(consumed))),
            *("--report-every", "0.5"),
        ],
        env,
        tmp_path / "consume.log",
    )
    processes.append(consumer)

    def stored() -> tuple[int, int]:
        return _stored(settings, topics.events)

    wait_until(
        lambda: consumer.proc.poll() is not None or stored()[1] >= len(first),
        180,
        "the consumer to store its first share",
    )
    assert consumer.proc.poll() is None, consumer.output()
    before_ingest = stored()[0]

    ingest = CmmProcess(["ingest", str(source)], env, tmp_path / "ingest.log")
    processes.append(ingest)
    wait_until(
        lambda: ingest.proc.poll() is not None or stored()[0] > before_ingest,
        120,
        "the ingest to store its first batch",
        interval=0.01,
    )

    commands = [READER_COMMANDS[i % len(READER_COMMANDS)] for i in range(READERS)]
    with _mid_batch(settings):
        readers = [_start_reader(c, env) for c in commands]
        if settings.store == "sqlite":
            wait_until(
                lambda: any(r.poll() is not None or _sleeping(r.pid) for r in readers),
                120,
                "a reader to wait for the write lock (or to fail)",
            )
    # Still writing: the consumer waits for the rest of its messages, sent below.
    assert consumer.proc.poll() is None, consumer.output()
    print(f"ingest still running when the readers started: {ingest.proc.poll() is None}")
    try:
        # The projector too, while the readers bring the read model up to date (its first
        # open sees no read model yet, as the first reader's does).
        projector = CmmProcess(["project", "--follow"], env, tmp_path / "project.log")
        processes.append(projector)
        # The rest for the consumer, while the readers run.
        with EventProducer(topics.bootstrap, topics.events) as producer:
            for event in rest:
                producer.send(event)
        answers = _answers(commands, readers)
    finally:
        for reader in readers:
            if reader.poll() is None:
                reader.kill()
                reader.wait()
    assert ingest.wait(600) == 0, ingest.output()
    assert consumer.wait(600) == 0, consumer.output()
    assert projector.proc.poll() is None, projector.output()
    projector.proc.send_signal(signal.SIGINT)
    assert projector.wait(120) == 0, projector.output()

    records = [to_record(validate_event(e)) for e in ingested + consumed]
    oracle = report_to_json(build_report(records, YEAR, AS_OF))
    people = sorted({r["person_ref"] for r in records if r.get("person_ref")})

    # During the writes: a well-formed answer of some state of the store.
    for command, answer in zip(commands, answers, strict=True):
        if command[0] == "report":
            assert (answer["year"], answer["as_of"]) == (YEAR, AS_OF)
            assert set(answer["tables"]) == set(oracle)
            for name, rows in answer["tables"].items():
                if oracle[name]:
                    assert {tuple(row) for row in rows} <= {tuple(oracle[name][0])}, name
        else:
            assert isinstance(answer, list)
            assert all(tuple(row) == CASE_COLUMNS for row in answer)
            assert {row["person_ref"] for row in answer} <= set(people)
            if "--flagged" in command:
                assert all(row["flags"] for row in answer)

    # Afterwards: exactly the oracle of everything written.
    last = [REPORT, ["cases", "--format", "json"]]
    report, cases = _answers(last, [_start_reader(c, env) for c in last])
    assert report["tables"] == oracle
    assert sorted(row["person_ref"] for row in cases) == people

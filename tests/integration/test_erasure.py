"""Erasure by crypto-shredding, attacked as someone with a copy of the store and the main key.

A person is erased with ``cmm erase``. The attack shares no code with the store: it reads
the tables with plain SQL, opens every person key still in the key table with the main key
(the format the README documents), and tries every key on every person-sealed event. After
the erasure none of the person's events opens, the person's wrapped key is in no file of the
data directory and in no ``pg_dump``, and the planted values are nowhere in plain text.
Reports made after the erasure, for the year and as of an earlier date, equal those of a
store that never held the person, and stay so after a full rebuild of the read model; new
events about the person are refused. Bad input to ``cmm erase`` changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from infra.settings import Settings
from tests.integration.conftest import cmm_env, run_cmm
from tests.integration.test_encryption_at_rest import MARKER, PLANTED, RARE, _pg_dump, _plant

YEAR, AS_OF, EARLIER = "2012", "2013-01-31", "2012-12-31"


# -- the attacker's view of the store: plain SQL, no project code -------------------------------


def _query(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    if settings.store == "postgres":
        assert settings.postgres_dsn is not None
        with psycopg.connect(settings.postgres_dsn) as conn:
            return [tuple(row) for row in conn.execute(sql).fetchall()]
    db = sqlite3.connect(settings.data_dir / "events.sqlite3")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _events_table(settings: Settings) -> str:
    return "ledger_events" if settings.store == "postgres" else "stored_events"


def _open_keys(settings: Settings) -> dict[bytes, AESGCM]:
    """Every person key still in the key table, opened with the main key."""
    main = AESGCM(base64.b64decode(os.environ["CMM_KEY"]))
    keys = {}
    for key_id, wrapped in _query(
        settings, "SELECT key_id, wrapped_key FROM person_keys WHERE wrapped_key IS NOT NULL"
    ):
        key_id, wrapped = bytes(key_id), bytes(wrapped)
        dek = main.decrypt(wrapped[1:13], wrapped[13:], b"cmm person key " + key_id)
        keys[key_id] = AESGCM(dek)
    return keys


def _open_everything(settings: Settings) -> tuple[list[bytes], int]:
    """What the attacker can open of the person-sealed events: their plaintexts, and how
    many could not be opened with any key."""
    keys = _open_keys(settings)
    opened, closed = [], 0
    for (state,) in _query(settings, f"SELECT state FROM {_events_table(settings)}"):
        state = bytes(state)
        if state[:1] != b"\x02":
            continue
        key_id, nonce, sealed = state[1:17], state[17:29], state[29:]
        aead = keys.get(key_id)
        if aead is None:
            closed += 1
            continue
        try:
            opened.append(aead.decrypt(nonce, sealed, key_id))
        except InvalidTag:
            closed += 1
    return opened, closed


def _every_byte(settings: Settings) -> bytes:
    """Every file of the data directory, and on PostgreSQL a dump of the database, with
    each ``bytea`` value of the dump (hex text) also as the bytes it stands for."""
    data = b"".join(
        Path(folder, name).read_bytes()
        for folder, _, files in os.walk(settings.data_dir)
        for name in files
    )
    if settings.store != "postgres":
        return data
    dump = _pg_dump(settings)
    values = b"\n".join(
        bytes.fromhex(h.decode()) for h in re.findall(rb"\\\\x((?:[0-9a-f]{2})+)", dump)
    )
    return data + dump + values


def _fingerprint(settings: Settings) -> str:
    """A digest of everything ``cmm erase`` could change: the key table, the events, the
    erasure ledger and the read model's case rows."""
    digest = hashlib.sha256()
    erasures = (
        "erasureledger_events" if settings.store == "postgres" else ("stored_erasureledger_events")
    )
    for sql in (
        "SELECT originator_id, key_id, wrapped_key, seq FROM person_keys ORDER BY originator_id",
        f"SELECT COUNT(*) FROM {_events_table(settings)}",
        "SELECT person_ref, sealed FROM cases ORDER BY person_ref",
    ):
        digest.update(repr(_query(settings, sql)).encode())
    try:
        digest.update(repr(_query(settings, f"SELECT COUNT(*) FROM {erasures}")).encode())
    except (sqlite3.OperationalError, psycopg.errors.UndefinedTable):
        digest.update(b"no erasures yet")
    return digest.hexdigest()


# -- the user's view: the CLI ---------------------------------------------------------------


def _report(env: dict[str, str], as_of: str) -> dict[str, Any]:
    result = run_cmm(["report", "--year", YEAR, "--as-of", as_of, "--format", "json"], env)
    assert result.returncode == 0, result.stderr
    tables: dict[str, Any] = json.loads(result.stdout)["tables"]
    return tables


def _cases(env: dict[str, str], person: str) -> list[dict[str, Any]]:
    result = run_cmm(["cases", "--person", person, "--format", "json"], env)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


@pytest.fixture
def second_store(
    either_store: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> Settings:
    """Another empty store of the same kind: the store that never held the person."""
    if either_store.store == "sqlite":
        return Settings(data_dir=tmp_path / "without", store="sqlite")
    make: Callable[[], str] = request.getfixturevalue("new_database")
    return Settings(data_dir=tmp_path / "without", store="postgres", postgres_dsn=make())


def test_an_erased_person_cannot_be_read_by_anyone_and_is_counted_by_no_later_report(
    either_store: Settings, second_store: Settings, tmp_path: Path
) -> None:
    env = cmm_env(either_store)
    simulated = tmp_path / "simulated.jsonl"
    assert run_cmm(["simulate", "--seed", "4", "--out", str(simulated)], env).returncode == 0
    source = tmp_path / "planted.jsonl"
    person = _plant(simulated, source)
    lines = source.read_text().splitlines()
    theirs = [line for line in lines if f'"person_ref":"{person}"' in line]
    others = [line for line in lines if f'"person_ref":"{person}"' not in line]
    assert len(theirs) >= 3
    ingest = run_cmm(["ingest", str(source)], env)
    assert ingest.returncode == 0, ingest.stderr

    # Before: the application reads the planted value; no byte shows it; the attacker with
    # the main key opens every person-sealed event (a stream's events and its Opened event).
    assert _cases(env, person)[0]["citizenship"] == RARE
    before = _every_byte(either_store)
    assert MARKER not in before and PLANTED not in before
    opened, closed = _open_everything(either_store)
    assert closed == 0 and sum(MARKER in p for p in opened) == 1
    # Which wrapped key is theirs: the one whose events hold the marker.
    keys = _open_keys(either_store)
    marked = [
        bytes(state)[1:17]
        for (state,) in _query(either_store, f"SELECT state FROM {_events_table(either_store)}")
        if bytes(state)[:1] == b"\x02"
        and (aead := keys.get(bytes(state)[1:17])) is not None
        and MARKER in aead.decrypt(bytes(state)[17:29], bytes(state)[29:], bytes(state)[1:17])
    ]
    assert len(marked) == 1
    ((their_wrapped,),) = _query(
        either_store,
        "SELECT wrapped_key FROM person_keys WHERE key_id = "
        + _bytes_literal(either_store, marked[0]),
    )
    their_wrapped = bytes(their_wrapped)
    assert their_wrapped in before  # the test can see the key before the erasure

    erase = run_cmm(["erase", person, "--reason", "data_subject_request"], env)
    assert erase.returncode == 0, erase.stderr
    assert person in erase.stderr and "data key deleted" in erase.stderr

    # After: none of their events opens, with the main key and every key left; their key
    # is in no file and no dump; every other person's events still open.
    opened_after, closed_after = _open_everything(either_store)
    assert closed_after == len(theirs) + 1  # their events, and their stream's Opened event
    assert len(opened_after) == len(opened) - closed_after
    assert not any(MARKER in p or person.encode() in p for p in opened_after)
    after = _every_byte(either_store)
    assert their_wrapped not in after
    assert MARKER not in after and PLANTED not in after
    assert _cases(env, person) == []

    # Reports made now, for the year and as of an earlier date, are those of a store that
    # never held the person.
    without_env = cmm_env(second_store)
    rest = tmp_path / "without.jsonl"
    rest.write_text("\n".join(others) + "\n")
    assert run_cmm(["ingest", str(rest)], without_env).returncode == 0
    for as_of in (AS_OF, EARLIER):
        assert _report(env, as_of) == _report(without_env, as_of), as_of

    # A full rebuild of the read model leaves them out too.
    _rebuild(either_store)
    assert _cases(env, person) == []
    assert _report(env, AS_OF) == _report(without_env, AS_OF)

    # Their events are refused from now on, new or resubmitted.
    again = tmp_path / "again.jsonl"
    again.write_text("\n".join(theirs) + "\n")
    refused = run_cmm(["ingest", str(again)], env)
    assert refused.returncode == 1
    rejects = [json.loads(r) for r in Path(f"{again}.rejects.jsonl").read_text().splitlines()]
    assert len(rejects) == len(theirs)
    assert all("erased" in r["reason"] for r in rejects)
    new_event = json.loads(theirs[0])
    new_event["event_id"] = "0189c7a0-0000-7000-8000-0000000e7a5e"
    fresh = tmp_path / "fresh.jsonl"
    fresh.write_text(json.dumps(new_event) + "\n")
    assert run_cmm(["ingest", str(fresh)], env).returncode == 1
    assert _cases(env, person) == []


def _bytes_literal(settings: Settings, value: bytes) -> str:
    return f"'\\x{value.hex()}'::bytea" if settings.store == "postgres" else f"X'{value.hex()}'"


def _rebuild(settings: Settings) -> None:
    """A full rebuild of the read model from the store, in a process of its own."""
    code = (
        "from pathlib import Path\n"
        "from infra.composition import open_view\n"
        "from infra.settings import Settings\n"
        f"settings = Settings(data_dir=Path({str(settings.data_dir)!r}), "
        f"store={settings.store!r}, postgres_dsn={settings.postgres_dsn!r})\n"
        "view = open_view(settings)\n"
        "view.rebuild()\n"
        "view.close()\n"
    )
    env = cmm_env(settings)
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_bad_input_to_erase_says_so_in_one_line_and_changes_nothing(
    either_store: Settings, tmp_path: Path
) -> None:
    env = cmm_env(either_store)
    simulated = tmp_path / "simulated.jsonl"
    assert run_cmm(["simulate", "--seed", "5", "--out", str(simulated)], env).returncode == 0
    assert run_cmm(["ingest", str(simulated)], env).returncode == 0
    person = json.loads(
        next(line for line in simulated.read_text().splitlines() if '"person_ref"' in line)
    )["person_ref"]
    assert run_cmm(["cases"], env).returncode == 0  # the read model is up to date
    first = run_cmm(["erase", person, "--reason", "entered_in_error"], env)
    assert first.returncode == 0, first.stderr
    state = _fingerprint(either_store)
    for args, says in (
        ([person, "--reason", "entered_in_error"], "erased already"),
        (["P-00000000deadbeef", "--reason", "data_subject_request"], "no person"),
        (["P-000123", "--reason", "data_subject_request"], "not a person reference"),
        (["robert@example.org", "--reason", "data_subject_request"], "not a person reference"),
        ([person, "--reason", "because he asked"], "--reason"),
        ([person], "--reason is required"),
        (["--older-than", "0"], "at least 1 day"),
    ):
        result = run_cmm(["erase", *args], env)
        assert result.returncode == 2, (args, result.stderr)
        assert says in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert "robert" not in result.stderr
        assert _fingerprint(either_store) == state, args


def test_retention_erases_exactly_the_cases_with_no_recent_event(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", store="sqlite")
    env = cmm_env(settings)
    simulated = tmp_path / "simulated.jsonl"
    assert run_cmm(["simulate", "--seed", "8", "--out", str(simulated)], env).returncode == 0
    assert run_cmm(["ingest", str(simulated)], env).returncode == 0
    last: dict[str, datetime] = {}
    for line in simulated.read_text().splitlines():
        event = json.loads(line)
        if event.get("person_ref"):
            at = datetime.fromisoformat(event["recorded_at"].replace("Z", "+00:00"))
            last[event["person_ref"]] = max(at, last.get(event["person_ref"], at))
    middle = sorted(last.values())[len(last) // 2]
    days = (datetime.now(UTC) - middle).days
    cutoff = datetime.now(UTC).timestamp() - days * 86400
    expected = sorted(p for p, at in last.items() if at.timestamp() < cutoff)
    assert 0 < len(expected) < len(last)

    dry = run_cmm(["erase", "--older-than", str(days), "--dry-run"], env)
    assert dry.returncode == 0, dry.stderr
    assert sorted(dry.stdout.split()) == expected
    assert len(json.loads(run_cmm(["cases", "--format", "json"], env).stdout)) == len(last)

    done = run_cmm(["erase", "--older-than", str(days)], env)
    assert done.returncode == 0, done.stderr
    remaining = {
        r["person_ref"] for r in json.loads(run_cmm(["cases", "--format", "json"], env).stdout)
    }
    assert remaining == set(last) - set(expected)
    erased = _query(
        settings, "SELECT COUNT(*), MIN(reason) FROM person_keys WHERE wrapped_key IS NULL"
    )
    assert erased == [(len(expected), "retention_expired")]


def test_two_writers_meeting_the_same_new_persons_give_each_one_key(
    pg_dsn: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", store="postgres", postgres_dsn=pg_dsn)
    env = cmm_env(settings)
    simulated = tmp_path / "simulated.jsonl"
    assert run_cmm(["simulate", "--seed", "9", "--out", str(simulated)], env).returncode == 0
    lines = simulated.read_text().splitlines()
    half = len(lines) // 2
    # Overlapping halves: the persons of the middle are new to both writers at once.
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("\n".join(lines[: half + half // 2]) + "\n")
    b.write_text("\n".join(lines[half // 2 :]) + "\n")
    from tests.integration.conftest import cmm_command

    writers = [
        subprocess.Popen([*cmm_command(), "ingest", str(f)], env=env, stderr=subprocess.PIPE)
        for f in (a, b)
    ]
    for writer in writers:
        assert writer.wait(timeout=600) == 0
    persons = {json.loads(line)["person_ref"] for line in lines if '"person_ref"' in line}
    assert _query(settings, "SELECT COUNT(*), COUNT(DISTINCT key_id) FROM person_keys") == [
        (len(persons), len(persons))
    ]
    opened, closed = _open_everything(settings)
    assert closed == 0 and len(opened) == len(lines) - sum(
        '"person_ref"' not in line for line in lines
    ) + len(persons)
    assert len(json.loads(run_cmm(["cases", "--format", "json"], env).stdout)) == len(persons)

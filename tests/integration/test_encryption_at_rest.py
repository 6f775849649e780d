"""Encryption at rest, as an attacker with a copy of the data would test it.

A distinctive value is planted (a rare citizenship code in a correction, beside a marker in
its note); no file of the data directory, and no ``pg_dump`` of the database, holds either
in plain text, while ``cmm cases`` and ``cmm report`` still read the value. Without the key,
or with another, ``cmm`` refuses in one line and stores nothing. ``cmm key new`` writes an
owner-only key file and never overwrites one.
"""

from __future__ import annotations

import base64
import glob
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

from infra.settings import Settings
from tests.integration.conftest import cmm_env, run_cmm

MARKER = b"QZXJW-planted"
RARE = "TV"  # Tuvalu: no simulated person has it
PLANTED = f'"citizenship":"{RARE}"'.encode()
YEAR, AS_OF = "2012", "2013-01-31"
OTHER_KEY = base64.b64encode(bytes(range(32))).decode()


def _plant(events: Path, out: Path) -> str:
    """The simulated stream and one correction that makes a victim a citizen of Tuvalu;
    returns the person's reference."""
    lines = events.read_text().splitlines()
    target = next(
        json.loads(line)
        for line in lines
        if '"AssessmentDecided"' in line
        and '"outcome":"victim"' in line
        and '"occurred_at":"2012-06' in line  # counted in the 2012 report
    )
    correction = {
        **{k: target[k] for k in ("schema_version", "occurred_at", "recorded_at", "source")},
        "event_id": "0189c7a0-0000-7000-8000-00000000abcd",
        "type": "CorrectionRecorded",
        "person_ref": target["person_ref"],
        "payload": {
            "target_event_id": target["event_id"],
            "target_type": "AssessmentDecided",
            "action": "replace",
            "replacement": {**target["payload"], "citizenship": RARE},
            "reason": "documents_verified",
            "note": MARKER.decode(),
        },
    }
    planted = json.dumps(correction, separators=(",", ":"))
    out.write_text("\n".join([*lines, planted]) + "\n")
    return str(target["person_ref"])


def _found_in(data: bytes) -> list[bytes]:
    return [needle for needle in (MARKER, PLANTED) if needle in data]


def _files_holding_plain_text(root: Path) -> dict[str, list[bytes]]:
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            if hits := _found_in(path.read_bytes()):
                found[str(path.relative_to(root))] = hits
    return found


def test_no_stored_byte_shows_a_planted_value_which_cmm_still_reads(
    either_store: Settings, tmp_path: Path
) -> None:
    env = cmm_env(either_store)
    simulated = tmp_path / "simulated.jsonl"
    assert run_cmm(["simulate", "--seed", "4", "--out", str(simulated)], env).returncode == 0
    source = tmp_path / "planted.jsonl"
    person = _plant(simulated, source)
    assert _found_in(source.read_bytes()) == [MARKER, PLANTED]  # the test can see them

    ingest = run_cmm(["ingest", str(source)], env)
    assert ingest.returncode == 0, ingest.stderr
    cases = run_cmm(["cases", "--person", person, "--format", "json"], env)
    assert cases.returncode == 0, cases.stderr
    assert json.loads(cases.stdout)[0]["citizenship"] == RARE
    report = run_cmm(["report", "--year", YEAR, "--as-of", AS_OF, "--format", "json"], env)
    assert report.returncode == 0, report.stderr
    assert RARE in json.dumps(json.loads(report.stdout)["tables"]["by_citizenship"])

    # The events are encrypted: no file of the data directory holds the planted event's
    # text. (The read model's tables are not encrypted yet: see the README. They hold the
    # code, not the event's JSON, and never a correction's note.)
    assert _files_holding_plain_text(either_store.data_dir) == {}
    if either_store.store == "postgres":
        # The test command installs PostgreSQL's client programs with the server.
        pg_dump = shutil.which("pg_dump") or next(
            iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))), None
        )
        assert pg_dump is not None, "pg_dump is missing: run infra/servers/test-deps.sh"
        assert either_store.postgres_dsn is not None
        dump = subprocess.run(
            [pg_dump, "--data-only", either_store.postgres_dsn],
            capture_output=True,
            check=True,
            timeout=300,
        ).stdout
        assert b"COPY" in dump and len(dump) > 100_000  # the dump holds the events
        assert _found_in(dump) == []


def test_without_the_key_or_with_another_nothing_is_read_or_stored(
    either_store: Settings, tmp_path: Path
) -> None:
    env = cmm_env(either_store)
    simulated = tmp_path / "simulated.jsonl"
    assert run_cmm(["simulate", "--seed", "6", "--out", str(simulated)], env).returncode == 0
    lines = simulated.read_text().splitlines()
    first, later = tmp_path / "first.jsonl", tmp_path / "later.jsonl"
    first.write_text("\n".join(lines[:2000]) + "\n")
    later.write_text("\n".join(lines[2000:4000]) + "\n")

    no_key = {k: v for k, v in env.items() if k not in ("CMM_KEY", "CMM_KEY_FILE")}
    refused = run_cmm(["ingest", str(first)], no_key)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "no encryption key" in refused.stderr
    assert not either_store.data_dir.exists()  # nothing made, on either store

    assert run_cmm(["ingest", str(first)], env).returncode == 0
    wrong = {**env, "CMM_KEY": OTHER_KEY}
    for command in (["ingest", str(later)], ["cases"], ["budget", "--year", YEAR]):
        result = run_cmm(command, wrong)
        assert result.returncode == 2, (command, result.stderr)
        assert "the key does not open the stored events" in result.stderr
        assert "Traceback" not in result.stderr
    # Nothing of the refused ingest was stored: with the right key, all of it is new.
    again = run_cmm(["ingest", str(later)], env)
    assert again.returncode == 0, again.stderr
    assert "2,000 events stored, 0 already stored" in again.stdout


def test_a_key_file_is_new_and_the_owners_alone(either_store: Settings, tmp_path: Path) -> None:
    env = {k: v for k, v in cmm_env(either_store).items() if k != "CMM_KEY"}
    path = tmp_path / "cmm.key"
    made = run_cmm(["key", "new", str(path)], env)
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_bytes()
    assert len(base64.b64decode(key.strip())) == 32

    again = run_cmm(["key", "new", str(path)], env)
    assert again.returncode == 2 and "never overwritten" in again.stderr
    assert path.read_bytes() == key

    simulated = tmp_path / "simulated.jsonl"
    assert run_cmm(["simulate", "--seed", "8", "--out", str(simulated)], env).returncode == 0
    keyed = {**env, "CMM_KEY_FILE": str(path)}
    assert run_cmm(["ingest", str(simulated)], keyed).returncode == 0
    assert run_cmm(["cases"], keyed).returncode == 0
    path.chmod(0o644)
    loose = run_cmm(["cases"], keyed)
    assert loose.returncode == 2 and "can be read by others" in loose.stderr

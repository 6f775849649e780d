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
import re
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


# The read model's rows hold codes, not the events' JSON: what a byte search looks for there
# is the planted values next to their neighbours in a row, as a table stores them, with at
# most one byte between (SQLite's record holds a row's values side by side, a one-byte
# integer for a small age; ``pg_dump`` separates them with a tab).
AGE = 93  # no simulated person is this old
_NEAR = rb".{0,4}"  # a record header byte, or the `","` between packed JSON values
ROW_NEEDLES = {
    "citizenship and region (facts)": re.compile(RARE.encode() + _NEAR + b"oceania"),
    "citizenship and gender (cases)": re.compile(RARE.encode() + _NEAR + rb"(?:fe)?male"),
    "gender, age and age band (facts)": re.compile(
        rb"male" + _NEAR + rb"(?:" + str(AGE).encode() + rb"|" + bytes([AGE]) + rb")"
        + _NEAR + rb"60\+",
        re.DOTALL,
    ),
}  # fmt: skip


def _plant_in_read_model(events: Path, tmp_path: Path) -> tuple[Path, Path, str, str | None]:
    """The simulated stream without, then with, a correction that makes a victim a citizen
    of Tuvalu aged 93; returns the two files, the person's reference and the place of their
    first contact."""
    source = tmp_path / "planted.jsonl"
    person = _plant(events, source)
    lines = source.read_text().splitlines()
    correction = json.loads(lines[-1])
    correction["payload"]["replacement"]["age"] = AGE
    first, later = tmp_path / "first.jsonl", tmp_path / "later.jsonl"
    first.write_text("\n".join(lines[:-1]) + "\n")
    later.write_text(json.dumps(correction, separators=(",", ":")) + "\n")
    place = next(
        (
            e["payload"].get("place")
            for e in map(json.loads, lines)
            if e["type"] == "ContactRegistered" and e.get("person_ref") == person
        ),
        None,
    )
    return first, later, person, place


def _row_values_found(data: bytes, needles: dict[str, re.Pattern[bytes]]) -> list[str]:
    return [name for name, needle in needles.items() if needle.search(data)]


def _read_model_files_holding(root: Path, needles: dict[str, re.Pattern[bytes]]) -> dict:
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            if hits := _row_values_found(path.read_bytes(), needles):
                found[str(path.relative_to(root))] = hits
    return found


def _pg_dump(settings: Settings) -> bytes:
    pg_dump = shutil.which("pg_dump") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))), None
    )
    assert pg_dump is not None, "pg_dump is missing: run infra/servers/test-deps.sh"
    assert settings.postgres_dsn is not None
    return subprocess.run(
        [pg_dump, "--data-only", settings.postgres_dsn],
        capture_output=True,
        check=True,
        timeout=300,
    ).stdout


def test_the_read_model_holds_no_planted_value_in_plain_text(
    either_store: Settings, tmp_path: Path
) -> None:
    """After a catch-up and after a full rebuild (with fold workers), no file of the data
    directory (SQLite's database, WAL included) and no ``pg_dump`` holds the planted
    citizenship, age or place beside its row's other values, while ``cmm`` reads them."""
    env = cmm_env(either_store)
    simulated = tmp_path / "simulated.jsonl"
    assert run_cmm(["simulate", "--seed", "4", "--out", str(simulated)], env).returncode == 0
    first, later, person, place = _plant_in_read_model(simulated, tmp_path)
    needles = dict(ROW_NEEDLES)
    if place is not None:  # the first contact's place, beside the citizenship (facts)
        needles["place and citizenship (facts)"] = re.compile(
            place.encode() + _NEAR + RARE.encode()
        )

    def shown() -> None:
        cases = run_cmm(["cases", "--person", person, "--format", "json"], env)
        assert cases.returncode == 0, cases.stderr
        assert json.loads(cases.stdout)[0]["citizenship"] == RARE
        assert json.loads(cases.stdout)[0]["age"] == AGE
        report = run_cmm(["report", "--year", YEAR, "--as-of", AS_OF, "--format", "json"], env)
        assert report.returncode == 0, report.stderr
        assert RARE in json.dumps(json.loads(report.stdout)["tables"]["by_citizenship"])

    def none_in_plain_text() -> None:
        assert _read_model_files_holding(either_store.data_dir, needles) == {}
        if either_store.store == "postgres":
            dump = _pg_dump(either_store)
            assert b"COPY public.facts" in dump and b"COPY public.outreach" in dump
            # A bytea column is dumped as hex (``\\x7b22...``): read it as the bytes it is.
            hexed = b"".join(
                bytes.fromhex(h.decode()) for h in re.findall(rb"\\x([0-9a-f]+)", dump)
            )
            assert _row_values_found(dump + hexed, needles) == []

    for source in (first, later):  # the read model built, then caught up with the correction
        ingest = run_cmm(["ingest", str(source)], env)
        assert ingest.returncode == 0, ingest.stderr
        assert run_cmm(["cases", "--format", "json"], env).returncode == 0
    shown()
    none_in_plain_text()

    from infra.composition import open_view

    view = open_view(either_store)
    try:
        view.rebuild(workers=2)
    finally:
        view.close()
    none_in_plain_text()
    shown()

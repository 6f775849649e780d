"""Key rotation (``cmm key rotate``), as a user runs it, on SQLite and on PostgreSQL.

After a rotation every report, case and budget reads as before with the new key, no event
is lost (the store's rows are counted with plain SQL), an erased person stays erased, the old
key opens nothing (neither the events nor the person keys), and a command or a writer still
holding the old key is refused before it writes anything.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from infra.settings import Settings
from tests.integration.conftest import cmm_env, run_cmm
from tests.integration.test_erasure import _events_table, _query

YEAR, AS_OF = "2012", "2013-01-31"


def _readings(env: dict[str, str]) -> dict[str, Any]:
    report = run_cmm(["report", "--year", YEAR, "--as-of", AS_OF, "--format", "json"], env)
    cases = run_cmm(["cases", "--format", "json"], env)
    budget = run_cmm(["budget", "--year", YEAR], env)
    for result in (report, cases, budget):
        assert result.returncode == 0, result.stderr
    return {
        "report": json.loads(report.stdout)["tables"],
        "cases": json.loads(cases.stdout),
        "budget": budget.stdout,
    }


def _opens_with(settings: Settings, key: bytes) -> tuple[int, int]:
    """How many main-key-sealed events and person keys ``key`` opens (an attacker's count)."""
    aead = AESGCM(key)
    events = 0
    for (state,) in _query(settings, f"SELECT state FROM {_events_table(settings)}"):
        state = bytes(state)
        if state[:1] == b"\x01":
            try:
                aead.decrypt(state[1:13], state[13:], None)
                events += 1
            except InvalidTag:
                pass
    keys = 0
    for key_id, wrapped in _query(
        settings, "SELECT key_id, wrapped_key FROM person_keys WHERE wrapped_key IS NOT NULL"
    ):
        key_id, wrapped = bytes(key_id), bytes(wrapped)
        try:
            aead.decrypt(wrapped[1:13], wrapped[13:], b"cmm person key " + key_id)
            keys += 1
        except InvalidTag:
            pass
    return events, keys


def test_a_rotation_loses_nothing_and_leaves_the_old_key_useless(
    either_store: Settings, tmp_path: Path
) -> None:
    env = cmm_env(either_store)
    old_key = base64.b64decode(os.environ["CMM_KEY"])
    simulated = tmp_path / "simulated.jsonl"
    assert run_cmm(["simulate", "--seed", "3", "--out", str(simulated)], env).returncode == 0
    lines = simulated.read_text().splitlines()
    first, later = tmp_path / "first.jsonl", tmp_path / "later.jsonl"
    first.write_text("\n".join(lines[:4000]) + "\n")
    later.write_text("\n".join(lines[4000:]) + "\n")
    assert run_cmm(["ingest", str(first)], env).returncode == 0
    person = json.loads(next(line for line in lines[:4000] if '"person_ref"' in line))["person_ref"]
    assert run_cmm(["erase", person, "--reason", "entered_in_error"], env).returncode == 0
    before = _readings(env)
    rows = _query(either_store, f"SELECT COUNT(*) FROM {_events_table(either_store)}")
    sealed_events, person_keys = _opens_with(either_store, old_key)
    assert sealed_events > 100 and person_keys > 100

    new_key_file = tmp_path / "new.key"
    assert run_cmm(["key", "new", str(new_key_file)], env).returncode == 0
    rotated = run_cmm(["key", "rotate", "--new-key-file", str(new_key_file)], env)
    assert rotated.returncode == 0, rotated.stderr
    assert "re-keyed" in rotated.stderr

    new_env = {
        **{k: v for k, v in env.items() if k != "CMM_KEY"},
        "CMM_KEY_FILE": str(new_key_file),
    }
    assert _readings(new_env) == before
    assert _query(either_store, f"SELECT COUNT(*) FROM {_events_table(either_store)}") == rows
    # The old key opens nothing any more; the new one opens all the old one did.
    assert _opens_with(either_store, old_key) == (0, 0)
    new_key = base64.b64decode(new_key_file.read_text().strip())
    assert _opens_with(either_store, new_key) == (sealed_events, person_keys)

    # With the old key, every command is refused in one line, and nothing is written.
    for command in (
        ["ingest", str(later)],
        ["report", "--year", YEAR, "--as-of", AS_OF],
        ["cases"],
    ):
        refused = run_cmm(command, env)
        assert refused.returncode == 2, (command, refused.stderr)
        assert "another key" in refused.stderr and "Traceback" not in refused.stderr
    assert _query(either_store, f"SELECT COUNT(*) FROM {_events_table(either_store)}") == rows

    # With the new key, life goes on; the erased person stays erased.
    assert run_cmm(["ingest", str(later)], new_env).returncode == 0
    cases = json.loads(run_cmm(["cases", "--format", "json"], new_env).stdout)
    assert person not in {c["person_ref"] for c in cases}
    assert len(cases) > len(before["cases"])


def test_a_writer_still_holding_the_old_key_is_refused_before_it_writes(tmp_path: Path) -> None:
    from infra.composition import open_store
    from infra.encoding import encode_record
    from infra.sealing import WrongKey
    from tests.integration.conftest import sample_events

    settings = Settings(data_dir=tmp_path / "data", store="sqlite")
    env = cmm_env(settings)
    events = sample_events(seed=11, count=600)
    store = open_store(settings)  # a long-running writer, with the key of the start
    try:
        assert store.append([encode_record(e) for e in events[:300]]).appended == 300
        new_key_file = tmp_path / "new.key"
        assert run_cmm(["key", "new", str(new_key_file)], env).returncode == 0
        rotated = run_cmm(["key", "rotate", "--new-key-file", str(new_key_file)], env)
        assert rotated.returncode == 0, rotated.stderr
        stored = _query(settings, "SELECT COUNT(*) FROM stored_events")
        with pytest.raises(WrongKey, match="another key"):
            store.append([encode_record(e) for e in events[300:]])
        assert _query(settings, "SELECT COUNT(*) FROM stored_events") == stored
    finally:
        store.close()

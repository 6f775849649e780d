"""``cmm publish --method suppression`` from the command line: a refused partner release
exits 3 and leaves nothing behind, and the recorded releases survive deleting every file of
the data directory but the event store; each publish, refused or not, is in the audit trail."""

from __future__ import annotations

import getpass
import json
import subprocess
from pathlib import Path

from infra.composition import open_partner_ledger
from infra.settings import Settings
from tests.e2e.test_cli import cmm


def publish(
    data: Path, out: Path, *extra: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return cmm(
        "publish",
        "--method",
        "suppression",
        "--year",
        "2012",
        "--as-of",
        "2013-01-31",
        "--out",
        str(out),
        *extra,
        data_dir=data,
        check=check,
    )


def releases(data: Path) -> int:
    ledger = open_partner_ledger(Settings(data_dir=data, store="sqlite")).year(2012)
    return 0 if ledger is None else len(ledger.releases)


def test_refused_partner_releases_exit_3_and_leave_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    events = tmp_path / "events.jsonl"
    cmm("simulate", "--profile", "cmm-2012", "--seed", "5", "--out", str(events))
    cmm("ingest", str(events), data_dir=data)

    unprotectable = publish(data, tmp_path / "wide", "--protection", "100", check=False)
    assert unprotectable.returncode == 3
    assert "refused, nothing released" in unprotectable.stderr
    assert not (tmp_path / "wide").exists() and releases(data) == 0

    publish(data, tmp_path / "partners")
    assert (tmp_path / "partners" / "datapackage.json").exists() and releases(data) == 1
    listed = json.loads(cmm("budget", "--year", "2012", "--json", data_dir=data).stdout)
    (partner,) = listed["partner_releases"]
    assert partner["as_of"] == "2013-01-31" and partner["hidden_cells"] > 0
    assert set(partner) == {
        "release_id",
        "released_by",
        "released_at",
        "as_of",
        "threshold",
        "protection",
        "cells",
        "hidden_cells",
    }  # who, when, which cut-off, how much hidden: never the exact counts
    text = cmm("budget", "--year", "2012", data_dir=data).stdout
    assert partner["release_id"] in text and "Partner releases" in text
    again = publish(data, tmp_path / "partners", check=False)
    assert again.returncode == 3
    assert releases(data) == 1

    # Every publish from the command line is in the audit trail, the refused ones too.
    trail = [json.loads(line) for line in cmm("audit", data_dir=data).stdout.splitlines()]
    publishes = [e for e in trail if e["route"] == "cmm publish"]
    assert [e["action"] for e in publishes] == ["publish_refused", "published", "publish_refused"]
    login = getpass.getuser()
    assert all(e["who"] == f"{login} (command line)" for e in publishes)
    assert publishes[1]["detail"]["release_id"] == partner["release_id"]
    assert publishes[1]["detail"]["year"] == 2012
    assert publishes[1]["detail"]["as_of"] == "2013-01-31"

    for path in data.iterdir():
        if path.is_file() and not path.name.startswith("events.sqlite3"):
            path.unlink()
    assert releases(data) == 1

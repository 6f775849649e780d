"""What ``cmm`` leaves on disk: owner-only files and folders, and no write through a link.

An attacker with a login on the same machine, or a planted symbolic link, must get nothing:
every file a command writes is 0600 and every folder it makes 0700 (a release meant for
publication is 0644/0755 only with ``--public``), and an output path that is a link is
refused with the link's target left as it was.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.e2e.test_cli import cmm

YEAR, AS_OF = "2012", "2013-01-31"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _modes(root: Path) -> dict[str, int]:
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            found[str(path.relative_to(root))] = _mode(path)
    return found


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("events") / "events.jsonl"
    cmm("simulate", "--seed", "7", "--out", str(path))
    return path


def _with_a_bad_line(events: Path, where: Path) -> Path:
    lines = events.read_text().splitlines()
    lines.insert(1, "this is not json")
    mixed = where / "mixed.jsonl"
    mixed.write_text("\n".join(lines) + "\n")
    return mixed


def test_every_file_and_folder_written_is_the_owners_alone(tmp_path: Path, events: Path) -> None:
    assert _mode(events) == 0o600  # cmm simulate
    data = tmp_path / "data"
    mixed = _with_a_bad_line(events, tmp_path)
    assert cmm("ingest", str(mixed), data_dir=data, check=False).returncode == 1
    rejects = tmp_path / "mixed.jsonl.rejects.jsonl"
    assert _mode(rejects) == 0o600
    cmm(
        "report", "--year", YEAR, "--as-of", AS_OF, "--out", str(tmp_path / "r.json"), data_dir=data
    )
    cmm("report", "--year", YEAR, "--as-of", AS_OF, "--out", str(tmp_path / "csv"), data_dir=data)
    cmm("budget", "allocate", "--year", YEAR, "--epsilon", "10", data_dir=data)
    cmm("publish", "--year", YEAR, "--as-of", AS_OF, "--out", str(tmp_path / "rel"), data_dir=data)
    cmm("schema", "export", str(tmp_path / "schema"))

    assert _mode(data) == 0o700
    stored = _modes(data)
    assert "events.sqlite3" in stored  # (its -wal and -shm are gone once the last closes)
    assert {k: v for k, v in stored.items() if v != 0o600} == {}
    assert _mode(tmp_path / "r.json") == 0o600
    for folder in ("csv", "rel", "schema"):
        assert _mode(tmp_path / folder) == 0o700
        files = _modes(tmp_path / folder)
        assert files and {k: v for k, v in files.items() if v != 0o600} == {}

    demo = tmp_path / "demo"
    cmm("demo", "--data-dir", str(demo))
    assert _mode(demo) == 0o700
    # Its folders (the simulated events' among them) are the owner's alone, and so are its files.
    modes = _modes(demo)
    assert {k: v for k, v in modes.items() if v != (0o700 if (demo / k).is_dir() else 0o600)} == {}


def test_a_release_for_publication_is_readable_by_all_when_asked(
    tmp_path: Path, events: Path
) -> None:
    data = tmp_path / "data"
    cmm("ingest", str(events), data_dir=data)
    cmm("budget", "allocate", "--year", YEAR, "--epsilon", "10", data_dir=data)
    out = tmp_path / "public"
    cmm("publish", "--year", YEAR, "--as-of", AS_OF, "--out", str(out), "--public", data_dir=data)
    assert _mode(out) == 0o755
    files = _modes(out)
    assert "datapackage.json" in files
    assert set(files.values()) == {0o644}


@pytest.fixture
def store(tmp_path: Path, events: Path) -> Path:
    data = tmp_path / "data"
    cmm("ingest", str(events), data_dir=data)
    return data


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "victim.conf"
    victim.write_text("precious\n")
    return victim


def test_a_link_at_the_rejects_file_is_refused_and_its_target_kept(
    tmp_path: Path, events: Path
) -> None:
    victim = _victim(tmp_path)
    mixed = _with_a_bad_line(events, tmp_path)
    os.symlink(victim, tmp_path / "mixed.jsonl.rejects.jsonl")
    data = tmp_path / "data"
    result = cmm("ingest", str(mixed), data_dir=data, check=False)
    assert result.returncode == 2, result.stderr
    assert "is a symbolic link" in result.stderr
    assert "Traceback" not in result.stderr
    assert victim.read_text() == "precious\n"
    assert not (data / "events.sqlite3").exists()  # refused before anything was stored


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_link_at_a_report_output_is_refused_and_its_target_kept(
    tmp_path: Path, store: Path, fmt: str
) -> None:
    victim = _victim(tmp_path)
    if fmt == "json":
        out = tmp_path / "report.json"
        os.symlink(victim, out)
    else:
        out = tmp_path / "csv"
        out.mkdir()
        os.symlink(victim, out / "by_citizenship.csv")
    result = cmm(
        "report", "--year", YEAR, "--as-of", AS_OF, "--out", str(out), data_dir=store, check=False
    )
    assert result.returncode == 2, result.stderr
    assert "is a symbolic link" in result.stderr
    assert victim.read_text() == "precious\n"
    if fmt == "csv":
        assert sorted(p.name for p in out.iterdir()) == ["by_citizenship.csv"]


@pytest.mark.parametrize("planted", ["folder", "file"])
def test_a_link_in_a_release_folder_is_refused_and_nothing_spent(
    tmp_path: Path, store: Path, planted: str
) -> None:
    victim = _victim(tmp_path)
    cmm("budget", "allocate", "--year", YEAR, "--epsilon", "10", data_dir=store)
    out = tmp_path / "release"
    if planted == "folder":
        os.symlink(tmp_path / "elsewhere", out)
        (tmp_path / "elsewhere").mkdir()
    else:
        out.mkdir()
        os.symlink(victim, out / "datapackage.json")
    result = cmm(
        "publish", "--year", YEAR, "--as-of", AS_OF, "--out", str(out), data_dir=store, check=False
    )
    assert result.returncode == 3, result.stderr
    assert "nothing released" in result.stderr
    assert victim.read_text() == "precious\n"
    if planted == "folder":
        assert list((tmp_path / "elsewhere").iterdir()) == []
    budget = json.loads(cmm("budget", "--year", YEAR, "--json", data_dir=store).stdout)
    assert budget["releases"] == []


def test_a_link_at_the_simulated_stream_is_refused(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    out = tmp_path / "events.jsonl"
    os.symlink(victim, out)
    result = cmm("simulate", "--seed", "2", "--out", str(out), check=False)
    assert result.returncode == 2, result.stderr
    assert "is a symbolic link" in result.stderr
    assert victim.read_text() == "precious\n"


def test_a_correction_with_a_free_text_reason_or_an_unsafe_note_is_rejected(
    tmp_path: Path, events: Path
) -> None:
    lines = events.read_text().splitlines()
    index, correction = next(
        (i, json.loads(line))
        for i, line in enumerate(lines)
        if json.loads(line)["type"] == "CorrectionRecorded"
    )
    bad = []
    for n, (field, value) in enumerate(
        [
            ("reason", "Anna Jensen, CPR 010190-1234, asked for it"),
            ("note", "CPR 010190-1234"),
            ("note", "ring 12345678"),
            ("note", "over\u202eride"),
        ]
    ):
        payload = {**correction["payload"], "reason": "other", field: value}
        bad.append(
            json.dumps(
                {
                    **correction,
                    "event_id": f"0189c7a0-0000-7000-8000-00000000f{n:03d}",
                    "payload": payload,
                }
            )
        )
    source = tmp_path / "bad.jsonl"
    source.write_text("\n".join([lines[index], *bad]) + "\n")
    result = cmm("ingest", str(source), data_dir=tmp_path / "data", check=False)
    assert result.returncode == 1, result.stderr
    rejects = [
        json.loads(line) for line in (tmp_path / "bad.jsonl.rejects.jsonl").read_text().splitlines()
    ]
    assert [r["line"] for r in rejects] == [2, 3, 4, 5]
    assert rejects[0]["reason"].startswith("payload.reason: ")
    assert all(r["reason"].startswith("payload.note: ") for r in rejects[1:])
    assert "1234" not in result.stderr  # the reasons name the field, never the value

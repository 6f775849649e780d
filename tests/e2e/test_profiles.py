"""Point 9 of the later years' contract: a new year's profile is a file, found by name or by
path, as ``--help`` says, and ``cmm demo`` keeps what it simulates in its data directory."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.e2e.test_cli import cmm

BUILT_IN = Path(__file__).resolve().parents[2] / "simulation" / "profiles" / "cmm-2012.json"


def test_the_help_says_a_profile_is_a_name_or_a_path() -> None:
    for command in ("simulate", "demo"):
        text = " ".join(cmm(command, "--help").stdout.split())
        assert "NAME|PATH" in text
        assert "CMM_PROFILE_PATH" in text


def test_a_profile_added_as_a_file_is_found_by_name(tmp_path: Path) -> None:
    folder = tmp_path / "profiles"
    folder.mkdir()
    shutil.copy(BUILT_IN, folder / "centre-next-year.json")
    out = tmp_path / "events.jsonl"
    cmm(
        "simulate",
        "--profile",
        "centre-next-year",
        "--out",
        str(out),
        env={"CMM_PROFILE_PATH": str(folder)},
    )
    assert out.stat().st_size > 0


def test_an_unknown_profile_is_one_line_naming_the_flag(tmp_path: Path) -> None:
    result = cmm(
        "simulate", "--profile", "cmm-2099", "--out", str(tmp_path / "x.jsonl"), check=False
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--profile cmm-2099" in result.stderr
    assert not (tmp_path / "x.jsonl").exists()


def test_the_demo_writes_its_events_into_the_data_directory_not_beside_the_profile(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "read-only-profiles"
    folder.mkdir()
    profile = folder / "a-year.json"
    shutil.copy(BUILT_IN, profile)
    folder.chmod(0o555)
    data = tmp_path / "data"
    try:
        cmm("demo", "--profile", str(profile), "--data-dir", str(data))
    finally:
        folder.chmod(0o755)
    assert sorted(p.name for p in folder.iterdir()) == ["a-year.json"]
    written = [p for p in data.rglob("*.jsonl") if p.is_file()]
    assert written, "the demo's events are in its data directory"

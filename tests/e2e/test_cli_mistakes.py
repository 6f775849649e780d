"""Everyday mistakes with ``cmm``, made as a new user makes them: each ends in one clear line
naming the flag and a documented exit status, never a traceback, never a silent success.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_cli import cmm, simulated_store

REPORT = ("report", "--year", "2012", "--as-of", "2013-01-31")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulated_store(tmp_path_factory.mktemp("mistakes"), seed=4)


def _one_clear_line(result: subprocess.CompletedProcess[str], status: int, *words: str) -> None:
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "no message"
    for word in words:
        assert word in lines[-1], lines[-1]


def test_a_read_command_never_creates_a_data_directory(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    for command in (REPORT, ("cases", "--flagged"), ("project",), ("budget", "--year", "2012")):
        result = cmm(*command, "--data-dir", str(missing), check=False)
        _one_clear_line(result, 2, "no event store", str(missing))
        assert result.stdout == ""
    assert not (tmp_path / "no").exists()


def test_a_data_dir_that_is_a_file_is_named(tmp_path: Path) -> None:
    afile = tmp_path / "notes.txt"
    afile.write_text("hello")
    _one_clear_line(cmm(*REPORT, "--data-dir", str(afile), check=False), 2, "is a file")


@pytest.mark.parametrize(
    ("year", "as_of", "words"),
    [
        ("12", "2013-01-31", ("--year", "1990-2099")),
        ("2031", "2032-01-31", ("--year 2031", "no events")),
        ("2012", "2011-06-01", ("--as-of 2011-06-01", "before the end of 2012")),
        ("2012", "31-01-2013", ("--as-of", "YYYY-MM-DD")),
        ("2012", "2013-02-30", ("--as-of", "YYYY-MM-DD")),
        ("twenty", "2013-01-31", ("--year", "not a year")),
    ],
)
def test_a_year_or_date_that_cannot_be_meant_is_refused_naming_the_flag(
    data: Path, year: str, as_of: str, words: tuple[str, ...]
) -> None:
    result = cmm("report", "--year", year, "--as-of", as_of, data_dir=data, check=False)
    _one_clear_line(result, 2, *words)
    assert result.stdout == ""


def test_out_without_format_writes_what_its_name_says(data: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine.json"
    cmm(*REPORT, "--out", str(mine), data_dir=data)
    assert mine.read_text().lstrip().startswith("{")
    folder = tmp_path / "tables"
    cmm(*REPORT, "--out", str(folder), data_dir=data)
    assert (folder / "by_authority.csv").is_file()
    unclear = cmm(*REPORT, "--out", str(tmp_path / "mine.txt"), data_dir=data, check=False)
    _one_clear_line(unclear, 2, "--format")
    assert not (tmp_path / "mine.txt").exists()


def test_out_in_a_missing_folder_is_refused(data: Path, tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "report.json"
    result = cmm(*REPORT, "--format", "json", "--out", str(target), data_dir=data, check=False)
    _one_clear_line(result, 2, "does not exist")
    assert not target.parent.exists()


@pytest.mark.parametrize("unbuffered", ["", "1"], ids=["buffered", "unbuffered"])
def test_output_closed_early_is_no_error(data: Path, unbuffered: str) -> None:
    """``cmm report | head``: here the reading end is closed before cmm writes a byte.
    Unbuffered, the failing write happens inside the table printer, not at the final flush."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    script = Path(sys.executable).parent / "cmm"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "infra.cli"]
    env = {**os.environ, "CMM_STORE": "sqlite", "CMM_DATA_DIR": str(data)}
    env["PYTHONUNBUFFERED"] = unbuffered
    try:
        result = subprocess.run(
            [*command, *REPORT],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=600,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 141
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr


def test_an_unreachable_postgresql_is_one_line_and_status_4(tmp_path: Path) -> None:
    env = {"CMM_STORE": "postgres", "CMM_POSTGRES_DSN": "postgresql://cmm:secret@127.0.0.1:1/cmm"}
    for command in (REPORT, ("cases",), ("ingest", str(_one_event_file(tmp_path)))):
        result = cmm(*command, env=env, check=False)
        _one_clear_line(result, 4, "PostgreSQL")
        assert "secret" not in result.stderr


def test_an_unreachable_kafka_is_one_line_and_status_4(tmp_path: Path) -> None:
    env = {"CMM_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    result = cmm(
        "produce", str(_one_event_file(tmp_path)), data_dir=tmp_path / "data", env=env, check=False
    )
    _one_clear_line(result, 4, "Kafka")


def test_version_help_and_exit_statuses_are_documented() -> None:
    version = cmm("--version")
    assert version.stdout.startswith("cmm ") and version.stdout.split()[1][0].isdigit()
    helped = cmm("--help").stdout
    assert "examples:" in helped and "cmm report --year 2012 --as-of 2013-01-31" in helped
    for status in "012345":
        assert re.search(rf"^ +{status} +\w", helped, re.MULTILINE), status
    assert "YYYY-MM-DD" in cmm("report", "--help").stdout


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = cmm("--debug", *REPORT, "--data-dir", str(tmp_path / "none"), check=False)
    assert "Traceback" in result.stderr


def _one_event_file(tmp_path: Path) -> Path:
    path = tmp_path / "one.jsonl"
    if not path.exists():
        cmm("simulate", "--seed", "2", "--out", str(tmp_path / "all.jsonl"))
        first = (tmp_path / "all.jsonl").read_text().splitlines()[0]
        path.write_text(first + "\n")
    return path


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        (("reprot",), "Did you mean 'report'"),
        (("budget", "alocate"), "Did you mean 'allocate'?"),
        (("report", "--yaer", "2012", "--year", "2012", "--as-of", "2013-01-31"), "--year?"),
    ],
)
def test_a_typo_gets_a_suggestion(typed: tuple[str, ...], meant: str, tmp_path: Path) -> None:
    result = cmm(*typed, data_dir=tmp_path / "none", check=False)
    _one_clear_line(result, 2, meant)

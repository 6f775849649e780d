"""What a newcomer meets first in ``cmm``: help with examples and defaults, the version,
suggestions for typos, tables in their language without empty rows, one line (not a
traceback) for an error nobody foresaw, and progress bars on long work."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.e2e.test_cli import cmm, simulated_store

KEYS = ("place", "measure")
REPORT = ("report", "--year", "2012", "--as-of", "2013-01-31")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulated_store(tmp_path_factory.mktemp("newcomer"), seed=5)


def test_version_names_the_program_and_its_version() -> None:
    result = cmm("--version")
    assert re.fullmatch(r"cmm \d+\.\d+\S*\n", result.stdout), result.stdout


@pytest.mark.parametrize(
    ("command", "default"),
    [
        (("ingest",), None),
        (("simulate",), "[default: cmm-2012]"),
        (("demo",), "[default: en]"),
        (("report",), "[default: en]"),
        (("cases",), "[default: table]"),
        (("project",), "[default: 1.0]"),
        (("publish",), "[default: 5]"),
        (("budget",), None),
        (("budget", "allocate"), None),
        (("consume",), "[default: 5000]"),
        (("produce",), None),
        (("schema", "export"), None),
    ],
)
def test_every_command_helps_with_examples_and_defaults(
    command: tuple[str, ...], default: str | None
) -> None:
    helped = cmm(*command, "--help").stdout
    examples = helped[helped.index("examples:") :]
    assert f"cmm {' '.join(command)}" in examples
    if default is not None:
        assert default in " ".join(helped.split())  # as printed, perhaps over two lines


def test_a_typo_in_an_option_of_a_sub_command_is_corrected(tmp_path: Path) -> None:
    result = cmm("cases", "--flaged", data_dir=tmp_path / "none", check=False)
    assert result.returncode == 2
    assert "Did you mean --flagged?" in result.stderr.splitlines()[-1]
    assert "Traceback" not in result.stderr


def test_lang_da_labels_the_tables_in_danish(data: Path) -> None:
    english = cmm(*REPORT, data_dir=data).stdout
    danish = cmm(*REPORT, "--lang", "da", data_dir=data).stdout
    assert "Immigration Service" in english and "Udlændingestyrelsen" not in english
    assert "Udlændingestyrelsen" in danish and "Immigration Service" not in danish
    assert "årsrapport 2012" in danish and "Antal" in danish


def test_the_case_list_is_labelled_in_danish_with_lang_da(data: Path) -> None:
    cases = json.loads(cmm("cases", "--format", "json", data_dir=data).stdout)
    one = next(c for c in cases if c["gender"] == "female")
    danish = cmm("cases", "--person", one["person_ref"], "--lang", "da", data_dir=data).stdout
    english = cmm("cases", "--person", one["person_ref"], data_dir=data).stdout
    assert "Kvinde" in danish and "Køn" in danish and "Statsborgerskab" in danish
    assert "Gender" not in danish and "Female" not in danish
    assert "Gender" in english and "Køn" not in english


def test_measures_with_no_value_are_left_out_of_the_terminal_table(data: Path) -> None:
    document = json.loads(cmm(*REPORT, "--format", "json", data_dir=data).stdout)
    rows = document["tables"]["outreach_activity"]
    measured = [r for r in rows if any(v is not None for k, v in r.items() if k not in KEYS)]
    assert 0 < len(measured) < len(rows)  # the year has empty measures to leave out
    shown = cmm(*REPORT, data_dir=data, env={"COLUMNS": "200"}).stdout  # a row a line
    section = shown[shown.index("(outreach_activity)") :].split("\n\n")[0]
    body = [line for line in section.splitlines() if line.startswith("│")]
    assert len(body) == len(measured), section


def test_an_unforeseen_error_is_one_line_and_status_5_and_a_traceback_with_debug(
    tmp_path: Path,
) -> None:
    # An output "folder" that is a file: nothing in the command expects it.
    afile = tmp_path / "contract"
    afile.write_text("not a folder")
    plain = cmm("schema", "export", str(afile), check=False)
    assert plain.returncode == 5
    assert "Traceback" not in plain.stderr
    lines = [line for line in plain.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "internal error" in lines[0] and "--debug" in lines[0]
    debugged = cmm("--debug", "schema", "export", str(afile), check=False)
    assert debugged.returncode != 0
    assert "Traceback" in debugged.stderr and "FileExistsError" in debugged.stderr


def test_ingest_shows_a_progress_bar_with_total_percentage_and_time_left(
    tmp_path: Path,
) -> None:
    events = tmp_path / "events.jsonl"
    cmm("simulate", "--seed", "6", "--out", str(events))
    lines = len(events.read_text().splitlines())
    # As on a terminal: rich draws its bar where the stream claims to be one.
    result = cmm("ingest", str(events), data_dir=tmp_path / "data", env={"TTY_COMPATIBLE": "1"})
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", result.stderr)
    assert "━" in plain  # the bar
    done, total = map(int, re.findall(r"(\d+)/(\d+) lines", plain)[-1])
    assert done == lines and abs(total - lines) < lines / 10  # the total, estimated
    assert "100%" in plain
    assert re.search(r"(-|\d+):(--|\d\d):(--|\d\d)", plain)  # the time left
    assert "━" not in result.stdout and "events stored" in result.stdout

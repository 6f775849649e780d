"""Hostile and awkward input to ``cmm ingest``, run as a user runs it: a reused event id with
other content, coerced types, duplicate keys, future dates, a byte order mark, gzip, other
encodings, a damaged archive and a huge bad line.
"""

from __future__ import annotations

import codecs
import gzip
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import cmm


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("input") / "events.jsonl"
    cmm("simulate", "--profile", "cmm-2012", "--seed", "9", "--out", str(path))
    return path


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf8").splitlines()


def _with_age(lines: list[str]) -> tuple[int, dict[str, Any]]:
    for index, line in enumerate(lines):
        event = json.loads(line)
        if "age" in event["payload"]:
            return index, event
    raise AssertionError("the simulated year has no assessment")


def _report(data: Path) -> str:
    return cmm(
        "report", "--year", "2012", "--as-of", "2013-01-31", "--format", "json", data_dir=data
    ).stdout


def _rejects(source: Path) -> list[dict[str, Any]]:
    path = source.with_name(source.name + ".rejects.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf8").splitlines()]


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_reused_event_id_with_other_content_is_rejected_and_changes_nothing(
    tmp_path: Path, events_file: Path, workers: str
) -> None:
    data = tmp_path / "data"
    cmm("ingest", "--workers", workers, str(events_file), data_dir=data)
    before = _report(data)
    lines = _lines(events_file)
    index, event = _with_age(lines)
    event["payload"]["age"] = 16 if event["payload"]["age"] != 16 else 17
    second = tmp_path / "second.jsonl"
    second.write_text(f"{lines[0]}\n{json.dumps(event)}\n{lines[index]}\n", encoding="utf8")

    result = cmm("ingest", "--workers", workers, str(second), data_dir=data, check=False)

    assert result.returncode == 1
    assert f"{second}:2: rejected: event_id: conflict" in result.stderr
    assert "payload.age differs" in result.stderr
    assert f"{second}: 0 events stored, 2 already stored, 1 rejected" in result.stdout
    assert [r["line"] for r in _rejects(second)] == [2]
    assert _report(data) == before  # the stored event is kept
    # An identical resubmission stays a silent no-op.
    again = cmm("ingest", "--workers", workers, str(events_file), data_dir=data)
    assert f"0 events stored, {len(lines):,} already stored, 0 rejected" in again.stdout


def test_a_conflict_within_one_file_keeps_the_first(tmp_path: Path, events_file: Path) -> None:
    lines = _lines(events_file)
    _index, event = _with_age(lines)
    event["payload"]["age"] = 16 if event["payload"]["age"] != 16 else 17
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("\n".join([*lines, json.dumps(event)]) + "\n", encoding="utf8")
    data = tmp_path / "data"
    result = cmm("ingest", str(mixed), data_dir=data, check=False)
    assert result.returncode == 1
    assert f"{mixed}:{len(lines) + 1}: rejected: event_id: conflict" in result.stderr
    clean = tmp_path / "clean"
    cmm("ingest", str(events_file), data_dir=clean)
    assert _report(data) == _report(clean)


def _future(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_coerced_types_duplicate_keys_and_future_dates_are_rejected_naming_the_field(
    tmp_path: Path, events_file: Path
) -> None:
    lines = _lines(events_file)
    index, _event = _with_age(lines)
    original = lines[index]

    def variant(change: Any) -> str:
        copy = json.loads(original)
        copy["event_id"] = f"0189c7a0-0000-7000-8000-{len(cases):012x}"
        change(copy)
        return json.dumps(copy)

    cases: list[tuple[str, str]] = []
    cases.append((variant(lambda e: e["payload"].update(age=True)), "payload.age"))
    cases.append((variant(lambda e: e["payload"].update(age="30")), "payload.age"))
    cases.append(
        (variant(lambda e: e["payload"].update(legal_residence="no")), "payload.legal_residence")
    )
    cases.append((variant(lambda e: e.update(schema_version=1.0)), "schema_version"))
    cases.append((variant(lambda e: e.update(recorded_at="2099-01-01T00:00:00Z")), "recorded_at"))
    cases.append((variant(lambda e: e.update(recorded_at=_future(60))), "recorded_at"))
    twice = variant(lambda e: None).replace('"age": ', '"age": 30, "age": ', 1)
    cases.append((twice, "payload.age"))
    source = tmp_path / "hostile.jsonl"
    source.write_text("\n".join(line for line, _ in cases) + "\n", encoding="utf8")

    result = cmm("ingest", str(source), data_dir=tmp_path / "data", check=False)

    assert result.returncode == 1
    assert f"{source}: 0 events stored, 0 already stored, {len(cases)} rejected" in result.stdout
    for number, (_, field) in enumerate(cases, start=1):
        assert f"{source}:{number}: rejected: {field}" in result.stderr, field
    assert "appears more than once" in result.stderr
    assert "future" in result.stderr


def test_the_allowed_clock_skew_is_a_setting(tmp_path: Path, events_file: Path) -> None:
    _index, event = _with_age(_lines(events_file))
    event["recorded_at"] = _future(30)
    source = tmp_path / "ahead.jsonl"
    source.write_text(json.dumps(event) + "\n", encoding="utf8")
    refused = cmm("ingest", str(source), data_dir=tmp_path / "a", check=False)
    assert refused.returncode == 1 and "recorded_at" in refused.stderr
    accepted = cmm(
        "ingest", str(source), data_dir=tmp_path / "b", env={"CMM_CLOCK_SKEW_SECONDS": "3600"}
    )
    assert "1 events stored" in accepted.stdout


def test_a_utf8_byte_order_mark_and_gzip_are_read(tmp_path: Path, events_file: Path) -> None:
    raw = events_file.read_bytes()
    count = len(_lines(events_file))
    with_bom = tmp_path / "bom.jsonl"
    with_bom.write_bytes(codecs.BOM_UTF8 + raw)
    packed = tmp_path / "backlog.jsonl.gz"
    packed.write_bytes(gzip.compress(codecs.BOM_UTF8 + raw))
    plain = tmp_path / "plain"
    cmm("ingest", str(events_file), data_dir=plain)
    for source in (with_bom, packed):
        data = tmp_path / source.name.replace(".", "-")
        result = cmm("ingest", str(source), data_dir=data)
        assert f"{count:,} events stored, 0 already stored, 0 rejected" in result.stdout
        assert _report(data) == _report(plain)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_other_encodings_are_refused_in_one_line_with_nothing_stored(
    tmp_path: Path, events_file: Path, encoding: str
) -> None:
    text = events_file.read_text(encoding="utf8")
    source = tmp_path / "wide.jsonl"
    source.write_bytes(text.encode(encoding))
    data = tmp_path / "data"
    result = cmm("ingest", str(source), data_dir=data, check=False)
    assert result.returncode == 1  # rejected input
    assert len(result.stderr.strip().splitlines()) == 1
    assert "nothing stored" in result.stderr and "UTF-8" in result.stderr
    assert "rejected" not in result.stdout
    again = cmm("ingest", str(events_file), data_dir=data)
    assert f"{len(text.splitlines()):,} events stored, 0 already stored" in again.stdout


def test_a_damaged_gzip_file_stores_what_came_before_and_says_so(tmp_path: Path) -> None:
    events_file = tmp_path / "three-years.jsonl"  # several chunks, so some come before the cut
    cmm("simulate", "--seed", "9", "--scale", "3", "--out", str(events_file))
    packed = gzip.compress(events_file.read_bytes())
    source = tmp_path / "cut.jsonl.gz"
    source.write_bytes(packed[: len(packed) // 2])
    data = tmp_path / "data"
    result = cmm("ingest", str(source), data_dir=data, check=False)
    assert result.returncode == 1  # rejected input
    assert "Traceback" not in result.stderr
    assert "damaged" in result.stderr and "ingest it again" in result.stderr
    whole = tmp_path / "whole.jsonl.gz"
    whole.write_bytes(packed)
    rest = cmm("ingest", str(whole), data_dir=data)
    found = re.search(r"([\d,]+) events stored, ([\d,]+) already stored, 0 rejected", rest.stdout)
    assert found is not None
    stored, already = (int(x.replace(",", "")) for x in found.groups())
    assert already > 0 and stored > 0  # the first half was stored, the rest only now
    assert stored + already == len(_lines(events_file))


def test_a_huge_bad_line_is_copied_capped_into_the_rejects(tmp_path: Path) -> None:
    source = tmp_path / "huge.jsonl"
    size = 8 * 1024 * 1024
    with source.open("wb") as out:
        out.write(b'{"event_id": "' + "é".encode() * (size // 2) + b'"\n')
    result = cmm("ingest", str(source), data_dir=tmp_path / "data", check=False)
    assert result.returncode == 1
    (reject,) = _rejects(source)
    assert reject["line"] == 1 and reject["raw_truncated"] is True
    assert reject["raw_bytes"] == len(b'{"event_id": "') + size + len(b'"')
    assert len(reject["raw"].encode("utf8")) <= 4096
    assert source.with_name("huge.jsonl.rejects.jsonl").stat().st_size < 16_384
    assert len(result.stderr) < 16_384

"""Ingest workers read their own chunks of the file: the spans the ingesting process hands
them cover every line exactly once, numbered as the file numbers them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import infra.files.ingest as ingest
from infra.files.ingest import _read_lines, _spans

_line = st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"x"))


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(_line, max_size=30),
    last_line_ended=st.booleans(),
    size=st.integers(1, 8),
    read_bytes=st.integers(1, 20),
)
def test_spans_cover_every_line_once_in_runs_of_size(
    lines: list[bytes], last_line_ended: bool, size: int, read_bytes: int
) -> None:
    data = b"\n".join(lines) + (b"\n" if lines and last_line_ended else b"")
    expected = io.BytesIO(data).readlines()  # what reading line by line gives
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ingest, "_READ_BYTES", read_bytes)
        spans = list(_spans(io.BytesIO(data), size))
    got: list[bytes] = []
    next_line, next_offset = 1, 0
    for first, offset, length, count in spans:
        assert (first, offset) == (next_line, next_offset)
        chunk = data[offset : offset + length]
        assert chunk.count(b"\n") in (count, count - 1)  # the file's last line may lack one
        assert count == size or offset + length == len(data)
        got.extend(io.BytesIO(chunk).readlines())
        next_line, next_offset = first + count, offset + length
    assert next_offset == len(data)
    assert got == expected


def test_a_worker_reads_the_lines_of_its_span(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_bytes(b'{"a":1}\n\n{"b":2}\r\n{"c":3}')
    spans = list(_spans(source.open("rb"), 2))
    assert [(first, count) for first, _, _, count in spans] == [(1, 2), (3, 2)]
    read = [_read_lines(source, offset, length) for _, offset, length, _ in spans]
    assert read == [[b'{"a":1}', b""], [b'{"b":2}\r', b'{"c":3}']]

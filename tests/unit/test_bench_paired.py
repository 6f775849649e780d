"""The paired benchmark's version-2 stream: the same facts as the version-1 stream."""

from __future__ import annotations

import json
from pathlib import Path

from bench.bench_ingest import make_file
from bench.paired import as_version_2
from domain.events import parse_event


def test_the_version_2_stream_holds_the_same_events_in_version_2(tmp_path: Path) -> None:
    made, source, target = tmp_path / "made.jsonl", tmp_path / "v1.jsonl", tmp_path / "v2.jsonl"
    written = make_file(made, 600)
    # The earlier tree's simulator writes version 1; the 2012 profile uses nothing later.
    with source.open("w", encoding="utf-8") as out:
        for line in made.read_bytes().splitlines():
            out.write(json.dumps({**json.loads(line), "schema_version": 1}) + "\n")
    assert as_version_2(source, target) == written
    lines = {p: [x for x in p.read_bytes().splitlines() if x.strip()] for p in (source, target)}
    assert {json.loads(line)["schema_version"] for line in lines[source]} == {1}
    assert {json.loads(line)["schema_version"] for line in lines[target]} == {2}
    # Read in the current contract (version 1 is upcast), they are the same events.
    v1 = [parse_event(line) for line in lines[source]]
    v2 = [parse_event(line) for line in lines[target]]
    assert [e.model_dump(exclude={"schema_version"}) for e in v2] == [
        e.model_dump(exclude={"schema_version"}) for e in v1
    ]

"""Rejected lines: the line number and reason of each, and the rejects file beside the input
that holds them with (the start of) the line itself."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.store import Conflict

RAW_LIMIT = 4096
"""Bytes of a rejected line copied to the rejects file: a 50 MB line is not copied whole."""


@dataclass(frozen=True, slots=True)
class Reject:
    line: int
    reason: str
    raw: str
    raw_bytes: int | None = None  # the whole line's length, when ``raw`` is only its start


def make_reject(line: int, reason: str, raw: bytes) -> Reject:
    """A reject with at most :data:`RAW_LIMIT` bytes of its line (cut at a character)."""
    raw = raw.rstrip(b"\r\n")
    if len(raw) <= RAW_LIMIT:
        return Reject(line, reason, raw.decode("utf8", "replace"))
    cut = RAW_LIMIT
    while cut > 0 and raw[cut] & 0xC0 == 0x80:  # not inside a UTF-8 sequence
        cut -= 1
    return Reject(line, reason, raw[:cut].decode("utf8", "replace"), raw_bytes=len(raw))


def conflict_rejects(
    conflicts: Sequence[Conflict], numbers: Sequence[int], raw_of: Callable[[int], bytes]
) -> list[Reject]:
    """Rejects for the events of an append that conflict with stored ones."""
    return [make_reject(numbers[c.index], c.reason, raw_of(numbers[c.index])) for c in conflicts]


def rejects_path_for(source: Path) -> Path:
    return source.with_name(source.name + ".rejects.jsonl")


def reject_json(reject: Reject) -> dict[str, Any]:
    record: dict[str, Any] = {"line": reject.line, "reason": reject.reason, "raw": reject.raw}
    if reject.raw_bytes is not None:
        record["raw_truncated"] = True
        record["raw_bytes"] = reject.raw_bytes
        record["note"] = (
            f"the line is {reject.raw_bytes:,} bytes long; only its first {RAW_LIMIT:,} "
            "are copied here"
        )
    return record

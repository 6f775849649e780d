"""Events submitted over HTTP by a partner: the same contract, idempotency and rejection
reasons as ``cmm ingest`` (:mod:`application.ingest`), and one rule more: a partner's token
is bound to one ``source`` organisation, so every event it submits must name that source.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from application.ports import Adapters

MAX_BODY_BYTES = 16 << 20
"""The most one request may carry (a larger backlog goes through ``cmm ingest``)."""


class SubmissionRefused(ValueError):
    """A body that is not events at all (too large, not text); nothing was stored."""


class CorrectionForbidden(PermissionError):
    """A correction of an event that is not the submitting organisation's own; nothing of
    the body was stored. The message names the line and the rule, never a value."""


@dataclass
class Submitted:
    """What became of a submission: lines read, stored, already stored, and each rejected
    line's number and reason (never its content)."""

    lines: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected


def one_line(document: bytes) -> bytes:
    """One JSON document as one line: JSON has no raw line breaks inside strings, so they
    are whitespace between tokens, and the document keeps its every byte of meaning."""
    return document.replace(b"\r", b" ").replace(b"\n", b" ")


def _foreign_source(raw: bytes, source: str) -> str | None:
    """The reason a line is refused for naming another source, or None (a line that is not
    a JSON object is left to the contract, which says why)."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or "source" not in data:
        return None
    if data["source"] != source:
        return (
            f"source: this token submits for the organisation {source}; an event may only "
            "name its own organisation as its source"
        )
    return None


def _corrected(raw: bytes) -> tuple[str | None, str] | None:
    """(person_ref or None, target event id) of a correction line, or None."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("type") != "CorrectionRecorded":
        return None
    payload = data.get("payload")
    target = payload.get("target_event_id") if isinstance(payload, dict) else None
    if not isinstance(target, str):
        return None  # left to the contract, which says why
    person_ref = data.get("person_ref")
    return (person_ref if isinstance(person_ref, str) else None, target.lower())


def _own_event_ids(raws: list[bytes], source: str) -> set[str]:
    """The event ids of this body's lines that name ``source``."""
    ids: set[str] = set()
    for raw in raws:
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("source") == source:
            ids.add(str(data.get("event_id", "")).lower())
    return ids


def check_corrections(adapters: Adapters, raws: list[bytes], source: str) -> None:
    """Refuse (:class:`CorrectionForbidden`) a body with a correction of an event that is
    not ``source``'s own: an event of this body, or one of the case's stored events that
    names ``source``. A correction of a log event (hotline, outreach) names no case to look
    in, so a token cannot make one: the operator ingests those from a file."""
    own: set[str] | None = None
    timelines: dict[str, dict[str, str]] = {}
    for number, raw in enumerate(raws, start=1):
        corrected = _corrected(raw) if raw.strip() else None
        if corrected is None:
            continue
        person_ref, target = corrected
        if own is None:
            own = _own_event_ids(raws, source)
        if target in own:
            continue
        rule = (
            f"line {number}: payload.target_event_id: a partner may correct only its own "
            f"organisation's ({source}) events"
        )
        if person_ref is None or adapters.case_timeline is None:
            raise CorrectionForbidden(
                f"{rule}; a token cannot correct a log event (the operator ingests those); "
                "nothing was stored"
            )
        if person_ref not in timelines:
            timelines[person_ref] = {
                str(r["event_id"]).lower(): str(r["source"])
                for r in adapters.case_timeline(person_ref)
            }
        if timelines[person_ref].get(target) != source:
            raise CorrectionForbidden(
                f"{rule}: the target is none of its events in this case; nothing was stored"
            )


def submit_events(adapters: Adapters, body: bytes, source: str) -> Submitted:
    """Store the JSON-lines ``body`` (one event a line) submitted by ``source``: every valid
    line of that source once, the others rejected with their line number and reason."""
    if len(body) > MAX_BODY_BYTES:
        raise SubmissionRefused(f"body: at most {MAX_BODY_BYTES:,} bytes a request")
    if body.startswith(b"\x1f\x8b"):
        # The file ingest would unpack it, past the check of each event's source below.
        raise SubmissionRefused("body: plain JSON lines only, not gzip-compressed")
    lines = body.splitlines()
    check_corrections(adapters, lines, source)
    refused: dict[int, str] = {}
    kept: list[bytes] = []
    for number, raw in enumerate(lines, start=1):
        reason = _foreign_source(raw, source) if raw.strip() else None
        if reason is not None:
            refused[number] = reason
            kept.append(b"")  # blank: the line numbers of the rest stay the body's
        else:
            kept.append(raw)
    with tempfile.TemporaryDirectory(prefix="cmm-submit-") as folder:
        path = Path(folder) / "events.jsonl"
        path.write_bytes(b"\n".join(kept) + b"\n")
        with adapters.open_store() as store:
            report = adapters.ingest_file(
                path,
                store,
                workers=0,  # in the server's own process: a request is small
                clock_skew=timedelta(seconds=adapters.clock_skew_seconds),
                progress=None,
                on_reject=None,
            )
    rejected = [{"line": r.line, "reason": r.reason} for r in report.rejects]
    rejected += [{"line": n, "reason": why} for n, why in refused.items()]
    rejected.sort(key=lambda r: int(r["line"]))
    return Submitted(
        lines=len(lines),
        stored=report.appended,
        duplicates=report.duplicates,
        rejected=rejected,
    )

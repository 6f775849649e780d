"""Reading an event: JSON text (or a dict) in, a validated event or the reason out.

Beyond the models' own checks, reading refuses what only the text shows (a key named twice)
and what only the reader's clock shows (an event recorded in the future), and validates
with JSON's own types, strictly; :func:`parse_event` states these rules for the exported
contract (``domain.rules``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from domain.envelope import EVENT_ADAPTER, LATEST, Event, utc_iso
from domain.payloads import first_reason
from domain.rules import checks

CLOCK_SKEW = timedelta(minutes=5)
"""How far ``recorded_at`` may lie ahead of the validating clock by default: producers'
clocks drift a little; an event cannot be recorded later than now."""


class InvalidEvent(ValueError):
    """An event that breaks the contract; ``reason`` names the field."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def latest_recorded_at(now: datetime, skew: timedelta = CLOCK_SKEW) -> str:
    """The latest ``recorded_at`` accepted when the clock reads ``now``, as stored text."""
    return utc_iso(min(now + skew, LATEST - timedelta(microseconds=1)))


@checks(
    "recorded_at must not be later than the consumer's clock plus a small skew "
    f"({CLOCK_SKEW // timedelta(minutes=1)} minutes by default)",
    "types are strict: an integer is written without a fraction or exponent (30, not "
    "30.0, which JSON Schema would count as an integer), and no value is converted "
    '(not true to 1, not "30" to 30, not "no" to false)',
    "a JSON object must not name the same key twice",
)
def parse_event(
    raw: str | bytes, not_after: str | None = None, *, keys_checked_by_caller: bool = False
) -> Event:
    """Validate one JSON-encoded event, raising :class:`InvalidEvent` with a reason.

    ``not_after`` is the latest ``recorded_at`` accepted (stored form, see
    :func:`latest_recorded_at`); by default now plus :data:`CLOCK_SKEW`. Bulk callers pass
    it once per batch: reading the clock costs more than the comparison.

    ``keys_checked_by_caller``: the caller tests for a key named twice itself, by a cheaper
    means it has at hand, and calls :func:`refuse_duplicate_keys` when its test cannot
    clear the text (the ingest path does, on the stored bytes: ``infra.encoding``)."""
    try:
        event = EVENT_ADAPTER.validate_json(raw, strict=True)
    except ValidationError as error:
        raise InvalidEvent(first_reason(error)) from None
    if not keys_checked_by_caller and not _keys_counted(raw, event):
        refuse_duplicate_keys(raw)
    if not_after is None:
        not_after = latest_recorded_at(datetime.now(UTC))
    if event.recorded_at > not_after:  # fixed-width UTC text: string order is time order
        raise InvalidEvent(
            "recorded_at: is in the future (later than now plus the allowed clock skew): "
            "check the clock of the system that recorded it"
        )
    return event


def refuse_duplicate_keys(raw: str | bytes) -> None:
    """Raise :class:`InvalidEvent` naming the first key that ``raw`` names twice in one
    object, if there is one (the exact test)."""
    duplicate = duplicate_key(raw)
    if duplicate is not None:
        raise InvalidEvent(f"{duplicate}: the key appears more than once in its JSON object")


_JSON_WHITESPACE = b" \t\r\n"
_NO_WHITESPACE = str.maketrans("", "", " \t\r\n")


def _keys_counted(raw: str | bytes, event: Event) -> bool:
    """True when ``raw`` certainly names no key twice: the cheap test on the hot path.

    The JSON parser keeps the last of two equal keys, so the validated event has each key
    once. With JSON's whitespace taken out, every key in the text is followed by ``":``
    right away, and a string can hold ``":`` only after an escaped quote; so the text holds
    at least as many ``":`` as keys, and exactly as many as the event has fields only if no
    key came twice. Two passes over the bytes in C (a sixth of validation's cost); the exact
    test, :func:`duplicate_key`, parses the text again in Python and is kept for what this
    one cannot clear: text with ``":`` inside strings, and corrections, whose replacement
    is free-form."""
    kind = event.type
    if kind == "CorrectionRecorded":
        return False
    payload = event.payload
    expected = len(event.__pydantic_fields_set__) + len(payload.__pydantic_fields_set__)
    if kind == "OutreachActivityLogged":
        # (Not getattr with a default: a missing attribute of a model costs microseconds.)
        expected += len(payload.measures)  # type: ignore[union-attr]
    if type(raw) is bytes:
        return raw.translate(None, _JSON_WHITESPACE).count(b'":') == expected
    text = raw if isinstance(raw, str) else bytes(raw).decode("utf8", "replace")
    return text.translate(_NO_WHITESPACE).count('":') == expected


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its key-value pairs, in order, duplicates and all."""


def duplicate_key(raw: str | bytes) -> str | None:
    """The path of the first key that appears twice in one object of ``raw`` (e.g.
    ``payload.age``), or None. Exact, and slower than validation itself: only for text the
    cheap count could not clear."""
    try:
        tree = json.loads(raw, object_pairs_hook=_Pairs)
    except ValueError:
        return None  # not JSON: validation has said so already
    stack: list[tuple[str, Any]] = [("", tree)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, _Pairs):
            seen: set[str] = set()
            for key, value in node:
                where = f"{path}.{key}" if path else key
                if key in seen:
                    return where
                seen.add(key)
                stack.append((where, value))
        elif isinstance(node, list):
            stack.extend((f"{path}.{i}" if path else str(i), v) for i, v in enumerate(node))
    return None


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def validate_event(data: dict[str, Any], not_after: str | None = None) -> Event:
    """Validate an event given as a dict, with the same strict JSON semantics as
    :func:`parse_event` (``datetime`` and ``UUID`` objects stand for their text)."""
    try:
        raw = json.dumps(data, default=_json_default)
    except (TypeError, ValueError) as error:
        raise InvalidEvent(f"not a JSON object: {error}") from None
    return parse_event(raw, not_after)

"""A key named twice is refused on every path that takes JSON text, whatever the whitespace,
escapes, nesting or place of the repeat; text without a repeat is taken as it is.

The oracle is the standard library's parser with a hook that sees every pair, written here
and sharing nothing with the cheap tests under check (the domain's count of ``":`` and the
ingest path's count of quotes against the stored bytes).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.events import InvalidEvent, parse_event
from infra.encoding import encode_event_row, parse_and_encode
from simulation.simulate import load_profile, simulate


def _sample() -> list[dict[str, Any]]:
    events = list(itertools.islice(simulate(load_profile("cmm-2012"), seed=3), 6_000))
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event)
    return [e for group in by_type.values() for e in group[:25]]


SAMPLE = _sample()
NOT_AFTER = "2100-01-01T00:00:00.000000Z"


def repeats_a_key(text: str) -> bool:
    found = False

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        keys = [k for k, _ in pairs]
        found = found or len(keys) != len(set(keys))
        return dict(pairs)

    json.loads(text, object_pairs_hook=hook)
    return found


_SPACES = st.sampled_from(["", " ", "\t", "\n", "  ", "\r\n"])
_VALUES = st.one_of(
    st.integers(-5, 200),
    st.booleans(),
    st.none(),
    st.sampled_from(["cmm", "police", "x", 'say "hi":', "2012-03-01T10:00:00Z", "\\"]),
    st.just({"a": 1}),
    st.just([1, "b"]),
)


@st.composite
def written(draw: st.DrawFn, event: dict[str, Any], repeat: bool) -> str:
    """``event`` as JSON text with drawn whitespace and key escapes, and (``repeat``) one key
    of one of its objects named a second time, before or after the first."""
    objects: list[tuple[str, ...]] = [()]
    for key, value in event.items():
        if isinstance(value, dict):
            objects.append((key,))
            objects.extend((key, k) for k, v in value.items() if isinstance(v, dict))
    target = draw(st.sampled_from(objects)) if repeat else None

    def key_text(key: str) -> str:
        if key and draw(st.booleans()) and draw(st.booleans()):
            return '"' + "".join(f"\\u{ord(c):04x}" for c in key) + '"'  # escaped, same key
        return json.dumps(key)

    def write(value: Any, path: tuple[str, ...]) -> str:
        if not isinstance(value, dict):
            return json.dumps(value)
        pairs = [(k, write(v, (*path, k))) for k, v in value.items()]
        if path == target and pairs:
            which = draw(st.integers(0, len(pairs) - 1))
            extra = (pairs[which][0], json.dumps(draw(_VALUES)))
            pairs.insert(draw(st.integers(0, len(pairs))), extra)
        parts = [
            f"{draw(_SPACES)}{key_text(k)}{draw(_SPACES)}:{draw(_SPACES)}{v}{draw(_SPACES)}"
            for k, v in pairs
        ]
        return "{" + ",".join(parts) + "}"

    return write(event, ())


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), index=st.integers(0, len(SAMPLE) - 1), repeat=st.booleans())
def test_every_path_refuses_a_repeated_key_and_takes_text_without_one(
    data: st.DataObject, index: int, repeat: bool
) -> None:
    event = SAMPLE[index]
    text = data.draw(written(event, repeat))
    if repeats_a_key(text):
        for check in (
            lambda: parse_event(text, NOT_AFTER),
            lambda: parse_event(text.encode(), NOT_AFTER),
            lambda: parse_and_encode(text.encode(), NOT_AFTER),
        ):
            with pytest.raises(InvalidEvent):
                check()
    else:
        expected = encode_event_row(parse_event(json.dumps(event), NOT_AFTER))
        assert encode_event_row(parse_event(text, NOT_AFTER)) == expected
        assert parse_and_encode(text.encode(), NOT_AFTER) == expected


def test_the_repeat_is_named_on_the_ingest_path() -> None:
    event = next(e for e in SAMPLE if e["type"] == "AssessmentDecided")
    text = json.dumps(event).replace('"age": ', '"age": 16, "age": ', 1)
    with pytest.raises(InvalidEvent, match=r"^payload.age: the key appears more than once"):
        parse_and_encode(text.encode(), NOT_AFTER)

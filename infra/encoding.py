"""Turning validated event records into eventsourcing stored events, without the per-event
object work of the aggregate API.

The bytes written here are exactly the bytes eventsourcing's own mapper writes for the same
domain event (``domain.case``), so ``Application.repository.get`` reconstructs the same
aggregate whichever path stored it; a test compares the two paths byte for byte. The fast
path exists because building an aggregate and a domain event object per event costs more
than the database insert (measured on 2 cores: bench.bench_ingest shows the difference).
"""

from __future__ import annotations

import json
from hashlib import sha1
from typing import Any, NamedTuple

from eventsourcing.utils import get_topic

from domain.case import STREAM_NAMESPACE, Case, Log, log_id, log_key, stream_of
from domain.events import Event, parse_event, refuse_duplicate_keys

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

CASE_TOPIC = get_topic(Case)
LOG_TOPIC = get_topic(Log)
OPENED_TOPIC = {"case": get_topic(Case.Opened), "log": get_topic(Log.Opened)}
_EVENT_TOPICS = {
    "case": {name: f"{get_topic(Case)}.{name}" for name in vars(Case) if name[0].isupper()},
    "log": {name: f"{get_topic(Log)}.{name}" for name in vars(Log) if name[0].isupper()},
}


def _iso(recorded_at: str) -> str:
    """What eventsourcing's transcoder writes for ``datetime.fromisoformat(recorded_at)``:
    ``isoformat()``, which leaves out zero microseconds. Records hold fixed-width UTC
    (``...SS.ffffffZ``), so string surgery gives the same text without parsing."""
    if len(recorded_at) == 27 and recorded_at[26] == "Z":  # fixed-width UTC, as stored
        moment = recorded_at[:19] if recorded_at.endswith(".000000Z") else recorded_at[:26]
        return moment + "+00:00"
    iso = recorded_at[:-1] if recorded_at.endswith("Z") else recorded_at
    if iso.endswith(".000000"):
        iso = iso[:-7]
    return iso + "+00:00"


def _timestamp(recorded_at: str) -> dict[str, str]:
    return {"_type_": "datetime_iso", "_data_": _iso(recorded_at)}


class Encoded(NamedTuple):
    """One event ready for the store: which stream, its topic and state, and what is needed
    to open the stream if this is its first event. A tuple, because chunks of these cross
    process boundaries and plain tuples pickle several times faster than objects."""

    event_id: bytes
    originator_id: str  # UUID hex, as eventsourcing's SQLite recorder stores it
    kind: str
    key: str
    topic: str
    state: bytes
    recorded_at: str


def encode_record(record: dict[str, Any]) -> Encoded:
    """Encode a record as ``domain.events.to_record`` gives it."""
    originator_id, kind, key = stream_of(record)
    topic = _EVENT_TOPICS[kind].get(record["type"])
    if topic is None:
        raise ValueError(f"{record['type']} does not belong to a {kind} stream")
    state = {
        "timestamp": _timestamp(record["recorded_at"]),
        "event_id": record["event_id"],
        "schema_version": record["schema_version"],
        "occurred_at": record["occurred_at"],
        "recorded_at": record["recorded_at"],
        "source": record["source"],
        "payload": record["payload"],
    }
    return Encoded(
        event_id=bytes.fromhex(record["event_id"].replace("-", "")),
        originator_id=originator_id.hex,
        kind=kind,
        key=key,
        topic=topic,
        state=_ENCODER.encode(state).encode("utf8"),
        recorded_at=record["recorded_at"],
    )


def _opened_parts(kind: str) -> tuple[str, str]:
    topic, field = (CASE_TOPIC, "person_ref") if kind == "case" else (LOG_TOPIC, "key")
    return '{"timestamp":{"_type_":"datetime_iso","_data_":"', (
        f'"}},"originator_topic":"{topic}","{field}":"'
    )


_OPENED_PARTS = {kind: _opened_parts(kind) for kind in ("case", "log")}


def opened_state(kind: str, key: str, recorded_at: str) -> tuple[str, bytes]:
    """Topic and state of the ``Opened`` event that starts a stream, as eventsourcing's
    mapper writes them (keys are pseudonyms or code paths: nothing to escape). Built by
    concatenation: a third of the events an ingest stores open a stream."""
    head, middle = _OPENED_PARTS[kind]
    return OPENED_TOPIC[kind], (head + _iso(recorded_at) + middle + key + '"}').encode()


def decode_state(state: bytes) -> dict[str, Any]:
    """The stored record fields of a ``Recorded`` event (plain JSON, no transcoding needed:
    only the timestamp carries a type marker, and projections use ``recorded_at``)."""
    result: dict[str, Any] = json.loads(state)
    return result


_STATE_PREFIX = b'{"timestamp":{"_type_":"datetime_iso","_data_":"'
# The stream says whose an event is and the event class says its type: neither is stored in
# the state.
_NOT_STORED = {"type", "person_ref"}


_CASE_NAME_PREFIX = STREAM_NAMESPACE.bytes + b"case/"
_CASE_HEX: dict[str, str] = {}
_CASE_HEX_LIMIT = 1 << 18  # about 30 MB at most; a person's events come in bursts


def case_hex(person_ref: str) -> str:
    """``case_id(person_ref).hex``, remembered: a hand-rolled ``uuid5`` (RFC 4122 version 5,
    SHA-1 of the namespace and the name, with the version and variant bits set), because
    ``uuid5`` builds two UUID objects to give one hex string, and every new person of an
    ingest needs one (``bench.bench_ingest``'s ``ingest`` figure). ``tests/unit/
    test_encoding.py`` holds it equal to ``domain.case.case_id``, the definition."""
    hexed = _CASE_HEX.get(person_ref)
    if hexed is None:
        digest = bytearray(sha1(_CASE_NAME_PREFIX + person_ref.encode()).digest()[:16])
        digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
        digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
        if len(_CASE_HEX) >= _CASE_HEX_LIMIT:
            _CASE_HEX.clear()
        hexed = _CASE_HEX[person_ref] = digest.hex()
    return hexed


def encode_event(event: Event) -> Encoded:
    """``encode_record(to_record(event))`` without the intermediate dicts: the envelope and
    payload go to JSON in pydantic's compiled serializer in one call (the fields are declared
    in the order the mapper writes them), and only the mapper's ``timestamp`` is put in
    front. A test holds the two paths to the same bytes for every event type."""
    return Encoded._make(encode_event_row(event))


# Quotes the stored state has beyond the JSON text of its event: the 10 of the
# ``"timestamp":{"_type_":"datetime_iso","_data_":"..."}`` the mapper puts in front, less the 4
# of ``"type":"..."`` and, for a person's event, the 4 of ``"person_ref":"..."``, which are
# not stored (``_NOT_STORED``).
_STATE_EXTRA_QUOTES = {True: 10 - 4 - 4, False: 10 - 4}


def parse_and_encode(raw: bytes, not_after: str) -> tuple[bytes, str, str, str, str, bytes, str]:
    """``encode_event_row(parse_event(raw, not_after))``, the bulk path of ingest and the
    Kafka consumer, with the test for a key named twice done on the stored bytes, where it
    costs two byte counts in C instead of the domain's whitespace-stripping count
    (``bench.paired`` measures the ingest path; the domain's test alone made it 7% slower).

    Why it is exact when it passes: every ``"`` byte of JSON text delimits a string or is
    an escaped quote inside one, so the text holds two quotes per key and per string value
    and one per escaped quote. The state is pydantic's serialisation of the validated event
    with nulls left out: its keys are the distinct keys of the text (all defaults are None,
    so no key appears that the text lacks), its string values those of the text, and none
    of its strings can hold a quote (they are codes, country codes, UUIDs, timestamps and
    patterned references; corrections, whose replacement and reason are free, always get
    the exact test). So the text has at least as many quotes as the state accounts for,
    and exactly as many only if no key came twice: a repeated key adds its own two quotes
    (an explicit null adds two as well, and is only sent to the exact test)."""
    event = parse_event(raw, not_after, keys_checked_by_caller=True)
    row = encode_event_row(event)
    accounted = raw.count(b'"') + _STATE_EXTRA_QUOTES[event.person_ref is not None]
    if accounted != row[5].count(b'"') or event.type == "CorrectionRecorded":
        refuse_duplicate_keys(raw)
    return row


def encode_event_row(event: Event) -> tuple[bytes, str, str, str, str, bytes, str]:
    """:func:`encode_event` as a plain tuple, which is what crosses to the writing process
    (it pickles several times faster than a named tuple)."""
    kind = event.type
    recorded = event.recorded_at
    person_ref = event.person_ref
    if person_ref is not None:
        originator_id = _CASE_HEX.get(person_ref) or case_hex(person_ref)
        key, stream_kind = person_ref, "case"
    else:
        key = log_key(
            {
                "type": kind,
                "occurred_at": event.occurred_at,
                "payload": {"place": getattr(event.payload, "place", None)},
            }
        )
        originator_id, stream_kind = log_id(key).hex, "log"
    topic = _EVENT_TOPICS[stream_kind].get(kind)
    if topic is None:
        raise ValueError(f"{kind} does not belong to a {stream_kind} stream")
    fields = event.__pydantic_serializer__.to_json(event, exclude=_NOT_STORED, exclude_none=True)
    return (
        event.event_id.bytes,
        originator_id,
        stream_kind,
        key,
        topic,
        b"".join((_STATE_PREFIX, _iso(recorded).encode(), b'"},', memoryview(fields)[1:])),
        recorded,
    )

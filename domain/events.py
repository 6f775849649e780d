"""The event contract: a versioned JSON envelope with a typed payload per event type.

Every event the centre and its partners record travels as one JSON object::

    {"event_id": "<uuid>", "type": "AssessmentDecided", "schema_version": 2,
     "occurred_at": "2012-03-01T10:00:00Z", "recorded_at": "2012-03-02T08:00:00Z",
     "source": "immigration_service", "person_ref": "P-3fa9c2e1b7d4",
     "payload": {...}}

``event_id`` is the idempotency key: the same id submitted twice is stored once. Producers
should use time-ordered ids (UUIDv7), which keep the store's indexes append-only.

``person_ref`` is a pseudonym, ``<ORG>-<hex token>``. It is never a name, a CPR number, a
phone number or an address; the pattern makes the common accidents impossible. Case events
need one; hotline calls and outreach logs are not about one person and must not carry one.

Unknown fields, wrong types, impossible dates and unknown codes are rejected, and the reason
names the field. Types are checked strictly, with JSON's own types: ``true`` is not an
integer, ``"30"`` is not a number, ``"no"`` is not a boolean and ``1.0`` is not the schema
version ``1``; only timestamps, UUIDs and codes come as strings. A JSON object that names a
field twice is refused (which of the two would count is not the contract's to guess), and
so is an event recorded in the future (later than now plus a small clock skew).

The contract lives in three modules, and every name is importable from here:
``domain.payloads`` (what each event type carries), ``domain.envelope`` (the envelope, the
event types, the stored record) and ``domain.parsing`` (reading JSON text or a dict). The
rules JSON Schema cannot express are stated by the validators that check them
(``domain.rules``); ``domain.contract_schema`` exports the contract as JSON Schema.
"""

from __future__ import annotations

from domain.envelope import (
    EARLIEST,
    EVENT_ADAPTER,
    LATEST,
    PERSON_REF_PATTERN,
    SCHEMA_VERSION,
    SCHEMA_VERSIONS,
    AccommodationChanged,
    AssessmentDecided,
    ContactRegistered,
    CorrectionRecorded,
    DepartedDenmark,
    Envelope,
    Event,
    HotlineCallReceived,
    OutreachActivityLogged,
    SchemaVersion,
    SupportOffered,
    SupportStatusChanged,
    Timestamp,
    to_record,
    utc_iso,
)
from domain.parsing import (
    CLOCK_SKEW,
    InvalidEvent,
    duplicate_key,
    latest_recorded_at,
    parse_event,
    refuse_duplicate_keys,
    validate_event,
)
from domain.payloads import (
    CASE_EVENT_TYPES,
    EVENT_TYPES,
    LOG_EVENT_TYPES,
    PAYLOADS,
    AccommodationChangedPayload,
    AssessmentDecidedPayload,
    CaseEventType,
    ContactRegisteredPayload,
    CorrectionRecordedPayload,
    Country,
    DepartedDenmarkPayload,
    HotlineCallReceivedPayload,
    LogEventType,
    OutreachActivityLoggedPayload,
    Strict,
    SupportOfferedPayload,
    SupportStatusChangedPayload,
    first_reason,
)

__all__ = [
    "CASE_EVENT_TYPES",
    "CLOCK_SKEW",
    "EARLIEST",
    "EVENT_ADAPTER",
    "EVENT_TYPES",
    "LATEST",
    "LOG_EVENT_TYPES",
    "PAYLOADS",
    "PERSON_REF_PATTERN",
    "SCHEMA_VERSION",
    "SCHEMA_VERSIONS",
    "AccommodationChanged",
    "AccommodationChangedPayload",
    "AssessmentDecided",
    "AssessmentDecidedPayload",
    "CaseEventType",
    "ContactRegistered",
    "ContactRegisteredPayload",
    "CorrectionRecorded",
    "CorrectionRecordedPayload",
    "Country",
    "DepartedDenmark",
    "DepartedDenmarkPayload",
    "Envelope",
    "Event",
    "HotlineCallReceived",
    "HotlineCallReceivedPayload",
    "InvalidEvent",
    "LogEventType",
    "OutreachActivityLogged",
    "OutreachActivityLoggedPayload",
    "SchemaVersion",
    "Strict",
    "SupportOffered",
    "SupportOfferedPayload",
    "SupportStatusChanged",
    "SupportStatusChangedPayload",
    "Timestamp",
    "duplicate_key",
    "first_reason",
    "latest_recorded_at",
    "parse_event",
    "refuse_duplicate_keys",
    "to_record",
    "utc_iso",
    "validate_event",
]

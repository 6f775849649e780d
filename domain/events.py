"""The event contract: a versioned JSON envelope with a typed payload per event type.

Every event the centre and its partners record travels as one JSON object::

    {"event_id": "<uuid>", "type": "AssessmentDecided", "schema_version": 1,
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
"""

from __future__ import annotations

import contextlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError, core_schema

from domain.codes import (
    Accommodation,
    Authority,
    CallerType,
    CallReason,
    Channel,
    CorrectionAction,
    ExploitationForm,
    Gender,
    Industry,
    Outcome,
    OutreachMeasure,
    Period,
    Place,
    ReturnSupport,
    Source,
    SupportStatus,
)
from domain.countries import COUNTRIES

SCHEMA_VERSION = 1

PERSON_REF_PATTERN = r"^[A-Z]{1,8}-[0-9a-f]{8,64}$"
# CPR numbers have 10 digits and phone numbers 8 to 12 (with country code): a token of only
# digits of that length is refused as a likely accident.
_DIGITS_ONLY = re.compile(r"^[0-9]{8,12}$")

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(minutes=5)
"""How far ``recorded_at`` may lie ahead of the validating clock by default: producers'
clocks drift a little; an event cannot be recorded later than now."""


CaseEventType = Literal[
    "ContactRegistered",
    "AssessmentDecided",
    "SupportOffered",
    "SupportStatusChanged",
    "AccommodationChanged",
    "DepartedDenmark",
]
LogEventType = Literal["HotlineCallReceived", "OutreachActivityLogged"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


# ----------------------------------------------------------------------------------------------
# Payloads


class ContactRegisteredPayload(_Strict):
    """A partner or the centre met, or was told about, a possible victim."""

    channel: Channel
    place: Place | None = None


class AssessmentDecidedPayload(_Strict):
    """An official assessment of whether the person is a victim of trafficking.

    ``exploitation`` is the primary form (one per person, as the annual report counts them);
    ``industry`` is required for forced labour and forbidden otherwise.
    """

    authority: Authority
    outcome: Outcome
    exploitation: ExploitationForm | None = None
    industry: Industry | None = None
    citizenship: Annotated[str, Field(min_length=2, max_length=2)]
    gender: Gender
    age: Annotated[int, Field(ge=0, le=120)]
    legal_residence: bool

    @field_validator("citizenship")
    @classmethod
    def _known_country(cls, value: str) -> str:
        if value not in COUNTRIES:
            raise ValueError(f"unknown ISO 3166-1 alpha-2 country code {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.outcome is Outcome.VICTIM and self.exploitation is None:
            raise ValueError("exploitation is required when outcome is 'victim'")
        if self.exploitation is ExploitationForm.FORCED_LABOUR and self.industry is None:
            raise ValueError("industry is required when exploitation is 'forced_labour'")
        if self.industry is not None and self.exploitation is not ExploitationForm.FORCED_LABOUR:
            raise ValueError("industry is only allowed when exploitation is 'forced_labour'")
        # Danish practice: the Immigration Service assesses people without legal residence,
        # the centre those with it. A mismatch is a data-entry error, not a new kind of case.
        if self.legal_residence != (self.authority is Authority.CMM):
            expected = "cmm" if self.legal_residence else "immigration_service"
            raise ValueError(
                f"authority must be '{expected}' when legal_residence is "
                f"{str(self.legal_residence).lower()}"
            )
        return self


class SupportOfferedPayload(_Strict):
    """The centre offered support (reflection period, accommodation, health care)."""

    reflection_days: Annotated[int, Field(ge=0, le=365)] | None = None


class SupportStatusChangedPayload(_Strict):
    status: SupportStatus
    return_support: ReturnSupport | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.status is SupportStatus.NONE:
            raise ValueError("status 'none' is a report category and cannot be recorded")
        if (
            self.return_support is not None
            and self.status is not SupportStatus.RETURN_SUPPORTED_CMM
        ):
            raise ValueError("return_support is only allowed when status is 'return_supported_cmm'")
        return self


class AccommodationChangedPayload(_Strict):
    accommodation: Accommodation


class DepartedDenmarkPayload(_Strict):
    destination: Annotated[str, Field(min_length=2, max_length=2)] | None = None

    @field_validator("destination")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is not None and value not in COUNTRIES:
            raise ValueError(f"unknown ISO 3166-1 alpha-2 country code {value!r}")
        return value


class HotlineCallReceivedPayload(_Strict):
    caller: CallerType
    reason: CallReason


class OutreachActivityLoggedPayload(_Strict):
    """What an outreach team did over one period at one place."""

    place: Place
    period: Period
    measures: Annotated[dict[OutreachMeasure, Annotated[int, Field(ge=0)]], Field(min_length=1)]


class CorrectionRecordedPayload(_Strict):
    """Corrects or retracts an earlier event. Nothing is ever edited: the correction is a new
    fact, and reports as of a date before it was recorded still show the original."""

    target_event_id: UUID
    target_type: CaseEventType | LogEventType
    action: CorrectionAction
    replacement: dict[str, Any] | None = None
    reason: Annotated[str, Field(max_length=500)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.action is CorrectionAction.RETRACT and self.replacement is not None:
            raise ValueError("replacement is not allowed when action is 'retract'")
        if self.action is CorrectionAction.REPLACE:
            if self.replacement is None:
                raise ValueError("replacement is required when action is 'replace'")
            try:
                # With the same strict JSON semantics as the event that carries it.
                PAYLOADS[self.target_type].model_validate_json(
                    json.dumps(self.replacement), strict=True
                )
            except ValidationError as error:
                raise ValueError(
                    f"replacement is not a valid {self.target_type} payload: {first_reason(error)}"
                ) from None
        return self


PAYLOADS: dict[str, type[_Strict]] = {
    "ContactRegistered": ContactRegisteredPayload,
    "AssessmentDecided": AssessmentDecidedPayload,
    "SupportOffered": SupportOfferedPayload,
    "SupportStatusChanged": SupportStatusChangedPayload,
    "AccommodationChanged": AccommodationChangedPayload,
    "DepartedDenmark": DepartedDenmarkPayload,
    "HotlineCallReceived": HotlineCallReceivedPayload,
    "OutreachActivityLogged": OutreachActivityLoggedPayload,
    "CorrectionRecorded": CorrectionRecordedPayload,
}
CASE_EVENT_TYPES = frozenset(
    {
        "ContactRegistered",
        "AssessmentDecided",
        "SupportOffered",
        "SupportStatusChanged",
        "AccommodationChanged",
        "DepartedDenmark",
    }
)
LOG_EVENT_TYPES = frozenset({"HotlineCallReceived", "OutreachActivityLogged"})
EVENT_TYPES = tuple(PAYLOADS)


# ----------------------------------------------------------------------------------------------
# Envelopes


_EARLIEST_ISO = "1990-01-01T00:00:00.000000Z"
_LATEST_ISO = "2100-01-01T00:00:00.000000Z"
_MOMENT: TypeAdapter[datetime] = TypeAdapter(
    Annotated[AwareDatetime, Field(ge=EARLIEST, lt=LATEST)]
)


def _utc_timestamp(value: Any) -> str:
    """A moment as the store keeps it: UTC, fixed width, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, so
    that string order is time order.

    Producers that already send this form (the simulator, the producer client and every
    stored record do) take the fast path: the calendar is checked by the standard library
    and the string is kept as it came. Bulk ingest validates every event, and formatting a
    datetime back to text costs more here than the rest of the envelope's checks. Any other
    ISO 8601 moment with an offset is parsed and normalised; pydantic's own datetime
    validation supplies the reason when it is not one."""
    if (
        type(value) is str
        and len(value) == 27
        and value[26] == "Z"
        and value[10] == "T"
        and value[19] == "."
        and _EARLIEST_ISO <= value < _LATEST_ISO
    ):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return value
    moment: Any = value
    if isinstance(value, str):
        # JSON carries a moment as ISO 8601 text: "1330596000" (Unix time, which pydantic
        # would take) and "20120301T100000Z" (basic format) are not the contract's form.
        if len(value) < 16 or value[4] != "-" or value[10] not in "Tt ":
            raise PydanticCustomError(
                "datetime_from_date_parsing",
                "Input should be an ISO 8601 date and time with a UTC offset, "
                "e.g. 2012-03-01T10:00:00Z",
            )
        with contextlib.suppress(ValueError):  # if not, pydantic says what is wrong
            moment = datetime.fromisoformat(value)
    elif not isinstance(value, datetime):
        # Strict: a number or a boolean is not a moment, whatever pydantic could make of it.
        raise PydanticCustomError("datetime_type", "Input should be a valid datetime string")
    if (
        isinstance(moment, datetime)
        and moment.utcoffset() is not None
        and EARLIEST <= moment < LATEST
    ):
        return utc_iso(moment)
    try:
        moment = _MOMENT.validate_python(moment)
    except ValidationError as error:
        problem = error.errors(include_url=False, include_input=False)[0]
        raise PydanticCustomError(problem["type"], problem["msg"]) from None
    return utc_iso(moment)


def _schema_version_schema(source: Any, handler: Any) -> core_schema.CoreSchema:
    # ``Literal[1]`` takes ``1.0`` and ``true`` even in strict mode (they equal 1 in Python):
    # a strict integer first, in compiled code, then the literal.
    return core_schema.chain_schema(
        [core_schema.int_schema(strict=True), core_schema.literal_schema([SCHEMA_VERSION])]
    )


class _SchemaVersionMarker:
    __get_pydantic_core_schema__ = staticmethod(_schema_version_schema)


SchemaVersion = Annotated[
    Literal[1],
    _SchemaVersionMarker(),
    WithJsonSchema({"type": "integer", "const": SCHEMA_VERSION}),
]
"""The contract's version: the JSON integer 1 (not 1.0, not true)."""


def _timestamp_schema(source: Any, handler: Any) -> core_schema.CoreSchema:
    # ``PlainValidator`` would serialise through a Python wrapper (``lambda v, h: h(v)``),
    # a call from compiled code into Python for every timestamp every time an event is
    # stored; the value is the text already, so compiled code writes it as a string.
    return core_schema.no_info_plain_validator_function(
        _utc_timestamp, serialization=core_schema.simple_ser_schema("str")
    )


class _TimestampMarker:
    __get_pydantic_core_schema__ = staticmethod(_timestamp_schema)


Timestamp = Annotated[
    str,
    _TimestampMarker(),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""A moment with a UTC offset in [1990, 2100), held as a fixed-width UTC string."""


class _Envelope(_Strict):
    event_id: UUID
    schema_version: SchemaVersion
    occurred_at: Timestamp
    recorded_at: Timestamp
    source: Source
    person_ref: Annotated[str, Field(pattern=PERSON_REF_PATTERN)] | None = None

    # One after-validator for all cross-field rules: validators written in Python cost more
    # than the rest of validation together, and bulk ingest validates every event.
    @model_validator(mode="after")
    def _envelope_rules(self) -> Self:
        if self.recorded_at < self.occurred_at:
            raise ValueError(
                "recorded_at is before occurred_at: an event cannot be recorded before it happened"
            )
        kind = getattr(self, "type", None)
        if self.person_ref is None:
            if kind in CASE_EVENT_TYPES:
                raise ValueError(f"person_ref is required for {kind}")
        else:
            if kind in LOG_EVENT_TYPES:
                raise ValueError(
                    f"person_ref is not allowed for {kind}: it is not about one person"
                )
            if _DIGITS_ONLY.match(self.person_ref.split("-", 1)[1]):
                raise ValueError("person_ref token is all digits: it may be a CPR or phone number")
        return self

    @property
    def is_case_event(self) -> bool:
        return self.person_ref is not None


class ContactRegistered(_Envelope):
    type: Literal["ContactRegistered"]
    payload: ContactRegisteredPayload


class AssessmentDecided(_Envelope):
    type: Literal["AssessmentDecided"]
    payload: AssessmentDecidedPayload


class SupportOffered(_Envelope):
    type: Literal["SupportOffered"]
    payload: SupportOfferedPayload


class SupportStatusChanged(_Envelope):
    type: Literal["SupportStatusChanged"]
    payload: SupportStatusChangedPayload


class AccommodationChanged(_Envelope):
    type: Literal["AccommodationChanged"]
    payload: AccommodationChangedPayload


class DepartedDenmark(_Envelope):
    type: Literal["DepartedDenmark"]
    payload: DepartedDenmarkPayload


class HotlineCallReceived(_Envelope):
    type: Literal["HotlineCallReceived"]
    payload: HotlineCallReceivedPayload


class OutreachActivityLogged(_Envelope):
    type: Literal["OutreachActivityLogged"]
    payload: OutreachActivityLoggedPayload


class CorrectionRecorded(_Envelope):
    """A correction of a case event carries the person_ref of that case; a correction of a
    hotline call or outreach log carries none."""

    type: Literal["CorrectionRecorded"]
    payload: CorrectionRecordedPayload

    @model_validator(mode="after")
    def _stream(self) -> Self:
        target_is_case = self.payload.target_type in CASE_EVENT_TYPES
        if target_is_case and self.person_ref is None:
            raise ValueError("person_ref is required to correct a case event")
        if not target_is_case and self.person_ref is not None:
            raise ValueError("person_ref is not allowed when correcting a log event")
        return self


Event = Annotated[
    ContactRegistered
    | AssessmentDecided
    | SupportOffered
    | SupportStatusChanged
    | AccommodationChanged
    | DepartedDenmark
    | HotlineCallReceived
    | OutreachActivityLogged
    | CorrectionRecorded,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


class InvalidEvent(ValueError):
    """An event that breaks the contract; ``reason`` names the field."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def first_reason(error: ValidationError) -> str:
    """One line naming every failing field, e.g. ``payload.channel: Input should be ...``."""
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in item["loc"])
        # The discriminated union puts the type name first in the location: drop it.
        if item["loc"] and item["loc"][0] in PAYLOADS:
            loc = ".".join(str(p) for p in item["loc"][1:])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"].startswith("union_tag"):
            loc = "type"
            message = f"missing or unknown event type; expected one of: {', '.join(PAYLOADS)}"
        parts.append(f"{loc}: {message}" if loc else message)
    return "; ".join(parts)


def latest_recorded_at(now: datetime, skew: timedelta = CLOCK_SKEW) -> str:
    """The latest ``recorded_at`` accepted when the clock reads ``now``, as stored text."""
    return utc_iso(min(now + skew, LATEST - timedelta(microseconds=1)))


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


def utc_iso(moment: datetime) -> str:
    """Fixed width, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, so that string order is time order."""
    if moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def to_record(event: Event) -> dict[str, Any]:
    """The event as plain JSON values, exactly as it is stored: timestamps in UTC as
    fixed-width ISO 8601 with a ``Z`` (so they sort as strings), codes as their string values,
    no nulls."""
    record: dict[str, Any] = {
        "event_id": str(event.event_id),
        "type": event.type,
        "schema_version": event.schema_version,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "source": event.source.value,
    }
    if event.person_ref is not None:
        record["person_ref"] = event.person_ref
    record["payload"] = event.payload.model_dump(mode="json", exclude_none=True)
    return record

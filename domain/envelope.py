"""The envelope every event travels in, and the event types: envelope and payload.

The envelope's cross-field rules are checked by one model validator, which states them for
the exported contract (``domain.rules``); :func:`to_record` writes an event as it is stored.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import (
    AwareDatetime,
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError, core_schema

from domain.codes import Source
from domain.payloads import (
    CASE_EVENT_TYPES,
    LOG_EVENT_TYPES,
    AccommodationChangedPayload,
    AssessmentDecidedPayload,
    ContactRegisteredPayload,
    CorrectionRecordedPayload,
    DepartedDenmarkPayload,
    HotlineCallReceivedPayload,
    OutreachActivityLoggedPayload,
    Strict,
    SupportOfferedPayload,
    SupportStatusChangedPayload,
    version_1_refusal,
)
from domain.rules import checks

SCHEMA_VERSION = 2
"""The contract's current version, which producers should write and readers see."""
SCHEMA_VERSIONS = (1, 2)
"""Every version accepted on the wire. Version 2 only adds to version 1 (codes, a nullable
age, fields of an assessment), so a version-1 event is read as version 2 by changing its
number alone (``domain.versions``)."""

PERSON_REF_PATTERN = r"^[A-Z]{1,8}-[0-9a-f]{8,64}$"
# CPR numbers have 10 digits and phone numbers 8 to 12 (with country code): a token of only
# digits of that length is refused as a likely accident.
_DIGITS_REFUSED = (8, 12)
_DIGITS_ONLY = re.compile(f"^[0-9]{{{_DIGITS_REFUSED[0]},{_DIGITS_REFUSED[1]}}}$")

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def utc_iso(moment: datetime) -> str:
    """Fixed width, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, so that string order is time order."""
    if moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


_EARLIEST_ISO, _LATEST_ISO = utc_iso(EARLIEST), utc_iso(LATEST)
_MOMENT: TypeAdapter[datetime] = TypeAdapter(
    Annotated[AwareDatetime, Field(ge=EARLIEST, lt=LATEST)]
)


@checks(f"{{fields}} lie in [{EARLIEST:%Y-%m-%d}, {LATEST:%Y-%m-%d}) and carry a UTC offset")
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
        [core_schema.int_schema(strict=True), core_schema.literal_schema(list(SCHEMA_VERSIONS))]
    )


class _SchemaVersionMarker:
    __get_pydantic_core_schema__ = staticmethod(_schema_version_schema)


SchemaVersion = Annotated[
    Literal[1, 2],
    _SchemaVersionMarker(),
    WithJsonSchema({"type": "integer", "enum": list(SCHEMA_VERSIONS)}),
]
"""The contract's version: the JSON integer 1 or 2 (not 2.0, not true)."""


def _timestamp_schema(source: Any, handler: Any) -> core_schema.CoreSchema:
    # ``PlainValidator`` would serialise through a Python wrapper (``lambda v, h: h(v)``),
    # a call from compiled code into Python for every timestamp every time an event is
    # stored; the value is the text already, so compiled code writes it as a string.
    return core_schema.no_info_plain_validator_function(
        _utc_timestamp, serialization=core_schema.simple_ser_schema("str")
    )


class _TimestampMarker:
    __get_pydantic_core_schema__ = staticmethod(_timestamp_schema)
    func = staticmethod(_utc_timestamp)  # the validator, whose rules the contract export reads


Timestamp = Annotated[
    str,
    _TimestampMarker(),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""A moment with a UTC offset in [1990, 2100), held as a fixed-width UTC string."""


class Envelope(Strict):
    """What every event carries besides its payload."""

    event_id: UUID
    schema_version: SchemaVersion
    occurred_at: Timestamp
    recorded_at: Timestamp
    source: Source
    person_ref: Annotated[str, Field(pattern=PERSON_REF_PATTERN)] | None = None

    # One after-validator for all cross-field rules: validators written in Python cost more
    # than the rest of validation together, and bulk ingest validates every event.
    @model_validator(mode="after")
    @checks(
        "recorded_at must not be before occurred_at",
        f"the token of person_ref must not be {_DIGITS_REFUSED[0]} to {_DIGITS_REFUSED[1]} digits "
        "only (it may be a CPR or phone number)",
    )
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


class ContactRegistered(Envelope):
    type: Literal["ContactRegistered"]
    payload: ContactRegisteredPayload


class AssessmentDecided(Envelope):
    type: Literal["AssessmentDecided"]
    payload: AssessmentDecidedPayload

    @model_validator(mode="after")
    @checks(
        "an assessment of schema_version 1 has an age and uses none of what version 2 added: "
        "kind, additional_forms, exploitation 'undetermined', gender 'unknown'"
    )
    def _version(self) -> Self:
        if self.schema_version == 1:
            refused = version_1_refusal(self.payload)
            if refused is not None:
                raise ValueError(f"{refused} needs schema_version 2")
        return self


class SupportOffered(Envelope):
    type: Literal["SupportOffered"]
    payload: SupportOfferedPayload


class SupportStatusChanged(Envelope):
    type: Literal["SupportStatusChanged"]
    payload: SupportStatusChangedPayload


class AccommodationChanged(Envelope):
    type: Literal["AccommodationChanged"]
    payload: AccommodationChangedPayload


class DepartedDenmark(Envelope):
    type: Literal["DepartedDenmark"]
    payload: DepartedDenmarkPayload


class HotlineCallReceived(Envelope):
    type: Literal["HotlineCallReceived"]
    payload: HotlineCallReceivedPayload


class OutreachActivityLogged(Envelope):
    type: Literal["OutreachActivityLogged"]
    payload: OutreachActivityLoggedPayload


class CorrectionRecorded(Envelope):
    """A correction of a case event carries the person_ref of that case; a correction of a
    hotline call or outreach log carries none."""

    type: Literal["CorrectionRecorded"]
    payload: CorrectionRecordedPayload

    @model_validator(mode="after")
    @checks("person_ref is required when correcting a case event, and not allowed for log events")
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

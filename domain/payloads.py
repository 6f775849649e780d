"""What each event type carries: one payload model per type, with the rules within it.

Types are checked strictly and unknown fields are refused (see ``domain.events``); a rule
that spans fields is checked by the payload's model validator, which states it for the
exported contract (``domain.rules``).
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Annotated, Any, Literal, Self, get_args
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from domain.codes import (
    Accommodation,
    AssessmentKind,
    Authority,
    CallerType,
    CallReason,
    Channel,
    CorrectionAction,
    CorrectionReason,
    ExploitationForm,
    Gender,
    Industry,
    Outcome,
    OutreachMeasure,
    Period,
    Place,
    ReturnSupport,
    SupportStatus,
)
from domain.countries import COUNTRIES
from domain.rules import checks

CaseEventType = Literal[
    "ContactRegistered",
    "AssessmentDecided",
    "SupportOffered",
    "SupportStatusChanged",
    "AccommodationChanged",
    "DepartedDenmark",
]
LogEventType = Literal["HotlineCallReceived", "OutreachActivityLogged"]


class Strict(BaseModel):
    """Any part of an event: unknown fields are refused, and nothing changes once made."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


def _known_country(value: str) -> str:
    if value not in COUNTRIES:
        raise ValueError(f"unknown ISO 3166-1 alpha-2 country code {value!r}")
    return value


Country = Annotated[
    str,
    Field(min_length=2, max_length=2),
    AfterValidator(_known_country),
    WithJsonSchema({"type": "string", "enum": sorted(COUNTRIES)}),
]
"""An ISO 3166-1 alpha-2 code of ``domain.countries`` (the exported schema lists them)."""


NOTE_MAX_LENGTH = 200
_DIGIT_RUN = re.compile(r"\d(?:[\s./()+-]?\d){5,}")
_E_MAIL = re.compile(r"[^\s@]+@[^\s@]+")


def _safe_note(value: str) -> str:
    """A note that cannot hold the usual personal identifiers or hide what it says."""
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"):
            # Cc: control characters (NUL, escape, newline); Cf: format characters, among
            # them the bidirectional overrides and isolates that make text read otherwise.
            raise ValueError(f"a control or bidirectional character (U+{ord(char):04X})")
    if _DIGIT_RUN.search(value):
        raise ValueError("six or more digits in a row, as in a CPR or phone number")
    if _E_MAIL.search(value):
        raise ValueError("an e-mail address")
    return value


Note = Annotated[
    str,
    Field(min_length=1, max_length=NOTE_MAX_LENGTH),
    AfterValidator(_safe_note),
]
"""A correction's short note: no control or bidirectional characters, no run of six or
more digits (a CPR number is ten, a Danish phone number eight) and no e-mail address."""


class ContactRegisteredPayload(Strict):
    """A partner or the centre met, or was told about, a possible victim."""

    channel: Channel
    place: Place | None = None


class AssessmentDecidedPayload(Strict):
    """An official assessment of whether the person is a victim of trafficking.

    ``exploitation`` is the primary form (one per person, as the annual report counts them),
    ``undetermined`` while it is not (yet) determined; ``additional_forms`` are further forms
    of exploitation of the same person besides the primary one (version 2). ``industry`` is
    required for forced labour and forbidden otherwise. ``age`` is null (or absent) when it
    is not known (version 2; version 1 requires it). ``kind`` says whether this is the first
    assessment or a reassessment or appeal, which supersedes every earlier one (version 2;
    absent means ``initial``).
    """

    authority: Authority
    outcome: Outcome
    exploitation: ExploitationForm | None = None
    additional_forms: (
        Annotated[tuple[ExploitationForm, ...], Field(min_length=1, max_length=6)] | None
    ) = None
    industry: Industry | None = None
    citizenship: Country
    gender: Gender
    age: Annotated[int, Field(ge=0, le=120)] | None = None
    legal_residence: bool
    kind: AssessmentKind | None = None

    @model_validator(mode="after")
    @checks(
        "exploitation is required when outcome is 'victim'",
        "industry is required when exploitation is 'forced_labour', and allowed only then",
        "authority is 'cmm' when legal_residence is true, 'immigration_service' when false",
        "additional_forms lists each form at most once, neither the primary exploitation nor "
        "'undetermined', and only when exploitation is a determined form",
    )
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
        if self.additional_forms is not None:
            self._check_additional_forms(self.additional_forms)
        return self

    def _check_additional_forms(self, forms: tuple[ExploitationForm, ...]) -> None:
        if self.exploitation is None or self.exploitation is ExploitationForm.UNDETERMINED:
            raise ValueError(
                "additional_forms is only allowed when exploitation is a determined form"
            )
        if ExploitationForm.UNDETERMINED in forms:
            raise ValueError("additional_forms must not list 'undetermined'")
        if self.exploitation in forms:
            raise ValueError("additional_forms must not repeat the primary exploitation")
        if len(set(forms)) != len(forms):
            raise ValueError("additional_forms lists a form more than once")


def version_1_refusal(payload: AssessmentDecidedPayload) -> str | None:
    """Why ``payload`` cannot be a version-1 assessment, or None when it can."""
    if payload.kind is not None:
        return "kind"
    if payload.additional_forms is not None:
        return "additional_forms"
    if payload.exploitation is ExploitationForm.UNDETERMINED:
        return "exploitation 'undetermined'"
    if payload.gender is Gender.UNKNOWN:
        return "gender 'unknown'"
    if payload.age is None:
        return "a null or absent age"
    return None


class SupportOfferedPayload(Strict):
    """The centre offered support (reflection period, accommodation, health care)."""

    reflection_days: Annotated[int, Field(ge=0, le=365)] | None = None


class SupportStatusChangedPayload(Strict):
    status: SupportStatus
    return_support: ReturnSupport | None = None

    @model_validator(mode="after")
    @checks(
        "status 'none' is a report category and cannot be recorded",
        "return_support is only allowed when status is 'return_supported_cmm'",
    )
    def _consistent(self) -> Self:
        if self.status is SupportStatus.NONE:
            raise ValueError("status 'none' is a report category and cannot be recorded")
        if (
            self.return_support is not None
            and self.status is not SupportStatus.RETURN_SUPPORTED_CMM
        ):
            raise ValueError("return_support is only allowed when status is 'return_supported_cmm'")
        return self


class AccommodationChangedPayload(Strict):
    accommodation: Accommodation


class DepartedDenmarkPayload(Strict):
    destination: Country | None = None


class HotlineCallReceivedPayload(Strict):
    caller: CallerType
    reason: CallReason


class OutreachActivityLoggedPayload(Strict):
    """What an outreach team did over one period at one place."""

    place: Place
    period: Period
    measures: Annotated[dict[OutreachMeasure, Annotated[int, Field(ge=0)]], Field(min_length=1)]


class CorrectionRecordedPayload(Strict):
    """Corrects or retracts an earlier event. Nothing is ever edited: the correction is a new
    fact, and reports as of a date before it was recorded still show the original."""

    target_event_id: UUID
    target_type: CaseEventType | LogEventType
    action: CorrectionAction
    replacement: dict[str, Any] | None = None
    reason: CorrectionReason | None = None
    note: Note | None = None

    @model_validator(mode="after")
    @checks(
        "replacement is required for action 'replace' and must be a valid payload of "
        "target_type; not allowed for action 'retract'"
    )
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


PAYLOADS: dict[str, type[Strict]] = {
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
CASE_EVENT_TYPES: frozenset[str] = frozenset(get_args(CaseEventType))
LOG_EVENT_TYPES: frozenset[str] = frozenset(get_args(LogEventType))
EVENT_TYPES = tuple(PAYLOADS)


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

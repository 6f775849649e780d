"""The event contract: what it accepts, what it refuses, and the reason it gives."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.codes import Channel, Place
from domain.events import (
    InvalidEvent,
    latest_recorded_at,
    parse_event,
    to_record,
    validate_event,
)


def envelope(kind: str, payload: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "schema_version": 1,
        "occurred_at": "2012-03-01T10:00:00Z",
        "recorded_at": "2012-03-02T08:00:00Z",
        "source": "cmm",
        "person_ref": "P-3fa9c2e1b7d4",
        "payload": payload,
    }
    event.update(overrides)
    return {k: v for k, v in event.items() if v is not None}


ANY_TIME = "2099-12-31T23:59:59.999999Z"

ASSESSMENT = {
    "authority": "immigration_service",
    "outcome": "victim",
    "exploitation": "forced_labour",
    "industry": "cleaning",
    "citizenship": "NG",
    "gender": "female",
    "age": 30,
    "legal_residence": False,
}

VALID = [
    envelope("ContactRegistered", {"channel": "police", "place": "police_station"}),
    envelope("AssessmentDecided", ASSESSMENT),
    envelope("SupportOffered", {"reflection_days": 30}),
    envelope(
        "SupportStatusChanged",
        {"status": "return_supported_cmm", "return_support": "equal_to_prepared_return"},
    ),
    envelope("AccommodationChanged", {"accommodation": "crisis_centre"}),
    envelope("DepartedDenmark", {"destination": "NG"}),
    envelope(
        "HotlineCallReceived",
        {"caller": "police", "reason": "upcoming_police_action"},
        person_ref=None,
    ),
    envelope(
        "OutreachActivityLogged",
        {"place": "street_odense", "period": "session", "measures": {"visits": 1}},
        person_ref=None,
    ),
    envelope(
        "CorrectionRecorded",
        {
            "target_event_id": str(uuid.uuid4()),
            "target_type": "ContactRegistered",
            "action": "replace",
            "replacement": {"channel": "prison"},
        },
    ),
]


@pytest.mark.parametrize("event", VALID, ids=lambda e: e["type"])
def test_every_event_type_is_accepted_and_stored_as_plain_json(event: dict[str, Any]) -> None:
    record = to_record(parse_event(json.dumps(event)))
    assert record["type"] == event["type"]
    assert record["occurred_at"] == "2012-03-01T10:00:00.000000Z"
    json.dumps(record)  # plain JSON values only


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (
            envelope("ContactRegistered", {"channel": "police", "colour": "red"}),
            r"payload\.colour: Extra inputs are not permitted",
        ),
        (envelope("ContactRegistered", {"channel": "carrier_pigeon"}), r"payload\.channel: Input"),
        (
            envelope(
                "ContactRegistered", {"channel": "police"}, occurred_at="2012-02-30T10:00:00Z"
            ),
            r"occurred_at: .*day value is outside expected range",
        ),
        (
            envelope("ContactRegistered", {"channel": "police"}, occurred_at="2012-03-01T10:00:00"),
            r"occurred_at: Input should have timezone info",
        ),
        (
            envelope(
                "ContactRegistered", {"channel": "police"}, recorded_at="2012-02-01T10:00:00Z"
            ),
            r"recorded_at is before occurred_at",
        ),
        (
            envelope("ContactRegistered", {"channel": "police"}, person_ref=None),
            r"person_ref is required for ContactRegistered",
        ),
        (
            envelope("ContactRegistered", {"channel": "police"}, person_ref="Anna Jensen"),
            r"person_ref: String should match pattern",
        ),
        (
            envelope("ContactRegistered", {"channel": "police"}, person_ref="CPR-0101901234"),
            r"all digits: it may be a CPR or phone number",
        ),
        (
            envelope("HotlineCallReceived", {"caller": "police", "reason": "other"}),
            r"person_ref is not allowed for HotlineCallReceived",
        ),
        (
            envelope("AssessmentDecided", {**ASSESSMENT, "citizenship": "ZZ"}),
            r"payload\.citizenship: .*unknown ISO 3166-1 alpha-2 country code 'ZZ'",
        ),
        (
            envelope("AssessmentDecided", {**ASSESSMENT, "industry": None}),
            r"industry is required when exploitation is 'forced_labour'",
        ),
        (
            envelope("AssessmentDecided", {**ASSESSMENT, "exploitation": "sexual_exploitation"}),
            r"industry is only allowed when exploitation is 'forced_labour'",
        ),
        (
            envelope("AssessmentDecided", {**ASSESSMENT, "legal_residence": True}),
            r"authority must be 'cmm' when legal_residence is true",
        ),
        (envelope("AssessmentDecided", {**ASSESSMENT, "age": 130}), r"payload\.age: Input should"),
        (
            envelope(
                "CorrectionRecorded",
                {
                    "target_event_id": str(uuid.uuid4()),
                    "target_type": "ContactRegistered",
                    "action": "replace",
                    "replacement": {"channel": "x"},
                },
            ),
            r"replacement is not a valid ContactRegistered payload: channel",
        ),
        (envelope("Rumour", {}), r"type: missing or unknown event type"),
        (
            {**envelope("SupportOffered", {}), "schema_version": 3},
            r"schema_version: Input should be 1 or 2",
        ),
    ],
)
def test_invalid_events_are_refused_with_a_reason_naming_the_field(
    event: dict[str, Any], reason: str
) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        parse_event(json.dumps(event))


def test_malformed_json_is_refused_too() -> None:
    with pytest.raises(InvalidEvent, match="Invalid JSON"):
        parse_event(b"{not json")


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2012-03-01T10:00:00.250000Z", "2012-03-01T10:00:00.250000Z"),  # already canonical
        ("2012-03-01T10:00:00Z", "2012-03-01T10:00:00.000000Z"),
        ("2012-03-01T11:00:00+01:00", "2012-03-01T10:00:00.000000Z"),
        ("2012-03-01T10:00:00.5-02:00", "2012-03-01T12:00:00.500000Z"),
        (datetime(2012, 3, 1, 10, tzinfo=UTC), "2012-03-01T10:00:00.000000Z"),
    ],
)
def test_timestamps_are_held_as_fixed_width_utc_text(given: Any, stored: str) -> None:
    event = validate_event(envelope("SupportOffered", {}, occurred_at=given, recorded_at=given))
    assert event.occurred_at == stored
    assert event.recorded_at == stored


@pytest.mark.parametrize(
    ("moment", "reason"),
    [
        # Canonical in shape, yet not a day of the calendar or outside the accepted years:
        # the fast path for canonical text must not let these through.
        ("2012-02-30T10:00:00.000000Z", r"occurred_at: .*day value is outside expected range"),
        ("1989-12-31T23:59:59.999999Z", r"occurred_at: Input should be greater than or equal"),
        ("2100-01-01T00:00:00.000000Z", r"occurred_at: Input should be less than"),
        ("2012-03-01T10:00:00.000000X", r"occurred_at: Input should be a valid datetime"),
        ("2012-03-01 10:00:00.000000", r"occurred_at: Input should have timezone info"),
    ],
)
def test_timestamps_outside_the_contract_are_refused(moment: str, reason: str) -> None:
    event = envelope("SupportOffered", {}, occurred_at=moment, recorded_at="2013-01-01T00:00:00Z")
    with pytest.raises(InvalidEvent, match=reason):
        parse_event(json.dumps(event))


moments = st.datetimes(
    min_value=datetime(1991, 1, 1),
    max_value=datetime(2098, 12, 31),
    timezones=st.sampled_from([UTC, *(timezone(timedelta(hours=h)) for h in (-5, 1, 2, 9))]),
)


@given(
    occurred=moments,
    delay=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
    channel=st.sampled_from(list(Channel)),
    place=st.none() | st.sampled_from(list(Place)),
    token=st.text("0123456789abcdef", min_size=8, max_size=32),
)
def test_a_stored_record_validates_again_to_itself(
    occurred: datetime, delay: timedelta, channel: Channel, place: Place | None, token: str
) -> None:
    if token.isdigit() and len(token) <= 12:
        token = "a" + token[1:]
    recorded = occurred + delay
    if recorded.astimezone(UTC).year > 2099:
        return
    payload: dict[str, Any] = {"channel": channel.value}
    if place is not None:
        payload["place"] = place.value
    event = envelope(
        "ContactRegistered",
        payload,
        person_ref=f"NGO-{token}",
        occurred_at=occurred.isoformat(),
        recorded_at=recorded.isoformat(),
    )
    # Moments up to 2099: what the contract's range allows, the clock aside.
    record = to_record(validate_event(event, not_after=ANY_TIME))
    assert to_record(validate_event(record, not_after=ANY_TIME)) == record
    assert record["occurred_at"] <= record["recorded_at"]  # fixed width: string order is time


# ----------------------------------------------------------------------------------------------
# Strict types: JSON's own types, no coercion


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (
            envelope("AssessmentDecided", {**ASSESSMENT, "age": True}),
            r"payload\.age: Input should be a valid integer",
        ),
        (
            envelope("AssessmentDecided", {**ASSESSMENT, "age": "30"}),
            r"payload\.age: Input should be a valid integer",
        ),
        (
            envelope("AssessmentDecided", {**ASSESSMENT, "age": 30.0}),
            r"payload\.age: Input should be a valid integer",
        ),
        (
            envelope("AssessmentDecided", {**ASSESSMENT, "legal_residence": "no"}),
            r"payload\.legal_residence: Input should be a valid boolean",
        ),
        (
            envelope("AssessmentDecided", {**ASSESSMENT, "legal_residence": 0}),
            r"payload\.legal_residence: Input should be a valid boolean",
        ),
        (
            {**envelope("SupportOffered", {}), "schema_version": 1.0},
            r"schema_version: Input should be a valid integer",
        ),
        (
            {**envelope("SupportOffered", {}), "schema_version": True},
            r"schema_version: Input should be a valid integer",
        ),
        (
            {**envelope("SupportOffered", {}), "schema_version": "1"},
            r"schema_version: Input should be a valid integer",
        ),
        (
            envelope("SupportOffered", {"reflection_days": "30"}),
            r"payload\.reflection_days: Input should be a valid integer",
        ),
        (
            envelope(
                "OutreachActivityLogged",
                {"place": "street_odense", "period": "session", "measures": {"visits": True}},
                person_ref=None,
            ),
            r"payload\.measures\.visits: Input should be a valid integer",
        ),
        (
            envelope("SupportOffered", {}, occurred_at=1330596000),
            r"occurred_at: Input should be a valid datetime string",
        ),
        (
            envelope("SupportOffered", {}, occurred_at="1330596000"),
            r"occurred_at: Input should be an ISO 8601 date and time with a UTC offset",
        ),
        (envelope("SupportOffered", {}, event_id=12345), r"event_id: UUID input should be"),
        (
            envelope(
                "CorrectionRecorded",
                {
                    "target_event_id": str(uuid.uuid4()),
                    "target_type": "AssessmentDecided",
                    "action": "replace",
                    "replacement": {**ASSESSMENT, "age": "31"},
                },
            ),
            r"replacement is not a valid AssessmentDecided payload: age: Input should be a valid "
            r"integer",
        ),
    ],
)
def test_wrong_json_types_are_refused_not_coerced(event: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason) as refused:
        parse_event(json.dumps(event))
    # The reason names the field, never the value sent.
    assert "'30'" not in refused.value.reason and "'no'" not in refused.value.reason


def test_strings_stand_for_timestamps_uuids_and_codes_in_strict_mode() -> None:
    event = parse_event(json.dumps(envelope("AssessmentDecided", ASSESSMENT)))
    assert isinstance(event.event_id, uuid.UUID)
    assert event.payload.age == 30  # type: ignore[union-attr]
    assert event.payload.legal_residence is False  # type: ignore[union-attr]


# ----------------------------------------------------------------------------------------------
# Duplicate keys


@pytest.mark.parametrize(
    ("text", "field"),
    [
        # The second age is the one the parser keeps: a valid event, if duplicates passed.
        (
            json.dumps(envelope("AssessmentDecided", ASSESSMENT)).replace(
                '"age": 30', '"age": 30, "age": 16'
            ),
            "payload.age",
        ),
        (
            json.dumps(envelope("SupportOffered", {}), separators=(",", ":")).replace(
                '"source":"cmm"', '"source":"police","source":"cmm"'
            ),
            "source",
        ),
        # Whitespace before the colon hides the second key from a count of '":'.
        (
            json.dumps(envelope("SupportOffered", {})).replace(
                '"source": "cmm"', '"source" : "police", "source": "cmm"'
            ),
            "source",
        ),
        (
            json.dumps(
                envelope(
                    "OutreachActivityLogged",
                    {"place": "street_odense", "period": "session", "measures": {"visits": 1}},
                    person_ref=None,
                )
            ).replace('"visits": 1', '"visits": 1, "visits": 2'),
            "payload.measures.visits",
        ),
        (
            json.dumps(VALID[-1]).replace(
                '"channel": "prison"', '"channel": "x", "channel": "prison"'
            ),
            "payload.replacement.channel",
        ),
    ],
)
def test_a_key_named_twice_is_refused_with_its_path(text: str, field: str) -> None:
    for raw in (text, text.encode()):
        with pytest.raises(InvalidEvent, match=rf"^{field}: the key appears more than once"):
            parse_event(raw)


@pytest.mark.parametrize("event", VALID, ids=lambda e: e["type"])
def test_text_with_colons_and_whitespace_but_no_duplicate_is_accepted(
    event: dict[str, Any],
) -> None:
    for text in (
        json.dumps(event),
        json.dumps(event, separators=(",", ":")),
        json.dumps(event, indent=2),
        json.dumps(event).replace('": ', '"\t :'),
    ):
        parse_event(text)
        parse_event(text.encode())


def test_a_string_holding_a_quote_and_a_colon_is_no_duplicate() -> None:
    correction = {**VALID[-1]["payload"], "note": 'caller said \\": wrong channel'}
    parse_event(json.dumps({**VALID[-1], "payload": correction}))


# ----------------------------------------------------------------------------------------------
# The future


def test_an_event_recorded_in_the_future_is_refused() -> None:
    now = datetime.now(UTC)
    late = (now + timedelta(minutes=10)).isoformat()
    event = envelope("SupportOffered", {}, occurred_at="2012-03-01T10:00:00Z", recorded_at=late)
    with pytest.raises(InvalidEvent, match=r"^recorded_at: is in the future"):
        parse_event(json.dumps(event))
    year_2099 = envelope("SupportOffered", {}, recorded_at="2099-01-01T00:00:00Z")
    with pytest.raises(InvalidEvent, match=r"^recorded_at: is in the future"):
        parse_event(json.dumps(year_2099))


def test_a_little_clock_skew_is_allowed_and_the_bound_is_the_callers() -> None:
    now = datetime(2012, 3, 2, 8, 0, tzinfo=UTC)
    bound = latest_recorded_at(now, timedelta(minutes=5))
    assert bound == "2012-03-02T08:05:00.000000Z"
    ahead = envelope("SupportOffered", {}, recorded_at="2012-03-02T08:04:59Z")
    parse_event(json.dumps(ahead), not_after=bound)
    beyond = envelope("SupportOffered", {}, recorded_at="2012-03-02T08:05:01Z")
    with pytest.raises(InvalidEvent, match=r"^recorded_at: is in the future"):
        parse_event(json.dumps(beyond), not_after=bound)
    # Historical data, recorded long ago, is what the centre ingests every day.
    parse_event(json.dumps(envelope("SupportOffered", {})))


def test_an_event_cannot_happen_after_it_was_recorded() -> None:
    event = envelope(
        "SupportOffered", {}, occurred_at="2012-03-02T08:00:01Z", recorded_at="2012-03-02T08:00:00Z"
    )
    with pytest.raises(InvalidEvent, match=r"recorded_at is before occurred_at"):
        parse_event(json.dumps(event))


# ----------------------------------------------------------------------------------------------
# Contract version 2

V2_SEXUAL = {
    **{k: v for k, v in ASSESSMENT.items() if k != "industry"},
    "exploitation": "sexual_exploitation",
}


def v2(payload: dict[str, Any]) -> dict[str, Any]:
    return envelope("AssessmentDecided", payload, schema_version=2)


@pytest.mark.parametrize(
    "payload",
    [
        {**V2_SEXUAL, "exploitation": "undetermined"},
        {**V2_SEXUAL, "gender": "unknown"},
        {**V2_SEXUAL, "age": None},
        {k: v for k, v in V2_SEXUAL.items() if k != "age"},
        {**V2_SEXUAL, "additional_forms": ["forced_labour", "forced_criminality"]},
        {**V2_SEXUAL, "kind": "reassessment"},
        {**V2_SEXUAL, "kind": "appeal", "outcome": "not_victim"},
        ASSESSMENT,  # everything version 1 said, version 2 says
    ],
)
def test_version_2_records_what_version_1_could_not(payload: dict[str, Any]) -> None:
    event = parse_event(json.dumps(v2(payload)), ANY_TIME)
    assert event.schema_version == 2
    record = to_record(event)
    assert parse_event(json.dumps(record), ANY_TIME) == event


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({**V2_SEXUAL, "exploitation": "undetermined"}, "exploitation 'undetermined' needs"),
        ({**V2_SEXUAL, "gender": "unknown"}, "gender 'unknown' needs schema_version 2"),
        ({**V2_SEXUAL, "age": None}, "a null or absent age needs schema_version 2"),
        ({**V2_SEXUAL, "kind": "appeal"}, "kind needs schema_version 2"),
        ({**V2_SEXUAL, "additional_forms": ["forced_labour"]}, "additional_forms needs"),
    ],
)
def test_version_1_keeps_its_meaning(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        parse_event(json.dumps(envelope("AssessmentDecided", payload)), ANY_TIME)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (
            {**V2_SEXUAL, "exploitation": "undetermined", "industry": "cleaning"},
            "industry is only allowed when exploitation is 'forced_labour'",
        ),
        (
            {**V2_SEXUAL, "additional_forms": ["sexual_exploitation"]},
            "additional_forms must not repeat the primary exploitation",
        ),
        (
            {**V2_SEXUAL, "additional_forms": ["undetermined"]},
            "additional_forms must not list 'undetermined'",
        ),
        (
            {**V2_SEXUAL, "additional_forms": ["forced_labour", "forced_labour"]},
            "additional_forms lists a form more than once",
        ),
        (
            {**V2_SEXUAL, "exploitation": "undetermined", "additional_forms": ["forced_labour"]},
            "additional_forms is only allowed when exploitation is a determined form",
        ),
        ({**V2_SEXUAL, "additional_forms": []}, r"payload\.additional_forms"),
        ({**V2_SEXUAL, "kind": "second_opinion"}, r"payload\.kind"),
        ({**V2_SEXUAL, "gender": "unspecified"}, r"payload\.gender"),
    ],
)
def test_version_2_rules(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        parse_event(json.dumps(v2(payload)), ANY_TIME)


def test_unknown_gender_and_other_are_told_apart_in_both_languages() -> None:
    from domain.codes import Gender

    assert Gender.UNKNOWN != Gender.OTHER
    assert "unknown" in Gender.UNKNOWN.label_en.lower()
    assert "ukendt" in Gender.UNKNOWN.label_da.lower()
    assert "unknown" not in Gender.OTHER.label_en.lower()


def test_age_bands_tell_minors_apart_and_ctdc_bands_derive_from_age() -> None:
    from domain.codes import AgeBand, AgeGroup, CtdcAgeBroad

    assert [AgeBand.of(a).value for a in (0, 14, 15, 17, 18, None)] == [
        "0-14",
        "0-14",
        "15-17",
        "15-17",
        "18-24",
        "unknown",
    ]
    assert [CtdcAgeBroad.of(a).value for a in (8, 9, 17, 18, 20, 21, 29, 30, 47, 48, None)] == [
        "0--8",
        "9--17",
        "9--17",
        "18--20",
        "18--20",
        "21--23",
        "27--29",
        "30--38",
        "39--47",
        "48+",
        "unknown",
    ]
    assert [AgeGroup.of(a).value for a in (17, 18, None)] == ["child", "adult", "unknown"]


# ----------------------------------------------------------------------------------------------
# A correction's reason is a code; its note cannot carry a person's identifiers


def _correction(**fields: Any) -> str:
    base = {k: v for k, v in VALID[-1]["payload"].items() if k not in ("reason", "note")}
    return json.dumps({**VALID[-1], "payload": {**base, **fields}})


def test_a_correction_takes_a_reason_code_and_a_short_note() -> None:
    event = parse_event(_correction(reason="data_entry_error", note="channel typed wrong"))
    assert event.payload.reason == "data_entry_error"  # type: ignore[union-attr]
    assert event.payload.note == "channel typed wrong"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"reason": "Anna Jensen asked for it"}, r"^payload\.reason: Input should be"),
        ({"reason": "other", "note": "CPR 010190-1234"}, r"^payload\.note: six or more digits"),
        ({"reason": "other", "note": "cpr 0101901234"}, r"^payload\.note: six or more digits"),
        ({"reason": "other", "note": "call +45 12 34 56 78"}, r"^payload\.note: six or more"),
        ({"reason": "other", "note": "mail anna@example.dk"}, r"^payload\.note: an e-mail"),
        ({"reason": "other", "note": "nul \u0000 here"}, r"^payload\.note: a control or bidi"),
        ({"reason": "other", "note": "abc\u202edcba"}, r"^payload\.note: a control or bidi"),
        ({"reason": "other", "note": "two\nlines"}, r"^payload\.note: a control or bidi"),
        ({"reason": "other", "note": "x" * 201}, r"^payload\.note: String should have at most"),
    ],
)
def test_a_correction_reason_or_note_that_could_carry_personal_data_is_refused(
    fields: dict[str, Any], reason: str
) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        parse_event(_correction(**fields))

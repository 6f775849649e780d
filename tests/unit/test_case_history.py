"""Tests for the case fold (``projections.case_fold``, ``case_fold_fast``): folding a person's
records into case state and facts.

The builders below validate every record against the event contract (``validate_event``) and
store it with ``to_record``, so the fold is tested on exactly what the store holds. The log and
report tests import them.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.codes import CaseFlag
from domain.events import to_record, validate_event
from projections.bitemporal import as_of_bound, normalise_timestamp
from projections.case_fold import CaseState, fold_case
from projections.case_fold_fast import case_projection, case_versions, fact_versions
from projections.case_rows import FACT_COLUMNS, FactRow, is_eu_citizen

PERSON = "P-0000abcd"
_ids = itertools.count(1)

Rec = dict[str, Any]


def ts(value: str) -> str:
    """A date ('2012-03-01') means noon that day; anything else is taken as is."""
    return f"{value}T12:00:00Z" if len(value) == 10 else value


def record(
    kind: str,
    payload: dict[str, Any],
    occurred: str,
    recorded: str | None = None,
    person: str | None = PERSON,
    source: str = "cmm",
    version: int = 1,
) -> Rec:
    data: dict[str, Any] = {
        "event_id": str(uuid.UUID(int=next(_ids))),
        "type": kind,
        "schema_version": version,
        "occurred_at": ts(occurred),
        "recorded_at": ts(recorded or occurred),
        "source": source,
        "payload": payload,
    }
    if person is not None:
        data["person_ref"] = person
    return to_record(validate_event(data))


def contact(on: str, channel: str = "police", place: str | None = None, **kw: Any) -> Rec:
    payload: dict[str, Any] = {"channel": channel}
    if place is not None:
        payload["place"] = place
    return record("ContactRegistered", payload, on, **kw)


def assessment(
    on: str,
    outcome: str = "victim",
    exploitation: str | None = "sexual_exploitation",
    industry: str | None = None,
    citizenship: str = "NG",
    gender: str = "female",
    age: int | None = 30,
    authority: str = "immigration_service",
    legal_residence: bool = False,
    v2: dict[str, Any] | None = None,
    **kw: Any,
) -> Rec:
    """An assessment; ``v2`` holds fields of contract version 2, and makes it a version-2
    event (so does an unknown age)."""
    payload: dict[str, Any] = {
        "authority": authority,
        "outcome": outcome,
        "citizenship": citizenship,
        "gender": gender,
        "age": age,
        "legal_residence": legal_residence,
    }
    if exploitation is not None:
        payload["exploitation"] = exploitation
    if industry is not None:
        payload["industry"] = industry
    if v2 is not None or age is None:
        payload.update(v2 or {})
        kw["version"] = 2
    return record("AssessmentDecided", payload, on, **kw)


def offer(on: str, **kw: Any) -> Rec:
    return record("SupportOffered", {"reflection_days": 30}, on, **kw)


def status(on: str, value: str, return_support: str | None = None, **kw: Any) -> Rec:
    payload: dict[str, Any] = {"status": value}
    if return_support is not None:
        payload["return_support"] = return_support
    return record("SupportStatusChanged", payload, on, **kw)


def accommodation(on: str, value: str, **kw: Any) -> Rec:
    return record("AccommodationChanged", {"accommodation": value}, on, **kw)


def departure(on: str, **kw: Any) -> Rec:
    return record("DepartedDenmark", {"destination": "NG"}, on, **kw)


def correction(target: Rec, on: str, replacement: dict[str, Any] | None = None, **kw: Any) -> Rec:
    payload: dict[str, Any] = {
        "target_event_id": target["event_id"],
        "target_type": target["type"],
        "action": "retract" if replacement is None else "replace",
    }
    if replacement is not None:
        payload["replacement"] = replacement
    kw.setdefault("person", target.get("person_ref"))
    return record("CorrectionRecorded", payload, on, **kw)


def victim_history(person: str = PERSON) -> list[Rec]:
    """A complete, consistent 2012 case: police contact to a prepared return via IOM."""
    return [
        contact("2012-03-01", "police", "police_station", person=person),
        assessment("2012-03-10", recorded="2012-03-12", person=person),
        offer("2012-03-10", person=person),
        accommodation("2012-03-11", "crisis_centre", person=person),
        status("2012-04-01", "accepted", person=person),
        status("2012-05-20", "prepared_return_iom", person=person),
        departure("2012-06-01", person=person),
    ]


# ----------------------------------------------------------------------------------------------


def test_a_complete_history_folds_into_the_victim_fact() -> None:
    state = fold_case(PERSON, victim_history())

    assert state.assessed and state.outcome == "victim"
    assert state.contacts == 1
    assert (state.first_contact_channel, state.first_contact_place) == ("police", "police_station")
    assert (state.status, state.status_on) == ("prepared_return_iom", "2012-05-20")
    assert state.accommodation == "crisis_centre"
    assert state.departed_on == "2012-06-01"
    assert state.days_in_denmark == (31 - 10) + 30 + 31 + 1  # 2012-03-10 to 2012-06-01
    assert state.flags == ()
    assert state.event_count == 7
    assert state.last_recorded_at == "2012-06-01T12:00:00.000000Z"

    fact = state.fact()
    assert fact is not None
    assert FACT_COLUMNS == (
        "person_ref",
        "year",
        "assessed_on",
        "authority",
        "channel",
        "channel_group",
        "place",
        "citizenship",
        "region",
        "exploitation",
        "additional_forms",
        "industry",
        "gender",
        "age",
        "age_band",
        "legal_residence",
        "eu_citizen",
        "status",
        "status_on",
        "return_support",
        "accommodation",
        "departed_on",
        "days_in_denmark",
        "reflection_days",
    )
    assert isinstance(fact, FactRow)
    assert fact.reflection_days == 30  # the offer's reflection period
    assert (fact.year, fact.assessed_on, fact.authority) == (
        2012,
        "2012-03-10",
        "immigration_service",
    )
    assert (fact.channel, fact.channel_group, fact.region) == ("police", "police", "africa")
    assert (fact.age, fact.age_band, fact.eu_citizen, fact.industry) == (30, "30-39", False, None)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_arrival_order_folds_to_the_same_state(data: st.DataObject) -> None:
    history = victim_history()
    history += [
        contact("2012-02-01", "street_outreach", "street_odense", recorded="2012-07-01"),
        correction(history[3], "2012-03-15", {"accommodation": "hotel"}),
        assessment("2012-08-01", outcome="not_victim", exploitation=None),
        status("2012-09-01", "left"),
        correction(
            {"event_id": str(uuid.uuid4()), "type": "DepartedDenmark"}, "2012-10-01", person=PERSON
        ),
    ]
    times = sorted({r["recorded_at"] for r in history})
    as_of = data.draw(st.sampled_from([None, "2012-03-12", *times]))
    in_order = fold_case(PERSON, history, as_of)
    shuffled = data.draw(st.permutations(history))

    assert fold_case(PERSON, shuffled, as_of) == in_order
    assert fold_case(PERSON, shuffled + shuffled[:3], as_of) == in_order  # redelivery
    assert fact_versions(PERSON, shuffled) == fact_versions(PERSON, history)


def test_as_of_excludes_events_recorded_later() -> None:
    history = victim_history()  # the assessment is recorded on 2012-03-12

    before = fold_case(PERSON, history, as_of="2012-03-11")
    on_the_day = fold_case(PERSON, history, as_of="2012-03-12")

    assert not before.assessed and before.fact() is None
    assert before.flags == ()
    assert on_the_day.assessed and on_the_day.fact() is not None
    assert on_the_day.status == "offered" and on_the_day.status_on == "2012-03-10"
    assert fold_case(PERSON, history, "2012-03-12T11:59:59Z").fact() is None


def test_a_late_record_of_an_earlier_contact_changes_the_first_channel_only_once_known() -> None:
    history = [*victim_history(), contact("2012-02-01", "prison", "prisons", recorded="2012-08-01")]

    assert fold_case(PERSON, history, "2012-07-31").first_contact_channel == "police"
    later = fold_case(PERSON, history, "2012-08-01")
    assert (later.first_contact_channel, later.first_contact_place) == ("prison", "prisons")
    assert later.contacts == 2 and later.contacts_by_year == ((2012, 2),)


def test_retraction_removes_the_target_from_its_own_recorded_at() -> None:
    history = victim_history()
    history.append(correction(history[1], "2012-09-01"))  # retract the assessment

    assert fold_case(PERSON, history, "2012-08-31").assessed
    after = fold_case(PERSON, history, "2012-09-01")
    assert not after.assessed and after.fact() is None and after.assessed_on is None
    assert after.event_count == 6
    assert after.last_recorded_at == "2012-09-01T12:00:00.000000Z"


def test_replacement_swaps_the_payload_and_keeps_occurred_at() -> None:
    history = victim_history()
    replacement = {
        "authority": "cmm",
        "outcome": "victim",
        "exploitation": "forced_labour",
        "industry": "cleaning",
        "citizenship": "RO",
        "gender": "male",
        "age": 45,
        "legal_residence": True,
    }
    history.append(correction(history[1], "2013-02-01", replacement))

    old = fold_case(PERSON, history, "2013-01-31").fact()
    new = fold_case(PERSON, history, "2013-02-01").fact()

    assert old is not None and (old.exploitation, old.citizenship) == ("sexual_exploitation", "NG")
    assert new is not None
    assert (new.authority, new.exploitation, new.industry) == ("cmm", "forced_labour", "cleaning")
    assert (new.citizenship, new.region, new.eu_citizen) == ("RO", "europe", True)
    assert (new.gender, new.age, new.age_band, new.legal_residence) == ("male", 45, "40-49", True)
    assert new.assessed_on == "2012-03-10" and new.year == 2012


def test_the_latest_correction_of_a_target_decides() -> None:
    history = victim_history()
    history.append(correction(history[3], "2012-07-01"))
    history.append(correction(history[3], "2012-08-01", {"accommodation": "private"}))

    assert fold_case(PERSON, history, "2012-07-15").accommodation is None
    assert fold_case(PERSON, history).accommodation == "private"


def test_a_correction_of_an_unknown_or_mistyped_event_is_flagged_and_not_applied() -> None:
    history = victim_history()
    mistyped = correction(history[3], "2012-07-01", {"accommodation": "hotel"})
    mistyped["payload"]["target_event_id"] = history[0]["event_id"]  # a ContactRegistered
    unknown = correction(
        {"event_id": str(uuid.uuid4()), "type": "DepartedDenmark"}, "2012-07-02", person=PERSON
    )

    for extra in (mistyped, unknown):
        state = fold_case(PERSON, [*history, extra])
        assert state.flags == (CaseFlag.CORRECTION_TARGET_MISSING.value,)
        assert state.event_count == 7 and state.accommodation == "crisis_centre"
        assert state.departed_on == "2012-06-01"


def test_a_correction_recorded_before_its_target_applies_once_the_target_is_known() -> None:
    target = accommodation("2012-03-11", "crisis_centre", recorded="2012-05-01")
    fix = correction(target, "2012-04-01", {"accommodation": "hotel"})
    history = [*victim_history()[:2], target, fix]

    early = fold_case(PERSON, history, "2012-04-15")
    assert early.flags == (CaseFlag.CORRECTION_TARGET_MISSING.value,)
    late = fold_case(PERSON, history, "2012-05-01")
    assert late.flags == () and late.accommodation == "hotel"


@pytest.mark.parametrize(
    ("extra", "flag"),
    [
        (status("2012-02-01", "accepted"), CaseFlag.STATUS_BEFORE_ASSESSMENT),
        (accommodation("2012-07-01", "hotel"), CaseFlag.EVENTS_AFTER_DEPARTURE),
        (
            assessment("2012-04-01", outcome="not_victim", exploitation=None),
            CaseFlag.CONFLICTING_ASSESSMENTS,
        ),
    ],
)
def test_inconsistent_histories_are_flagged_and_still_counted(extra: Rec, flag: CaseFlag) -> None:
    state = fold_case(PERSON, [*victim_history(), extra])

    assert state.flags == (flag.value,)
    assert state.event_count == 8
    assert state.assessed and state.fact() is not None


def test_a_negative_decision_after_a_positive_one_keeps_the_victim_counted() -> None:
    history = [*victim_history(), assessment("2012-05-01", outcome="not_victim", exploitation=None)]
    state = fold_case(PERSON, history)

    assert state.flags == (CaseFlag.CONFLICTING_ASSESSMENTS.value,)
    assert (state.outcome, state.assessed_on, state.exploitation) == (
        "victim",
        "2012-03-10",
        "sexual_exploitation",
    )


def test_a_case_without_contact_is_flagged_and_has_an_unknown_channel() -> None:
    state = fold_case(PERSON, victim_history()[1:])

    assert state.flags == (CaseFlag.NO_CONTACT.value,)
    assert state.contacts == 0 and state.first_contact_channel == "unknown"
    fact = state.fact()
    assert fact is not None and (fact.channel, fact.channel_group) == (
        "unknown",
        "partners_and_other",
    )


def test_several_flags_come_in_code_list_order() -> None:
    state = fold_case(PERSON, [status("2012-02-01", "declined"), departure("2012-01-01")])

    assert state.flags == (
        CaseFlag.STATUS_BEFORE_ASSESSMENT.value,
        CaseFlag.EVENTS_AFTER_DEPARTURE.value,
        CaseFlag.NO_CONTACT.value,
    )


@pytest.mark.parametrize(
    ("events", "expected_status", "expected_days"),
    [
        ([], "none", None),
        ([offer("2012-03-10")], "offered", None),
        ([offer("2012-03-10"), status("2012-03-20", "declined")], "declined", 10),
        ([status("2012-03-20", "left")], "left", 10),
        (
            [status("2012-04-01", "return_supported_cmm", "equal_to_prepared_return")],
            "return_supported_cmm",
            22,
        ),
        ([status("2012-03-20", "stayed_in_denmark")], "stayed_in_denmark", None),
        ([status("2012-03-20", "accepted")], "accepted", None),
        ([status("2012-03-20", "accepted"), departure("2012-03-25")], "accepted", 15),
        ([status("2012-03-20", "declined"), departure("2012-03-30")], "declined", 20),
    ],
)
def test_status_and_days_in_denmark(
    events: list[Rec], expected_status: str, expected_days: int | None
) -> None:
    base = [contact("2012-03-01"), assessment("2012-03-10")]
    state = fold_case(PERSON, base + events)

    assert state.status == expected_status
    assert state.days_in_denmark == expected_days
    if expected_status == "return_supported_cmm":
        assert state.return_support == "equal_to_prepared_return"


def test_the_latest_status_by_occurrence_wins_whatever_was_recorded_last() -> None:
    history = [
        contact("2012-03-01"),
        assessment("2012-03-10"),
        status("2012-06-01", "prepared_return_iom", recorded="2012-06-01"),
        status("2012-04-01", "accepted", recorded="2012-07-01"),
    ]
    assert fold_case(PERSON, history).status == "prepared_return_iom"


def test_fact_versions_collapse_equal_versions_and_end_with_a_retraction() -> None:
    history = victim_history()
    history.append(contact("2012-07-01", "hotline"))  # changes no fact column
    history.append(correction(history[1], "2012-09-01"))

    versions = fact_versions(PERSON, history)

    times = [t for t, _ in versions]
    assert times == [
        "2012-03-12T12:00:00.000000Z",  # assessment known (contact, offer, ... before: no fact)
        "2012-04-01T12:00:00.000000Z",  # accepted
        "2012-05-20T12:00:00.000000Z",  # prepared return
        "2012-06-01T12:00:00.000000Z",  # departed
        "2012-09-01T12:00:00.000000Z",  # assessment retracted
    ]
    assert versions[-1][1] is None
    assert all(f is not None for _, f in versions[:-1])
    for t, fact in versions:
        assert fold_case(PERSON, history, t).fact() == fact
    # The hotline contact changes the contact rows only.
    contact_times = [v.recorded_at for v in case_versions(PERSON, history)]
    assert "2012-07-01T12:00:00.000000Z" in contact_times


def test_a_person_who_is_never_a_victim_has_no_fact_versions() -> None:
    history = [contact("2012-03-01"), assessment("2012-03-10", "not_victim", None)]
    assert fact_versions(PERSON, history) == []
    assert [len(v.contacts) for v in case_versions(PERSON, history)] == [1]


def test_timestamps_with_fractions_compare_in_time_order() -> None:
    late = contact("2012-03-01T10:00:00.500000Z", recorded="2012-03-01T10:00:00.500000Z")
    assert late["recorded_at"] == "2012-03-01T10:00:00.500000Z"
    assert normalise_timestamp("2012-03-01T10:00:00Z") < normalise_timestamp(late["recorded_at"])
    assert normalise_timestamp("2012-03-01T11:00:00+01:00") == "2012-03-01T10:00:00.000000Z"

    assert fold_case(PERSON, [late], "2012-03-01T10:00:00Z").contacts == 0
    assert fold_case(PERSON, [late], "2012-03-01T10:00:00.5Z").contacts == 1


def test_a_cut_off_date_ends_at_midnight_in_denmark() -> None:
    # Winter (CET, UTC+1) and summer (CEST, UTC+2): the Danish day ends earlier in UTC.
    assert as_of_bound("2013-01-31") == "2013-01-31T22:59:59.999999Z"
    assert as_of_bound("2013-07-31") == "2013-07-31T21:59:59.999999Z"
    late_on_the_31st = contact("2013-01-31T10:00:00Z", recorded="2013-01-31T22:30:00Z")
    early_on_the_1st = contact("2013-01-31T11:00:00Z", recorded="2013-01-31T23:30:00Z")
    both = [late_on_the_31st, early_on_the_1st]
    assert fold_case(PERSON, both, "2013-01-31").contacts == 1
    assert fold_case(PERSON, both, "2013-02-01").contacts == 2


def test_days_and_years_are_danish_local_dates() -> None:
    # 2020-01-01T00:30:00+01:00 is 2019-12-31T23:30:00Z: a day and a year of 2020 in Denmark.
    new_year = "2020-01-01T00:30:00+01:00"
    records = [
        contact(new_year),
        assessment(new_year),
    ]
    state = fold_case(PERSON, records)
    assert state.first_contact_on == "2020-01-01"
    assert state.contacts_by_year == ((2020, 1),)
    assert state.assessed_on == "2020-01-01"
    fact = state.fact()
    assert fact is not None and fact.year == 2020
    assert case_projection(PERSON, records)[1] == state


@pytest.mark.parametrize(
    ("country", "year", "member"),
    [
        ("HR", 2012, False),
        ("HR", 2013, True),
        ("RO", 2012, True),
        ("GB", 2019, True),
        ("GB", 2020, False),
        ("NO", 2012, False),
        ("SK", 2003, False),
        ("SK", 2004, True),
    ],
)
def test_eu_citizenship_follows_membership_in_the_reporting_year(
    country: str, year: int, member: bool
) -> None:
    assert is_eu_citizen(country, year) is member


def test_case_state_is_frozen() -> None:
    state = fold_case(PERSON, victim_history())
    with pytest.raises(AttributeError):
        state.contacts = 3  # type: ignore[misc]
    assert isinstance(state, CaseState)


def _both_folds(records: list[Rec]) -> CaseState:
    """The definition's state, after checking that the one-pass fold agrees with it."""
    state = fold_case(PERSON, records)
    assert case_projection(PERSON, records)[1] == state
    return state


def test_a_reassessment_supersedes_the_earlier_assessment_without_a_flag() -> None:
    refused = assessment("2019-05-01", outcome="not_victim", exploitation=None)
    first = [contact("2019-04-01"), refused]
    plain_second = [*first, assessment("2020-02-01")]
    reassessed = [*first, assessment("2020-02-01", v2={"kind": "reassessment"})]
    appealed = [*first, assessment("2020-02-01", v2={"kind": "appeal"})]

    # Without a kind (as version 1 says it), the two outcomes conflict.
    assert CaseFlag.CONFLICTING_ASSESSMENTS.value in _both_folds(plain_second).flags
    for history in (reassessed, appealed):
        state = _both_folds(history)
        assert state.flags == ()
        assert state.assessed and state.assessed_on == "2020-02-01"
        fact = state.fact()
        assert fact is not None and fact.year == 2020


def test_a_negative_reassessment_ends_the_identification() -> None:
    history = [
        contact("2019-04-01"),
        assessment("2019-05-01"),
        assessment("2019-09-01", outcome="not_victim", exploitation=None, v2={"kind": "appeal"}),
    ]
    state = _both_folds(history)
    assert not state.assessed and state.fact() is None and state.flags == ()
    # Before the appeal, the person was counted.
    assert fold_case(PERSON, history, "2019-08-01").assessed


def test_an_unknown_age_is_in_the_unknown_band_and_forms_are_kept() -> None:
    history = [
        contact("2020-03-01"),
        assessment(
            "2020-03-02",
            gender="unknown",
            age=None,
            v2={"additional_forms": ["forced_criminality", "forced_labour"]},
        ),
    ]
    fact = _both_folds(history).fact()
    assert fact is not None
    assert (fact.age, fact.age_band, fact.gender) == (None, "unknown", "unknown")
    assert fact.additional_forms == "forced_labour,forced_criminality"  # code-list order

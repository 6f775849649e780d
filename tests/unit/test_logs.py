"""Tests for projections.logs: hotline and outreach rows, corrected bitemporally."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.bitemporal import normalise_timestamp
from projections.logs import HotlineRow, OutreachRow, log_row_versions, log_rows
from tests.unit.test_case_history import Rec, contact, correction, record


def call(on: str, caller: str = "police", reason: str = "advice", **kw: Any) -> Rec:
    return record(
        "HotlineCallReceived",
        {"caller": caller, "reason": reason},
        on,
        person=None,
        source="hotline",
        **kw,
    )


def outreach(on: str, place: str, period: str, measures: dict[str, int], **kw: Any) -> Rec:
    payload = {"place": place, "period": period, "measures": measures}
    return record("OutreachActivityLogged", payload, on, person=None, source="ngo_outreach", **kw)


def _history() -> list[Rec]:
    first = call("2012-01-05", "police", "person_in_police_custody")
    second = call("2012-02-05", "ngo", "advice")
    shift = outreach("2012-03-01", "street_odense", "session", {"visits": 2, "new_persons": 1})
    week = outreach("2012-03-07", "drop_in_fredericia", "week", {"uses": 11})
    return [
        first,
        second,
        shift,
        week,
        correction(second, "2012-04-01", person=None),
        correction(
            shift,
            "2012-05-01",
            {
                "place": "street_odense",
                "period": "session",
                "measures": {"visits": 3, "new_persons": 1},
            },
            person=None,
        ),
        correction(
            first,
            "2012-06-01",
            {"caller": "police", "reason": "upcoming_police_action"},
            person=None,
        ),
    ]


def test_rows_as_of_a_date_show_what_was_known_then() -> None:
    history = _history()
    first, second, shift, week = (r["event_id"] for r in history[:4])

    hotline, rows = log_rows(history, "2012-03-31")
    assert hotline == [
        HotlineRow(first, "2012-01-05", 2012, "police", "person_in_police_custody"),
        HotlineRow(second, "2012-02-05", 2012, "ngo", "advice"),
    ]
    assert rows == [
        OutreachRow(shift, "2012-03-01", 2012, "street_odense", "session", "visits", 2),
        OutreachRow(shift, "2012-03-01", 2012, "street_odense", "session", "new_persons", 1),
        OutreachRow(week, "2012-03-07", 2012, "drop_in_fredericia", "week", "uses", 11),
    ]

    hotline, rows = log_rows(history)
    assert hotline == [
        HotlineRow(first, "2012-01-05", 2012, "police", "upcoming_police_action"),
    ]
    assert [(r.measure, r.value) for r in rows] == [("visits", 3), ("new_persons", 1), ("uses", 11)]
    assert log_rows(history, "2012-01-04") == ([], [])


def test_case_events_and_their_corrections_are_ignored() -> None:
    history = _history()
    case_contact = contact("2012-01-01")
    mixed = [*history, case_contact, correction(case_contact, "2012-02-01")]
    assert log_rows(mixed) == log_rows(history)
    assert len(log_row_versions(mixed)) == len(log_row_versions(history))


def test_a_correction_of_an_unknown_log_event_changes_nothing() -> None:
    history = _history()
    stray = correction(
        {"event_id": "00000000-0000-4000-8000-000000000000", "type": "HotlineCallReceived"},
        "2012-07-01",
        person=None,
    )
    assert log_rows([*history, stray]) == log_rows(history)


def test_row_versions_close_only_the_rows_a_correction_changes() -> None:
    history = _history()
    versions = log_row_versions(history)
    shift = history[2]["event_id"]

    intervals = {
        (row.event_id, getattr(row, "measure", ""), tx_from): tx_to
        for tx_from, tx_to, row in versions
    }
    # visits was replaced on 2012-05-01; new_persons kept its value, so one interval.
    assert (
        intervals[(shift, "visits", "2012-03-01T12:00:00.000000Z")] == "2012-05-01T12:00:00.000000Z"
    )
    assert intervals[(shift, "visits", "2012-05-01T12:00:00.000000Z")] is None
    assert intervals[(shift, "new_persons", "2012-03-01T12:00:00.000000Z")] is None
    # The retracted call has one closed interval and nothing after it.
    second = history[1]["event_id"]
    assert [(f, t) for f, t, r in versions if r.event_id == second] == [
        ("2012-02-05T12:00:00.000000Z", "2012-04-01T12:00:00.000000Z")
    ]


def _valid_at(versions: list[tuple[str, str | None, Any]], t: str) -> set[Any]:
    n = normalise_timestamp
    return {r for f, to, r in versions if n(f) <= n(t) and (to is None or n(t) < n(to))}


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_row_versions_agree_with_rows_as_of_every_point(data: st.DataObject) -> None:
    history = _history()
    # A correction recorded before its target takes effect when the target is recorded.
    late = call("2012-08-01", "municipality", "suspicion", recorded="2012-09-01")
    history += [
        late,
        correction(late, "2012-08-15", {"caller": "ngo", "reason": "other"}, person=None),
        # Never corrected, with several measures: each is a row of its own.
        outreach("2012-07-02", "street_odense", "session", {"visits": 4, "new_persons": 2}),
    ]
    shuffled = data.draw(st.permutations(history))
    versions = log_row_versions(shuffled)

    for t in sorted({r["recorded_at"] for r in history}):
        hotline, outreach_rows = log_rows(history, t)
        assert _valid_at(versions, t) == set(hotline) | set(outreach_rows)
    final_hotline, _ = log_rows(history)
    assert HotlineRow(late["event_id"], "2012-08-01", 2012, "ngo", "other") in final_hotline

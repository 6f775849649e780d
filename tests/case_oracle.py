"""An independent oracle for the case fold, written from the rules rather than from the code.

It reads records as the store holds them (plain dicts) and says, in plain Python over the
domain's public contract (event type names, code enums, countries), what the case state,
its fact row and its versions are. It shares nothing with ``projections``: times are parsed
into datetimes instead of compared as normalised strings, each field is picked by ``min`` /
``max`` over the events of its kind instead of accumulated, and a version is a whole new
fold. The property tests in ``tests/unit/test_case_fold_oracle.py`` hold both the definition
(``projections.case_fold``) and the one-pass fold (``projections.case_fold_fast``) to it.

The rules, as the issue tracker and the annual report state them:

- Records of one ``event_id`` are one record: the copy recorded first counts (on a tie, the
  first one read).
- As of a time, the records known are those recorded by then. Corrections known by then
  apply in the order they were recorded: each retracts or replaces the payload of the case
  event it names, and the last one for an event decides. A correction that names no known
  event of its target type is flagged and does nothing.
- The events that remain are taken in the order they happened (then recorded, then id).
- Days and years are those of Denmark (Europe/Copenhagen).
- Contacts are counted per calendar year; the first contact gives the channel and the
  place. A reassessment or an appeal sets aside every assessment before it; of the
  assessments that stand, the one that counts is the latest positive one, else the latest
  one; the person is assessed as a victim if any of them is positive. The support status is
  the latest status change, else ``offered`` from the first offer, else ``none``.
  Accommodation is the latest change, the departure the latest one. Days in Denmark run from
  the assessment to the departure, else to a status that ends the stay.
- Versions: the fact and contact rows as known at each distinct recording time, equal
  consecutive versions collapsed, leading empty ones left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.codes import AgeBand, CaseFlag, Channel, ExploitationForm, Outcome, SupportStatus
from domain.countries import COUNTRIES, is_eu_member
from domain.events import CASE_EVENT_TYPES

DENMARK = ZoneInfo("Europe/Copenhagen")
Rec = Mapping[str, Any]
Key = tuple[datetime, datetime, str]

STAY_ENDS = {
    SupportStatus.DECLINED.value,
    SupportStatus.LEFT.value,
    SupportStatus.PREPARED_RETURN_IOM.value,
    SupportStatus.RETURN_SUPPORTED_CMM.value,
}


def instant(text: str) -> datetime:
    """A timestamp as an aware UTC datetime (a naive one is taken as UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class _Known:
    """One record as the oracle reads it."""

    def __init__(self, record: Rec) -> None:
        self.record = record
        self.id = str(record["event_id"])
        self.type: str = record["type"]
        self.payload: Mapping[str, Any] = record["payload"]
        self.occurred = instant(record["occurred_at"])
        self.recorded = instant(record["recorded_at"])
        self.raw_recorded: str = record["recorded_at"]

    @property
    def happened(self) -> Key:
        return (self.occurred, self.recorded, self.id)

    @property
    def noted(self) -> Key:
        return (self.recorded, self.occurred, self.id)

    @property
    def day(self) -> date:
        return self.occurred.astimezone(DENMARK).date()


def _distinct(records: Iterable[Rec]) -> tuple[list[_Known], list[_Known]]:
    """The case events and the corrections of case events, one copy of each id."""
    events: dict[str, _Known] = {}
    corrections: dict[str, _Known] = {}
    for record in records:
        r = _Known(record)
        if r.type == "CorrectionRecorded":
            if r.payload["target_type"] not in CASE_EVENT_TYPES:
                continue
            chosen = corrections
        elif r.type in CASE_EVENT_TYPES:
            chosen = events
        else:
            continue
        if r.id not in chosen or r.recorded < chosen[r.id].recorded:
            chosen[r.id] = r
    return list(events.values()), list(corrections.values())


def _state(
    person_ref: str, events: list[_Known], corrections: list[_Known], bound: datetime | None
) -> dict[str, Any]:
    def known(r: _Known) -> bool:
        return bound is None or r.recorded <= bound

    seen = [e for e in events if known(e)]
    fixes = sorted((c for c in corrections if known(c)), key=lambda c: c.noted)
    type_of = {e.id: e.type for e in seen}
    payload_of: dict[str, Mapping[str, Any] | None] = {e.id: e.payload for e in seen}
    target_missing = False
    for fix in fixes:
        target = str(fix.payload["target_event_id"])
        if type_of.get(target) != fix.payload["target_type"]:
            target_missing = True
        elif fix.payload["action"] == "retract":
            payload_of[target] = None
        else:
            payload_of[target] = fix.payload.get("replacement")
    remaining = [(e, payload_of[e.id]) for e in seen if payload_of[e.id] is not None]
    remaining.sort(key=lambda pair: pair[0].happened)

    def of(kind: str) -> list[tuple[_Known, Mapping[str, Any]]]:
        return [(e, p) for e, p in remaining if e.type == kind and p is not None]

    contacts = of("ContactRegistered")
    assessments = of("AssessmentDecided")
    decisions = [
        i for i, (_, p) in enumerate(assessments) if p.get("kind") in ("reassessment", "appeal")
    ]
    standing = assessments[max(decisions) :] if decisions else assessments
    positives = [(e, p) for e, p in standing if p["outcome"] == Outcome.VICTIM.value]
    statuses = of("SupportStatusChanged")
    offers = of("SupportOffered")
    accommodations = of("AccommodationChanged")
    departures = of("DepartedDenmark")

    def first(pairs: list[tuple[_Known, Mapping[str, Any]]]) -> Any:
        return min(pairs, key=lambda pair: pair[0].happened) if pairs else None

    def last(pairs: list[tuple[_Known, Mapping[str, Any]]]) -> Any:
        return max(pairs, key=lambda pair: pair[0].happened) if pairs else None

    first_contact = first(contacts)
    counting = last(positives) or last(standing)
    a: Mapping[str, Any] = counting[1] if counting else {}
    assessed_on = counting[0].day if counting else None
    if statuses:
        change = last(statuses)
        status_on: date | None = change[0].day
        status = change[1]["status"]
        return_support = change[1].get("return_support")
    elif offers:
        status_on, status, return_support = first(offers)[0].day, "offered", None
    else:
        status_on, status, return_support = None, "none", None
    departed_on = last(departures)[0].day if departures else None
    days = None
    if positives and assessed_on is not None:
        if departed_on is not None:
            days = (departed_on - assessed_on).days
        elif status in STAY_ENDS and status_on is not None:
            days = (status_on - assessed_on).days

    flags = []
    if statuses and (not assessments or first(statuses)[0].day < first(assessments)[0].day):
        flags.append(CaseFlag.STATUS_BEFORE_ASSESSMENT.value)
    if departed_on is not None and any(
        e.day > departed_on for e, _ in remaining if e.type != "DepartedDenmark"
    ):
        flags.append(CaseFlag.EVENTS_AFTER_DEPARTURE.value)
    if positives and len(positives) < len(standing):
        flags.append(CaseFlag.CONFLICTING_ASSESSMENTS.value)
    if not contacts:
        flags.append(CaseFlag.NO_CONTACT.value)
    if target_missing:
        flags.append(CaseFlag.CORRECTION_TARGET_MISSING.value)

    # The latest recording time among the known records, spelled as the first event (in
    # the order they happened) recorded then, else the first correction recorded then.
    last_recorded = None
    if seen or fixes:
        latest = max(r.recorded for r in seen + fixes)
        spelled_by = sorted(
            (e for e in seen if e.recorded == latest), key=lambda e: e.happened
        ) or [c for c in fixes if c.recorded == latest]
        last_recorded = spelled_by[0].raw_recorded

    citizenship = a.get("citizenship")
    return {
        "person_ref": person_ref,
        "contacts": len(contacts),
        "first_contact_channel": first_contact[1]["channel"]
        if first_contact
        else Channel.UNKNOWN.value,
        "first_contact_place": first_contact[1].get("place") if first_contact else None,
        "first_contact_on": first_contact[0].day.isoformat() if first_contact else None,
        "contacts_by_year": tuple(sorted(Counter(e.day.year for e, _ in contacts).items())),
        "assessed": bool(positives),
        "authority": a.get("authority"),
        "outcome": a.get("outcome"),
        "exploitation": a.get("exploitation"),
        "additional_forms": _forms(a.get("additional_forms")),
        "industry": a.get("industry"),
        "citizenship": citizenship,
        "region": None if citizenship is None else COUNTRIES[citizenship].region.value,
        "gender": a.get("gender"),
        "age": a.get("age"),
        "legal_residence": a.get("legal_residence"),
        "assessed_on": None if assessed_on is None else assessed_on.isoformat(),
        "status": status,
        "status_on": None if status_on is None else status_on.isoformat(),
        "return_support": return_support,
        "accommodation": last(accommodations)[1]["accommodation"] if accommodations else None,
        "departed_on": None if departed_on is None else departed_on.isoformat(),
        "days_in_denmark": days,
        "flags": tuple(flags),
        "last_recorded_at": last_recorded,
        "event_count": len(remaining),
        "reflection_days": first(offers)[1].get("reflection_days") if offers else None,
    }


def _forms(forms: Iterable[str] | None) -> str | None:
    """Further forms in code-list order, joined by commas."""
    if not forms:
        return None
    return ",".join(f.value for f in ExploitationForm if f.value in set(forms))


def case_state(
    person_ref: str, records: Iterable[Rec], as_of: datetime | None = None
) -> dict[str, Any]:
    """The case state's fields as known at ``as_of`` (everything if None)."""
    events, corrections = _distinct(records)
    return _state(person_ref, events, corrections, as_of)


def fact_row(state: Mapping[str, Any]) -> dict[str, Any] | None:
    """The fact row's fields for a state, or None unless the person is assessed a victim."""
    if not state["assessed"]:
        return None
    year = int(state["assessed_on"][:4])
    citizenship = state["citizenship"] or ""
    age = state["age"]
    channel = state["first_contact_channel"]
    return {
        "person_ref": state["person_ref"],
        "year": year,
        "assessed_on": state["assessed_on"],
        "authority": state["authority"] or "",
        "channel": channel,
        "channel_group": next(c.group.value for c in Channel if c.value == channel),
        "place": state["first_contact_place"],
        "citizenship": citizenship,
        "region": state["region"] or "",
        "exploitation": state["exploitation"] or "",
        "additional_forms": state["additional_forms"],
        "industry": state["industry"],
        "gender": state["gender"] or "",
        "age": age,
        "age_band": AgeBand.of(age).value,
        "legal_residence": bool(state["legal_residence"]),
        "eu_citizen": is_eu_member(citizenship, year),
        "status": state["status"],
        "status_on": state["status_on"],
        "return_support": state["return_support"],
        "accommodation": state["accommodation"],
        "departed_on": state["departed_on"],
        "days_in_denmark": state["days_in_denmark"],
        "reflection_days": state["reflection_days"],
    }


Version = tuple[str, dict[str, Any] | None, tuple[tuple[str, int, int], ...]]


def case_versions(person_ref: str, records: Iterable[Rec]) -> list[Version]:
    """(recorded_at as written, fact row or None, contact rows as (person, year, count)) at
    each distinct recording time, ascending, equal consecutive versions collapsed, leading
    empty ones left out. A time spelled several ways is spelled as its last correction (in
    recording order), else as its last event (in the order they happened)."""
    events, corrections = _distinct(records)
    spelling: dict[datetime, str] = {}
    for e in sorted(events, key=lambda e: e.happened):
        spelling[e.recorded] = e.raw_recorded
    for c in sorted(corrections, key=lambda c: c.noted):
        spelling[c.recorded] = c.raw_recorded
    versions: list[Version] = []
    previous: tuple[Any, ...] = (None, ())
    for t in sorted(spelling):
        state = _state(person_ref, events, corrections, t)
        rows = tuple((person_ref, year, n) for year, n in state["contacts_by_year"])
        current = (fact_row(state), rows)
        if current != previous:
            previous = current
            versions.append((spelling[t], *current))
    return versions

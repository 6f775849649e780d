"""Case history: from one person's event records to the case state and the victim fact row.

Pure functions over records as ``domain.events.to_record`` returns them (plain dicts): no I/O,
no pydantic in the hot path, because the projection runner folds up to a million cases and per
event object work costs more than the store does (see PERF-FACTS).

The fold is bitemporal. ``as_of`` selects what was *known* (``recorded_at <= as_of``); within
that, events are ordered by when they *happened* (``occurred_at``, then ``recorded_at``, then
``event_id``), so records may arrive in any order and fold to the same state. Corrections are
new events that retract or replace an earlier event's payload from their own ``recorded_at``
on, so a report as of an earlier date still shows the original.

Timestamps are compared as strings after :func:`normalise_timestamp` makes them fixed width:
``to_record`` writes ``...:SSZ`` for whole seconds but ``...:SS.ffffffZ`` otherwise, and raw
string order would put ``10:00:00.5Z`` before ``10:00:00Z`` ('.' sorts before 'Z').
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from domain.codes import AgeBand, CaseFlag, Channel, CorrectionAction, Outcome, SupportStatus
from domain.countries import COUNTRIES
from domain.events import CASE_EVENT_TYPES

Record = Mapping[str, Any]
Payload = Mapping[str, Any]
AsOf = str | datetime | date | None

# ----------------------------------------------------------------------------------------------
# Timestamps


def normalise_timestamp(value: str) -> str:
    """``value`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC), whose string order is time order."""
    if len(value) == 20 and value[19] == "Z" and value[10] == "T":
        return value[:19] + ".000000Z"
    if len(value) == 27 and value[26] == "Z" and value[19] == ".":
        return value
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:  # the store only holds UTC; a naive value is taken as UTC
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def as_of_bound(as_of: AsOf) -> str | None:
    """The normalised upper bound for ``recorded_at``; a bare date means the end of that day
    (UTC), so ``as_of="2013-01-31"`` includes everything recorded on the 31st."""
    if as_of is None:
        return None
    if isinstance(as_of, datetime):
        return normalise_timestamp(as_of.isoformat())
    if isinstance(as_of, date):
        return f"{as_of.isoformat()}T23:59:59.999999Z"
    if len(as_of) == 10:
        return f"{date.fromisoformat(as_of).isoformat()}T23:59:59.999999Z"
    return normalise_timestamp(as_of)


# ----------------------------------------------------------------------------------------------
# EU membership, for ``FactRow.eu_citizen``: (first year a member, first year no longer one).
# Year granularity is what the annual report needs: a state counts for the whole year it joined
# (Croatia from 1 July 2013 counts for 2013; the 2012 report uses the EU-27 of 2012, without
# Croatia). The United Kingdom left on 31 January 2020 and counts up to 2019.
_EU_MEMBERSHIP: Mapping[str, tuple[int, int | None]] = {
    **dict.fromkeys(("BE", "DE", "FR", "IT", "LU", "NL"), (1958, None)),
    **dict.fromkeys(("DK", "IE"), (1973, None)),
    "GB": (1973, 2020),
    "GR": (1981, None),
    **dict.fromkeys(("ES", "PT"), (1986, None)),
    **dict.fromkeys(("AT", "FI", "SE"), (1995, None)),
    **dict.fromkeys(("CY", "CZ", "EE", "HU", "LT", "LV", "MT", "PL", "SI", "SK"), (2004, None)),
    **dict.fromkeys(("BG", "RO"), (2007, None)),
    "HR": (2013, None),
}


def is_eu_citizen(citizenship: str, year: int) -> bool:
    """Whether ``citizenship`` was an EU member state in ``year``."""
    span = _EU_MEMBERSHIP.get(citizenship)
    if span is None:
        return False
    joined, left = span
    return joined <= year and (left is None or year < left)


# ----------------------------------------------------------------------------------------------
# Rows

# Lookups precomputed once: enum attribute access costs more than the fold itself.
_CHANNEL_GROUP: Mapping[str, str] = {c.value: c.group.value for c in Channel}
_REGION: Mapping[str, str] = {code: c.region.value for code, c in COUNTRIES.items()}
_AGE_BAND: tuple[str, ...] = tuple(AgeBand.of(age).value for age in range(121))
# Statuses that end the stay for ``days_in_denmark`` when no departure is recorded. Staying in
# Denmark (EU citizens) and ongoing support have no end date.
_STAY_ENDING_STATUSES = frozenset(
    {
        SupportStatus.DECLINED.value,
        SupportStatus.LEFT.value,
        SupportStatus.PREPARED_RETURN_IOM.value,
        SupportStatus.RETURN_SUPPORTED_CMM.value,
    }
)


@dataclass(frozen=True, slots=True)
class FactRow:
    """One assessed victim in one reporting year (the year of the assessment), as the annual
    report counts them. Codes are plain strings so rows go straight into a DataFrame or SQL."""

    person_ref: str
    year: int
    assessed_on: str
    authority: str
    channel: str
    channel_group: str
    place: str | None
    citizenship: str
    region: str
    exploitation: str
    industry: str | None
    gender: str
    age: int
    age_band: str
    legal_residence: bool
    eu_citizen: bool
    status: str
    status_on: str | None
    return_support: str | None
    accommodation: str | None
    departed_on: str | None
    days_in_denmark: int | None


FACT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(FactRow))


class ContactRow(NamedTuple):
    """Contacts registered for one person in one calendar year (for ``contacts_summary``)."""

    person_ref: str
    year: int
    contacts: int


CONTACT_COLUMNS: tuple[str, ...] = ContactRow._fields


@dataclass(frozen=True, slots=True)
class CaseState:
    """What was known about one person's case at a point in transaction time."""

    person_ref: str
    contacts: int
    first_contact_channel: str
    first_contact_place: str | None
    first_contact_on: str | None
    contacts_by_year: tuple[tuple[int, int], ...]
    assessed: bool
    authority: str | None
    outcome: str | None
    exploitation: str | None
    industry: str | None
    citizenship: str | None
    region: str | None
    gender: str | None
    age: int | None
    legal_residence: bool | None
    assessed_on: str | None
    status: str
    status_on: str | None
    return_support: str | None
    accommodation: str | None
    departed_on: str | None
    days_in_denmark: int | None
    flags: tuple[str, ...]
    last_recorded_at: str | None
    event_count: int

    def fact(self) -> FactRow | None:
        """The report row, or None unless the person is assessed as a victim."""
        values = _fact_values(self)
        return None if values is None else FactRow(*values)

    def contact_rows(self) -> tuple[ContactRow, ...]:
        return tuple(ContactRow(self.person_ref, y, n) for y, n in self.contacts_by_year)


class _Folded(NamedTuple):
    """CaseState's fields as a tuple: the versions loop folds many times and compares, and a
    frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field) costs more than the
    fold. Only versions that differ become CaseState / FactRow objects."""

    person_ref: str
    contacts: int
    first_contact_channel: str
    first_contact_place: str | None
    first_contact_on: str | None
    contacts_by_year: tuple[tuple[int, int], ...]
    assessed: bool
    authority: str | None
    outcome: str | None
    exploitation: str | None
    industry: str | None
    citizenship: str | None
    region: str | None
    gender: str | None
    age: int | None
    legal_residence: bool | None
    assessed_on: str | None
    status: str
    status_on: str | None
    return_support: str | None
    accommodation: str | None
    departed_on: str | None
    days_in_denmark: int | None
    flags: tuple[str, ...]
    last_recorded_at: str | None
    event_count: int


assert _Folded._fields == tuple(f.name for f in fields(CaseState))


def _fact_values(s: _Folded | CaseState) -> tuple[Any, ...] | None:
    """FactRow's values (in FACT_COLUMNS order) for a victim, else None."""
    if not s.assessed or s.assessed_on is None:
        return None
    year = int(s.assessed_on[:4])
    citizenship = s.citizenship or ""
    age = s.age or 0
    return (
        s.person_ref,
        year,
        s.assessed_on,
        s.authority or "",
        s.first_contact_channel,
        _CHANNEL_GROUP[s.first_contact_channel],
        s.first_contact_place,
        citizenship,
        s.region or "",
        s.exploitation or "",
        s.industry,
        s.gender or "",
        age,
        _AGE_BAND[age] if 0 <= age < len(_AGE_BAND) else AgeBand.of(age).value,
        bool(s.legal_residence),
        is_eu_citizen(citizenship, year),
        s.status,
        s.status_on,
        s.return_support,
        s.accommodation,
        s.departed_on,
        s.days_in_denmark,
    )


# ----------------------------------------------------------------------------------------------
# Preparing records once: normalised timestamps, sorted, as tuples (cheap to compare and hold).


class _Event(NamedTuple):
    occurred: str  # normalised
    recorded: str  # normalised
    event_id: str
    type: str
    payload: Payload
    recorded_raw: str


class _Correction(NamedTuple):
    recorded: str
    occurred: str
    event_id: str
    target_event_id: str
    target_type: str
    replacement: Payload | None  # None: retract
    recorded_raw: str


class Prepared(NamedTuple):
    """A person's records, sorted: events in occurrence order, corrections in recording order."""

    events: tuple[_Event, ...]
    corrections: tuple[_Correction, ...]


def prepare(records: Iterable[Record], event_types: frozenset[str] = CASE_EVENT_TYPES) -> Prepared:
    """Normalise and sort once, so folding as of many points in time only filters.

    A record whose ``event_id`` appears twice is kept once (the store is idempotent; an
    in-memory stream may not be): the earliest recorded copy wins."""
    events: dict[str, _Event] = {}
    corrections: dict[str, _Correction] = {}
    retract = CorrectionAction.RETRACT.value
    for r in records:
        kind = r["type"]
        event_id = str(r["event_id"])
        recorded_raw = r["recorded_at"]
        recorded = normalise_timestamp(recorded_raw)
        occurred = normalise_timestamp(r["occurred_at"])
        payload = r["payload"]
        if kind == "CorrectionRecorded":
            if payload["target_type"] not in event_types:
                continue
            corr = _Correction(
                recorded,
                occurred,
                event_id,
                str(payload["target_event_id"]),
                payload["target_type"],
                None if payload["action"] == retract else payload.get("replacement"),
                recorded_raw,
            )
            seen_c = corrections.get(event_id)
            if seen_c is None or corr.recorded < seen_c.recorded:
                corrections[event_id] = corr
        elif kind in event_types:
            event = _Event(occurred, recorded, event_id, kind, payload, recorded_raw)
            seen_e = events.get(event_id)
            if seen_e is None or event.recorded < seen_e.recorded:
                events[event_id] = event
    return Prepared(
        # Field order makes tuple order (occurred, recorded, event_id) for events and
        # (recorded, occurred, event_id) for corrections; ids are unique, so payloads are
        # never compared.
        tuple(sorted(events.values())),
        tuple(sorted(corrections.values())),
    )


def effective_payloads(
    prepared: Prepared, bound: str | None
) -> tuple[list[tuple[_Event, Payload]], bool, str | None]:
    """The events known by ``bound`` with their payloads after the corrections known by then,
    in occurrence order; whether a known correction names no known event of its target type;
    and the latest raw ``recorded_at`` among all known records.

    Corrections apply in recording order, so the latest one for a target decides (a replace
    after a retract reinstates the event with the replacement payload)."""
    known = [e for e in prepared.events if bound is None or e.recorded <= bound]
    last: tuple[str, str] | None = None
    for e in known:
        if last is None or e.recorded > last[0]:
            last = (e.recorded, e.recorded_raw)
    overrides: dict[str, Payload | None] = {}
    missing = False
    if prepared.corrections:
        types = {e.event_id: e.type for e in known}
        for c in prepared.corrections:
            if bound is not None and c.recorded > bound:
                break
            if last is None or c.recorded > last[0]:
                last = (c.recorded, c.recorded_raw)
            if types.get(c.target_event_id) != c.target_type:
                missing = True
                continue
            overrides[c.target_event_id] = c.replacement
    result: list[tuple[_Event, Payload]] = []
    for e in known:
        if e.event_id in overrides:
            replaced = overrides[e.event_id]
            if replaced is not None:
                result.append((e, replaced))
        else:
            result.append((e, e.payload))
    return result, missing, None if last is None else last[1]


# ----------------------------------------------------------------------------------------------
# The fold: one handler per event type, over a small mutable accumulator.


class _Acc:
    __slots__ = (
        "accommodation",
        "assessments",
        "contacts",
        "contacts_by_year",
        "departed",
        "first_contact",
        "first_status_on",
        "last_other_on",
        "offered_on",
        "status",
    )

    def __init__(self) -> None:
        self.contacts = 0
        self.contacts_by_year: dict[int, int] = {}
        self.first_contact: tuple[str, Payload] | None = None
        self.assessments: list[tuple[str, Payload]] = []
        self.offered_on: str | None = None
        self.status: tuple[str, Payload] | None = None
        self.first_status_on: str | None = None
        self.accommodation: str | None = None
        self.departed: str | None = None
        self.last_other_on: str | None = None


def _on_contact(acc: _Acc, on: str, payload: Payload) -> None:
    acc.contacts += 1
    year = int(on[:4])
    acc.contacts_by_year[year] = acc.contacts_by_year.get(year, 0) + 1
    if acc.first_contact is None:
        acc.first_contact = (on, payload)


def _on_assessment(acc: _Acc, on: str, payload: Payload) -> None:
    acc.assessments.append((on, payload))


def _on_offer(acc: _Acc, on: str, payload: Payload) -> None:
    if acc.offered_on is None:
        acc.offered_on = on


def _on_status(acc: _Acc, on: str, payload: Payload) -> None:
    acc.status = (on, payload)
    if acc.first_status_on is None:
        acc.first_status_on = on


def _on_accommodation(acc: _Acc, on: str, payload: Payload) -> None:
    acc.accommodation = payload["accommodation"]


def _on_departure(acc: _Acc, on: str, payload: Payload) -> None:
    acc.departed = on


_HANDLERS: Mapping[str, Callable[[_Acc, str, Payload], None]] = {
    "ContactRegistered": _on_contact,
    "AssessmentDecided": _on_assessment,
    "SupportOffered": _on_offer,
    "SupportStatusChanged": _on_status,
    "AccommodationChanged": _on_accommodation,
    "DepartedDenmark": _on_departure,
}
_VICTIM = Outcome.VICTIM.value
_OFFERED = SupportStatus.OFFERED.value
_NO_STATUS = SupportStatus.NONE.value
_UNKNOWN_CHANNEL = Channel.UNKNOWN.value
_STATUS_BEFORE_ASSESSMENT = CaseFlag.STATUS_BEFORE_ASSESSMENT.value
_EVENTS_AFTER_DEPARTURE = CaseFlag.EVENTS_AFTER_DEPARTURE.value
_CONFLICTING_ASSESSMENTS = CaseFlag.CONFLICTING_ASSESSMENTS.value
_NO_CONTACT = CaseFlag.NO_CONTACT.value
_CORRECTION_TARGET_MISSING = CaseFlag.CORRECTION_TARGET_MISSING.value
assert CaseFlag.codes() == (
    _STATUS_BEFORE_ASSESSMENT,
    _EVENTS_AFTER_DEPARTURE,
    _CONFLICTING_ASSESSMENTS,
    _NO_CONTACT,
    _CORRECTION_TARGET_MISSING,
), "flags are listed in code-list order below"


def _days(start: str, end: str) -> int:
    return (date.fromisoformat(end) - date.fromisoformat(start)).days


def fold_prepared(person_ref: str, prepared: Prepared, bound: str | None) -> CaseState:
    """:func:`fold_case` on records already passed through :func:`prepare`; ``bound`` is a
    normalised timestamp (see :func:`as_of_bound`)."""
    return CaseState(*_fold(person_ref, prepared, bound))


def _fold(person_ref: str, prepared: Prepared, bound: str | None) -> _Folded:
    events, target_missing, last_recorded = effective_payloads(prepared, bound)
    acc = _Acc()
    for event, payload in events:
        on = event.occurred[:10]
        if event.type != "DepartedDenmark":
            acc.last_other_on = on
        _HANDLERS[event.type](acc, on, payload)

    # The assessment that counts: the latest positive one, else the latest one. A negative
    # decision after a positive one raises a flag but does not silently drop a counted victim;
    # reversing an identification is what CorrectionRecorded is for.
    assessment: tuple[str, Payload] | None = None
    assessed = conflicting = False
    assessments = acc.assessments
    if assessments:
        positive = [a for a in assessments if a[1]["outcome"] == _VICTIM]
        assessed = bool(positive)
        assessment = positive[-1] if positive else assessments[-1]
        conflicting = assessed and len(positive) < len(assessments)
    first_status_on = acc.first_status_on
    departed = acc.departed
    flags = tuple(
        flag
        for flag, raised in (
            (
                _STATUS_BEFORE_ASSESSMENT,
                first_status_on is not None
                and (not assessments or first_status_on < assessments[0][0]),
            ),
            (
                _EVENTS_AFTER_DEPARTURE,
                departed is not None
                and acc.last_other_on is not None
                and acc.last_other_on > departed,
            ),
            (_CONFLICTING_ASSESSMENTS, conflicting),
            (_NO_CONTACT, acc.contacts == 0),
            (_CORRECTION_TARGET_MISSING, target_missing),
        )
        if raised
    )

    if acc.status is not None:
        status_on: str | None = acc.status[0]
        status = acc.status[1]["status"]
        return_support = acc.status[1].get("return_support")
    elif acc.offered_on is not None:
        status_on, status, return_support = acc.offered_on, _OFFERED, None
    else:
        status_on, status, return_support = None, _NO_STATUS, None

    a = assessment[1] if assessment is not None else {}
    assessed_on = assessment[0] if assessment is not None else None
    days: int | None = None
    if assessed and assessed_on is not None:
        if departed is not None:
            days = _days(assessed_on, departed)
        elif status in _STAY_ENDING_STATUSES and status_on is not None:
            days = _days(assessed_on, status_on)
    citizenship: str | None = a.get("citizenship")
    first = acc.first_contact
    return _Folded(
        person_ref=person_ref,
        contacts=acc.contacts,
        first_contact_channel=first[1]["channel"] if first else _UNKNOWN_CHANNEL,
        first_contact_place=first[1].get("place") if first else None,
        first_contact_on=first[0] if first else None,
        contacts_by_year=tuple(sorted(acc.contacts_by_year.items())),
        assessed=assessed,
        authority=a.get("authority"),
        outcome=a.get("outcome"),
        exploitation=a.get("exploitation"),
        industry=a.get("industry"),
        citizenship=citizenship,
        region=None if citizenship is None else _REGION[citizenship],
        gender=a.get("gender"),
        age=a.get("age"),
        legal_residence=a.get("legal_residence"),
        assessed_on=assessed_on,
        status=status,
        status_on=status_on,
        return_support=return_support,
        accommodation=acc.accommodation,
        departed_on=departed,
        days_in_denmark=days,
        flags=flags,
        last_recorded_at=last_recorded,
        event_count=len(events),
    )


def fold_case(person_ref: str, records: Iterable[Record], as_of: AsOf = None) -> CaseState:
    """The case as known at ``as_of`` (all records if None), whatever order records come in.

    Flags (``CaseFlag``) mark inconsistent histories for a case worker; flagged events are
    still counted. Dates are compared by day: paperwork on the day of departure is normal."""
    return fold_prepared(person_ref, prepare(records), as_of_bound(as_of))


# ----------------------------------------------------------------------------------------------
# Bitemporal versions


class CaseVersion(NamedTuple):
    """The projections of a case valid from ``recorded_at`` until the next version."""

    recorded_at: str
    fact: FactRow | None
    contacts: tuple[ContactRow, ...]


def _versions(
    person_ref: str, records: Iterable[Record]
) -> Iterable[tuple[str, tuple[Any, ...] | None, tuple[tuple[int, int], ...]]]:
    """(raw recorded_at, fact values, contacts by year) at each distinct ``recorded_at``."""
    prepared = prepare(records)
    times: dict[str, str] = {e.recorded: e.recorded_raw for e in prepared.events}
    times.update((c.recorded, c.recorded_raw) for c in prepared.corrections)
    for t in sorted(times):
        folded = _fold(person_ref, prepared, t)
        yield times[t], _fact_values(folded), folded.contacts_by_year


def case_versions(person_ref: str, records: Iterable[Record]) -> list[CaseVersion]:
    """Fact and contact rows as known at each distinct ``recorded_at`` (ascending), collapsing
    consecutive equal versions. Before the first record there is no row, so leading versions
    with neither a fact nor contacts are left out: they would store nothing."""
    versions: list[CaseVersion] = []
    previous: tuple[Any, ...] = (None, ())
    for t, fact, contacts in _versions(person_ref, records):
        if (fact, contacts) != previous:
            previous = (fact, contacts)
            versions.append(
                CaseVersion(
                    t,
                    None if fact is None else FactRow(*fact),
                    tuple(ContactRow(person_ref, y, n) for y, n in contacts),
                )
            )
    return versions


def fact_versions(person_ref: str, records: Iterable[Record]) -> list[tuple[str, FactRow | None]]:
    """The victim fact as known at each distinct ``recorded_at`` (ascending), consecutive equal
    versions collapsed. A ``None`` version ends the previous row (e.g. an assessment was
    retracted); leading ``None`` versions are left out, since no row means the same."""
    versions: list[tuple[str, FactRow | None]] = []
    previous: tuple[Any, ...] | None = None
    for t, fact, _ in _versions(person_ref, records):
        if fact != previous:
            previous = fact
            versions.append((t, None if fact is None else FactRow(*fact)))
    return versions

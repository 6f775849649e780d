"""Case history: from one person's event records to the case state and the victim fact row.

Pure functions over records as ``domain.events.to_record`` returns them (plain dicts): no I/O,
no pydantic in the hot path, because the projection runner folds up to a million cases and per
event object work costs more than the store does (bench.bench_ingest measures both).

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
from operator import itemgetter
from typing import Any, NamedTuple, cast

from domain.codes import AgeBand, CaseFlag, Channel, CorrectionAction, Outcome, SupportStatus
from domain.countries import COUNTRIES, is_eu_member
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
# EU membership, for ``FactRow.eu_citizen``: whether the country of citizenship was an EU member
# state in the reporting year. The domain holds the membership (``domain.countries``).
is_eu_citizen = is_eu_member


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


# Building the frozen dataclasses fast. Their generated ``__init__`` sets each field with an
# ``object.__setattr__`` call (26 for CaseState), which costs more than the whole one-pass fold
# of a contacted-only person. A plain class with the same ``__slots__`` has the same memory
# layout, so an instance filled by ordinary attribute stores can become the dataclass by
# ``__class__`` assignment (CPython checks the layouts match and refuses otherwise): the
# result is an ordinary, frozen CaseState or FactRow, built about five times faster.
class _ThawedCaseState:
    __slots__ = CaseState.__slots__


class _ThawedFactRow:
    __slots__ = FactRow.__slots__


assert CaseState.__slots__ == _Folded._fields and FactRow.__slots__ == FACT_COLUMNS


def _case_state(values: tuple[Any, ...]) -> CaseState:
    """``CaseState(*values)``, faster (see above)."""
    s: Any = _ThawedCaseState()
    (
        s.person_ref,
        s.contacts,
        s.first_contact_channel,
        s.first_contact_place,
        s.first_contact_on,
        s.contacts_by_year,
        s.assessed,
        s.authority,
        s.outcome,
        s.exploitation,
        s.industry,
        s.citizenship,
        s.region,
        s.gender,
        s.age,
        s.legal_residence,
        s.assessed_on,
        s.status,
        s.status_on,
        s.return_support,
        s.accommodation,
        s.departed_on,
        s.days_in_denmark,
        s.flags,
        s.last_recorded_at,
        s.event_count,
    ) = values
    s.__class__ = CaseState
    return cast(CaseState, s)


def _fact_row(values: tuple[Any, ...]) -> FactRow:
    """``FactRow(*values)``, faster (see above)."""
    r: Any = _ThawedFactRow()
    (
        r.person_ref,
        r.year,
        r.assessed_on,
        r.authority,
        r.channel,
        r.channel_group,
        r.place,
        r.citizenship,
        r.region,
        r.exploitation,
        r.industry,
        r.gender,
        r.age,
        r.age_band,
        r.legal_residence,
        r.eu_citizen,
        r.status,
        r.status_on,
        r.return_support,
        r.accommodation,
        r.departed_on,
        r.days_in_denmark,
    ) = values
    r.__class__ = FactRow
    return cast(FactRow, r)


# The stores above are written out by hand: check once that they follow the field order.
_numbers = tuple(range(len(_Folded._fields)))
assert tuple(getattr(_case_state(_numbers), name) for name in _Folded._fields) == _numbers
_numbers = tuple(range(len(FACT_COLUMNS)))
assert tuple(getattr(_fact_row(_numbers), name) for name in FACT_COLUMNS) == _numbers
del _numbers


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
#
# The definition: the version as of each distinct ``recorded_at`` is the fold as of that time
# (``projections.case_history_reference`` computes exactly that, re-folding every event for
# every time, and is the test oracle). The runner projects a million events per rebuild, so
# here the versions come from one pass over the events in recording order instead. Without
# corrections nothing known is ever withdrawn or changed, so every field of the fold is a
# running count or the first/last event of a kind by (occurred, recorded, event_id), and
# each of those can be updated by one comparison per new event. A correction can withdraw
# the event a field was taken from; persons with corrections (a few per thousand) are
# re-folded as of each time, as the definition says.


class CaseVersion(NamedTuple):
    """The projections of a case valid from ``recorded_at`` until the next version."""

    recorded_at: str
    fact: FactRow | None
    contacts: tuple[ContactRow, ...]


def case_versions(person_ref: str, records: Iterable[Record]) -> list[CaseVersion]:
    """Fact and contact rows as known at each distinct ``recorded_at`` (ascending), collapsing
    consecutive equal versions. Before the first record there is no row, so leading versions
    with neither a fact nor contacts are left out: they would store nothing."""
    return _project(person_ref, records, with_state=False)[0]


def case_projection(
    person_ref: str, records: Iterable[Record]
) -> tuple[list[CaseVersion], CaseState]:
    """:func:`case_versions` and the current state (:func:`fold_case` with ``as_of=None``)
    from one preparation of the records: the read model needs both for every person, and
    preparing (normalising, deduplicating, sorting) costs as much as the fold."""
    versions, state = _project(person_ref, records, with_state=True)
    assert state is not None
    return versions, state


def fact_versions(person_ref: str, records: Iterable[Record]) -> list[tuple[str, FactRow | None]]:
    """The victim fact as known at each distinct ``recorded_at`` (ascending), consecutive equal
    versions collapsed. A ``None`` version ends the previous row (e.g. an assessment was
    retracted); leading ``None`` versions are left out, since no row means the same.

    Every time the fact changes is a time its case version changes, so these are the case
    versions whose fact differs from the one before."""
    versions: list[tuple[str, FactRow | None]] = []
    previous: FactRow | None = None
    for version in case_versions(person_ref, records):
        if version.fact != previous:
            previous = version.fact
            versions.append((version.recorded_at, version.fact))
    return versions


# (normalised recorded_at, normalised occurred_at, event_id, type, payload, raw recorded_at):
# recorded first, so that sorting gives recording order.
_Row = tuple[str, str, str, str, Payload, str]

_CONTACT = "ContactRegistered"
_ASSESSMENT = "AssessmentDecided"
_OFFER = "SupportOffered"
_STATUS = "SupportStatusChanged"
_ACCOMMODATION = "AccommodationChanged"
_DEPARTURE = "DepartedDenmark"
_FIELDS = itemgetter("recorded_at", "occurred_at", "event_id", "type", "payload")
# NamedTuple's own ``__new__`` is a Python function; for the many rows built per person the
# tuple constructor does the same three times faster.
_new_tuple = tuple.__new__
assert frozenset({_CONTACT, _ASSESSMENT, _OFFER, _STATUS, _ACCOMMODATION, _DEPARTURE}) == (
    CASE_EVENT_TYPES
), "the one-pass fold below has a branch for every case event type"


def _scan(records: Iterable[Record]) -> tuple[list[_Row], bool] | None:
    """The case events in recording order, deduplicated as :func:`prepare` does (the earliest
    recorded copy of an ``event_id`` wins), and whether any is not a contact; None if a
    correction of a case event is among the records, for which the one-pass fold does not
    hold."""
    rows: list[_Row] = []
    ids: set[str] = set()
    mixed = False
    for raw, occurred, event_id, kind, payload in map(_FIELDS, records):
        # Contacts first: most events are contacts, and one comparison costs less than
        # hashing the type (every decoded record has a fresh string).
        if kind != _CONTACT:
            if kind not in CASE_EVENT_TYPES:
                if kind == "CorrectionRecorded" and payload["target_type"] in CASE_EVENT_TYPES:
                    return None
                continue
            mixed = True
        # normalise_timestamp's first test, inlined (``[26:] == "Z"`` also says the length is
        # 27): the store's timestamps have that form, and a call per timestamp costs as much
        # as the rest of the scan.
        recorded = raw if raw[26:] == "Z" and raw[19] == "." else normalise_timestamp(raw)
        if not (occurred[26:] == "Z" and occurred[19] == "."):
            occurred = normalise_timestamp(occurred)
        event_id = str(event_id)
        ids.add(event_id)
        rows.append((recorded, occurred, event_id, kind, payload, raw))
    if len(ids) < len(rows):
        first: dict[str, _Row] = {}
        for row in rows:
            seen = first.get(row[2])
            if seen is None or row[0] < seen[0]:
                first[row[2]] = row
        rows = list(first.values())
    # Ids are unique now, so tuple order never reaches the payloads.
    rows.sort()
    return rows, mixed


def _status_of(
    status: Payload | None, status_at: str, offered_at: str | None
) -> tuple[str | None, str, str | None]:
    """(status_on, status, return_support): the latest status change, else the offer."""
    if status is not None:
        return status_at[:10], status["status"], status.get("return_support")
    if offered_at is not None:
        return offered_at[:10], _OFFERED, None
    return None, _NO_STATUS, None


def _days_in_denmark(
    assessed_on: str, departed_on: str | None, status: str, status_on: str | None
) -> int | None:
    """As :func:`_fold` counts them: to the departure, else to a status that ends the stay."""
    if departed_on is not None:
        return _days(assessed_on, departed_on)
    if status in _STAY_ENDING_STATUSES and status_on is not None:
        return _days(assessed_on, status_on)
    return None


def _fact_tuple(
    person_ref: str,
    assessment: Payload,
    assessed_at: str,
    first_contact: Payload | None,
    status: Payload | None,
    status_at: str,
    offered_at: str | None,
    accommodation: str | None,
    departed_at: str | None,
) -> tuple[Any, ...]:
    """:func:`_fact_values` from the one-pass accumulators, without building the whole state
    (most versions of a victim differ in one or two columns, and the state has 26)."""
    assessed_on = assessed_at[:10]
    year = int(assessed_on[:4])
    citizenship: str | None = assessment.get("citizenship")
    region = None if citizenship is None else _REGION[citizenship]
    citizenship = citizenship or ""
    age = assessment.get("age") or 0
    if first_contact is None:
        channel, place = _UNKNOWN_CHANNEL, None
    else:
        channel, place = first_contact["channel"], first_contact.get("place")
    status_on, status_code, return_support = _status_of(status, status_at, offered_at)
    departed_on = None if departed_at is None else departed_at[:10]
    return (
        person_ref,
        year,
        assessed_on,
        assessment.get("authority") or "",
        channel,
        _CHANNEL_GROUP[channel],
        place,
        citizenship,
        region or "",
        assessment.get("exploitation") or "",
        assessment.get("industry"),
        assessment.get("gender") or "",
        age,
        _AGE_BAND[age] if 0 <= age < len(_AGE_BAND) else AgeBand.of(age).value,
        bool(assessment.get("legal_residence")),
        is_eu_citizen(citizenship, year),
        status_code,
        status_on,
        return_support,
        accommodation,
        departed_on,
        _days_in_denmark(assessed_on, departed_on, status_code, status_on),
    )


def _project(
    person_ref: str, records: Iterable[Record], with_state: bool
) -> tuple[list[CaseVersion], CaseState | None]:
    """The versions and, if asked, the current state, in one pass over the events in
    recording order (re-folding only persons with corrections)."""
    if not isinstance(records, list | tuple):
        records = list(records)  # read twice if a correction sends it to the re-fold
    scanned = _scan(records)
    if scanned is None:
        return _refold(person_ref, prepare(records), with_state)
    rows, mixed = scanned
    if mixed:
        return _project_case(person_ref, rows, with_state)
    return _project_contacts(person_ref, rows, with_state)


def _last_recorded(rows: list[_Row]) -> str | None:
    """The raw ``recorded_at`` that :func:`effective_payloads` reports: the greatest, from the
    first event in occurrence order that has it, which is the first row of the last group."""
    if not rows:
        return None
    j = len(rows) - 1
    latest = rows[j][0]
    while j > 0 and rows[j - 1][0] == latest:
        j -= 1
    return rows[j][5]


def _project_contacts(
    person_ref: str, rows: list[_Row], with_state: bool
) -> tuple[list[CaseVersion], CaseState | None]:
    """:func:`_project_case` for a person with contacts only (most persons): never a fact,
    and every ``recorded_at`` adds a contact, so every one is a version."""
    versions: list[CaseVersion] = []
    by_year: dict[int, int] = {}
    # Rows are reused across versions: only the year a contact falls in gets a new row.
    contact_row: dict[int, ContactRow] = {}
    first_contact: Payload | None = None
    first_contact_at = ""
    last = len(rows) - 1
    for i, (recorded, occurred, _, _, payload, raw) in enumerate(rows):
        year = int(occurred[:4])
        count = by_year.get(year, 0) + 1
        by_year[year] = count
        contact_row[year] = _new_tuple(ContactRow, (person_ref, year, count))
        if first_contact is None or occurred < first_contact_at:
            first_contact, first_contact_at = payload, occurred
        if i < last and rows[i + 1][0] == recorded:
            continue  # the version as of ``recorded`` comes after its last event
        # The reference keys its times by the normalised value and keeps the raw form of the
        # last event in occurrence order: here that is this group's last row.
        versions.append(
            _new_tuple(
                CaseVersion,
                (
                    raw,
                    None,
                    tuple(contact_row.values())
                    if len(contact_row) == 1
                    else tuple(contact_row[y] for y in sorted(contact_row)),
                ),
            )
        )
    if not with_state:
        return versions, None
    return (
        versions,
        _case_state(
            (
                person_ref,
                len(rows),  # contacts
                _UNKNOWN_CHANNEL if first_contact is None else first_contact["channel"],
                None if first_contact is None else first_contact.get("place"),
                None if first_contact is None else first_contact_at[:10],
                tuple(sorted(by_year.items())),
                False,  # assessed
                None,  # authority
                None,  # outcome
                None,  # exploitation
                None,  # industry
                None,  # citizenship
                None,  # region
                None,  # gender
                None,  # age
                None,  # legal_residence
                None,  # assessed_on
                _NO_STATUS,
                None,  # status_on
                None,  # return_support
                None,  # accommodation
                None,  # departed_on
                None,  # days_in_denmark
                () if rows else (_NO_CONTACT,),
                _last_recorded(rows),
                len(rows),  # event_count
            )
        ),
    )


def _project_case(
    person_ref: str, rows: list[_Row], with_state: bool
) -> tuple[list[CaseVersion], CaseState | None]:
    """The versions and, if asked, the current state, in one pass over ``rows`` (recording
    order, no corrections), emitting a version after the last event of each ``recorded_at``.

    Each event is compared with the current first/last event of its kind by (occurred,
    recorded, event_id), the fold's order. Rows come sorted by (recorded, occurred,
    event_id), so an event with the same ``occurred_at`` as one before it is later in
    (recorded, event_id): it is the last so far exactly when its ``occurred_at`` is >= the
    last one's, the first exactly when it is < the first one's, and only ``occurred_at``
    needs comparing."""
    versions: list[CaseVersion] = []
    contacts = 0
    by_year: dict[int, int] = {}
    contact_row: dict[int, ContactRow] = {}  # reused across versions, as for contacts only
    contact_rows: tuple[ContactRow, ...] = ()
    first_contact: Payload | None = None
    first_contact_at = ""
    positive: Payload | None = None  # the latest positive assessment: the one that counts
    positive_at = ""
    latest: Payload | None = None  # the latest assessment, shown while none is positive
    latest_at = ""
    first_assessed_at = ""
    assessments = positives = 0
    offered_at: str | None = None
    status: Payload | None = None
    status_at = ""
    first_status_at: str | None = None
    accommodation: str | None = None
    accommodation_at: str | None = None
    departed_at: str | None = None
    other_at = ""  # the latest event other than a departure, for EVENTS_AFTER_DEPARTURE
    fact: tuple[Any, ...] | None = None
    fact_row: FactRow | None = None
    # Recompute the fact only when one of its inputs moved: most events are contacts after
    # the first, which change the contact rows only.
    fact_stale = contacts_changed = False
    last = len(rows) - 1
    for i, (recorded, occurred, _, kind, payload, raw) in enumerate(rows):
        if kind == _CONTACT:
            contacts += 1
            year = int(occurred[:4])
            count = by_year.get(year, 0) + 1
            by_year[year] = count
            contact_row[year] = _new_tuple(ContactRow, (person_ref, year, count))
            contacts_changed = True
            if first_contact is None or occurred < first_contact_at:
                first_contact, first_contact_at = payload, occurred
                if positive is not None:
                    fact_stale = True
        elif kind == _ASSESSMENT:
            assessments += 1
            if assessments == 1 or occurred < first_assessed_at:
                first_assessed_at = occurred
            if assessments == 1 or occurred >= latest_at:
                latest, latest_at = payload, occurred
            if payload["outcome"] == _VICTIM:
                positives += 1
                if positive is None or occurred >= positive_at:
                    positive, positive_at = payload, occurred
                    fact_stale = True
        elif kind == _STATUS:
            if status is None or occurred >= status_at:
                status, status_at = payload, occurred
                fact_stale = True
            if first_status_at is None or occurred < first_status_at:
                first_status_at = occurred
        elif kind == _OFFER:
            if offered_at is None or occurred < offered_at:
                offered_at = occurred
                fact_stale = True
        elif kind == _ACCOMMODATION:
            if accommodation_at is None or occurred >= accommodation_at:
                accommodation, accommodation_at = payload["accommodation"], occurred
                fact_stale = True
        elif departed_at is None or occurred > departed_at:  # a departure
            departed_at = occurred
            fact_stale = True
        if kind != _DEPARTURE and occurred > other_at:
            other_at = occurred

        if i < last and rows[i + 1][0] == recorded:
            continue  # the version as of ``recorded`` comes after its last event
        # A contact always changes the rows: without corrections, counts only grow.
        changed = contacts_changed
        if contacts_changed:
            contacts_changed = False
            contact_rows = (
                tuple(contact_row.values())
                if len(contact_row) == 1
                else tuple(contact_row[y] for y in sorted(contact_row))
            )
        if fact_stale:
            fact_stale = False
            values = (
                None
                if positive is None
                else _fact_tuple(
                    person_ref,
                    positive,
                    positive_at,
                    first_contact,
                    status,
                    status_at,
                    offered_at,
                    accommodation,
                    departed_at,
                )
            )
            if values != fact:
                fact = values
                fact_row = None if values is None else _fact_row(values)
                changed = True
        if changed:
            # The raw form of the group's last row, as the reference keeps it (see above).
            versions.append(_new_tuple(CaseVersion, (raw, fact_row, contact_rows)))

    if not with_state:
        return versions, None

    chosen, chosen_at = (positive, positive_at) if positive is not None else (latest, latest_at)
    a: Payload = {} if chosen is None else chosen
    assessed_on = None if chosen is None else chosen_at[:10]
    status_on, status_code, return_support = _status_of(status, status_at, offered_at)
    departed_on = None if departed_at is None else departed_at[:10]
    days = (
        _days_in_denmark(assessed_on, departed_on, status_code, status_on)
        if positive is not None and assessed_on is not None
        else None
    )
    flags: list[str] = []
    if first_status_at is not None and (
        not assessments or first_status_at[:10] < first_assessed_at[:10]
    ):
        flags.append(_STATUS_BEFORE_ASSESSMENT)
    if departed_on is not None and other_at and other_at[:10] > departed_on:
        flags.append(_EVENTS_AFTER_DEPARTURE)
    if positive is not None and positives < assessments:
        flags.append(_CONFLICTING_ASSESSMENTS)
    if contacts == 0:
        flags.append(_NO_CONTACT)
    citizenship: str | None = a.get("citizenship")
    state = _case_state(
        (
            person_ref,
            contacts,
            _UNKNOWN_CHANNEL if first_contact is None else first_contact["channel"],
            None if first_contact is None else first_contact.get("place"),
            None if first_contact is None else first_contact_at[:10],  # first_contact_on
            tuple(sorted(by_year.items())),  # contacts_by_year
            positive is not None,  # assessed
            a.get("authority"),
            a.get("outcome"),
            a.get("exploitation"),
            a.get("industry"),
            citizenship,
            None if citizenship is None else _REGION[citizenship],  # region
            a.get("gender"),
            a.get("age"),
            a.get("legal_residence"),
            assessed_on,
            status_code,
            status_on,
            return_support,
            accommodation,
            departed_on,
            days,  # days_in_denmark
            tuple(flags),
            _last_recorded(rows),  # last_recorded_at
            len(rows),  # event_count
        )
    )
    return versions, state


def _refold(
    person_ref: str, prepared: Prepared, with_state: bool
) -> tuple[list[CaseVersion], CaseState | None]:
    """The versions by definition, re-folding as of every distinct ``recorded_at``: for
    persons with corrections, where a field's first/last event can be withdrawn."""
    times: dict[str, str] = {e.recorded: e.recorded_raw for e in prepared.events}
    times.update((c.recorded, c.recorded_raw) for c in prepared.corrections)
    versions: list[CaseVersion] = []
    previous: tuple[Any, ...] = (None, ())
    folded: _Folded | None = None
    for t in sorted(times):
        folded = _fold(person_ref, prepared, t)
        fact, contacts = _fact_values(folded), folded.contacts_by_year
        if (fact, contacts) != previous:
            previous = (fact, contacts)
            versions.append(
                CaseVersion(
                    times[t],
                    None if fact is None else FactRow(*fact),
                    tuple(ContactRow(person_ref, y, n) for y, n in contacts),
                )
            )
    if not with_state:
        return versions, None
    # As of the greatest recorded_at every record is known: that fold is the current state.
    if folded is None:
        folded = _fold(person_ref, prepared, None)
    return versions, CaseState(*folded)

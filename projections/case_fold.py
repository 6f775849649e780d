"""The case fold, by definition: one person's event records to the case state and its versions.

This is the readable definition; :mod:`projections.case_fold_fast` computes the same versions
in one pass for the read model, and says why it equals this. Pure functions over records as
``domain.events.to_record`` returns them (plain dicts): no I/O, no pydantic.

- :func:`fold_case` is the case as known at ``as_of``: the records known by then, after their
  corrections, in occurrence order (:mod:`projections.bitemporal`), folded into a
  :class:`CaseState`. Each field is a count, or taken from the first or the last event of one
  kind; the fact row (:func:`projections.case_rows.fact_values`) is made from the state.
- :func:`refold_versions` is what the read model stores: the fact and contact rows as known at
  each distinct ``recorded_at``, by folding again as of each of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from domain.codes import AssessmentKind, CaseFlag, Channel, ExploitationForm, Outcome, SupportStatus
from domain.events import CASE_EVENT_TYPES
from domain.local_dates import local_date
from projections.bitemporal import (
    AsOf,
    Payload,
    Prepared,
    Record,
    as_of_bound,
    effective_payloads,
    prepare,
)
from projections.case_rows import (
    CaseVersion,
    ContactRow,
    FactRow,
    days_in_denmark,
    fact_values,
    region_of,
)


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
    additional_forms: str | None
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
    reflection_days: int | None

    def fact(self) -> FactRow | None:
        """The report row, or None unless the person is assessed as a victim."""
        if not self.assessed or self.assessed_on is None:
            return None
        return FactRow(
            *fact_values(
                person_ref=self.person_ref,
                assessed_on=self.assessed_on,
                authority=self.authority,
                channel=self.first_contact_channel,
                place=self.first_contact_place,
                citizenship=self.citizenship,
                exploitation=self.exploitation,
                additional_forms=self.additional_forms,
                industry=self.industry,
                gender=self.gender,
                age=self.age,
                legal_residence=self.legal_residence,
                status=self.status,
                status_on=self.status_on,
                return_support=self.return_support,
                accommodation=self.accommodation,
                departed_on=self.departed_on,
                reflection_days=self.reflection_days,
            )
        )

    def contact_rows(self) -> tuple[ContactRow, ...]:
        return tuple(ContactRow(self.person_ref, y, n) for y, n in self.contacts_by_year)


CONTACT = "ContactRegistered"
ASSESSMENT = "AssessmentDecided"
OFFER = "SupportOffered"
STATUS = "SupportStatusChanged"
ACCOMMODATION = "AccommodationChanged"
DEPARTURE = "DepartedDenmark"
assert frozenset({CONTACT, ASSESSMENT, OFFER, STATUS, ACCOMMODATION, DEPARTURE}) == (
    CASE_EVENT_TYPES
), "the fold reads every case event type"

VICTIM = Outcome.VICTIM.value
FORM_ORDER = {code: i for i, code in enumerate(ExploitationForm.codes())}
NO_STATUS = SupportStatus.NONE.value
UNKNOWN_CHANNEL = Channel.UNKNOWN.value
STATUS_BEFORE_ASSESSMENT = CaseFlag.STATUS_BEFORE_ASSESSMENT.value
EVENTS_AFTER_DEPARTURE = CaseFlag.EVENTS_AFTER_DEPARTURE.value
CONFLICTING_ASSESSMENTS = CaseFlag.CONFLICTING_ASSESSMENTS.value
NO_CONTACT = CaseFlag.NO_CONTACT.value
CORRECTION_TARGET_MISSING = CaseFlag.CORRECTION_TARGET_MISSING.value
assert CaseFlag.codes() == (
    STATUS_BEFORE_ASSESSMENT,
    EVENTS_AFTER_DEPARTURE,
    CONFLICTING_ASSESSMENTS,
    NO_CONTACT,
    CORRECTION_TARGET_MISSING,
), "the fold raises flags in code-list order"


def status_of(
    status: Payload | None, status_at: str | None, offered_at: str | None
) -> tuple[str | None, str, str | None]:
    """(status_on, status, return_support): from the latest status change, else ``offered``
    from the first offer, else ``none``. Times are normalised timestamps or (local) days."""
    if status is not None and status_at is not None:
        return local_date(status_at), status["status"], status.get("return_support")
    if offered_at is not None:
        return local_date(offered_at), SupportStatus.OFFERED.value, None
    return None, NO_STATUS, None


SUPERSEDING_KINDS = frozenset(k.value for k in AssessmentKind if k.supersedes)


def latest_superseding(assessments: list[tuple[str, Payload]]) -> int:
    """The index of the latest reassessment or appeal among ``assessments`` (in occurrence
    order), or 0 when there is none: the assessments from there on stand."""
    for i in range(len(assessments) - 1, 0, -1):
        if assessments[i][1].get("kind") in SUPERSEDING_KINDS:
            return i
    return 0


def additional_forms_of(assessment: Payload) -> str | None:
    """The further forms of exploitation of an assessment as the fact row holds them: their
    codes in code-list order, joined by ``,`` (None for none)."""
    forms = assessment.get("additional_forms")
    return None if not forms else ",".join(sorted(forms, key=FORM_ORDER.__getitem__))


def fold_prepared(person_ref: str, prepared: Prepared, bound: str | None) -> CaseState:
    """:func:`fold_case` on records already passed through :func:`prepare`; ``bound`` is a
    normalised timestamp (see :func:`as_of_bound`)."""
    events, target_missing, last_recorded = effective_payloads(prepared, bound)
    # Each kind's events in occurrence order, as (the day it happened on, in Denmark, its
    # payload).
    of_kind: dict[str, list[tuple[str, Payload]]] = {kind: [] for kind in CASE_EVENT_TYPES}
    for event, payload in events:
        of_kind[event.type].append((local_date(event.occurred), payload))
    contacts, assessments = of_kind[CONTACT], of_kind[ASSESSMENT]
    offers, statuses = of_kind[OFFER], of_kind[STATUS]
    accommodations, departures = of_kind[ACCOMMODATION], of_kind[DEPARTURE]

    contacts_by_year: dict[int, int] = {}
    for on, _ in contacts:
        year = int(on[:4])  # a local date
        contacts_by_year[year] = contacts_by_year.get(year, 0) + 1
    first_contact = contacts[0] if contacts else None

    # A reassessment or an appeal decides the case again: the assessments that count are the
    # latest such decision and those after it. Of those, the one that counts is the latest
    # positive one, else the latest one. A negative decision after a positive one that does
    # not supersede it raises a flag but does not silently drop a counted victim; reversing
    # an identification is what a reassessment, an appeal or CorrectionRecorded is for.
    standing = assessments[latest_superseding(assessments) :]
    positive = [a for a in standing if a[1]["outcome"] == VICTIM]
    assessed = bool(positive)
    assessment = positive[-1] if positive else standing[-1] if standing else None
    a: Payload = {} if assessment is None else assessment[1]
    assessed_on = None if assessment is None else assessment[0]

    status_on, status, return_support = status_of(
        statuses[-1][1] if statuses else None,
        statuses[-1][0] if statuses else None,
        offers[0][0] if offers else None,
    )
    departed_on = departures[-1][0] if departures else None
    days = (
        days_in_denmark(assessed_on, departed_on, status, status_on)
        if assessed and assessed_on is not None
        else None
    )

    # Flags (in code-list order) mark inconsistent histories; dates are compared by day.
    others = [local_date(event.occurred) for event, _ in events if event.type != DEPARTURE]
    raised = {
        STATUS_BEFORE_ASSESSMENT: bool(statuses)
        and (not assessments or statuses[0][0] < assessments[0][0]),
        EVENTS_AFTER_DEPARTURE: departed_on is not None
        and bool(others)
        and others[-1] > departed_on,
        CONFLICTING_ASSESSMENTS: assessed and len(positive) < len(standing),
        NO_CONTACT: not contacts,
        CORRECTION_TARGET_MISSING: target_missing,
    }
    citizenship: str | None = a.get("citizenship")
    return CaseState(
        person_ref=person_ref,
        contacts=len(contacts),
        first_contact_channel=first_contact[1]["channel"] if first_contact else UNKNOWN_CHANNEL,
        first_contact_place=first_contact[1].get("place") if first_contact else None,
        first_contact_on=first_contact[0] if first_contact else None,
        contacts_by_year=tuple(sorted(contacts_by_year.items())),
        assessed=assessed,
        authority=a.get("authority"),
        outcome=a.get("outcome"),
        exploitation=a.get("exploitation"),
        additional_forms=additional_forms_of(a),
        industry=a.get("industry"),
        citizenship=citizenship,
        region=region_of(citizenship),
        gender=a.get("gender"),
        age=a.get("age"),
        legal_residence=a.get("legal_residence"),
        assessed_on=assessed_on,
        status=status,
        status_on=status_on,
        return_support=return_support,
        accommodation=accommodations[-1][1]["accommodation"] if accommodations else None,
        departed_on=departed_on,
        days_in_denmark=days,
        flags=tuple(flag for flag, up in raised.items() if up),
        last_recorded_at=last_recorded,
        event_count=len(events),
        # The reflection period offered with the first offer of support, if it says one.
        reflection_days=offers[0][1].get("reflection_days") if offers else None,
    )


def fold_case(person_ref: str, records: Iterable[Record], as_of: AsOf = None) -> CaseState:
    """The case as known at ``as_of`` (all records if None), whatever order records come in.

    Flags (``CaseFlag``) mark inconsistent histories for a case worker; flagged events are
    still counted. Dates are compared by day: paperwork on the day of departure is normal."""
    return fold_prepared(person_ref, prepare(records), as_of_bound(as_of))


# ----------------------------------------------------------------------------------------------
# Bitemporal versions, by definition: the version as of each distinct ``recorded_at`` is the
# fold as of that time. O(times x events) per person: simple enough to trust, and fast enough
# for the few persons whose history has corrections (the one-pass fold hands those back here).


def refold_versions(person_ref: str, prepared: Prepared) -> tuple[list[CaseVersion], CaseState]:
    """The case versions (see :func:`case_versions_by_refolding`) and the current state."""
    times: dict[str, str] = {e.recorded: e.recorded_raw for e in prepared.events}
    times.update((c.recorded, c.recorded_raw) for c in prepared.corrections)
    versions: list[CaseVersion] = []
    previous: tuple[FactRow | None, tuple[ContactRow, ...]] = (None, ())
    state: CaseState | None = None
    for t in sorted(times):
        state = fold_prepared(person_ref, prepared, t)
        current = (state.fact(), state.contact_rows())
        if current != previous:
            previous = current
            versions.append(CaseVersion(times[t], *current))
    # As of the greatest recorded_at every record is known: that fold is the current state.
    if state is None:
        state = fold_prepared(person_ref, prepared, None)
    return versions, state


def case_versions_by_refolding(person_ref: str, records: Iterable[Record]) -> list[CaseVersion]:
    """Fact and contact rows as known at each distinct ``recorded_at`` (ascending), collapsing
    consecutive equal versions; each version keeps the raw ``recorded_at`` as written. Before
    the first record there is no row, so leading versions with neither a fact nor contacts are
    left out: they would store nothing."""
    return refold_versions(person_ref, prepare(records))[0]


def fact_changes(versions: Iterable[CaseVersion]) -> list[tuple[str, FactRow | None]]:
    """The victim fact as known at each version where it changed (see
    :func:`fact_versions_by_refolding`). Every time the fact changes is a time its case version
    changes, so these are the versions whose fact differs from the one before."""
    changes: list[tuple[str, FactRow | None]] = []
    previous: FactRow | None = None
    for version in versions:
        if version.fact != previous:
            previous = version.fact
            changes.append((version.recorded_at, version.fact))
    return changes


def fact_versions_by_refolding(
    person_ref: str, records: Iterable[Record]
) -> list[tuple[str, FactRow | None]]:
    """The victim fact as known at each distinct ``recorded_at`` (ascending), consecutive equal
    versions collapsed. A ``None`` version ends the previous row (e.g. an assessment was
    retracted); leading ``None`` versions are left out, since no row means the same."""
    return fact_changes(case_versions_by_refolding(person_ref, records))

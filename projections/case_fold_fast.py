"""The case versions in one pass, for the read model: the fast fold.

:mod:`projections.case_fold` defines the versions: the fold as of each distinct
``recorded_at`` (:func:`~projections.case_fold.refold_versions`), which re-folds every event
for every time. The runner projects a million events per rebuild, so here the versions and
the current state come from one pass over the events in recording order instead. The
property tests (``tests/unit/test_case_history_fast.py`` against the definition,
``tests/unit/test_case_fold_oracle.py`` against an independent oracle) hold the two equal.

Why one pass equals the definition. Without corrections, what is known as of ``t`` is the
records with ``recorded_at <= t``: in recording order, a prefix of them, which the next
time's prefix extends, and nothing known is ever withdrawn or changed. Every field of the
fold (:func:`~projections.case_fold.fold_prepared`) is a count, or taken from the first or
the last event of one kind in the fold's order (occurred, recorded, event_id), so each can
be updated by one comparison as the prefix grows by one event; the rows arrive in
(recorded, occurred, event_id) order, so a row that ties an earlier one on ``occurred_at``
is the later in the fold's order, and comparing ``occurred_at`` alone picks as the
definition does. The state and the fact row are then made from those fields by the
definition's own rules (:func:`~projections.case_fold.status_of`,
:func:`~projections.case_rows.fact_values`), and a version is emitted after the last record
of each ``recorded_at`` when its rows differ from the previous version's, as the definition
collapses equal consecutive versions. A correction can withdraw the very event a field was
taken from, and nothing short of re-folding recovers the one before it: persons with a
correction of a case event (a few per thousand) go to the definition itself.

Persons with contacts only (most persons) take :func:`_project_contacts`, the same pass
with every other kind of event known to be absent: never a fact, and every ``recorded_at``
adds a contact, so every one is a version.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from domain.events import CASE_EVENT_TYPES
from domain.local_dates import local_date
from projections.bitemporal import Payload, Record, prepare
from projections.case_fold import (
    ACCOMMODATION,
    ASSESSMENT,
    CONFLICTING_ASSESSMENTS,
    CONTACT,
    DEPARTURE,
    EVENTS_AFTER_DEPARTURE,
    NO_CONTACT,
    NO_STATUS,
    OFFER,
    STATUS,
    STATUS_BEFORE_ASSESSMENT,
    SUPERSEDING_KINDS,
    UNKNOWN_CHANNEL,
    VICTIM,
    CaseState,
    additional_forms_of,
    fact_changes,
    refold_versions,
    status_of,
)
from projections.case_rows import (
    CaseVersion,
    ContactRow,
    FactRow,
    days_in_denmark,
    fact_values,
    region_of,
)
from projections.fast_construction import new_case_state, new_fact_row, new_tuple
from projections.recording_order import Row, last_recorded, scan


def case_versions(person_ref: str, records: Iterable[Record]) -> list[CaseVersion]:
    """:func:`~projections.case_fold.case_versions_by_refolding`, in one pass: fact and
    contact rows as known at each distinct ``recorded_at`` (ascending), consecutive equal
    versions collapsed, leading empty versions left out."""
    return _project(person_ref, records, with_state=False)[0]


def case_projection(
    person_ref: str, records: Iterable[Record]
) -> tuple[list[CaseVersion], CaseState]:
    """:func:`case_versions` and the current state (``fold_case`` with ``as_of=None``) from
    one preparation of the records: the read model needs both for every person, and
    preparing (normalising, deduplicating, sorting) costs as much as the fold."""
    versions, state = _project(person_ref, records, with_state=True)
    assert state is not None
    return versions, state


def fact_versions(person_ref: str, records: Iterable[Record]) -> list[tuple[str, FactRow | None]]:
    """:func:`~projections.case_fold.fact_versions_by_refolding`, in one pass: the victim
    fact as known at each distinct ``recorded_at`` where it changed."""
    return fact_changes(case_versions(person_ref, records))


assert frozenset({CONTACT, ASSESSMENT, OFFER, STATUS, ACCOMMODATION, DEPARTURE}) == (
    CASE_EVENT_TYPES
), "the one-pass fold below has a branch for every case event type"


def _project(
    person_ref: str, records: Iterable[Record], with_state: bool
) -> tuple[list[CaseVersion], CaseState | None]:
    """The versions and, if asked, the current state, in one pass over the events in
    recording order (re-folding only persons with corrections)."""
    if not isinstance(records, list | tuple):
        records = list(records)  # read twice if a correction sends it to the re-fold
    scanned = scan(records)
    if scanned is None:
        return refold_versions(person_ref, prepare(records))
    rows, mixed = scanned
    if mixed:
        projected = _project_case(person_ref, rows, with_state)
        # A reassessment or an appeal sets aside the assessments before it, as a correction
        # withdraws an event: the one pass cannot take that back either.
        return refold_versions(person_ref, prepare(records)) if projected is None else projected
    return _project_contacts(person_ref, rows, with_state)


def _project_contacts(
    person_ref: str, rows: list[Row], with_state: bool
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
        # The Danish year (``domain.local_dates``), by its test inlined: a call per contact
        # costs as much as the rest of this loop.
        year = int(occurred[:4] if occurred[11:13] < "22" else local_date(occurred)[:4])
        count = by_year.get(year, 0) + 1
        by_year[year] = count
        contact_row[year] = new_tuple(ContactRow, (person_ref, year, count))
        if first_contact is None or occurred < first_contact_at:
            first_contact, first_contact_at = payload, occurred
        if i < last and rows[i + 1][0] == recorded:
            continue  # the version as of ``recorded`` comes after its last event
        # The definition keys its times by the normalised value and keeps the raw form of the
        # last event in occurrence order: here that is this group's last row.
        versions.append(
            new_tuple(
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
        new_case_state(
            (
                person_ref,
                len(rows),  # contacts
                UNKNOWN_CHANNEL if first_contact is None else first_contact["channel"],
                None if first_contact is None else first_contact.get("place"),
                None
                if first_contact is None
                else first_contact_at[:10]
                if first_contact_at[11:13] < "22"
                else local_date(first_contact_at),  # inlined: once per person, most persons
                tuple(sorted(by_year.items())),
                False,  # assessed
                None,  # authority
                None,  # outcome
                None,  # exploitation
                None,  # additional_forms
                None,  # industry
                None,  # citizenship
                None,  # region
                None,  # gender
                None,  # age
                None,  # legal_residence
                None,  # assessed_on
                NO_STATUS,
                None,  # status_on
                None,  # return_support
                None,  # accommodation
                None,  # departed_on
                None,  # days_in_denmark
                () if rows else (NO_CONTACT,),
                last_recorded(rows),
                len(rows),  # event_count
                None,  # reflection_days
            )
        ),
    )


def _project_case(
    person_ref: str, rows: list[Row], with_state: bool
) -> tuple[list[CaseVersion], CaseState | None] | None:
    """The versions and, if asked, the current state, in one pass over ``rows`` (recording
    order, no corrections), emitting a version after the last event of each ``recorded_at``.

    Each event is compared with the current first/last event of its kind by (occurred,
    recorded, event_id), the fold's order. Rows come sorted by (recorded, occurred,
    event_id), so an event with the same ``occurred_at`` as one before it is later in
    (recorded, event_id): it is the last so far exactly when its ``occurred_at`` is >= the
    last one's, the first exactly when it is < the first one's, and only ``occurred_at``
    needs comparing. None for a person with a reassessment or an appeal, which the
    definition folds."""
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
    offer: Payload | None = None  # the first offer, whose reflection period the fact shows
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
        if kind == CONTACT:
            contacts += 1
            year = int(occurred[:4] if occurred[11:13] < "22" else local_date(occurred)[:4])
            count = by_year.get(year, 0) + 1
            by_year[year] = count
            contact_row[year] = new_tuple(ContactRow, (person_ref, year, count))
            contacts_changed = True
            if first_contact is None or occurred < first_contact_at:
                first_contact, first_contact_at = payload, occurred
                if positive is not None:
                    fact_stale = True
        elif kind == ASSESSMENT:
            if "kind" in payload and payload["kind"] in SUPERSEDING_KINDS:
                return None
            assessments += 1
            if assessments == 1 or occurred < first_assessed_at:
                first_assessed_at = occurred
            if assessments == 1 or occurred >= latest_at:
                latest, latest_at = payload, occurred
            if payload["outcome"] == VICTIM:
                positives += 1
                if positive is None or occurred >= positive_at:
                    positive, positive_at = payload, occurred
                    fact_stale = True
        elif kind == STATUS:
            if status is None or occurred >= status_at:
                status, status_at = payload, occurred
                fact_stale = True
            if first_status_at is None or occurred < first_status_at:
                first_status_at = occurred
        elif kind == OFFER:
            if offered_at is None or occurred < offered_at:
                offered_at, offer = occurred, payload
                fact_stale = True
        elif kind == ACCOMMODATION:
            if accommodation_at is None or occurred >= accommodation_at:
                accommodation, accommodation_at = payload["accommodation"], occurred
                fact_stale = True
        elif departed_at is None or occurred > departed_at:  # a departure
            departed_at = occurred
            fact_stale = True
        if kind != DEPARTURE and occurred > other_at:
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
                else _fact(
                    person_ref,
                    positive,
                    positive_at,
                    first_contact,
                    status,
                    status_at,
                    offered_at,
                    offer,
                    accommodation,
                    departed_at,
                )
            )
            if values != fact:
                fact = values
                fact_row = None if values is None else new_fact_row(values)
                changed = True
        if changed:
            # The raw form of the group's last row, as the definition keeps it (see above).
            versions.append(new_tuple(CaseVersion, (raw, fact_row, contact_rows)))

    if not with_state:
        return versions, None

    chosen, chosen_at = (positive, positive_at) if positive is not None else (latest, latest_at)
    a: Payload = {} if chosen is None else chosen
    assessed_on = None if chosen is None else local_date(chosen_at)
    status_on, status_code, return_support = status_of(status, status_at, offered_at)
    departed_on = None if departed_at is None else local_date(departed_at)
    days = (
        days_in_denmark(assessed_on, departed_on, status_code, status_on)
        if positive is not None and assessed_on is not None
        else None
    )
    # In code-list order, as the definition raises them (no correction here, so never
    # correction_target_missing).
    flags: list[str] = []
    if first_status_at is not None and (
        not assessments or local_date(first_status_at) < local_date(first_assessed_at)
    ):
        flags.append(STATUS_BEFORE_ASSESSMENT)
    if departed_on is not None and other_at and local_date(other_at) > departed_on:
        flags.append(EVENTS_AFTER_DEPARTURE)
    if positive is not None and positives < assessments:
        flags.append(CONFLICTING_ASSESSMENTS)
    if contacts == 0:
        flags.append(NO_CONTACT)
    citizenship: str | None = a.get("citizenship")
    state = new_case_state(
        (
            person_ref,
            contacts,
            UNKNOWN_CHANNEL if first_contact is None else first_contact["channel"],
            None if first_contact is None else first_contact.get("place"),
            None if first_contact is None else local_date(first_contact_at),  # first_contact_on
            tuple(sorted(by_year.items())),  # contacts_by_year
            positive is not None,  # assessed
            a.get("authority"),
            a.get("outcome"),
            a.get("exploitation"),
            additional_forms_of(a),
            a.get("industry"),
            citizenship,
            region_of(citizenship),
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
            last_recorded(rows),  # last_recorded_at
            len(rows),  # event_count
            None if offer is None else offer.get("reflection_days"),
        )
    )
    return versions, state


def _fact(
    person_ref: str,
    assessment: Payload,
    assessed_at: str,
    first_contact: Payload | None,
    status: Payload | None,
    status_at: str,
    offered_at: str | None,
    offer: Payload | None,
    accommodation: str | None,
    departed_at: str | None,
) -> tuple[Any, ...]:
    """The fact row's values from the one pass's accumulators, by the definition's rules,
    without building the whole state (most versions of a victim differ in one or two
    columns, and the state has 26)."""
    status_on, status_code, return_support = status_of(status, status_at, offered_at)
    # Positional, in fact_values' order: passing 16 arguments by keyword costs a dict's
    # worth of work per call, paid at every version of a victim (the rebuild figure of
    # ``bench.bench_ingest``; CaseState.fact, called once per state, names them).
    # The local dates by ``local_date``'s own test inlined, and the further forms looked up
    # only where there are some: this runs at every version of a victim.
    return fact_values(
        person_ref,
        assessed_at[:10] if assessed_at[11:13] < "22" else local_date(assessed_at),
        assessment.get("authority"),
        UNKNOWN_CHANNEL if first_contact is None else first_contact["channel"],
        None if first_contact is None else first_contact.get("place"),
        assessment.get("citizenship"),
        assessment.get("exploitation"),
        additional_forms_of(assessment) if "additional_forms" in assessment else None,
        assessment.get("industry"),
        assessment.get("gender"),
        assessment.get("age"),
        assessment.get("legal_residence"),
        status_code,
        status_on,
        return_support,
        accommodation,
        None
        if departed_at is None
        else departed_at[:10]
        if departed_at[11:13] < "22"
        else local_date(departed_at),
        None if offer is None else offer.get("reflection_days"),
    )

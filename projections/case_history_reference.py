"""The original, obviously correct bitemporal versions of a case, kept as the test oracle.

:func:`projections.case_history.case_versions` and ``case_projection`` compute the same
versions in one pass; this module re-folds every event as of every distinct ``recorded_at``
(O(versions x events) per person), which is too slow for the projection runner but simple
enough to trust. Only tests import it: the property tests in
``tests/unit/test_case_history_fast.py`` compare the two on random and simulated histories.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from projections.case_history import (
    CaseVersion,
    ContactRow,
    FactRow,
    Record,
    _fact_values,
    _fold,
    prepare,
)


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


def reference_case_versions(person_ref: str, records: Iterable[Record]) -> list[CaseVersion]:
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


def reference_fact_versions(
    person_ref: str, records: Iterable[Record]
) -> list[tuple[str, FactRow | None]]:
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

"""The read model's bitemporal contact rows against their definition.

A person's case versions hold, at each ``recorded_at``, one contact row per calendar year.
The ``contacts`` table holds, per year, each distinct row with the interval it was valid in
transaction time: from the version that made it until the next version whose row for that
year differs (another count, or no row at all). The definition, written plainly below, is
checked against ``projections.read_model_rows.contact_rows`` for random version histories, in
which years gain contacts out of order and a correction can take a year away again.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from projections.case_rows import CaseVersion, ContactRow
from projections.read_model_rows import contact_rows

PERSON = "P-0123456789abcdef"
YEARS = (2011, 2012, 2013)


def _defined(versions: list[CaseVersion]) -> list[tuple[Any, ...]]:
    """Every version's row for every year (None where it has none); consecutive equal rows
    collapsed; the leading absences dropped; each row valid until the next entry."""
    rows = []
    years = {row.year for v in versions for row in v.contacts}
    for year in sorted(years):
        timeline: list[tuple[str, ContactRow | None]] = []
        for v in versions:
            row = next((r for r in v.contacts if r.year == year), None)
            if not timeline or timeline[-1][1] != row:
                timeline.append((v.recorded_at, row))
        while timeline and timeline[0][1] is None:
            timeline.pop(0)
        for i, (t, row) in enumerate(timeline):
            if row is not None:
                until = timeline[i + 1][0] if i + 1 < len(timeline) else None
                rows.append((t, until, *row))
    return sorted(rows, key=repr)


@st.composite
def _histories(draw: st.DrawFn) -> list[CaseVersion]:
    """Versions at increasing instants, each with counts for some of the years."""
    versions = []
    for i in range(draw(st.integers(1, 12))):
        counts = draw(st.dictionaries(st.sampled_from(YEARS), st.integers(1, 4), max_size=3))
        # Instants in two forms: the store's own, and one that must be normalised.
        t = f"2012-03-{i + 1:02d}T10:00:00" + draw(st.sampled_from([".000000Z", "Z"]))
        contacts = tuple(ContactRow(PERSON, y, counts[y]) for y in sorted(counts))
        versions.append(CaseVersion(t, None, contacts))
    return versions


def _normalised(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    def canonical(t: str | None) -> str | None:
        return None if t is None else t.replace(":00Z", ":00.000000Z")

    return sorted(((canonical(a), canonical(b), *rest) for a, b, *rest in rows), key=repr)


@given(_histories())
def test_contact_rows_are_each_years_distinct_rows_with_their_intervals(
    versions: list[CaseVersion],
) -> None:
    assert _normalised(contact_rows(versions)) == _normalised(_defined(versions))


def test_a_year_taken_away_ends_its_row_and_a_later_count_starts_a_new_one() -> None:
    a = "2012-01-01T00:00:00.000000Z"
    b = "2012-02-01T00:00:00.000000Z"
    c = "2012-03-01T00:00:00.000000Z"
    one_2011, one_2012 = ContactRow(PERSON, 2011, 1), ContactRow(PERSON, 2012, 1)
    versions = [
        CaseVersion(a, None, (one_2011, one_2012)),
        CaseVersion(b, None, (one_2012,)),  # a correction retracted the 2011 contact
        CaseVersion(c, None, (one_2011, ContactRow(PERSON, 2012, 2))),
    ]
    assert sorted(contact_rows(versions), key=repr) == sorted(
        [
            (a, b, PERSON, 2011, 1),
            (c, None, PERSON, 2011, 1),
            (a, c, PERSON, 2012, 1),
            (c, None, PERSON, 2012, 2),
        ],
        key=repr,
    )

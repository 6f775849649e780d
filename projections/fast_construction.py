"""Building the fold's frozen rows without their constructors: the one-pass fold's speed tricks.

The read-model rebuild builds a CaseState per person and a ContactRow, FactRow and CaseVersion
per version, for up to a million persons; their constructors cost more than the fold that
fills them. Each builder here returns an ordinary object of its class, equal to (and as
frozen as) what the constructor would build, so nothing downstream can tell. They are kept to
:mod:`projections.case_fold_fast`; the definition (:mod:`projections.case_fold`) uses the
constructors.

Why each trick pays is measured by the rebuild figure of ``bench.bench_ingest``
(``projection_rebuild_sqlite``) and, against an earlier commit on the same machine, by
``python -m bench.paired``: a change here is kept only if that figure does not drop.
"""

from __future__ import annotations

from typing import Any, cast

from projections.case_fold import CaseState
from projections.case_rows import FACT_COLUMNS, FactRow

# NamedTuple's own ``__new__`` is a Python function that calls ``tuple.__new__``; calling
# that directly, as ``new_tuple(ContactRow, (person_ref, year, count))``, skips a frame per
# row and builds the same ContactRow or CaseVersion.
new_tuple = tuple.__new__


# A frozen dataclass's generated ``__init__`` sets each field with an ``object.__setattr__``
# call (26 for CaseState), which costs more than the whole one-pass fold of a contacted-only
# person. A plain class with the same ``__slots__`` has the same memory layout, so an instance
# filled by ordinary attribute stores can become the dataclass by ``__class__`` assignment
# (CPython checks that the layouts match and refuses otherwise): the result is an ordinary,
# frozen CaseState or FactRow.
class _ThawedCaseState:
    __slots__ = CaseState.__slots__


class _ThawedFactRow:
    __slots__ = FactRow.__slots__


assert FactRow.__slots__ == FACT_COLUMNS


def new_case_state(values: tuple[Any, ...]) -> CaseState:
    """``CaseState(*values)``, without the dataclass's ``__init__`` (see above)."""
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
        s.additional_forms,
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
        s.reflection_days,
    ) = values
    s.__class__ = CaseState
    return cast(CaseState, s)


def new_fact_row(values: tuple[Any, ...]) -> FactRow:
    """``FactRow(*values)``, without the dataclass's ``__init__`` (see above)."""
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
        r.additional_forms,
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
        r.reflection_days,
    ) = values
    r.__class__ = FactRow
    return cast(FactRow, r)


# The stores above are written out by hand: check once that they follow the field order.
_numbers = tuple(range(len(CaseState.__slots__)))
assert tuple(getattr(new_case_state(_numbers), name) for name in CaseState.__slots__) == _numbers
_numbers = tuple(range(len(FACT_COLUMNS)))
assert tuple(getattr(new_fact_row(_numbers), name) for name in FACT_COLUMNS) == _numbers
del _numbers

"""How the tables of one year's release constrain each other: the relations between cells of
different tables that every reader can know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from domain import codes
from privacy.model._dimensions import ASSESSED_VICTIMS
from privacy.model._release import TOTAL
from privacy.model._tables import TABLES

PERSON_TABLES: tuple[str, ...] = (
    "by_authority",
    "by_channel",
    "by_region",
    "by_citizenship",
    "by_exploitation",
    "by_exploitation_group",
    "by_gender",
    "by_age_band",
    "status_at_cutoff",
)
"""Tables that count each of the year's assessed victims exactly once (every victim has an
authority, a channel, a citizenship and region, a form of exploitation, a gender, an age band
and a status): their grand totals all equal the year's cell of ``victims_by_year``."""


@dataclass(frozen=True)
class CellRef:
    """One cell of one table: the table's name and the key (dimension values as text, in the
    table's dimension order, ``TOTAL`` in the summed dimensions of a margin)."""

    table: str
    key: tuple[str, ...]


@dataclass(frozen=True)
class Relation:
    """A linear relation between cells of different tables that every reader can know:
    ``sum(left) == sum(right)`` (``kind="eq"``) or ``sum(left) <= sum(right)`` (``"le"``).

    A cell that its table does not list is a zero. ``why`` says in words why it holds; each
    relation follows from the counting rules of ``projections.report`` and the validation of
    the events (e.g. an assessment of forced labour must name an industry)."""

    kind: Literal["eq", "le"]
    left: tuple[CellRef, ...]
    right: tuple[CellRef, ...]
    why: str


def cross_table_relations(year: int) -> tuple[Relation, ...]:
    """Every relation between the tables of ``year``'s release, beyond each table's own margins
    (:attr:`TableSpec.margins`) and the margins other tables are copies of
    (:attr:`TableSpec.derived_from`).

    - Person tables share the year's total: each grand total equals ``victims_by_year``.
    - ``labour_by_industry_gender`` counts the victims of forced labour, each with an industry
      (required by the assessment event) and a gender: its grand total equals the
      ``forced_labour`` cell of ``by_exploitation``, and its total per gender is a subset of
      that gender's cell of ``by_gender`` (an inequality: other forms have genders too).
    - Every police call has a reason: ``hotline_police_by_reason`` sums to the ``police`` cell
      of ``hotline_by_caller``.
    - ``assessed_victims`` in ``outreach_activity`` counts the year's victims first met at a
      place, at most one place each: summed over places it is at most the year's total.
    """
    t = (TOTAL,)
    year_total = CellRef("victims_by_year", (str(year),))
    relations = [
        Relation(
            "eq",
            (CellRef(name, t * len(TABLES[name].dimensions)),),
            (year_total,),
            "each assessed victim of the year is counted once in every person table",
        )
        for name in PERSON_TABLES
    ]
    for group in codes.ExploitationGroup:
        relations.append(
            Relation(
                "eq",
                (CellRef("by_exploitation_group", (group.value,)),),
                tuple(
                    CellRef("by_exploitation", (form.value,))
                    for form in codes.ExploitationForm
                    if form.group is group
                ),
                "each group of forms counts the victims of its forms",
            )
        )
    relations.append(
        Relation(
            "eq",
            (CellRef("labour_by_industry_gender", (TOTAL, TOTAL)),),
            (CellRef("by_exploitation", (codes.ExploitationForm.FORCED_LABOUR.value,)),),
            "every victim of forced labour has an industry and a gender",
        )
    )
    for gender in codes.Gender.codes():
        relations.append(
            Relation(
                "le",
                (CellRef("labour_by_industry_gender", (TOTAL, gender)),),
                (CellRef("by_gender", (gender,)),),
                "victims of forced labour of a gender are some of the victims of that gender",
            )
        )
    relations.append(
        Relation(
            "eq",
            (CellRef("hotline_police_by_reason", t),),
            (CellRef("hotline_by_caller", (codes.CallerType.POLICE.value,)),),
            "every call has a reason",
        )
    )
    relations.append(
        Relation(
            "le",
            tuple(
                CellRef("outreach_activity", (place, ASSESSED_VICTIMS))
                for place in codes.Place.codes()
            ),
            (year_total,),
            "a victim is first met at one place at most",
        )
    )
    return tuple(relations)

"""What a release is, and what each published table means.

A :class:`Release` is the hand-over point between the privacy step (differential privacy in
``privacy.release`` or statistical disclosure control in ``privacy.sdc``) and publication
(``privacy.package``, ``privacy.html``, ``infra.publish``). It lives here, apart from both
producers, so that neither imports the other.

:data:`TABLES` describes each published table once: titles in English and Danish, its dimensions
and the code list each dimension draws from, and the margins (totals) that are public. The data
package uses it for Table Schema enums, the HTML report for labels, and the SDC step for the
linear constraints an attacker can use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import pandas as pd

from domain import codes
from domain.countries import COUNTRIES, Region

__all__ = [
    "ASSESSED_VICTIMS",
    "PERSON_TABLES",
    "PUBLISHED",
    "SUPPRESSED",
    "TABLES",
    "TOTAL",
    "VALUE_COLUMNS",
    "CellRef",
    "Dimension",
    "Relation",
    "Release",
    "TableSpec",
    "cross_table_relations",
    "dimensions_of",
]

PUBLISHED = "published"
SUPPRESSED = "suppressed"

TOTAL = "total"
"""Dimension value of a margin row: ``(industry="cleaning", gender="total")`` is the cleaning
row total. No code list uses ``total`` as a code, so it cannot be mistaken for a category."""

VALUE_COLUMNS: tuple[str, ...] = ("count", "status", "display", "moe95")
"""The columns after the dimensions in every released table, in this order."""


@dataclass(frozen=True)
class Release:
    """A set of tables that has passed a privacy step and may be published as it is.

    ``tables`` maps a table name (a key of :data:`TABLES`, or another name the producer chose)
    to a DataFrame with the dimension columns, then ``count`` (pandas ``Int64``, ``<NA>`` when
    suppressed), ``status`` (``"published"`` or ``"suppressed"``), ``display`` (the string a
    reader sees: ``"12"``, ``"<5"``, ``".."``) and ``moe95`` (the 95 % margin of error of the
    count, or None when the count is exact).

    ``metadata`` holds: ``year``, ``as_of`` (the cut-off date of the status figures),
    ``method`` (``"differential_privacy"`` or ``"suppression"``), ``privacy`` (the parameters of
    the method: epsilon per table, mechanism and privacy unit for DP; threshold, protection
    level and audit for SDC), ``threshold``, ``code_list_version``, ``released_at``,
    ``release_id`` and ``released_by``.

    Nothing in a Release depends on sensitive data except through the privacy step that made
    it, so every consumer may treat it as public (for SDC: public to the partners under
    agreement).
    """

    tables: dict[str, pd.DataFrame]
    metadata: dict[str, Any]


@dataclass(frozen=True)
class Dimension:
    """A dimension column: its name, titles, and the code list its values come from.

    ``labels`` maps each valid code to its (English, Danish) label; it is empty for a
    dimension that is not coded (the year), whose values are then not constrained to a list.
    """

    name: str
    title_en: str
    title_da: str
    code_list: str
    labels: Mapping[str, tuple[str, str]]
    field_type: Literal["string", "integer"] = "string"

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self.labels)

    def label(self, code: object, lang: Literal["en", "da"] = "en") -> str:
        """The label of ``code``; the code itself when it is not in the list (never fails,
        because a report must still render a value the code list has since retired)."""
        if str(code) == TOTAL:
            return "Total" if lang == "en" else "I alt"
        pair = self.labels.get(str(code))
        if pair is None:
            return str(code)
        return pair[0] if lang == "en" else pair[1]


@dataclass(frozen=True)
class TableSpec:
    """A published table.

    ``margins`` lists the public totals as the sets of dimensions they keep: ``()`` is the
    grand total, ``("industry",)`` the total per industry over the other dimension. They are
    the linear constraints that secondary suppression must defend against. Hierarchical tables
    (channel within channel group, citizenship within region) publish the parent totals only,
    because a total over the parent would equal a single cell.

    ``derived_from`` names a finer table of which this one is a margin, with the dimensions it
    keeps: ``labour_by_industry`` is ``labour_by_industry_gender`` summed over gender. SDC
    protects the finer table and publishes this one as a copy of its margins, so the two
    tables together reveal nothing that either does alone.
    """

    name: str
    title_en: str
    title_da: str
    dimensions: tuple[Dimension, ...]
    unit_en: str
    unit_da: str
    margins: tuple[tuple[str, ...], ...] = ((),)
    derived_from: tuple[str, tuple[str, ...]] | None = None

    @property
    def dimension_names(self) -> list[str]:
        return [d.name for d in self.dimensions]

    def dimension(self, name: str) -> Dimension:
        for d in self.dimensions:
            if d.name == name:
                return d
        raise KeyError(f"table {self.name!r} has no dimension {name!r}")


def _enum_labels(members: Iterable[Any]) -> Mapping[str, tuple[str, str]]:
    return MappingProxyType({str(m.value): (m.label_en, m.label_da) for m in members})


def _dim(name: str, en: str, da: str, enum: type[codes.Coded] | type[Region]) -> Dimension:
    return Dimension(name, en, da, enum.__name__, _enum_labels(list(enum)))


_YEAR = Dimension("year", "Year", "År", "", MappingProxyType({}), field_type="integer")
_AUTHORITY = _dim("authority", "Assessing authority", "Vurderende myndighed", codes.Authority)
_CHANNEL_GROUP = _dim("channel_group", "Contact channel group", "Kontaktgruppe", codes.ChannelGroup)
_CHANNEL = _dim("channel", "Contact channel", "Kontaktvej", codes.Channel)
_REGION = _dim("region", "Region of origin", "Oprindelsesregion", Region)
_CITIZENSHIP = Dimension(
    "citizenship",
    "Citizenship",
    "Statsborgerskab",
    "ISO 3166-1 alpha-2 (domain.countries; XX = unknown or stateless; other_<region> = the "
    "countries of the region a DP release does not list)",
    MappingProxyType(
        {
            **{c.code: (c.name_en, c.name_da) for c in COUNTRIES.values()},
            **{
                f"other_{r.value}": (f"Other countries, {r.label_en}", f"Andre lande, {r.label_da}")
                for r in Region
            },
        }
    ),
)
_EXPLOITATION = _dim(
    "exploitation", "Form of exploitation", "Udnyttelsesform", codes.ExploitationForm
)
_INDUSTRY = _dim("industry", "Industry", "Branche", codes.Industry)
_GENDER = _dim("gender", "Gender", "Køn", codes.Gender)
_AGE_BAND = _dim("age_band", "Age at identification", "Alder ved identifikation", codes.AgeBand)
# Named support_status, not status, in released tables: ``status`` is the value column that
# says whether a cell is published or suppressed.
_STATUS = _dim(
    "support_status", "Support status at cut-off", "Status ved opgørelse", codes.SupportStatus
)
_CALLER = _dim("caller", "Caller", "Opringer", codes.CallerType)
_REASON = _dim("reason", "Reason for the call", "Årsag til opkaldet", codes.CallReason)
_PLACE = _dim("place", "Place", "Sted", codes.Place)
ASSESSED_VICTIMS = "assessed_victims"
"""Outreach measure derived from the facts, not logged by the teams: the year's victims first
contacted at the place (the same code as ``projections.report.ASSESSED_VICTIMS``)."""

_MEASURE = Dimension(
    "measure",
    "Measure",
    "Mål",
    "OutreachMeasure (+ assessed_victims)",
    MappingProxyType(
        {
            **_enum_labels(list(codes.OutreachMeasure)),
            ASSESSED_VICTIMS: ("Assessed victims first met here", "Vurderede ofre mødt her"),
        }
    ),
)

_V_EN, _V_DA = "victims", "ofre"


def _spec(
    name: str,
    en: str,
    da: str,
    dims: tuple[Dimension, ...],
    unit: tuple[str, str] = (_V_EN, _V_DA),
    margins: tuple[tuple[str, ...], ...] = ((),),
    derived_from: tuple[str, tuple[str, ...]] | None = None,
) -> TableSpec:
    return TableSpec(name, en, da, dims, unit[0], unit[1], margins, derived_from)


TABLES: Mapping[str, TableSpec] = MappingProxyType(
    {
        t.name: t
        for t in (
            # One row per year: the rows are the totals, so there is no margin to publish.
            _spec("victims_by_year", "Assessed victims", "Vurderede ofre", (_YEAR,), margins=()),
            _spec(
                "by_authority",
                "Victims by assessing authority",
                "Ofre efter vurderende myndighed",
                (_AUTHORITY,),
            ),
            _spec(
                "by_channel",
                "Victims by contact channel",
                "Ofre efter kontaktvej",
                (_CHANNEL_GROUP, _CHANNEL),
                margins=(("channel_group",), ()),
            ),
            _spec(
                "by_region",
                "Victims by region of origin",
                "Ofre efter oprindelsesregion",
                (_REGION,),
                derived_from=("by_citizenship", ("region",)),
            ),
            _spec(
                "by_citizenship",
                "Victims by citizenship",
                "Ofre efter statsborgerskab",
                (_CITIZENSHIP, _REGION),
                margins=(("region",), ()),
            ),
            _spec(
                "by_exploitation",
                "Victims by form of exploitation",
                "Ofre efter udnyttelsesform",
                (_EXPLOITATION,),
            ),
            _spec(
                "labour_by_industry",
                "Victims of forced labour by industry",
                "Ofre for tvangsarbejde efter branche",
                (_INDUSTRY,),
                derived_from=("labour_by_industry_gender", ("industry",)),
            ),
            _spec(
                "labour_by_industry_gender",
                "Victims of forced labour by industry and gender",
                "Ofre for tvangsarbejde efter branche og køn",
                (_INDUSTRY, _GENDER),
                margins=(("industry",), ("gender",), ()),
            ),
            _spec("by_gender", "Victims by gender", "Ofre efter køn", (_GENDER,)),
            _spec(
                "by_age_band",
                "Victims by age at identification",
                "Ofre efter alder ved identifikation",
                (_AGE_BAND,),
            ),
            _spec(
                "status_at_cutoff",
                "Victims by support status at the cut-off date",
                "Ofre efter status ved opgørelsesdatoen",
                (_STATUS,),
            ),
            _spec(
                "hotline_by_caller",
                "Hotline calls by caller",
                "Opkald til hotline efter opringer",
                (_CALLER,),
                unit=("calls", "opkald"),
            ),
            _spec(
                "hotline_police_by_reason",
                "Hotline calls from the police by reason",
                "Opkald fra politiet efter årsag",
                (_REASON,),
                unit=("calls", "opkald"),
            ),
            # Measures are not additive (shifts, persons, a per-person minimum), so no total
            # over measures or places is published.
            _spec(
                "outreach_activity",
                "Outreach activity by place",
                "Opsøgende arbejde efter sted",
                (_PLACE, _MEASURE),
                unit=("count", "antal"),
                margins=(),
            ),
        )
    }
)
"""Every table the centre publishes, by name."""


def dimensions_of(name: str, table: pd.DataFrame) -> list[str]:
    """The dimension columns of a released table: the spec's when the table is known, else
    every column that is not a value column (so an unforeseen table still publishes)."""
    spec = TABLES.get(name)
    if spec is not None:
        return spec.dimension_names
    return [c for c in table.columns if c not in VALUE_COLUMNS]


# ----------------------------------------------------------------------------------------------
# How the tables of one year's release constrain each other


PERSON_TABLES: tuple[str, ...] = (
    "by_authority",
    "by_channel",
    "by_region",
    "by_citizenship",
    "by_exploitation",
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

"""Every published table, described once: titles, dimensions, unit and public margins."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import pandas as pd

from privacy.model._dimensions import (
    AGE_BAND,
    AUTHORITY,
    CALLER,
    CHANNEL,
    CHANNEL_GROUP,
    CITIZENSHIP,
    EXPLOITATION,
    EXPLOITATION_GROUP,
    GENDER,
    INDUSTRY,
    MEASURE,
    PLACE,
    REASON,
    REGION,
    STATUS,
    YEAR,
    Dimension,
)
from privacy.model._release import VALUE_COLUMNS


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
            _spec("victims_by_year", "Assessed victims", "Vurderede ofre", (YEAR,), margins=()),
            _spec(
                "by_authority",
                "Victims by assessing authority",
                "Ofre efter vurderende myndighed",
                (AUTHORITY,),
            ),
            _spec(
                "by_channel",
                "Victims by contact channel",
                "Ofre efter kontaktvej",
                (CHANNEL_GROUP, CHANNEL),
                margins=(("channel_group",), ()),
            ),
            _spec(
                "by_region",
                "Victims by region of origin",
                "Ofre efter oprindelsesregion",
                (REGION,),
                derived_from=("by_citizenship", ("region",)),
            ),
            _spec(
                "by_citizenship",
                "Victims by citizenship",
                "Ofre efter statsborgerskab",
                (CITIZENSHIP, REGION),
                margins=(("region",), ()),
            ),
            _spec(
                "by_exploitation_group",
                "Victims by form of exploitation, grouped",
                "Ofre efter udnyttelsesform, grupperet",
                (EXPLOITATION_GROUP,),
            ),
            _spec(
                "by_exploitation",
                "Victims by form of exploitation",
                "Ofre efter udnyttelsesform",
                (EXPLOITATION,),
            ),
            _spec(
                "labour_by_industry",
                "Victims of forced labour by industry",
                "Ofre for tvangsarbejde efter branche",
                (INDUSTRY,),
                derived_from=("labour_by_industry_gender", ("industry",)),
            ),
            _spec(
                "labour_by_industry_gender",
                "Victims of forced labour by industry and gender",
                "Ofre for tvangsarbejde efter branche og køn",
                (INDUSTRY, GENDER),
                margins=(("industry",), ("gender",), ()),
            ),
            _spec("by_gender", "Victims by gender", "Ofre efter køn", (GENDER,)),
            _spec(
                "by_age_band",
                "Victims by age at identification",
                "Ofre efter alder ved identifikation",
                (AGE_BAND,),
            ),
            _spec(
                "status_at_cutoff",
                "Victims by support status at the cut-off date",
                "Ofre efter status ved opgørelsesdatoen",
                (STATUS,),
            ),
            _spec(
                "hotline_by_caller",
                "Hotline calls by caller",
                "Opkald til hotline efter opringer",
                (CALLER,),
                unit=("calls", "opkald"),
            ),
            _spec(
                "hotline_police_by_reason",
                "Hotline calls from the police by reason",
                "Opkald fra politiet efter årsag",
                (REASON,),
                unit=("calls", "opkald"),
            ),
            # Measures are not additive (shifts, persons, a per-person minimum), so no total
            # over measures or places is published.
            _spec(
                "outreach_activity",
                "Outreach activity by place",
                "Opsøgende arbejde efter sted",
                (PLACE, MEASURE),
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

"""The public tables of a DP release: each table's cells from the code lists alone, the rule
its total follows, and how one privacy unit is bounded on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from domain.codes import (
    AgeBand,
    Authority,
    CallerType,
    CallReason,
    Channel,
    ChannelGroup,
    ExploitationForm,
    ExploitationGroup,
    Gender,
    Industry,
    OutreachMeasure,
    Place,
    SupportStatus,
)
from domain.countries import COUNTRIES, Region
from privacy.params import LISTED_CITIZENSHIPS, RELEASED_TABLES, UNIT_OF, Unit

KEY_SEPARATOR = "|"
"""Joins the codes of a multi-dimensional cell into one category key (no code contains it)."""

ASSESSED_VICTIMS = "assessed_victims"
"""Outreach measure derived from the facts: the year's victims first contacted at the place
(the same name as ``projections.report.ASSESSED_VICTIMS``)."""

ADDITIVE_MEASURES: tuple[str, ...] = tuple(
    m.value for m in OutreachMeasure if m.aggregation.value == "sum"
)
"""Outreach measures that add up over logs and are released with noise. The per-person
minimum and maximum (``health_uses_per_person_min/max``) are order statistics of one
person's behaviour: a counting mechanism cannot protect them, so they are withheld."""

Source = Literal["facts", "hotline", "outreach"]


@dataclass(frozen=True, slots=True)
class TotalRule:
    """Where a table's released total comes from (see :mod:`privacy.postprocess`).

    - ``own``: the table's single noisy cell, clipped at 0, is its total (``victims_by_year``).
    - ``sum``: the sum of the table's noisy cells, clipped at 0.
    - ``parent``: one released cell of an earlier table (``table``, ``key``), so tables agree.
    - ``none``: cells of different measures do not add up; each is clipped at 0 on its own.
    """

    kind: Literal["own", "sum", "parent", "none"]
    table: str = ""
    key: str = ""


@dataclass(frozen=True, slots=True)
class HistogramSpec:
    """A public table: its dimensions and every cell, from the code lists only."""

    name: str
    source: Source
    dims: tuple[str, ...]
    keys: tuple[str, ...]
    """Columns of the bounded rows whose values, joined by ``KEY_SEPARATOR``, name the cell."""
    cells: tuple[tuple[str, ...], ...]
    """One tuple of dimension values per cell, in code-list order."""
    categories: tuple[str, ...]
    """The cell keys, aligned with ``cells``."""
    where: tuple[tuple[str, str], ...]
    """Equality filters applied to the bounded rows before counting (public rules)."""
    total: TotalRule
    contribution: str
    """How one privacy unit is bounded to L1 distance 1 on this table's counts."""
    recode: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    """Key column -> (code, cell code) pairs: a public many-to-one rule that puts several codes
    in one cell (the countries a release does not list go to their region's other cell)."""

    @property
    def unit(self) -> Unit:
        return UNIT_OF[self.name]

    def dims_columns(self) -> dict[str, list[str | int]]:
        """The cells as one list per dimension (the year as an integer)."""
        return {
            d: [int(c[i]) if d == "year" else c[i] for c in self.cells]
            for i, d in enumerate(self.dims)
        }


_PERSON = (
    "one person: the facts are cut to the reporting year and de-duplicated to one row per "
    "person_ref; each row falls in at most one cell"
)
_CALL = (
    "one hotline call: the calls are cut to the reporting year and de-duplicated by "
    "event_id; each call falls in at most one cell"
)
_OUTREACH = (
    "one counted unit of a team-reported measure (a shift, visit, contact, use or person "
    "counted), or one person in assessed_victims (de-duplicated facts, at most one place): "
    "either changes one cell by 1; a person counted k times by the teams is protected at "
    "k times the table's epsilon"
)


def _spec(
    name: str,
    source: Source,
    dims: Sequence[str],
    cells: Sequence[Sequence[str]],
    *,
    keys: Mapping[str, str] | None = None,
    where: Sequence[tuple[str, str]] = (),
    total: TotalRule,
    contribution: str,
    recode: Mapping[str, Mapping[str, str]] | None = None,
) -> HistogramSpec:
    """``keys`` maps each key column of the bounded rows to the dimension holding its code
    (default: every dimension is a column of the same name)."""
    key_map = dict(keys) if keys is not None else {d: d for d in dims}
    key_columns = tuple(key_map)
    key_index = [list(dims).index(d) for d in key_map.values()]
    frozen_cells = tuple(tuple(str(v) for v in c) for c in cells)
    categories = tuple(KEY_SEPARATOR.join(c[i] for i in key_index) for c in frozen_cells)
    if len(set(categories)) != len(categories):
        raise ValueError(f"table {name!r} has duplicate cells")
    return HistogramSpec(
        name,
        source,
        tuple(dims),
        key_columns,
        frozen_cells,
        categories,
        tuple(where),
        total,
        contribution,
        tuple((c, tuple(sorted(m.items()))) for c, m in (recode or {}).items()),
    )


OTHER_PREFIX = "other_"
"""Cell code of the countries of a region that the release does not list: ``other_<region>``."""


def citizenship_cells() -> list[list[str]]:
    """``by_citizenship``'s cells: each listed country (``LISTED_CITIZENSHIPS``) in code order,
    then one ``other_<region>`` cell per region with unlisted countries, in region order."""
    listed = [[c, COUNTRIES[c].region.value] for c in sorted(LISTED_CITIZENSHIPS)]
    regions = {COUNTRIES[c].region for c in COUNTRIES if c not in LISTED_CITIZENSHIPS}
    others = [[f"{OTHER_PREFIX}{r.value}", r.value] for r in Region if r in regions]
    return listed + others


def citizenship_recode() -> dict[str, str]:
    """Every unlisted country code -> its region's other cell (listed codes keep their own)."""
    return {
        code: f"{OTHER_PREFIX}{country.region.value}"
        for code, country in COUNTRIES.items()
        if code not in LISTED_CITIZENSHIPS
    }


def table_specs(year: int) -> dict[str, HistogramSpec]:
    """Every public table of ``year``'s release, in ``RELEASED_TABLES`` order (a table's
    total may come from an earlier table). All cells are public: they depend on the code
    lists and the year."""
    victims_total = TotalRule("parent", "victims_by_year", str(year))
    labour_total = TotalRule("parent", "by_exploitation", ExploitationForm.FORCED_LABOUR.value)
    labour = (("exploitation", ExploitationForm.FORCED_LABOUR.value),)
    group_order = {g.value: i for i, g in enumerate(ChannelGroup)}
    channels = sorted(Channel, key=lambda c: group_order[c.group.value])  # stable: code order
    specs = [
        _spec(
            "victims_by_year",
            "facts",
            ["year"],
            [[str(year)]],
            total=TotalRule("own"),
            contribution=_PERSON,
        ),
        _spec(
            "by_authority",
            "facts",
            ["authority"],
            [[c] for c in Authority.codes()],
            total=victims_total,
            contribution=_PERSON,
        ),
        _spec(
            "by_channel",
            "facts",
            ["channel_group", "channel"],
            [[c.group.value, c.value] for c in channels],
            keys={"channel": "channel"},
            total=victims_total,
            contribution=_PERSON,
        ),
        _spec(
            "by_region",
            "facts",
            ["region"],
            [[r.value] for r in Region],
            total=victims_total,
            contribution=_PERSON,
        ),
        _spec(
            "by_citizenship",
            "facts",
            ["citizenship", "region"],
            citizenship_cells(),
            keys={"citizenship": "citizenship"},
            total=victims_total,
            contribution=_PERSON,
            recode={"citizenship": citizenship_recode()},
        ),
        _spec(
            "by_exploitation_group",
            "facts",
            ["exploitation_group"],
            [[g] for g in ExploitationGroup.codes()],
            keys={"exploitation": "exploitation_group"},
            total=victims_total,
            contribution=_PERSON,
            recode={"exploitation": {f.value: f.group.value for f in ExploitationForm}},
        ),
        _spec(
            "by_exploitation",
            "facts",
            ["exploitation"],
            [[c] for c in ExploitationForm.codes()],
            total=victims_total,
            contribution=_PERSON,
        ),
        _spec(
            "labour_by_industry",
            "facts",
            ["industry"],
            [[c] for c in Industry.codes()],
            where=labour,
            total=labour_total,
            contribution=_PERSON,
        ),
        _spec(
            "labour_by_industry_gender",
            "facts",
            ["industry", "gender"],
            [[i, g] for i in Industry.codes() for g in Gender.codes()],
            where=labour,
            total=labour_total,
            contribution=_PERSON,
        ),
        _spec(
            "by_gender",
            "facts",
            ["gender"],
            [[c] for c in Gender.codes()],
            total=victims_total,
            contribution=_PERSON,
        ),
        _spec(
            "by_age_band",
            "facts",
            ["age_band"],
            [[c] for c in AgeBand.codes()],
            total=victims_total,
            contribution=_PERSON,
        ),
        # The dimension is "support_status": "status" is the published/suppressed column.
        _spec(
            "status_at_cutoff",
            "facts",
            ["support_status"],
            [[c] for c in SupportStatus.codes()],
            keys={"status": "support_status"},
            total=victims_total,
            contribution=_PERSON,
        ),
        _spec(
            "hotline_by_caller",
            "hotline",
            ["caller"],
            [[c] for c in CallerType.codes()],
            total=TotalRule("sum"),
            contribution=_CALL,
        ),
        _spec(
            "hotline_police_by_reason",
            "hotline",
            ["reason"],
            [[c] for c in CallReason.codes()],
            where=(("caller", CallerType.POLICE.value),),
            total=TotalRule("parent", "hotline_by_caller", CallerType.POLICE.value),
            contribution=_CALL,
        ),
        _spec(
            "outreach_activity",
            "outreach",
            ["place", "measure"],
            [[p, m] for p in Place.codes() for m in (*ADDITIVE_MEASURES, ASSESSED_VICTIMS)],
            total=TotalRule("none"),
            contribution=_OUTREACH,
        ),
    ]
    out = {s.name: s for s in specs}
    assert tuple(out) == RELEASED_TABLES
    return out

"""The public tables of a DP release: each table's cells from the code lists alone, the rule
its total follows, and how one privacy unit is bounded on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from domain.codes import (
    AgeBand,
    AgeGroup,
    Authority,
    CallerType,
    CallReason,
    Channel,
    ChannelGroup,
    CitizenshipGroup,
    ExploitationForm,
    ExploitationGroup,
    Gender,
    Industry,
    OutreachMeasure,
    Place,
    SupportStatus,
)
from domain.countries import COUNTRIES, Region, is_eu_member
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

AGE_GROUP_OF_BAND: Mapping[str, str] = {
    **{b: AgeGroup.CHILD.value for b in (AgeBand.A0_14.value, AgeBand.A15_17.value)},
    **{
        b.value: AgeGroup.ADULT.value
        for b in AgeBand
        if b not in (AgeBand.A0_14, AgeBand.A15_17, AgeBand.UNKNOWN)
    },
    AgeBand.UNKNOWN.value: AgeGroup.UNKNOWN.value,
}
"""Child (under 18) or adult by the public age bands: a band lies wholly on one side of 18."""


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


EU_SUFFIX = "_eu"
"""Suffix of the other cell of a region's countries that are EU member states in the year."""
_DENMARK = "DK"


def _other_cell(code: str, year: int) -> str:
    country = COUNTRIES[code]
    suffix = EU_SUFFIX if is_eu_member(code, year) else ""
    return f"{OTHER_PREFIX}{country.region.value}{suffix}"


def citizenship_cells(year: int) -> list[list[str]]:
    """``by_citizenship``'s cells in ``year``: each listed country (``LISTED_CITIZENSHIPS``) in
    code order, then per region in region order one cell ``other_<region>_eu`` for its unlisted
    EU member states of the year (where it has any) and one ``other_<region>`` for its other
    unlisted countries. Every cell lies in one citizenship group (:func:`citizenship_group`)."""
    listed = [[c, COUNTRIES[c].region.value] for c in sorted(LISTED_CITIZENSHIPS)]
    present = {_other_cell(c, year) for c in COUNTRIES if c not in LISTED_CITIZENSHIPS}
    others = [
        [cell, r.value]
        for r in Region
        for cell in (f"{OTHER_PREFIX}{r.value}{EU_SUFFIX}", f"{OTHER_PREFIX}{r.value}")
        if cell in present
    ]
    return listed + others


def citizenship_recode(year: int) -> dict[str, str]:
    """Every unlisted country code -> its other cell of ``year`` (listed codes keep theirs)."""
    return {code: _other_cell(code, year) for code in COUNTRIES if code not in LISTED_CITIZENSHIPS}


def citizenship_group(cell: str, year: int) -> str:
    """The citizenship group of a country code or a ``by_citizenship`` cell in ``year``."""
    if cell == _DENMARK:
        return CitizenshipGroup.DANISH.value
    eu = cell.endswith(EU_SUFFIX) if cell.startswith(OTHER_PREFIX) else is_eu_member(cell, year)
    return CitizenshipGroup.OTHER_EU.value if eu else CitizenshipGroup.NON_EU.value


def citizenship_group_recode(year: int) -> dict[str, str]:
    """Every country code and every ``by_citizenship`` cell -> its citizenship group."""
    cells = [c for c, _ in citizenship_cells(year)]
    return {code: citizenship_group(code, year) for code in [*COUNTRIES, *cells]}


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
            "by_citizenship_group",
            "facts",
            ["citizenship_group"],
            [[g] for g in CitizenshipGroup.codes()],
            keys={"citizenship": "citizenship_group"},
            total=victims_total,
            contribution=_PERSON,
            recode={"citizenship": citizenship_group_recode(year)},
        ),
        _spec(
            "by_citizenship",
            "facts",
            ["citizenship", "region"],
            citizenship_cells(year),
            keys={"citizenship": "citizenship"},
            total=victims_total,
            contribution=_PERSON,
            recode={"citizenship": citizenship_recode(year)},
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
            "by_exploitation_gender",
            "facts",
            ["exploitation", "gender"],
            [[f, g] for f in ExploitationForm.codes() for g in Gender.codes()],
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
        _spec(
            "by_gender_age_group",
            "facts",
            ["gender", "age_group"],
            [[g, a] for g in Gender.codes() for a in AgeGroup.codes()],
            keys={"gender": "gender", "age_band": "age_group"},
            total=victims_total,
            contribution=_PERSON,
            recode={"age_band": AGE_GROUP_OF_BAND},
        ),
        _spec(
            "by_gender_age_band",
            "facts",
            ["gender", "age_band"],
            [[g, a] for g in Gender.codes() for a in AgeBand.codes()],
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

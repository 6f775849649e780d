"""Privacy parameters: frozen value objects that refuse to exist in an invalid state.

Mechanism: pure differential privacy with the discrete Laplace (geometric) mechanism. Why pure
DP rather than zCDP with the discrete Gaussian:

- Every released table is a histogram in which one person changes one cell by one, so the
  L1 and L2 sensitivities are both 1 and the Gaussian's advantage (it composes better over
  many queries of high L1 but low L2 sensitivity) does not apply to any single table.
- Pure epsilon adds up exactly across tables and releases, so the budget ledger is plain
  addition that a reader can check (``spent + new <= allocated``); zCDP's rho would need a
  delta and a conversion before anyone outside the team could read it.
- The discrete Laplace has heavier tails but no delta: no small probability of unbounded
  loss, which matters for a population of a few dozen victims a year.

Default budget: ``DEFAULT_EPSILON_TOTAL = 5.0`` per reporting year, split over the
*measurements* (``MEASURED_TABLES``) by ``DEFAULT_WEIGHTS``. Why 5: the published cells are
small (a year has ~66 victims; the threshold is 5), so noise is only tolerable if a table's 95%
margin of error is at most about twice the threshold (~10). That needs a discrete Laplace scale
of at most ~3, i.e. epsilon of at least ~0.35 per person-level measurement.

What is measured: every table except ``DERIVED_TABLES``, which are post-processing of the
joint fit (:mod:`privacy.estimate`) and spend nothing, so no epsilon is spent twice on a
hierarchy. ``victims_by_year`` is the sum of every person table; every other derived table is
a margin (``MARGIN_OF``) of a measured one: ``labour_by_industry`` of
``labour_by_industry_gender``; ``by_exploitation`` and ``by_gender`` of
``by_exploitation_gender`` (sex by form, measured once); ``by_exploitation_group`` of
``by_exploitation`` (forms into groups); ``by_gender``, ``by_age_band`` and
``by_gender_age_group`` of ``by_gender_age_band`` (sex by age band, measured once; bands into
child or adult); ``by_citizenship_group`` (Danish, other EU, non-EU) of ``by_citizenship`` by
the public recode of its cells (Denmark is listed, and each region's other cell is split into
its EU members of the year and the rest, so every cell lies in one group).

Why measure the crossings and derive the margins: the centre must report sex by child/adult,
sex by form and citizenship groups (Eurostat crim_thb, GRETA, UNODC GLOTIP). Adding them as
measurements of their own would put each person in three more measurements; measuring
``by_gender_age_band`` at the weight ``by_gender`` and ``by_age_band`` had together (2.05) and
``by_exploitation_gender`` at 2.0 in place of ``by_exploitation`` (1.0) keeps ``by_gender`` and
``by_age_band`` as accurate as before (95% margins 6 and 7 on a 2012 year), gives the crossings
margins of 4 and the child/adult table 4-7, at +1 weight unit per person. ``by_citizenship_group``
is derived as asked rather than measured: its non-EU cell sums many citizenship cells (margin
12 against 8 if it had a share of 0.6 of its own, which would widen every other table).

Weights (``DEFAULT_WEIGHTS``, first chosen with ``python -m bench.bench_accuracy``):
``by_gender_age_band`` 2.05, ``by_exploitation_gender`` 2.0, ``labour_by_industry_gender`` 1.9,
``by_channel`` 1.1, ``status_at_cutoff`` 1.05, ``by_region`` 0.9, ``by_authority`` and
``by_citizenship`` 1; the two hotline tables 0.5 (their unit is a call) and the outreach table
0.25. That is 12.25 weight units, 0.408 epsilon each. Any one person is in the 8 person-level
measurements (11 weight units) and in one cell of the outreach table, so the per-person loss of
a full release is 5 * 11.25 / 12.25 = 4.59 (4.56 before the breakdowns were released). The
budget is allocated per year in the ledger; a smaller one gives wider margins, which every
cell's ``moe95`` states. Reflection periods and residence permits are not in the DP release
yet.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import Final, Literal

Unit = Literal["person", "call", "outreach_unit"]

PERSON_TABLES: Final[tuple[str, ...]] = (
    "victims_by_year",
    "by_authority",
    "by_channel",
    "by_region",
    "by_citizenship_group",
    "by_citizenship",
    "by_exploitation_group",
    "by_exploitation",
    "labour_by_industry",
    "labour_by_industry_gender",
    "by_gender",
    "by_exploitation_gender",
    "by_age_band",
    "by_gender_age_group",
    "by_gender_age_band",
    "status_at_cutoff",
)
HOTLINE_TABLES: Final[tuple[str, ...]] = ("hotline_by_caller", "hotline_police_by_reason")
OUTREACH_TABLES: Final[tuple[str, ...]] = ("outreach_activity",)
RELEASED_TABLES: Final[tuple[str, ...]] = PERSON_TABLES + HOTLINE_TABLES + OUTREACH_TABLES
"""Every public report table, in release order (a table's total comes from an earlier one)."""

DERIVED_TABLES: Final[tuple[str, ...]] = (
    "victims_by_year",
    "by_citizenship_group",
    "by_exploitation_group",
    "by_exploitation",
    "labour_by_industry",
    "by_gender",
    "by_age_band",
    "by_gender_age_group",
)
"""Tables published from the joint fit of the others, with no measurement (and no epsilon) of
their own: the year's total, the forms of exploitation in the annual report's groups (each
group the sum of its forms' fitted cells, so a group is published even when one of its forms
is too small to be), and the forced-labour margin by industry."""

MEASURED_TABLES: Final[tuple[str, ...]] = tuple(
    t for t in RELEASED_TABLES if t not in DERIVED_TABLES
)
"""What the budget pays for, one measurement each, in release order. The weights, the ledger's
spends and ``Prepared.epsilons`` name exactly these."""

MARGIN_OF: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "by_region": ("by_citizenship",),
        "by_citizenship_group": ("by_citizenship",),
        "by_exploitation_group": ("by_exploitation",),
        "by_exploitation": ("by_exploitation_gender",),
        "labour_by_industry": ("labour_by_industry_gender",),
        "by_gender": ("by_gender_age_band", "by_exploitation_gender"),
        "by_age_band": ("by_gender_age_band",),
        "by_gender_age_group": ("by_gender_age_band",),
    }
)
"""Margin table -> the finer tables whose cells add up to its cells (by a dimension they
share, or by the margin's public recode of the finer table's codes: forms into groups, age
bands into child or adult, citizenship cells into Danish, other EU and non-EU). A finer table
is rounded to the integers of the first of its margins in release order; its other margins
are rounded on their own, so they agree with its sums to within rounding."""

LISTED_CITIZENSHIPS: Final[frozenset[str]] = frozenset(
    {"DK", "NG", "RO", "TH", "BG", "CN", "GH", "HU", "LT", "PH", "PL", "UA", "UG", "VN", "XX"}
)
"""Countries of citizenship that ``by_citizenship`` lists one by one in a DP release; every
other country is counted in its region's cell: ``other_<region>_eu`` for the countries that
are EU member states in the reporting year, ``other_<region>`` for the rest, so that every
cell lies in one citizenship group (Danish, other EU, non-EU: ``by_citizenship_group`` is the
public recode of these cells, and Denmark is listed for the same reason). A public rule fixed in the
code before any release, never chosen from the data: the citizenships the centre's published
2012 statistics name (Nigeria, Romania, Thailand), other countries of origin the centre
follows, and XX (unknown or stateless). Why not all 250 countries: nearly all are empty every
year, and each empty cell's noise shows it at 5 or more in about 7% of releases, so a full list
published some 16 countries with no victim in every release and its cells added up to far more
than the total (an audit of the earlier projection onto the total found the other side of the
same problem: large countries biased downwards). Partner releases (exact, audited) list every
country."""

UNIT_OF: Final[Mapping[str, Unit]] = MappingProxyType(
    {
        **{t: "person" for t in PERSON_TABLES},
        **{t: "call" for t in HOTLINE_TABLES},
        **{t: "outreach_unit" for t in OUTREACH_TABLES},
    }
)

DEFAULT_EPSILON_TOTAL: Final = 5.0
DEFAULT_WEIGHTS: Final[Mapping[str, float]] = MappingProxyType(
    {
        **{t: 1.0 for t in PERSON_TABLES if t not in DERIVED_TABLES},
        "by_channel": 1.1,
        "by_region": 0.9,
        "labour_by_industry_gender": 1.9,
        "by_exploitation_gender": 2.0,
        "by_gender_age_band": 2.05,
        "status_at_cutoff": 1.05,
        **{t: 0.5 for t in HOTLINE_TABLES},
        **{t: 0.25 for t in OUTREACH_TABLES},
    }
)
DEFAULT_THRESHOLD: Final = 5
MIN_THRESHOLD: Final = 3
DEFAULT_ALPHA: Final = 0.05
"""Significance level of the published margins of error: ``moe95`` covers 95%."""


def _positive_finite(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _check_table(table: object) -> None:
    if table in DERIVED_TABLES:
        raise ValueError(
            f"table {table!r} is not measured: it is derived from the other tables and "
            "spends nothing"
        )
    if table not in MEASURED_TABLES:
        raise ValueError(f"unknown table {table!r}; expected one of: {', '.join(MEASURED_TABLES)}")


@dataclass(frozen=True, slots=True)
class TableBudget:
    """The privacy loss one release spends on one table (pure DP, epsilon)."""

    table: str
    epsilon: float

    def __post_init__(self) -> None:
        _check_table(self.table)
        if not _positive_finite(self.epsilon):
            raise ValueError(
                f"epsilon for table {self.table!r} must be a positive finite number, "
                f"not {self.epsilon!r}"
            )

    @property
    def unit(self) -> Unit:
        return UNIT_OF[self.table]


@dataclass(frozen=True, slots=True)
class PrivacyParams:
    """What one DP release spends and how it presents small cells.

    - ``epsilon_total``: the pure-DP loss of the whole release, split over
      ``MEASURED_TABLES`` in proportion to ``weights`` (every measured table needs a positive
      weight; a derived table has none, see ``DERIVED_TABLES``).
    - ``threshold``: released values below it are published as ``<threshold``; at least 3.
    - ``alpha``: significance of the published margins (0.05 gives 95% margins).
    """

    epsilon_total: float = DEFAULT_EPSILON_TOTAL
    weights: Mapping[str, float] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    threshold: int = DEFAULT_THRESHOLD
    alpha: float = DEFAULT_ALPHA

    def __post_init__(self) -> None:
        if not _positive_finite(self.epsilon_total):
            raise ValueError(
                f"epsilon_total must be a positive finite number, not {self.epsilon_total!r}"
            )
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int):
            raise ValueError(f"threshold must be an integer, not {self.threshold!r}")
        if self.threshold < MIN_THRESHOLD:
            raise ValueError(f"threshold must be at least {MIN_THRESHOLD}, not {self.threshold!r}")
        if not (isinstance(self.alpha, float) and 0.0 < self.alpha < 1.0):
            raise ValueError(f"alpha must be a float in (0, 1), not {self.alpha!r}")
        if not isinstance(self.weights, Mapping):
            raise ValueError(f"weights must be a mapping of table to weight, not {self.weights!r}")
        derived = [t for t in self.weights if t in DERIVED_TABLES]
        if derived:
            raise ValueError(
                f"derived table in weights: {', '.join(map(repr, derived))}; it is published "
                "from the other tables and has no budget of its own"
            )
        unknown = [t for t in self.weights if t not in MEASURED_TABLES]
        if unknown:
            raise ValueError(
                f"unknown table in weights: {', '.join(map(repr, unknown))}; "
                f"expected tables: {', '.join(MEASURED_TABLES)}"
            )
        missing = [t for t in MEASURED_TABLES if t not in self.weights]
        if missing:
            raise ValueError(f"weights must name every table; missing: {', '.join(missing)}")
        for table, weight in self.weights.items():
            if not _positive_finite(weight):
                raise ValueError(
                    f"weight for table {table!r} must be a positive finite number, not {weight!r}"
                )
        # A read-only copy in table order, so the object stays immutable and comparable.
        frozen = MappingProxyType({t: float(self.weights[t]) for t in MEASURED_TABLES})
        object.__setattr__(self, "weights", frozen)

    def epsilon_for(self, table: str) -> float:
        """``epsilon_total * weight / sum(weights)``, computed exactly and rounded once."""
        _check_table(table)
        share = Fraction(self.weights[table]) / sum(Fraction(w) for w in self.weights.values())
        return float(Fraction(self.epsilon_total) * share)

    def table_budgets(self) -> tuple[TableBudget, ...]:
        return tuple(TableBudget(t, self.epsilon_for(t)) for t in MEASURED_TABLES)

    def epsilon_by_table(self) -> dict[str, float]:
        return {b.table: b.epsilon for b in self.table_budgets()}

    def epsilon_by_unit(self) -> dict[Unit, float]:
        """Loss of a full release for one privacy unit: the sum over the tables it is in. A
        person is also in the outreach table (``assessed_victims`` by place)."""
        out: dict[Unit, float] = {"person": 0.0, "call": 0.0, "outreach_unit": 0.0}
        for b in self.table_budgets():
            out[b.unit] += b.epsilon
        out["person"] += self.epsilon_for("outreach_activity")
        return out

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

What is measured: every table except ``DERIVED_TABLES``. ``victims_by_year`` is the sum of
every person table and ``labour_by_industry`` a margin of ``labour_by_industry_gender``; both
are post-processing of the joint fit (:mod:`privacy.estimate`) and spend nothing, so no
epsilon is spent twice on a hierarchy. The weights (``DEFAULT_WEIGHTS``) were chosen with the
accuracy benchmark (``python -m bench.bench_accuracy``) so that every person table is more
accurate than the same tables measured one by one at the same per-person epsilon:
``labour_by_industry_gender`` 1.9 (it stands for both forced-labour tables), the dense tables
``by_channel`` 1.1 and ``by_age_band``/``status_at_cutoff`` 1.05 (the total helps them least),
``by_region`` 0.9 (its countries measure it too), every other person table 1; the two hotline
tables 0.5 (their unit is a call) and the outreach table 0.25 (mostly team counts in the
hundreds). That is 11.25 weight units, 0.44 each. Any one person is in the 9 person-level
measurements (10 weight units) and in one cell of the outreach table, so the per-person loss
of a full release is 4.56. The budget is allocated per year in the ledger; a smaller one gives
wider margins, which every cell's ``moe95`` states.
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
    "by_citizenship",
    "by_exploitation_group",
    "by_exploitation",
    "labour_by_industry",
    "labour_by_industry_gender",
    "by_gender",
    "by_age_band",
    "status_at_cutoff",
)
HOTLINE_TABLES: Final[tuple[str, ...]] = ("hotline_by_caller", "hotline_police_by_reason")
OUTREACH_TABLES: Final[tuple[str, ...]] = ("outreach_activity",)
RELEASED_TABLES: Final[tuple[str, ...]] = PERSON_TABLES + HOTLINE_TABLES + OUTREACH_TABLES
"""Every public report table, in release order (a table's total comes from an earlier one)."""

DERIVED_TABLES: Final[tuple[str, ...]] = (
    "victims_by_year",
    "by_exploitation_group",
    "labour_by_industry",
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

MARGIN_OF: Final[Mapping[str, str]] = MappingProxyType(
    {
        "by_region": "by_citizenship",
        "by_exploitation_group": "by_exploitation",
        "labour_by_industry": "labour_by_industry_gender",
    }
)
"""Margin table -> the finer table whose cells add up to its cells (by a dimension they share,
or by the margin's public recode of the finer table's codes: forms into groups)."""

LISTED_CITIZENSHIPS: Final[frozenset[str]] = frozenset(
    {"NG", "RO", "TH", "BG", "CN", "GH", "HU", "LT", "PH", "PL", "UA", "UG", "VN", "XX"}
)
"""Countries of citizenship that ``by_citizenship`` lists one by one in a DP release; every
other country is counted in its region's cell ``other_<region>``. A public rule fixed in the
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
        "by_age_band": 1.05,
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

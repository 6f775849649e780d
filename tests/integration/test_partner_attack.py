"""Partner releases under attack: an independent joint integer program over every published
table (and every earlier partner release of the year) finds no suppressed cell, and no change
between releases, narrower than the protection levels the release states.

The attacker here shares no code with ``privacy.sdc*``: it reads the published frames, writes
the constraints a reader can know from the documented structure (each table's margins, margin
tables that copy finer ones, shared year totals, subsets, the rule that zeros are published so
a suppressed cell is at least 1) and solves them with scipy's ``milp`` directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from projections.case_fold import fold_case
from projections.logs import log_rows
from projections.report import facts_frame, hotline_frame, outreach_frame, report_tables
from simulation.simulate import simulate

YEAR = 2012
AS_OF = "2013-01-31"
T = "total"
THRESHOLD = 5
P = 5.0  # the release's stated upper and lower protection level (default: the threshold)
PUBLIC = [
    "victims_by_year",
    "by_authority",
    "by_channel",
    "by_region",
    "by_citizenship",
    "by_exploitation",
    "labour_by_industry",
    "labour_by_industry_gender",
    "by_gender",
    "by_age_band",
    "status_at_cutoff",
    "hotline_by_caller",
    "hotline_police_by_reason",
    "outreach_activity",
]
PERSON = [
    "by_authority",
    "by_channel",
    "by_region",
    "by_citizenship",
    "by_exploitation",
    "by_gender",
    "by_age_band",
    "status_at_cutoff",
]
DIMS = {
    "victims_by_year": ["year"],
    "by_authority": ["authority"],
    "by_channel": ["channel_group", "channel"],
    "by_region": ["region"],
    "by_citizenship": ["citizenship", "region"],
    "by_exploitation": ["exploitation"],
    "labour_by_industry": ["industry"],
    "labour_by_industry_gender": ["industry", "gender"],
    "by_gender": ["gender"],
    "by_age_band": ["age_band"],
    "status_at_cutoff": ["support_status"],
    "hotline_by_caller": ["caller"],
    "hotline_police_by_reason": ["reason"],
    "outreach_activity": ["place", "measure"],
}


# ----------------------------------------------------------------------------- the data


@cache
def records() -> tuple[dict[str, Any], ...]:
    return tuple(simulate("cmm-2012", seed=2012, scale=1))


def exact_tables(
    edit: Callable[[pd.DataFrame], pd.DataFrame] | None = None, as_of: str = AS_OF
) -> dict[str, pd.DataFrame]:
    """The year's exact report tables, optionally with the victims' facts edited."""
    people: dict[str, list[dict[str, Any]]] = {}
    logs = []
    for r in records():
        (people.setdefault(r["person_ref"], []) if "person_ref" in r else logs).append(r)
    facts = [f for ref, h in people.items() if (f := fold_case(ref, h, as_of).fact()) is not None]
    frame = facts_frame(facts)
    if edit is not None:
        frame = edit(frame)
    hotline, outreach = log_rows(logs, as_of)
    tables = report_tables(frame, hotline_frame(hotline), outreach_frame(outreach), YEAR)
    return {name: tables[name] for name in PUBLIC}


def release(
    tables: Mapping[str, pd.DataFrame], earlier: Sequence[Any] = ()
) -> dict[str, pd.DataFrame]:
    from privacy.sdc import release_sdc

    kwargs: dict[str, Any] = {"earlier": earlier} if earlier else {}
    return release_sdc(tables, metadata={"year": YEAR}, **kwargs).tables


# ----------------------------------------------------------------------------- the attacker


@dataclass
class Attack:
    """Every published cell of one or more releases as integer variables, with what a reader
    knows about them."""

    n: int = 0
    lo: list[float] = field(default_factory=list)
    hi: list[float] = field(default_factory=list)
    truth: list[float] = field(default_factory=list)
    eq: list[dict[int, float]] = field(default_factory=list)
    le: list[dict[int, float]] = field(default_factory=list)
    cells: list[dict[tuple[str, tuple[str, ...]], int]] = field(default_factory=list)
    hidden: list[set[int]] = field(default_factory=list)

    def add_release(
        self, published: Mapping[str, pd.DataFrame], exact: Mapping[str, pd.DataFrame]
    ) -> int:
        index: dict[tuple[str, tuple[str, ...]], int] = {}
        hidden: set[int] = set()
        big = 10_000.0
        for name, frame in published.items():
            dims = DIMS[name]
            truth = truth_of(name, exact[name], dims)
            for row in frame.to_dict("records"):
                key = tuple(str(row[d]) for d in dims)
                v = self.n
                self.n += 1
                index[(name, key)] = v
                self.truth.append(float(truth[key]))
                if row["status"] == "suppressed":
                    self.lo.append(1.0)  # zeros are published: a hidden cell is >= 1
                    self.hi.append(big)
                    hidden.add(v)
                else:
                    self.lo.append(float(row["count"]))
                    self.hi.append(float(row["count"]))

        def cell(name: str, key: tuple[str, ...]) -> int | None:
            return index.get((name, key))

        def interior(name: str) -> list[tuple[tuple[str, ...], int]]:
            return [(k, v) for (t, k), v in index.items() if t == name and T not in k]

        def equal(left: Sequence[int | None], right: Sequence[int | None]) -> None:
            row: dict[int, float] = {}
            for v in left:
                if v is not None:
                    row[v] = row.get(v, 0.0) + 1.0
            for v in right:
                if v is not None:
                    row[v] = row.get(v, 0.0) - 1.0
            self.eq.append(row)

        # Each table's margins: a margin row is the sum of the interior rows agreeing with it.
        for (name, key), v in list(index.items()):
            if T not in key:
                continue
            members = [
                w
                for k, w in interior(name)
                if all(m in (T, kk) for m, kk in zip(key, k, strict=True))
            ]
            equal(members, [v])
        # by_region and labour_by_industry copy the finer tables' margins.
        for region_key, v in interior("by_region"):
            equal([cell("by_citizenship", (T, region_key[0]))], [v])
            members = [w for k, w in interior("by_citizenship") if k[1] == region_key[0]]
            equal(members, [v])
        equal([cell("by_region", (T,))], [cell("by_citizenship", (T, T))])
        for ind_key, v in interior("labour_by_industry"):
            members = [w for k, w in interior("labour_by_industry_gender") if k[0] == ind_key[0]]
            equal(members, [v])
        equal([cell("labour_by_industry", (T,))], [cell("labour_by_industry_gender", (T, T))])
        # Every person table counts the year's victims once.
        year_total = cell("victims_by_year", (str(YEAR),))
        for name in PERSON:
            equal([cell(name, tuple(T for _ in DIMS[name]))], [year_total])
        # Forced labour: the labour tables' total; by gender, a subset of by_gender.
        equal(
            [cell("labour_by_industry_gender", (T, T))],
            [cell("by_exploitation", ("forced_labour",))],
        )
        for g in ("female", "male", "other"):
            row = {}
            for k, w in interior("labour_by_industry_gender"):
                if k[1] == g:
                    row[w] = 1.0
            gv = cell("by_gender", (g,))
            if gv is not None:
                row[gv] = row.get(gv, 0.0) - 1.0
            self.le.append(row)
        # Police calls by reason sum to the police calls.
        equal([cell("hotline_police_by_reason", (T,))], [cell("hotline_by_caller", ("police",))])
        # Victims first met at a place: at most the year's victims.
        row = {w: 1.0 for k, w in interior("outreach_activity") if k[1] == "assessed_victims"}
        if year_total is not None:
            row[year_total] = row.get(year_total, 0.0) - 1.0
        self.le.append(row)
        self.cells.append(index)
        self.hidden.append(hidden)
        return len(self.cells) - 1

    def extreme(self, objective: dict[int, float], lo: list[float] | None = None) -> float:
        c = np.zeros(self.n)
        for v, coef in objective.items():
            c[v] = -coef
        constraints = []
        for rows, lower in ((self.eq, 0.0), (self.le, -np.inf)):
            if rows:
                a = np.zeros((len(rows), self.n))
                for i, row in enumerate(rows):
                    for v, coef in row.items():
                        a[i, v] += coef
                constraints.append(LinearConstraint(a, lower, 0.0))
        res = milp(
            c,
            constraints=constraints,
            integrality=np.ones(self.n),
            bounds=Bounds(np.array(lo or self.lo), np.array(self.hi)),
        )
        assert res.status == 0, res.message
        return float(-res.fun)

    def interval(self, objective: dict[int, float]) -> tuple[float, float]:
        upper = self.extreme(objective)
        lower = -self.extreme({v: -c for v, c in objective.items()})
        return lower, upper

    def floor(self, v: int) -> float:
        """The least value of a cell if every non-zero cell but the grand totals were hidden:
        the bound that the published zeros alone give, whatever is suppressed."""
        lo, hi = list(self.lo), list(self.hi)
        for (name, key), w in self.cells[-1].items():
            grand = all(k == T for k in key) or name == "victims_by_year"
            if self.truth[w] > 0 and not grand:
                lo[w], hi[w] = 1.0, 10_000.0
        saved = self.hi
        self.hi = hi
        try:
            return -self.extreme({v: -1.0}, lo)
        finally:
            self.hi = saved


def truth_of(name: str, table: pd.DataFrame, dims: list[str]) -> dict[tuple[str, ...], int]:
    """Exact counts of every cell and margin of a report table (the test's own arithmetic)."""
    frame = table.rename(columns={"value": "count", "status": "support_status"})
    if name == "victims_by_year":
        frame = frame[frame["year"] == YEAR]
    frame = frame[frame["count"].notna()]
    out: dict[tuple[str, ...], int] = {}
    for row in frame.to_dict("records"):
        key = tuple(str(row[d]) for d in dims)
        for mask in range(2 ** len(dims)):
            k = tuple(T if mask >> i & 1 else key[i] for i in range(len(dims)))
            out[k] = out.get(k, 0) + int(row["count"])
    return out


def too_narrow(attack: Attack, r: int) -> list[str]:
    """Every suppressed sensitive cell of release ``r`` whose interval misses a level."""
    found = []
    for (name, key), v in attack.cells[r].items():
        if v not in attack.hidden[r]:
            continue
        x = attack.truth[v]
        lower, upper = attack.interval({v: 1.0})
        if upper - lower < 1:
            found.append(f"{name}{key} pinned at {lower:g}")
        if 0 < x < THRESHOLD and (
            upper < x + P or (lower > max(1.0, x - P) and lower > max(attack.floor(v), x - P))
        ):
            found.append(f"{name}{key} = {x:g} in [{lower:g}, {upper:g}]")
    return found


def hidden_count(published: Mapping[str, pd.DataFrame]) -> int:
    return sum(int((f["status"] == "suppressed").sum()) for f in published.values())


# ----------------------------------------------------------------------------- scenarios


def test_a_simulated_2012_partner_release_resists_a_joint_attack() -> None:
    exact = exact_tables()
    published = release(exact)
    attack = Attack()
    attack.add_release(published, exact)
    # Every small count is hidden, and none can be narrowed below the protection levels.
    small = [(n, k) for (n, k), v in attack.cells[0].items() if 0 < attack.truth[v] < THRESHOLD]
    assert small and all(attack.cells[0][c] in attack.hidden[0] for c in small)
    assert too_narrow(attack, 0) == []


def _flip_genders_and_add_other(facts: pd.DataFrame) -> pd.DataFrame:
    facts = facts.copy()
    in_year = (facts["year"] == YEAR) & (facts["exploitation"] == "forced_labour")
    labour = facts.index[in_year].tolist()
    for i in labour[:2]:  # two gender corrections
        facts.loc[i, "gender"] = "female" if facts.loc[i, "gender"] == "male" else "male"
    facts.loc[labour[2], "gender"] = "other"  # one victim of gender other
    return facts


def test_gender_corrections_and_one_victim_of_gender_other_stay_protected() -> None:
    exact = exact_tables(_flip_genders_and_add_other)
    assert truth_of("by_gender", exact["by_gender"], ["gender"])[("other",)] == 1
    published = release(exact)
    attack = Attack()
    attack.add_release(published, exact)
    other = attack.cells[0][("by_gender", ("other",))]
    assert other in attack.hidden[0]
    lower, upper = attack.interval({other: 1.0})
    assert (lower, upper >= 1 + P) == (1.0, True)
    assert too_narrow(attack, 0) == []


def _correct_one_age_band(facts: pd.DataFrame) -> pd.DataFrame:
    facts = facts.copy()
    of_year = facts["year"] == YEAR
    counts = facts.loc[of_year, "age_band"].value_counts()
    # A victim in the largest band turns out to be in the next largest.
    source, target = counts.index[0], counts.index[1]
    i = facts.index[of_year & (facts["age_band"] == source)][0]
    facts.loc[i, "age_band"] = target
    return facts


def test_two_partner_releases_of_a_year_do_not_expose_a_corrected_age_band() -> None:
    from privacy.sdc import EarlierRelease, exact_cells

    first_exact = exact_tables()
    first = release(first_exact)
    hidden = frozenset(
        (name, tuple(str(row[d]) for d in DIMS[name]))
        for name, frame in first.items()
        for row in frame.to_dict("records")
        if row["status"] == "suppressed"
    )
    from privacy.model import CellRef

    earlier = EarlierRelease(
        "first",
        exact_cells(first_exact, YEAR),
        frozenset(CellRef(n, k) for n, k in hidden),
    )
    second_exact = exact_tables(_correct_one_age_band)
    second = release(second_exact, [earlier])

    attack = Attack()
    r1 = attack.add_release(first, first_exact)
    r2 = attack.add_release(second, second_exact)
    changes = []
    for ref, v2 in attack.cells[r2].items():
        v1 = attack.cells[r1].get(ref)
        d = attack.truth[v2] - (attack.truth[v1] if v1 is not None else 0.0)
        if not 0 < abs(d) < THRESHOLD:
            continue
        objective = {v2: 1.0}
        if v1 is not None:
            objective[v1] = objective.get(v1, 0.0) - 1.0
        lower, upper = attack.interval(objective)
        changes.append((ref, d, lower, upper))
        # Bounds alone: the new cell is >= 1 if hidden; the old one fixed if published.
        old_fixed = v1 is not None and v1 not in attack.hidden[r1]
        q_min = 1.0 - (attack.truth[v1] if old_fixed else np.inf)
        assert upper >= d + P, (ref, d, lower, upper)
        assert lower <= max(d - P, q_min), (ref, d, lower, upper)
    age_changes = [c for c in changes if c[0][0] == "by_age_band"]
    assert len(age_changes) == 2  # the corrected victim left one band and joined another
    assert too_narrow(attack, r2) == []


def test_a_release_that_cannot_be_protected_is_refused() -> None:
    from privacy.sdc import ProtectionError, release_sdc

    # A cell of 1 cannot reach 1 + 100 while the year's total of 66 is published.
    with pytest.raises(ProtectionError, match="nothing is released"):
        release_sdc(exact_tables(), metadata={"year": YEAR}, protection=100.0)

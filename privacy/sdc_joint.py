"""Joint disclosure control of a partner release: every table, every earlier release of the year.

A partner who receives ``cmm publish --method suppression`` sees every table of the year at
once, and every earlier partner release of that year. Protecting each table on its own is not
enough: ``labour_by_industry_gender`` is a subset of ``by_gender``, ``by_region`` is a margin
of ``by_citizenship``, every person table shares the year's total, and two releases at
different cut-offs differ by the corrections made in between. So one linear system holds
every cell of every table of every release of the year, and both the audit and the choice of
secondary suppressions work on that system.

**What the reader knows** (the attacker model, also stated in the release metadata):

* every published cell, and which cells are hidden (all show the same marker);
* each table's margins (:attr:`privacy.model.TableSpec.margins`), the tables that are copies
  of another's margins (:attr:`~privacy.model.TableSpec.derived_from`) and the relations
  between tables (:func:`privacy.model.cross_table_relations`: shared year totals, forced
  labour by gender at most the victims of that gender, police calls by reason summing to the
  police calls, ...), equalities and inequalities alike;
* that zeros are always published, so **every hidden cell is at least 1** (a zero is never
  hidden, not even as a secondary suppression, so this bound is true and the audit uses it);
* that counts are whole numbers (the audit solves integer programs, not only their LP
  relaxations);
* every earlier partner release of the same year, as recorded in the partner ledger.

**What is guaranteed** (upper and lower protection levels ``UPL = LPL = p``, by default the
threshold ``t``; a *sensitive* quantity is a cell with ``0 < x < t`` or a change
``d = x_new - x_old`` of one cell between this release and an earlier one with ``0 < |d| < t``):

* for every sensitive cell of true value ``x``, the reader's feasible set of whole-number
  solutions contains a solution with the cell at ``x + UPL`` or more and one with the cell at
  ``max(1, x - LPL)`` or less. So a hidden cell of 1 can be as large as ``1 + p`` (it cannot be
  below 1, which the reader knows anyway), and a reader can never tell a cell is below the
  threshold, nor bound it within ``p`` of its value;
* for every sensitive change of true value ``d``, the feasible set reaches ``d + UPL`` and
  ``d - LPL``, each clipped to what the bounds alone allow (a cell that is now a published
  zero cannot have grown). A corrected age band is not exposed by the difference of two
  releases;
* no hidden cell is pinned: a hidden cell whose value every solution fixes hides nothing and is
  published instead.

The release fails closed (:class:`ProtectionError`, nothing written) if this cannot be proved.

**How the pattern is chosen** (Fischetti and Salazar's method, as in tau-Argus and sdcTable's
``protectLinkedTables``): a master MILP (scipy's ``milp``, HiGHS) picks a least-cost set of
extra suppressions subject to cuts; for every sensitive quantity and direction an attacker LP
finds how far the quantity can move under the chosen pattern, and when it moves too little the
LP's dual gives a capacity cut (a linear condition on the suppression pattern that every
protecting pattern satisfies), which is added to the master. When the LPs pass, integer
programs check the same with integrality; a failure there adds a cut demanding one more
suppression. Cost: one per displayed cell hidden (a margin counts double), so few and small
cells are hidden.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import csr_array

from privacy.model import TABLES, TOTAL, CellRef, cross_table_relations

__all__ = [
    "Block",
    "ProtectionError",
    "Requirement",
    "build_block",
    "protect",
    "verify",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Key = tuple[str, ...]

_TOL = 1e-6
MAX_ROUNDS = 400
TIME_LIMIT_S = 120.0


class ProtectionError(ValueError):
    """A sensitive cell or change cannot be protected as required; nothing may be released."""


# --------------------------------------------------------------------------- structure


@dataclass
class Block:
    """One release's cells as the reader sees them.

    Cells that are the same number by construction (``by_region`` and the region totals of
    ``by_citizenship``, the person tables' totals and ``victims_by_year``) are one *class*, one
    variable of the system, so they are hidden or published together. ``eq`` rows say
    ``row @ z == 0`` and ``le`` rows ``row @ z <= 0`` over the classes.
    """

    members: list[list[CellRef]]
    index: dict[CellRef, int]
    values: FloatArray
    eq: list[dict[int, float]]
    le: list[dict[int, float]]
    grand: BoolArray
    """Classes holding a table's grand total (never hidden to protect another cell)."""
    hidden: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def size(self) -> int:
        return len(self.members)


def _lattice_equations(keys: Sequence[Key], n_dims: int) -> list[tuple[int, list[int]]]:
    """``margin == sum(children)`` for each margin and each finer level it sums (the same
    equations as ``privacy.sdc``'s single-table audit)."""
    kept = [frozenset(i for i, v in enumerate(k) if v != TOTAL) for k in keys]
    levels = set(kept)
    groups: dict[tuple[frozenset[int], frozenset[int], Key], list[int]] = {}
    for i, k in enumerate(kept):
        for s in levels:
            if s < k:
                groups.setdefault((s, k, tuple(keys[i][d] for d in sorted(s))), []).append(i)
    full = frozenset(range(n_dims))
    out: list[tuple[int, list[int]]] = []
    for j, s in enumerate(kept):
        if s == full:
            continue
        finer = [k for k in levels if s < k]
        children = [k for k in finer if not any(s < m < k for m in finer)]
        projection = tuple(keys[j][d] for d in sorted(s))
        for k in sorted(children, key=sorted):
            out.append((j, groups.get((s, k, projection), [])))
    return out


class _Union:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def build_block(
    cells: Mapping[str, Mapping[Key, float]], year: int | None, hidden: Iterable[CellRef] = ()
) -> Block:
    """The system of one release: ``cells`` maps each table to its cells (interior and margin
    keys as text, ``TOTAL`` in summed dimensions) and their values (exact counts for the
    release being made; for an earlier release, the exact counts recorded with it).

    Raises ValueError if cells that must be equal differ (the tables disagree)."""
    refs = [CellRef(name, tuple(key)) for name, table in cells.items() for key in table]
    value_of = {
        CellRef(name, tuple(k)): float(v) for name, t in cells.items() for k, v in t.items()
    }
    pos = {r: i for i, r in enumerate(refs)}
    union = _Union(len(refs))
    zero_rows: list[int] = []
    # Copies of another table's margins are the same numbers.
    for name, table in cells.items():
        spec = TABLES.get(name)
        if spec is None or spec.derived_from is None or spec.derived_from[0] not in cells:
            continue
        parent, keep = spec.derived_from
        parent_dims = TABLES[parent].dimension_names
        for key in table:
            lookup = dict(zip(keep, key, strict=True))
            parent_key = tuple(lookup.get(d, TOTAL) for d in parent_dims)
            other = pos.get(CellRef(parent, parent_key))
            if other is None:
                zero_rows.append(pos[CellRef(name, tuple(key))])
            else:
                union.join(pos[CellRef(name, tuple(key))], other)
    # Without a year the tables cannot be tied to victims_by_year's cell of that year.
    relations = [
        rel
        for rel in cross_table_relations(0 if year is None else year)
        if year is not None or all(r.table != "victims_by_year" for r in (*rel.left, *rel.right))
    ]
    rel_rows: list[tuple[str, dict[int, float]]] = []
    for rel in relations:
        if not any(r.table in cells for r in (*rel.left, *rel.right)):
            continue
        if not all(r.table in cells for r in (*rel.left, *rel.right)):
            continue
        left = [pos[r] for r in rel.left if r in pos]
        right = [pos[r] for r in rel.right if r in pos]
        if rel.kind == "eq" and len(left) == 1 and len(right) == 1:
            union.join(left[0], right[0])
            continue
        row: dict[int, float] = {}
        for i in left:
            row[i] = row.get(i, 0.0) + 1.0
        for i in right:
            row[i] = row.get(i, 0.0) - 1.0
        rel_rows.append((rel.kind, row))
    roots = sorted({union.find(i) for i in range(len(refs))})
    cls = {root: c for c, root in enumerate(roots)}
    of = [cls[union.find(i)] for i in range(len(refs))]
    members: list[list[CellRef]] = [[] for _ in roots]
    for i, r in enumerate(refs):
        members[of[i]].append(r)
    values = np.zeros(len(roots))
    for c, group in enumerate(members):
        found = {value_of[r] for r in group}
        if len(found) != 1:
            raise ValueError(
                f"tables disagree: {', '.join(sorted({r.table for r in group}))} must "
                f"share a count, so they cannot be protected together"
            )
        values[c] = found.pop()
    eq: list[dict[int, float]] = []
    seen: set[tuple[tuple[int, float], ...]] = set()

    def add(target: list[dict[int, float]], row: Mapping[int, float]) -> None:
        merged: dict[int, float] = {}
        for i, coef in row.items():
            merged[of[i]] = merged.get(of[i], 0.0) + coef
        merged = {c: v for c, v in merged.items() if v != 0.0}
        signature = tuple(sorted(merged.items()))
        if not merged or (target is eq and signature in seen):
            return
        if target is eq:
            seen.add(signature)
        target.append(merged)

    le: list[dict[int, float]] = []
    for name, table in cells.items():
        keys = [tuple(k) for k in table]
        n_dims = len(keys[0]) if keys else 0
        for margin, children in _lattice_equations(keys, n_dims):
            row = {pos[CellRef(name, keys[margin])]: -1.0}
            for child in children:
                row[pos[CellRef(name, keys[child])]] = 1.0
            add(eq, row)
    for i in zero_rows:
        add(eq, {i: 1.0})
    for kind, row in rel_rows:
        add(eq if kind == "eq" else le, row)

    def value(row: Mapping[int, float]) -> float:
        return float(sum(coef * values[c] for c, coef in row.items()))

    if any(abs(value(r)) > _TOL for r in eq) or any(value(r) > _TOL for r in le):
        raise ValueError("the tables contradict their own margins or relations")
    grand = np.array([any(all(v == TOTAL for v in r.key) for r in g) for g in members])
    hidden_set = set(hidden)
    hidden_mask = np.array([any(r in hidden_set for r in g) for g in members], dtype=bool)
    return Block(members, {r: of[i] for r, i in pos.items()}, values, eq, le, grand, hidden_mask)


# --------------------------------------------------------------------------- requirements


@dataclass(frozen=True)
class Requirement:
    """A sensitive quantity ``e @ z`` (over the stacked blocks, new release first) with true
    value ``value``, which the reader's feasible set must push to ``upper`` or beyond and to
    ``lower`` or below (None: no requirement in that direction)."""

    what: str
    terms: tuple[tuple[int, float], ...]
    value: float
    upper: float | None
    lower: float | None


def _requirements(
    new: Block, old: Sequence[Block], threshold: int, protection: float
) -> list[Requirement]:
    out: list[Requirement] = []
    floor = _floors(new, threshold)
    for c in range(new.size):
        x = float(new.values[c])
        if 0 < x < threshold:
            lower = max(floor[c], x - protection)
            out.append(
                Requirement(
                    f"cell {_name(new.members[c])}",
                    ((c, 1.0),),
                    x,
                    x + protection,
                    lower if lower < x else None,
                )
            )
    offset = new.size
    for block in old:
        pairs: set[tuple[int | None, int | None]] = set()
        for ref in {*new.index, *block.index}:
            pairs.add((new.index.get(ref), block.index.get(ref)))
        for cn, co in sorted(pairs, key=lambda p: (p[0] is None, p[0] or 0, p[1] or 0)):
            xn = float(new.values[cn]) if cn is not None else 0.0
            xo = float(block.values[co]) if co is not None else 0.0
            d = xn - xo
            if not 0 < abs(d) < threshold:
                continue
            # What the bounds alone allow: a present non-zero new cell may be hidden (>= 1);
            # an old cell is its published value, or >= 1 if it was hidden.
            new_lo, new_hi = (1.0, math.inf) if xn > 0 else (0.0, 0.0)
            if co is None:
                old_lo, old_hi = 0.0, 0.0
            elif block.hidden[co]:
                old_lo, old_hi = 1.0, math.inf
            else:
                old_lo = old_hi = xo
            q_max, q_min = new_hi - old_lo, new_lo - old_hi
            upper = min(d + protection, q_max)
            lower = max(d - protection, q_min)
            terms: list[tuple[int, float]] = []
            if cn is not None:
                terms.append((cn, 1.0))
            if co is not None:
                terms.append((offset + co, -1.0))
            refs = new.members[cn] if cn is not None else block.members[co]  # type: ignore[index]
            out.append(
                Requirement(
                    f"change of {_name(refs)}",
                    tuple(terms),
                    d,
                    upper if upper > d else None,
                    lower if lower < d else None,
                )
            )
        offset += block.size
    return out


def _floors(block: Block, threshold: int) -> FloatArray:
    """Each sensitive cell's least value when every cell but the zeros and grand totals is
    hidden: what the published zeros alone tell (a region total with two countries listed is
    at least 2), whatever else is suppressed. Protection downwards cannot go below it."""
    s = _stack(block, [])
    hide = (block.values > 0) & ~block.grand
    hide |= (block.values > 0) & (block.values < threshold)
    lo, hi = _bounds(s, hide, float(block.values.sum()) + 1.0)
    floors = np.ones(block.size)
    for c in np.flatnonzero((block.values > 0) & (block.values < threshold)):
        e = np.zeros(s.n)
        e[c] = -1.0
        best, _ = _extreme(s, e, lo, hi, True)
        floors[c] = -best
    return floors


def _name(refs: Sequence[CellRef]) -> str:
    first = min(refs, key=lambda r: (r.table, r.key))
    return f"{first.table}{list(first.key)}"


# --------------------------------------------------------------------------- the attacker


@dataclass
class _Stacked:
    """The blocks side by side (no row links them: only the requirements do)."""

    n: int
    a_eq: Any
    a_le: Any
    new_size: int
    values: FloatArray  # exact values, all blocks
    old_hidden: BoolArray  # for the old blocks' classes


def _stack(new: Block, old: Sequence[Block]) -> _Stacked:
    blocks = [new, *old]
    rows_eq: list[dict[int, float]] = []
    rows_le: list[dict[int, float]] = []
    offset = 0
    for b in blocks:
        rows_eq += [{offset + c: v for c, v in r.items()} for r in b.eq]
        rows_le += [{offset + c: v for c, v in r.items()} for r in b.le]
        offset += b.size
    return _Stacked(
        offset,
        _matrix(rows_eq, offset),
        _matrix(rows_le, offset),
        new.size,
        np.concatenate([b.values for b in blocks]),
        np.concatenate([b.hidden for b in old]) if old else np.zeros(0, dtype=bool),
    )


def _matrix(rows: Sequence[Mapping[int, float]], n: int) -> Any:
    data, ri, ci = [], [], []
    for r, row in enumerate(rows):
        for c, v in row.items():
            ri.append(r)
            ci.append(c)
            data.append(v)
    return csr_array((data, (ri, ci)), shape=(len(rows), n))


def _bounds(s: _Stacked, hide: BoolArray, reach: float) -> tuple[FloatArray, FloatArray]:
    """Per variable: published cells fixed, hidden cells in ``[1, value + reach]``."""
    hidden = np.concatenate([hide, s.old_hidden])
    lo = np.where(hidden, 1.0, s.values)
    hi = np.where(hidden, s.values + reach, s.values)
    return lo, hi


def _extreme(
    s: _Stacked, objective: FloatArray, lo: FloatArray, hi: FloatArray, integral: bool
) -> tuple[float, Any]:
    """``max objective @ z`` over the reader's feasible set (LP or integer)."""
    if integral:
        constraints = []
        if s.a_eq.shape[0]:
            constraints.append(LinearConstraint(s.a_eq, 0.0, 0.0))
        if s.a_le.shape[0]:
            constraints.append(LinearConstraint(s.a_le, -np.inf, 0.0))
        res = milp(
            -objective,
            constraints=constraints,
            integrality=np.ones(s.n),
            bounds=Bounds(lo, hi),
            options={"time_limit": 30.0},
        )
        if res.status != 0 or res.x is None:
            raise ProtectionError(f"the integer audit did not finish: {res.message}")
        return float(objective @ np.round(res.x)), res
    res = linprog(
        -objective,
        A_eq=s.a_eq if s.a_eq.shape[0] else None,
        b_eq=np.zeros(s.a_eq.shape[0]) if s.a_eq.shape[0] else None,
        A_ub=s.a_le if s.a_le.shape[0] else None,
        b_ub=np.zeros(s.a_le.shape[0]) if s.a_le.shape[0] else None,
        bounds=np.column_stack([lo, hi]),
        method="highs",
    )
    if res.status != 0:
        raise ProtectionError(f"the audit LP failed: {res.message}")
    return -float(res.fun), res


def _objective(s: _Stacked, req: Requirement, sign: float) -> FloatArray:
    e = np.zeros(s.n)
    for i, coef in req.terms:
        e[i] += sign * coef
    return e


def _checks(req: Requirement) -> list[tuple[float, float]]:
    """(sign, target of sign * quantity) for each direction the requirement constrains."""
    out = []
    if req.upper is not None:
        out.append((1.0, req.upper))
    if req.lower is not None:
        out.append((-1.0, -req.lower))
    return out


# --------------------------------------------------------------------------- protection


@dataclass
class Outcome:
    """The chosen pattern and its proof."""

    hidden: BoolArray
    intervals: dict[str, tuple[float, float]]
    requirements: int
    rounds: int
    seconds: float


def protect(
    new: Block,
    old: Sequence[Block],
    threshold: int,
    protection: float,
) -> Outcome:
    """Choose the hidden classes of ``new`` (see the module docstring) and prove them.

    Raises :class:`ProtectionError` if no pattern protects every sensitive quantity, or if the
    proof does not finish within ``MAX_ROUNDS`` rounds or ``TIME_LIMIT_S`` seconds."""
    started = time.monotonic()
    s = _stack(new, old)
    reqs = _requirements(new, old, threshold, protection)
    reach = 2.0 * protection + threshold
    primary = (new.values > 0) & (new.values < threshold)
    free = ~primary & (new.values > 0) & ~new.grand
    n = new.size
    cost = np.array(
        [
            sum(2.0 if any(v == TOTAL for v in r.key) else 1.0 for r in g)
            + 1e-3 * math.log1p(new.values[c])
            for c, g in enumerate(new.members)
        ]
    )
    cuts: list[tuple[FloatArray, float]] = []
    # Necessary from the start: an equation in which a sensitive cell is the only hidden cell
    # pins it, so each of its equations has another hidden cell.
    for row in new.eq:
        for c in row:
            if primary[c]:
                others = np.zeros(n)
                for o in row:
                    if o != c:
                        others[o] = 1.0
                cuts.append((others, 1.0))
    rounds = 0
    while True:
        rounds += 1
        if rounds > MAX_ROUNDS or time.monotonic() - started > TIME_LIMIT_S:
            raise ProtectionError(
                "could not prove protection within the limits; nothing is released"
            )
        hide = _master(cost, primary, free, cuts)
        if _lp_round(s, reqs, hide, reach, cuts) or _integer_round(
            s, reqs, hide, free, protection, cuts
        ):
            continue
        break
    hide = _publish_pinned(s, hide, primary, protection)
    intervals = verify(new, old, hide, threshold, protection)
    return Outcome(hide, intervals, len(reqs), rounds, time.monotonic() - started)


def _lp_round(
    s: _Stacked,
    reqs: Sequence[Requirement],
    hide: BoolArray,
    reach: float,
    cuts: list[tuple[FloatArray, float]],
) -> bool:
    """Check every requirement by LP; add a capacity cut for each failure. True if any."""
    lo, hi = _bounds(s, hide, reach)
    failed = False
    for req in reqs:
        for sign, target in _checks(req):
            best, res = _extreme(s, _objective(s, req, sign), lo, hi, False)
            if best + _TOL >= target:
                continue
            cut = _capacity_cut(s, res, lo, hi, reach, target)
            if cut is None:
                raise ProtectionError(_refusal(req))
            cuts.append(cut)
            failed = True
    return failed


def _integer_round(
    s: _Stacked,
    reqs: Sequence[Requirement],
    hide: BoolArray,
    free: BoolArray,
    protection: float,
    cuts: list[tuple[FloatArray, float]],
) -> bool:
    """Check every requirement with integrality. A pattern that fails fails with fewer
    suppressions too, so the next one must hide at least one more cell. True if any fails."""
    lo, hi = _bounds(s, hide, _big(s, protection))
    for req in reqs:
        for sign, target in _checks(req):
            best, _ = _extreme(s, _objective(s, req, sign), lo, hi, True)
            if best + _TOL < target:
                more = (free & ~hide).astype(float)
                if not more.any():
                    raise ProtectionError(_refusal(req))
                cuts.append((more, 1.0))
                return True
    return False


def _big(s: _Stacked, protection: float) -> float:
    return float(s.values.sum()) + 10.0 * protection + 10.0


def _master(
    cost: FloatArray, primary: BoolArray, free: BoolArray, cuts: list[tuple[FloatArray, float]]
) -> BoolArray:
    n = len(cost)
    lower = primary.astype(float)
    upper = (primary | free).astype(float)
    constraints = []
    if cuts:
        a = np.vstack([c for c, _ in cuts])
        b = np.array([r for _, r in cuts])
        constraints.append(LinearConstraint(a, b - _TOL, np.inf))
    res = milp(
        cost,
        constraints=constraints,
        integrality=np.ones(n),
        bounds=Bounds(lower, upper),
        options={"time_limit": 30.0},
    )
    if res.status == 2:
        raise ProtectionError(
            "no suppression pattern protects every sensitive cell and change (the grand "
            "totals and zeros stay published); nothing is released"
        )
    if res.status != 0 or res.x is None:
        raise ProtectionError(f"the suppression MILP did not finish: {res.message}")
    return np.asarray(np.round(res.x) > 0.5)


def _capacity_cut(
    s: _Stacked, res: Any, lo: FloatArray, hi: FloatArray, reach: float, target: float
) -> tuple[FloatArray, float] | None:
    """From the LP's duals, a linear condition every protecting pattern satisfies.

    The LP minimises ``-e @ z`` with only zero right-hand sides, so by weak duality, for any
    bounds: ``max e @ z <= -(mu_lo @ lo + mu_hi @ hi)``. For a cell of the new release,
    ``lo = x - (x - 1) y`` and ``hi = x + reach * y``; the old releases' bounds are constant.
    Protection needs that bound to reach ``target``: ``sum g_c y_c >= target - k``."""
    mu_lo = np.asarray(res.lower.marginals, dtype=float)
    mu_hi = np.asarray(res.upper.marginals, dtype=float)
    m = s.new_size
    x = s.values[:m]
    k = -float(mu_lo[m:] @ lo[m:] + mu_hi[m:] @ hi[m:]) - float((mu_lo[:m] + mu_hi[:m]) @ x)
    g = mu_lo[:m] * (x - 1.0) - mu_hi[:m] * reach
    g = np.maximum(g, 0.0)
    if not np.any(g > _TOL):
        return None
    return g, target - k


def _publish_pinned(
    s: _Stacked, hide: BoolArray, primary: BoolArray, protection: float
) -> BoolArray:
    """Publish every secondary cell that every solution fixes: it hides nothing, and
    publishing it leaves the reader's feasible set unchanged."""
    hide = hide.copy()
    lo, hi = _bounds(s, hide, _big(s, protection))
    for c in np.flatnonzero(hide & ~primary):
        e = np.zeros(s.n)
        e[c] = 1.0
        up, _ = _extreme(s, e, lo, hi, True)
        down, _ = _extreme(s, -e, lo, hi, True)
        if up <= s.values[c] + _TOL and -down >= s.values[c] - _TOL:
            hide[c] = False
            lo[c] = hi[c] = s.values[c]
    return hide


def verify(
    new: Block, old: Sequence[Block], hide: BoolArray, threshold: int, protection: float
) -> dict[str, tuple[float, float]]:
    """The integer audit of a pattern: every sensitive quantity's feasible interval, checked
    against its requirement, and every hidden cell not pinned. Raises
    :class:`ProtectionError` naming what fails."""
    s = _stack(new, old)
    lo, hi = _bounds(s, hide, _big(s, protection))
    intervals: dict[str, tuple[float, float]] = {}
    failures = []
    for req in _requirements(new, old, threshold, protection):
        e = _objective(s, req, 1.0)
        upper, _ = _extreme(s, e, lo, hi, True)
        lower, _ = _extreme(s, -e, lo, hi, True)
        lower = -lower
        intervals[req.what] = (lower, upper)
        if (req.upper is not None and upper + _TOL < req.upper) or (
            req.lower is not None and lower - _TOL > req.lower
        ):
            failures.append(req.what)
    for c in np.flatnonzero(hide):
        e = np.zeros(s.n)
        e[c] = 1.0
        upper, _ = _extreme(s, e, lo, hi, True)
        lower, _ = _extreme(s, -e, lo, hi, True)
        if upper - (-lower) < _TOL:
            failures.append(f"hidden cell {_name(new.members[c])} is pinned")
    if failures:
        raise ProtectionError(
            f"the joint audit failed for {len(failures)} quantities (named, their bounds are "
            f"not shown because they are confidential): "
            + "; ".join(failures)
            + "; nothing is released"
        )
    return intervals


def _refusal(req: Requirement) -> str:
    return (
        f"cannot protect the {req.what}: no suppression pattern gives it the required "
        f"protection (zeros and grand totals stay published); nothing is released"
    )

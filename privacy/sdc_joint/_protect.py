"""Choosing the suppression pattern and proving it (the method is in :mod:`privacy.sdc_joint`):
a master MILP with capacity cuts from the attacker LPs, then integer programs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from privacy.model import TOTAL
from privacy.sdc_joint._attacker import ProtectionError, _bounds, _extreme, _stack, _Stacked
from privacy.sdc_joint._requirements import Requirement, _checks, _name, _objective, _requirements
from privacy.sdc_joint._system import _TOL, Block, BoolArray, FloatArray

MAX_ROUNDS = 400
TIME_LIMIT_S = 120.0


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
    """Choose the hidden classes of ``new`` (see :mod:`privacy.sdc_joint`) and prove them.

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

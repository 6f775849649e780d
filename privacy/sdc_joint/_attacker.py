"""The attacker: the blocks of every release stacked into one system, and how far a quantity
can move in it (by LP, or by integer programming).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import csr_array

from privacy.sdc_joint._system import Block, BoolArray, FloatArray


class ProtectionError(ValueError):
    """A sensitive cell or change cannot be protected as required; nothing may be released."""


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

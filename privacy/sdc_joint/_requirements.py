"""The sensitive quantities (small cells, small changes against earlier releases) and how far
the reader's feasible set must let each of them move.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from privacy.model import CellRef
from privacy.sdc_joint._attacker import _bounds, _extreme, _stack, _Stacked
from privacy.sdc_joint._system import Block, FloatArray


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

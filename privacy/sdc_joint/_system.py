"""The reader's linear system of one release: its cells, merged into one variable where they
are the same number by construction, and the equations and inequalities between them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from privacy.model import TABLES, TOTAL, CellRef, cross_table_relations

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Key = tuple[str, ...]

_TOL = 1e-6


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

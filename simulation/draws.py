"""Seeded draws that keep the simulator's totals exact: dealing out pools, splitting a
total over logs, and time-ordered ids from the run's own random numbers."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import TypeVar

_K = TypeVar("_K")


class SimulationError(RuntimeError):
    """The profile passed validation but one draw could not satisfy it (a bug to report)."""


def uuid7(unix_ms: int, rng: random.Random) -> str:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then 74 bits from ``rng``.

    Python 3.11 has no ``uuid.uuid7``; drawing the random part from the caller's seeded RNG
    keeps ids reproducible per seed while staying time-ordered for the store's indexes."""
    ms = unix_ms & 0xFFFF_FFFF_FFFF
    r = rng.getrandbits(74)  # 12 bits rand_a, then 62 bits rand_b
    return "%08x-%04x-%04x-%04x-%012x" % (  # noqa: UP031 (faster than format here)
        ms >> 16,
        ms & 0xFFFF,
        0x7000 | (r >> 62),  # version 7
        0x8000 | ((r >> 48) & 0x3FFF),  # variant 0b10
        r & 0xFFFF_FFFF_FFFF,
    )


def deal(rng: random.Random, pool: Mapping[_K, int]) -> list[_K]:
    """A pool's values, each as many times as its count, in random order."""
    dealt = [k for k, n in pool.items() for _ in range(n)]
    rng.shuffle(dealt)
    return dealt


def pool_of(value: _K | Mapping[_K, int], count: int) -> Mapping[_K, int]:
    """A fixed attribute as a pool of one value."""
    return value if isinstance(value, Mapping) else {value: count}


def split_total(
    rng: random.Random,
    total: int,
    n: int,
    lo: int,
    hi: int,
    caps: Sequence[int] | None = None,
    pin: bool = True,
) -> list[int]:
    """``n`` integers in ``[lo, hi]`` (each also at most ``caps[i]``) that add up to ``total``,
    with ``lo`` and ``hi`` both attained when ``pin`` (so per-log extremes are exact)."""
    upper = [hi] * n if caps is None else [min(hi, c) for c in caps]
    if any(u < lo for u in upper):
        raise SimulationError(f"a cap below the minimum {lo}")
    values = [lo] * n
    fixed: set[int] = set()
    if pin and n >= 2 and lo < hi:
        # The maximum first: caps may leave only a few logs able to take it.
        tops = [i for i in range(n) if upper[i] >= hi]
        if not tops:
            raise SimulationError(f"no log can take the maximum {hi}")
        top = rng.choice(tops)
        low = rng.choice([i for i in range(n) if i != top])
        values[top] = hi
        fixed = {low, top}
    free = [i for i in range(n) if i not in fixed]
    remaining = total - sum(values)
    if remaining < 0 or remaining > sum(upper[i] - values[i] for i in free):
        raise SimulationError(f"cannot split {total} over {n} logs of {lo}..{hi}")
    weights = [0.25 + rng.random() for _ in free]
    scale = remaining / sum(weights) if free else 0.0
    for i, w in zip(free, weights, strict=True):
        values[i] += min(upper[i] - values[i], int(w * scale))
    open_ = [i for i in free if values[i] < upper[i]]
    left = total - sum(values)
    while left > 0:
        k = rng.randrange(len(open_))
        i = open_[k]
        values[i] += 1
        left -= 1
        if values[i] == upper[i]:
            open_[k] = open_[-1]
            open_.pop()
    return values

"""What every benchmark shares: the JSON line format and peak memory."""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from typing import Any

# This kind of machine drifts by up to half within minutes: targets near a figure are met in
# some runs and missed in others. Benchmarks with a throughput target repeat the measurement
# and report the median, with every run beside it.
REPEAT = 3


def median(runs: list[float]) -> float:
    return float(statistics.median(runs))


def rounded(runs: list[float]) -> list[float]:
    return [round(r, 1) for r in runs]


def cpu_probe_ns() -> float:
    """Nanoseconds per iteration of a fixed pure-Python loop, best of three: how fast this
    machine runs Python at the time a figure is printed. On this kind of machine the same
    loop ran 1.7 times slower at one time than at another within an hour, and every
    figure drifts with it; the probe lets figures from different times be compared."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return best * 1e3


def emit(
    name: str,
    value: float,
    unit: str,
    baseline: float | None = None,
    ratio: float | None = None,
    **extra: Any,
) -> None:
    line: dict[str, Any] = {"name": name, "value": round(value, 3), "unit": unit}
    if baseline is not None:
        line["baseline"] = round(baseline, 3)
        line["ratio"] = round(ratio if ratio is not None else value / baseline, 3)
    line.update(extra)
    line["cpu_probe_ns"] = round(cpu_probe_ns(), 1)
    print(json.dumps(line), flush=True)


def peak_rss_mib(children: bool = False) -> float:
    """Peak resident memory of this process (or of its finished children), in MiB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def emit_runs(
    name: str, runs: list[float], unit: str, baselines: list[float] | None = None, **extra: Any
) -> None:
    """The median of repeated runs, with every run (and, when given, the baseline run beside
    each, and the median of the run-by-run ratios)."""
    if baselines is None:
        emit(name, median(runs), unit, runs=rounded(runs), **extra)
        return
    emit(
        name,
        median(runs),
        unit,
        baseline=median(baselines),
        ratio=median([a / b for a, b in zip(runs, baselines, strict=True)]),
        runs=rounded(runs),
        baseline_runs=rounded(baselines),
        **extra,
    )

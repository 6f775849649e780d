"""Paired runs of ``cmm ingest`` and of a read-model rebuild: this checkout against an earlier
commit, alternately, on the same file and the same machine.

This kind of machine drifts by a third within minutes, so a figure measured now cannot be
compared with one measured an hour ago. Here each pair runs the earlier code and this code
back to back (the order alternating from pair to pair), each on a fresh store, and the ratio
of each pair's rates is reported: drift slower than a pair cancels out.

The earlier code is checked out with ``git worktree`` into a temporary folder, and both
run as ``python -m infra.cli`` with that tree first on the path, under this Python and its
installed packages.

Run: ``python -m bench.paired --ref main [--events 300000] [--pairs 5] [--v2]``; with
``--v2`` the current tree ingests the same stream rewritten as version-2 events. It is not part of
``python -m bench`` (it needs a commit to compare with); its lines carry the earlier code's
median as ``baseline`` and the median of the pairs' ratios as ``ratio``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import emit, log

HERE = Path(__file__).resolve().parent.parent


@contextmanager
def checkout(ref: str, where: Path) -> Iterator[Path]:
    tree = where / "baseline"
    subprocess.run(
        ["git", "-C", str(HERE), "worktree", "add", "--detach", "-q", str(tree), ref], check=True
    )
    try:
        yield tree
    finally:
        subprocess.run(
            ["git", "-C", str(HERE), "worktree", "remove", "--force", str(tree)], check=False
        )


def _run(tree: Path, args: list[str], data: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CMM_")}
    env.update({"PYTHONPATH": str(tree), "CMM_STORE": "sqlite", "CMM_DATA_DIR": str(data)})
    env["CMM_KEY"] = os.environ["CMM_KEY"]  # set by ``bench``: the stores are encrypted
    subprocess.run(["sync"], check=False)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "infra.cli", *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{tree.name}: cmm {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return elapsed


def _stream_of(tree: Path, path: Path, events: int) -> int:
    """Simulate the stream with the earlier code's own simulator, so that both read it: the
    earlier code reads only the contract versions it knew, and the current code reads every
    earlier one (a stream written for the current contract could not be compared)."""
    code = (
        "import sys; from pathlib import Path; from bench.bench_ingest import make_file; "
        "print(make_file(Path(sys.argv[1]), int(sys.argv[2])))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CMM_")}
    env["PYTHONPATH"] = str(tree)
    result = subprocess.run(
        [sys.executable, "-c", code, str(path), str(events)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout.split()[-1])


def _keep_what_both_read(path: Path) -> int:
    """Drop the lines the current contract refuses (e.g. a correction's free-text reason,
    which the earlier code accepted and the current refuses for privacy), so that both
    trees store exactly the same events and neither run writes rejects; returns the count."""
    from domain.events import InvalidEvent, parse_event

    kept = dropped = 0
    with path.open("rb") as lines, path.with_suffix(".both").open("wb") as out:
        for line in lines:
            try:
                parse_event(line)
            except InvalidEvent:
                dropped += 1
                continue
            out.write(line)
            kept += 1
    path.with_suffix(".both").replace(path)
    if dropped:
        log(f"paired: {dropped:,} lines the current contract refuses left out of both runs")
    return kept


def as_version_2(source: Path, target: Path) -> int:
    """Write ``source``'s events to ``target`` as version-2 events: the same facts in the
    later contract (every version-1 payload is a valid version-2 payload meaning the same,
    so only the number changes and both trees store the same events); returns the count."""
    import json

    count = 0
    with source.open("rb") as lines, target.open("w", encoding="utf-8") as out:
        for line in lines:
            if not line.strip():
                continue
            event = json.loads(line)
            event["schema_version"] = 2
            out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", required=True, help="the earlier commit to compare with")
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument(
        "--v2",
        action="store_true",
        help="the current tree ingests the same stream rewritten as version-2 events",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cmm-paired-") as tmp:
        work = Path(tmp)
        source = work / "events.jsonl"
        with checkout(args.ref, work) as baseline:
            _stream_of(baseline, source, args.events)
            events = _keep_what_both_read(source)
            sources = {"baseline": source, "current": source}
            if args.v2:
                sources["current"] = work / "events-v2.jsonl"
                as_version_2(source, sources["current"])
            version = " (current tree on version 2)" if args.v2 else ""
            log(f"paired: {events:,} events, {args.pairs} pairs, against {args.ref}{version}")
            trees = {"baseline": baseline, "current": HERE}
            rates: dict[str, dict[str, list[float]]] = {
                kind: {"baseline": [], "current": []} for kind in ("ingest", "rebuild")
            }
            for pair in range(args.pairs):
                order = ["baseline", "current"] if pair % 2 == 0 else ["current", "baseline"]
                for name in order:
                    data = work / f"data-{name}-{pair}"
                    seconds = _run(trees[name], ["ingest", str(sources[name])], data)
                    rates["ingest"][name].append(events / seconds)
                    # A report on a store whose read model is not built yet: the rebuild of
                    # every projection from the events, and one query.
                    seconds = _run(
                        trees[name], ["report", "--year", "2012", "--as-of", "2013-01-31"], data
                    )
                    rates["rebuild"][name].append(events / seconds)
                    shutil.rmtree(data)
                log(
                    f"pair {pair + 1}: ingest "
                    + ", ".join(f"{n} {rates['ingest'][n][-1]:,.0f}/s" for n in order)
                )
        for kind, runs in rates.items():
            ratios = [c / b for b, c in zip(runs["baseline"], runs["current"], strict=True)]
            emit(
                f"{kind}_paired",
                statistics.median(runs["current"]),
                "events/s",
                baseline=statistics.median(runs["baseline"]),
                ratio=statistics.median(ratios),
                ratios=[round(r, 3) for r in ratios],
                ref=args.ref,
                events=events,
                current_schema_version=2 if args.v2 else 1,
            )


if __name__ == "__main__":
    main()

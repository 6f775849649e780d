"""The cost of encryption at rest on SQLite: ingest and projection rebuild, encrypted and
not, in the same run.

- ``ingest_encrypted_sqlite``: bulk ingest (with its parser workers) of a simulated file into
  a fresh store, events per second, with the stored states sealed (``infra.sealing``); the
  baseline is the same ingest with no key installed (states stored as they are, which
  ``cmm`` itself never does), and the ratio encrypted / plain. Target: at least 0.8
  (encryption costs at most 25%: 1/1.25).
- ``projection_rebuild_encrypted_sqlite``: the read model rebuilt from that store, every
  state opened, against the same rebuild of the plain store.

Each measurement runs in a process of its own, encrypted and plain side by side in every
repeat (the machine's speed drifts), after a file-system sync; the median of the runs and
the median of the run-by-run ratios are reported.

Run: ``python -m bench.bench_encryption [--events 200000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import BENCH_KEY
from bench.bench_ingest import make_file
from bench.common import REPEAT, emit_runs, log


def _one(source: Path, data_dir: Path, encrypted: bool) -> dict[str, float]:
    """Ingest ``source`` into a new store at ``data_dir`` and rebuild its read model, in this
    process; seconds of each."""
    from infra import sealing

    if not encrypted:
        # The plain baseline: the key is never installed, so the states stay as they are.
        sealing.install = lambda key: None  # type: ignore[assignment]
    from infra.composition import open_store, open_view
    from infra.files.ingest import ingest_file
    from infra.readmodel import catch_up
    from infra.settings import Settings

    settings = Settings(data_dir=data_dir)
    with open_store(settings) as store:
        assert sealing.installed() is encrypted
        os.sync()
        started = time.perf_counter()
        report = ingest_file(source, store)
        ingest = time.perf_counter() - started
        view = open_view(settings)
        os.sync()
        started = time.perf_counter()
        result = catch_up(store, view)
        rebuild = time.perf_counter() - started
        view.close()
    return {"events": report.appended, "ingest": ingest, "rebuild": rebuild,
            "notifications": result.processed}  # fmt: skip


def _measure(source: Path, data_dir: Path, encrypted: bool) -> dict[str, float]:
    env = {**os.environ, "CMM_KEY": BENCH_KEY}
    env.pop("CMM_KEY_FILE", None)
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_encryption", "--one", str(source), str(data_dir),
         "1" if encrypted else "0"],
        check=True, capture_output=True, text=True, env=env,
    ).stdout  # fmt: skip
    measured: dict[str, float] = json.loads(out)
    shutil.rmtree(data_dir)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=REPEAT, help="runs; the median is reported")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        source, data_dir, encrypted = args.one
        print(json.dumps(_one(Path(source), Path(data_dir), encrypted == "1")))
        return
    with tempfile.TemporaryDirectory(prefix="cmm-bench-") as tmp:
        work = Path(tmp)
        source = work / "events.jsonl"
        count = make_file(source, args.events)
        log(f"simulated {count:,} events")
        runs: dict[str, list[float]] = {"ingest": [], "ingest_plain": [], "rebuild": [],
                                        "rebuild_plain": []}  # fmt: skip
        for run in range(args.repeat):
            log(f"run {run + 1} of {args.repeat}")
            # Alternate which goes first, so neither always meets the warmer machine.
            order = (True, False) if run % 2 == 0 else (False, True)
            for encrypted in order:
                m = _measure(source, work / f"store-{run}-{int(encrypted)}", encrypted)
                suffix = "" if encrypted else "_plain"
                runs["ingest" + suffix].append(m["events"] / m["ingest"])
                runs["rebuild" + suffix].append(m["notifications"] / m["rebuild"])
        emit_runs(
            "ingest_encrypted_sqlite", runs["ingest"], "events/s", runs["ingest_plain"],
            events=count, target_ratio=0.8,
        )  # fmt: skip
        emit_runs(
            "projection_rebuild_encrypted_sqlite", runs["rebuild"], "events/s",
            runs["rebuild_plain"], events=count, target_ratio=0.8,
        )  # fmt: skip


if __name__ == "__main__":
    main()

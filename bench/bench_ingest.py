"""Ingest and projection rebuild on SQLite, at the scale the issue names.

- ``ingest``: ``cmm ingest`` of a simulated file of ~1,000,000 events into a fresh SQLite
  store (streamed; peak memory reported), in events per second.
- ``ingest_baseline``: the straightforward eventsourcing application on the same events:
  load the person's aggregate, record one event, save, per event. It is measured on the
  first ``--baseline-events`` events of the same file (it runs at a few thousand per second,
  and its rate does not improve with size), and the ratio compares the two rates.
- ``projection_rebuild``: all projections rebuilt from the store from scratch.

Each is measured ``--repeat`` times (3), ingest and baseline side by side, on fresh stores;
the median is reported with every run. Before each measurement the file system is synced:
the kernel otherwise still writes back the half gigabyte the previous step wrote while the
next one runs (measured: a rebuild right after an ingest ran at 82k events/s, at 98k once
the ingest's pages were on disk).

Run: ``python -m bench.bench_ingest [--events 1000000] [--baseline-events 5000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPEAT, emit_runs, log, peak_rss_mib
from domain.events import parse_event
from infra.composition import ledger_application, open_store, open_view
from infra.readmodel import catch_up
from infra.settings import Settings
from simulation.simulate import load_profile, simulate, write_jsonl

EVENTS_PER_SCALE = 5_215  # events of one simulated cmm-2012 year at scale 1


def make_file(path: Path, events: int) -> int:
    # A year's event count grows a little less than linearly with the scale (the hotline
    # and outreach logs do not scale with persons): ask for 5% more, then cut.
    scale = max(1, -(-events * 105 // (100 * EVENTS_PER_SCALE)))
    stream = itertools.islice(simulate(load_profile("cmm-2012"), seed=1, scale=scale), events)
    return write_jsonl(stream, path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--baseline-events", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=REPEAT, help="runs; the median is reported")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cmm-bench-") as tmp:
        work = Path(tmp)
        source = work / "events.jsonl"
        started = time.perf_counter()
        count = make_file(source, args.events)
        log(f"simulated {count:,} events in {time.perf_counter() - started:.1f} s")

        ingest_runs: list[float] = []
        baseline_runs: list[float] = []
        rebuild_runs: list[float] = []
        ingest_rss = rebuild_rss = 0.0
        for run in range(args.repeat):
            log(f"run {run + 1} of {args.repeat}")
            # The command a user runs, in its own process, so its peak memory is its own.
            settings = Settings(data_dir=work / f"fast-{run}")
            os.sync()
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "infra.cli",
                    "ingest",
                    "--data-dir",
                    str(settings.data_dir),
                    str(source),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            ingest_runs.append(count / (time.perf_counter() - started))
            if run == 0:
                # Later runs would count the rebuild's fold workers too (also children).
                ingest_rss = peak_rss_mib(children=True)

            # The baseline right after: the machine's speed drifts.
            log(f"baseline: eventsourcing application on {args.baseline_events:,} events")
            app = ledger_application(Settings(data_dir=work / f"slow-{run}"))
            with source.open("rb") as handle:
                lines = list(itertools.islice(handle, args.baseline_events))
            os.sync()
            started = time.perf_counter()
            for line in lines:
                app.record(parse_event(line))
            baseline_runs.append(len(lines) / (time.perf_counter() - started))

            with open_store(settings) as store:
                view = open_view(settings)
                os.sync()
                started = time.perf_counter()
                result = catch_up(store, view)
                rebuild_runs.append(result.processed / (time.perf_counter() - started))
                view.close()
            rebuild_rss = max(rebuild_rss, peak_rss_mib())
            shutil.rmtree(work / f"slow-{run}")
            shutil.rmtree(settings.data_dir)

        emit_runs(
            "ingest_sqlite",
            ingest_runs,
            "events/s",
            baseline_runs,
            events=count,
            peak_rss_mib=round(ingest_rss, 1),
        )
        emit_runs(
            "projection_rebuild_sqlite",
            rebuild_runs,
            "events/s",
            notifications=result.processed,
            peak_rss_mib=round(rebuild_rss, 1),
        )


if __name__ == "__main__":
    main()

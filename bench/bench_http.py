"""Latency of the analyst's report endpoint (``GET /v1/reports/{year}``) of ``cmm serve``,
on a store of ``--events`` simulated events, under ``--clients`` concurrent clients on
loopback.

- ``http_report_first``: the very first request (the read model is built from the events).
- ``http_report_warm_p50`` / ``_p95``: every client asking again and again, nothing new.
- ``http_report_after_new_events``: the first request after new events were stored (the
  read model catches up with them first).

Target (issue 15): warm p95 of 50 ms or less; the first request after new events within 2 s.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.bench_ingest import make_file
from bench.common import emit, log
from simulation.simulate import load_profile, simulate, write_jsonl

YEAR, AS_OF = 2012, "2013-01-31"
WARM_P95_TARGET_MS, AFTER_NEW_TARGET_MS = 50.0, 2000.0
"""Issue 15's targets, emitted as each figure's ``baseline`` (``ratio`` <= 1 meets it)."""


def _cmm(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "infra.cli", *args], env=env, check=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, server: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("cmm serve ended before it listened")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"cmm serve did not listen on port {port}")


def _timed_get(client: httpx.Client) -> float:
    started = time.perf_counter()
    answer = client.get(f"/v1/reports/{YEAR}", params={"as_of": AS_OF})
    elapsed = time.perf_counter() - started
    answer.raise_for_status()
    return elapsed * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=25, help="per client, warm")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cmm-bench-http-") as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CMM_")}
        env["CMM_DATA_DIR"] = str(work / "data")
        env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
        # Every store-opening command needs a key: a new one, of this run's store alone.
        _cmm(["key", "new", str(work / "key")], env)
        env["CMM_KEY_FILE"] = str(work / "key")
        count = make_file(work / "events.jsonl", args.events)
        _cmm(["ingest", str(work / "events.jsonl")], env)
        added = subprocess.run(
            [sys.executable, "-m", "infra.cli", "users", "add", "bench", "--role", "analyst"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        token = added.stdout.strip().splitlines()[-1]
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "infra.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for_port(port, server)
            headers = {"Authorization": f"Bearer {token}"}
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, headers=headers, timeout=600) as one:
                first = _timed_get(one)
            log(f"first request {first:.0f} ms")
            emit("http_report_first", first, "ms", events=count)

            latencies: list[float] = []
            lock = threading.Lock()

            def client_loop() -> None:
                with httpx.Client(base_url=base, headers=headers, timeout=600) as mine:
                    for _ in range(args.requests):
                        took = _timed_get(mine)
                        with lock:
                            latencies.append(took)

            threads = [threading.Thread(target=client_loop) for _ in range(args.clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            cuts = statistics.quantiles(latencies, n=100)
            extra = {"events": count, "clients": args.clients, "requests": len(latencies)}
            emit("http_report_warm_p50", cuts[49], "ms", **extra)
            # baseline: the target (ratio at most 1 meets it).
            emit("http_report_warm_p95", cuts[94], "ms", baseline=WARM_P95_TARGET_MS, **extra)

            more = work / "more.jsonl"
            write_jsonl(
                (e for i, e in enumerate(simulate(load_profile("cmm-2012"), seed=99)) if i < 1000),
                more,
            )
            _cmm(["ingest", str(more)], env)
            with httpx.Client(base_url=base, headers=headers, timeout=600) as one:
                after = _timed_get(one)
            emit(
                "http_report_after_new_events",
                after,
                "ms",
                baseline=AFTER_NEW_TARGET_MS,
                events=count,
                new_events=1000,
            )
        finally:
            server.terminate()
            server.wait(timeout=60)


if __name__ == "__main__":
    main()

"""Worker processes end with their command: a SIGKILL of ``cmm ingest`` or of a read-model
rebuild leaves no process behind, and SIGTERM stops ``cmm ingest`` cleanly with every batch
stored whole or not at all (a rerun then stores exactly the rest)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import alive, children_of

pytestmark = pytest.mark.integration

BOUND_S = 15.0
"""How long processes may take to go: an upper bound, not a measurement."""


def _command() -> list[str]:
    script = Path(sys.executable).parent / "cmm"
    return [str(script)] if script.exists() else [sys.executable, "-m", "infra.cli"]


def _start(data: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "CMM_STORE": "sqlite", "CMM_DATA_DIR": str(data)}
    return subprocess.Popen(
        [*_command(), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _until(condition: Callable[[], bool], what: str, bound: float = 120.0) -> None:
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {bound:.0f} s: {what}")
        time.sleep(0.02)


def _stored(data: Path) -> int:
    try:
        with sqlite3.connect(f"file:{data / 'events.sqlite3'}?mode=ro", uri=True, timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM event_ids").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("big")
    path = root / "events.jsonl"
    subprocess.run(
        [
            *_command(),
            "simulate",
            "--profile",
            "cmm-2012",
            "--seed",
            "8",
            "--scale",
            "40",
            "--out",
            str(path),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "CMM_DATA_DIR": str(root / "x")},
    )
    return path


def _lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def _kill_when_workers_run(process: subprocess.Popen[str], ready: Callable[[], bool]) -> set[int]:
    seen: set[int] = set()

    def workers_busy() -> bool:
        seen.update(set(children_of(process.pid)))
        return len(seen) >= 2 and ready()

    _until(workers_busy, "the command's workers to start")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    return seen


def test_sigkill_of_ingest_leaves_no_worker_behind(big_file: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    process = _start(data, "ingest", "--workers", "2", str(big_file))
    workers = _kill_when_workers_run(process, lambda: _stored(data) > 0)
    _until(lambda: not any(alive(p) for p in workers), "the workers to end", BOUND_S)
    # Killed part way: what the workers held when their parent died was not committed later.
    assert _stored(data) < _lines(big_file)


def test_sigkill_of_a_rebuild_leaves_no_worker_behind(big_file: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    ingest = subprocess.run(
        [*_command(), "ingest", str(big_file)],
        capture_output=True,
        text=True,
        env={**os.environ, "CMM_STORE": "sqlite", "CMM_DATA_DIR": str(data)},
    )
    assert ingest.returncode == 0, ingest.stderr
    process = _start(data, "report", "--year", "2012", "--as-of", "2013-01-31")
    workers = _kill_when_workers_run(process, lambda: True)
    _until(lambda: not any(alive(p) for p in workers), "the fold workers to end", BOUND_S)


def test_sigterm_stops_ingest_cleanly_and_a_rerun_stores_the_rest(
    big_file: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    process = _start(data, "ingest", "--workers", "2", str(big_file))
    seen: set[int] = set()

    def busy() -> bool:
        seen.update(set(children_of(process.pid)))
        return len(seen) >= 2 and _stored(data) > 0

    _until(busy, "the ingest to store its first batch")
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    assert "stopped by SIGTERM" in stderr and "Traceback" not in stderr
    assert not any(alive(p) for p in seen)
    partial = _stored(data)
    assert 0 < partial < _lines(big_file)

    rerun = subprocess.run(
        [*_command(), "ingest", str(big_file)],
        capture_output=True,
        text=True,
        env={**os.environ, "CMM_STORE": "sqlite", "CMM_DATA_DIR": str(data)},
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"{partial:,} already stored" in rerun.stdout
    assert _stored(data) == _lines(big_file)
    with sqlite3.connect(data / "events.sqlite3") as db:
        gaps = db.execute(
            "SELECT COUNT(*) FROM (SELECT originator_id FROM stored_events "
            "GROUP BY originator_id HAVING COUNT(*) != MAX(originator_version))"
        ).fetchone()[0]
    assert gaps == 0  # every stream whole: no batch was half written
    shutil.rmtree(data)


_GIVEN: tuple[object, ...] = ()


def _given(*args: object) -> None:
    global _GIVEN
    _GIVEN = args


def _worker_state() -> tuple[tuple[object, ...], object, object, int]:
    return _GIVEN, signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT), os.getpid()


def test_a_pool_worker_ends_with_its_parent_then_runs_its_initializer() -> None:
    """The one pool policy (``infra.workers.fork_pool``): forked workers that leave signals to
    their parent and are given their initializer's arguments through fork; none at all for
    no workers, the work then runs in the calling process."""
    from infra.workers import fork_pool

    with fork_pool(0) as none:
        assert none is None
    with fork_pool(2, _given, ("store", 7)) as pool:
        assert pool is not None
        given, sigterm, sigint, pid = pool.submit(_worker_state).result()
    assert given == ("store", 7)
    assert sigterm == sigint == signal.SIG_IGN
    assert pid != os.getpid()
    assert _GIVEN == ()  # this process's own state is untouched

"""The privacy budget under attack: it cannot be reset, a failure after the spend loses no
budget and mixes no releases, and a refused release draws no noise.

A synthetic 2012 year is simulated and ingested once, the year opened with epsilon 5 and
released once with ``cmm publish`` (spending all of it). Each test copies that data directory
and attacks the copy as someone who can delete, replace or copy its files, or who kills the
release at the worst moment. Spends are counted in the events file with SQL, not with the
ledger's own code.
"""

from __future__ import annotations

import csv
import gc
import json
import multiprocessing as mp
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.sealing import Sealer, key_from_env


def unseal(state: bytes | memoryview) -> bytes:
    """A stored state opened with the tests' key (the store is encrypted)."""
    return Sealer(key_from_env(os.environ)).unseal(bytes(state))


pytestmark = pytest.mark.integration

YEAR = "2012"
AS_OF = "2013-01-31"


def cmm(*args: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "cmm"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "infra.cli"]
    environment = {**os.environ, "CMM_STORE": "sqlite", "CMM_DATA_DIR": str(data_dir), **env}
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, env=environment, timeout=600
    )


def publish(data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return cmm(
        "publish", "--year", YEAR, "--as-of", AS_OF, "--out", str(out), *extra, data_dir=data
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    return result


def spends(data: Path) -> list[dict[str, Any]]:
    """Every recorded spend, read straight from the events file."""
    with sqlite3.connect(data / "events.sqlite3") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "stored_budgetledger_events" not in tables:
            return []
        rows = db.execute(
            "SELECT topic, state FROM stored_budgetledger_events ORDER BY originator_version"
        ).fetchall()
    out = []
    for topic, state in rows:
        if topic.endswith("BudgetSpent"):
            out.append(json.loads(unseal(state)))
    return out


def events_named(data: Path, name: str) -> int:
    with sqlite3.connect(data / "events.sqlite3") as db:
        rows = db.execute("SELECT topic FROM stored_budgetledger_events").fetchall()
    return sum(topic.endswith(name) for (topic,) in rows)


def csvs(folder: Path) -> dict[str, list[list[str]]]:
    out = {}
    for path in sorted(folder.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            out[path.name] = list(csv.reader(handle))
    return out


def _open_year(root: Path, seed: str) -> Path:
    """A data directory with a simulated 2012 ingested and the year open at epsilon 5."""
    data = root / "data"
    events = root / "events.jsonl"
    ok(
        cmm(
            "simulate", "--profile", "cmm-2012", "--seed", seed, "--out", str(events), data_dir=data
        )
    )
    ok(cmm("ingest", str(events), data_dir=data))
    ok(cmm("budget", "allocate", "--year", YEAR, "--epsilon", "5", data_dir=data))
    return data


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose 2012 budget (epsilon 5) one release has spent in full."""
    root = tmp_path_factory.mktemp("released")
    data = _open_year(root, "11")
    ok(publish(data, root / "first"))
    assert len(spends(data)) == 1
    return data


@pytest.fixture(scope="module")
def opened(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the 2012 year open at epsilon 5 and nothing released."""
    data = _open_year(tmp_path_factory.mktemp("opened"), "12")
    # Build the read model once, so the copies do not each rebuild it.
    ok(cmm("report", "--year", YEAR, "--as-of", AS_OF, data_dir=data))
    return data


def copy(data: Path, tmp_path: Path) -> Path:
    # An earlier test's unreferenced store may still hold a connection; closing it during the
    # copy checkpoints and removes the WAL files under copytree. Close such connections first.
    gc.collect()
    target = tmp_path / "data"
    shutil.copytree(data, target)
    return target


def refused_without_release(result: subprocess.CompletedProcess[str], out: Path) -> None:
    assert result.returncode == 3, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    assert not out.exists() or not any(out.iterdir())


# ----------------------------------------------------------------------------------------------
# The budget cannot be reset


def test_deleting_any_file_but_the_event_store_gives_no_second_release(
    released: Path, tmp_path: Path
) -> None:
    names = sorted(p.name for p in released.iterdir())
    others = [n for n in names if not n.startswith("events.sqlite3")]
    for name in [*others, "budget.sqlite3"]:
        data = copy(released, tmp_path / name)
        victim = data / name
        if victim.is_dir():
            shutil.rmtree(victim)
        else:
            victim.unlink(missing_ok=True)
        out = tmp_path / name / "out"
        refused_without_release(publish(data, out), out)
        assert len(spends(data)) == 1


def test_a_planted_fresh_ledger_file_does_not_reset_the_budget(
    released: Path, tmp_path: Path
) -> None:
    """An earlier version's ledger file is imported, so planting one with the year open and
    nothing spent adds nothing to the budget."""
    fresh = copy(released, tmp_path / "fresh")
    (fresh / "events.sqlite3").unlink()
    for suffix in ("-wal", "-shm"):
        (fresh / f"events.sqlite3{suffix}").unlink(missing_ok=True)
    ok(cmm("budget", "allocate", "--year", YEAR, "--epsilon", "5", data_dir=fresh))
    data = copy(released, tmp_path / "attacked")
    planted = _legacy_file_from(fresh / "events.sqlite3", data / "budget.sqlite3")
    assert planted.exists()
    out = tmp_path / "out"
    result = publish(data, out)
    refused_without_release(result, out)
    assert "overspend" in result.stderr
    assert len(spends(data)) == 1


def test_replacing_a_side_file_with_junk_fails_closed(released: Path, tmp_path: Path) -> None:
    data = copy(released, tmp_path)
    (data / "budget.sqlite3").write_bytes(b"not a ledger at all" * 100)
    out = tmp_path / "out"
    result = publish(data, out)
    refused_without_release(result, out)
    assert "budget.sqlite3" in result.stderr
    assert len(spends(data)) == 1


def test_a_copy_of_the_event_store_carries_its_spends(released: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with (
        sqlite3.connect(released / "events.sqlite3") as source,
        sqlite3.connect(elsewhere / "events.sqlite3") as target,
    ):
        source.backup(target)  # a consistent copy, as a backup tool would make
    out = tmp_path / "out"
    result = publish(elsewhere, out)
    refused_without_release(result, out)
    assert "overspend" in result.stderr
    summary = json.loads(ok(cmm("budget", "--year", YEAR, "--json", data_dir=elsewhere)).stdout)
    assert summary["spent_total"] == pytest.approx(5.0)
    assert summary["remaining_total"] == 0


def test_an_earlier_versions_ledger_file_is_imported_once(opened: Path, tmp_path: Path) -> None:
    """A ledger file written by an earlier version (its own ``budget.sqlite3``, events without
    the release request) is carried into the event store and then set aside."""
    source = copy(opened, tmp_path / "source")
    ok(
        cmm(
            "publish",
            "--year",
            YEAR,
            "--as-of",
            AS_OF,
            "--epsilon",
            "4",
            "--out",
            str(tmp_path / "old-release"),
            data_dir=source,
        )
    )
    data = tmp_path / "upgraded"
    data.mkdir()
    shutil.copy(opened / "events.sqlite3", data / "events.sqlite3")
    with sqlite3.connect(data / "events.sqlite3") as db:
        db.execute("DROP TABLE stored_budgetledger_events")  # the ledger lived elsewhere then
    _legacy_file_from(source / "events.sqlite3", data / "budget.sqlite3", old_format=True)
    summary = json.loads(ok(cmm("budget", "--year", YEAR, "--json", data_dir=data)).stdout)
    assert summary["spent_total"] == pytest.approx(4.0)
    assert not (data / "budget.sqlite3").exists()
    assert (data / "budget.sqlite3.imported").exists()
    out = tmp_path / "out"
    result = publish(data, out)
    refused_without_release(result, out)
    assert "overspend" in result.stderr
    # Putting the file back imports nothing twice.
    shutil.copy(data / "budget.sqlite3.imported", data / "budget.sqlite3")
    again = json.loads(ok(cmm("budget", "--year", YEAR, "--json", data_dir=data)).stdout)
    assert again["spent_total"] == pytest.approx(4.0)


def _legacy_file_from(events: Path, target: Path, *, old_format: bool = False) -> Path:
    """An earlier version's ledger file: the ledger's events in an ordinary eventsourcing
    SQLite application file of their own. ``old_format`` drops what earlier versions did not
    record (the release request and the release steps) and adds the weights they did."""
    from uuid import UUID

    from eventsourcing.application import Application
    from eventsourcing.persistence import StoredEvent

    with sqlite3.connect(events) as db:
        rows = db.execute(
            "SELECT originator_id, originator_version, topic, state "
            "FROM stored_budgetledger_events ORDER BY originator_version"
        ).fetchall()
    stored = []
    for originator, version, topic, state in rows:
        body = unseal(state)  # an earlier version's file was not encrypted
        if old_format:
            if not topic.endswith(("BudgetAllocated", "BudgetSpent")):
                continue
            fields = json.loads(body)
            fields.pop("request", None)
            if topic.endswith("BudgetAllocated"):
                fields["weights"] = {"victims_by_year": 2.0, "by_gender": 1.0}
            body = json.dumps(fields).encode()
        stored.append(StoredEvent(UUID(str(originator)), version, topic, body))
    app = Application[UUID](
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(target)}
    )
    app.recorder.insert_events(stored)
    app.close()
    return target


# ----------------------------------------------------------------------------------------------
# Nothing that can fail before the spend fails after it


@pytest.mark.parametrize(
    "case", ["existing file", "folder with a file", "too long", "under a file"]
)
def test_an_unusable_out_is_refused_before_anything_is_spent(
    opened: Path, tmp_path: Path, case: str
) -> None:
    data = copy(opened, tmp_path)
    before = events_named(data, "")
    if case == "existing file":
        out = tmp_path / "out"
        out.write_text("keep me")
    elif case == "folder with a file":
        out = tmp_path / "out"
        out.mkdir()
        (out / "keep.txt").write_text("keep me")
    elif case == "too long":
        out = tmp_path / ("x" * 300)
    else:
        (tmp_path / "plain").write_text("a file")
        out = tmp_path / "plain" / "out"
    result = publish(data, out)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr and "nothing released" in result.stderr
    assert events_named(data, "") == before
    if case == "existing file":
        assert out.read_text() == "keep me"
    if case == "folder with a file":
        assert [p.name for p in out.iterdir()] == ["keep.txt"]


# ----------------------------------------------------------------------------------------------
# A failure after the spend: the budget is spent once and a rerun writes the same release


def _killed_publish(data: str, out: str, where: str) -> None:
    """In a child process: publish, and SIGKILL this process at ``where``."""
    import infra.publish
    import privacy.package
    from infra.settings import Settings

    def die(*_: Any) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    after_spend: Callable[[str], None] | None = None
    if where == "after the spend":
        after_spend = die
    elif where == "after the measurements":
        infra.publish.write_release = die  # type: ignore[assignment]
    elif where == "while writing":
        real = privacy.package.write_package

        def half_then_die(release: Any, folder: Path) -> Path:
            real(release, folder)  # the whole package is in the staging folder ...
            (folder / "by_gender.csv").write_text("half written")  # ... one file mid-write
            die()
            raise AssertionError("unreachable")

        privacy.package.write_package = half_then_die  # type: ignore[assignment]
    settings = Settings(data_dir=Path(data))
    infra.publish.publish_dp(
        settings, int(YEAR), AS_OF, Path(out), released_by="killed", after_spend=after_spend
    )


def _run_killed(data: Path, out: Path, where: str) -> None:
    ctx = mp.get_context("spawn")
    child = ctx.Process(target=_killed_publish, args=(str(data), str(out), where))
    child.start()
    child.join(timeout=300)
    assert child.exitcode == -signal.SIGKILL, child.exitcode


@pytest.mark.parametrize("where", ["after the spend", "after the measurements", "while writing"])
def test_a_kill_after_the_spend_loses_no_budget_and_mixes_no_release(
    opened: Path, tmp_path: Path, where: str
) -> None:
    data = copy(opened, tmp_path)
    out = tmp_path / "out"
    _run_killed(data, out, where)
    assert len(spends(data)) == 1
    assert not out.exists()  # no package at all, never a mixed one
    assert events_named(data, "MeasurementsRecorded") == (where != "after the spend")
    pending = json.loads(ok(cmm("budget", "--year", YEAR, "--json", data_dir=data)).stdout)
    assert [r["state"] for r in pending["releases"]] == ["pending"]

    # A different request is refused while the paid release is unwritten.
    other = tmp_path / "other"
    refused = publish(data, other, "--epsilon", "0.5")
    refused_without_release(refused, other)
    assert "paid for but not written" in refused.stderr

    rerun = ok(publish(data, out))
    assert "released" in rerun.stdout
    assert len(spends(data)) == 1
    assert events_named(data, "MeasurementsRecorded") == 1
    assert events_named(data, "ReleaseWritten") == 1
    package = json.loads((out / "datapackage.json").read_text())
    assert package["version"] == spends(data)[0]["release_id"]
    summary = json.loads(ok(cmm("budget", "--year", YEAR, "--json", data_dir=data)).stdout)
    assert [r["state"] for r in summary["releases"]] == ["written"]
    assert summary["remaining_total"] == 0
    assert _from_measurements(data, tmp_path / "check") == csvs(out)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")]
    assert len(leftovers) <= 1  # a killed run may leave its hidden staging folder, no more

    # Spent once: the next release of the year is refused.
    again = tmp_path / "again"
    refused_again = publish(data, again)
    refused_without_release(refused_again, again)
    assert "overspend" in refused_again.stderr


def _from_measurements(data: Path, folder: Path) -> dict[str, list[list[str]]]:
    """The package the recorded measurements make, written here by the post-processing."""
    from infra.publish import write_release
    from privacy.params import PrivacyParams
    from privacy.release import release_from_measurements

    (spend,) = spends(data)
    with sqlite3.connect(data / "events.sqlite3") as db:
        rows = db.execute(
            "SELECT topic, state FROM stored_budgetledger_events ORDER BY originator_version"
        ).fetchall()
    (measured,) = [json.loads(unseal(s)) for t, s in rows if t.endswith("MeasurementsRecorded")]
    request = spend["request"]
    release = release_from_measurements(
        measured["measurements"],
        int(YEAR),
        PrivacyParams(
            epsilon_total=request["epsilon_total"],
            weights=request["weights"],
            threshold=request["threshold"],
            alpha=request["alpha"],
        ),
        as_of=request["as_of"],
        release_id=spend["release_id"],
        released_by=spend["released_by"],
        released_at=spend["released_at"],
    )
    folder.mkdir()
    write_release(release, folder)
    return csvs(folder)


def test_an_out_that_fills_while_writing_leaves_the_release_to_finish_elsewhere(
    opened: Path, tmp_path: Path
) -> None:
    from infra.package_out import OutputRefused
    from infra.publish import publish_dp
    from infra.settings import Settings

    data = copy(opened, tmp_path)
    out = tmp_path / "out"

    def someone_writes_there(_: str) -> None:
        out.mkdir()
        (out / "theirs.txt").write_text("not ours")

    settings = Settings(data_dir=data)
    with pytest.raises(OutputRefused, match="run the command again with another --out"):
        publish_dp(settings, int(YEAR), AS_OF, out, after_spend=someone_writes_there)
    assert [p.name for p in out.iterdir()] == ["theirs.txt"]
    second = tmp_path / "second"
    ok(publish(data, second))
    assert len(spends(data)) == 1
    assert _from_measurements(data, tmp_path / "check") == csvs(second)


# ----------------------------------------------------------------------------------------------
# A refused release draws no noise, and a release never sets the allocation


def test_refused_releases_draw_no_noise(
    opened: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from infra.ledgers.budget import BudgetNotAllocated
    from infra.package_out import OutputRefused
    from infra.publish import PendingRelease, publish_dp
    from infra.settings import Settings
    from privacy import release as release_module
    from privacy.budget import BudgetExceeded

    draws: list[int] = []
    real = release_module.Prepared.measure

    def counted(self: Any) -> dict[str, list[int]]:
        draws.append(1)
        return real(self)

    monkeypatch.setattr(release_module.Prepared, "measure", counted)
    data = copy(opened, tmp_path)
    settings = Settings(data_dir=data)

    with pytest.raises(BudgetNotAllocated):
        publish_dp(settings, 2011, AS_OF, tmp_path / "a")
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    with pytest.raises(OutputRefused):
        publish_dp(settings, int(YEAR), AS_OF, full)
    assert draws == []

    def stop(_: str) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        publish_dp(settings, int(YEAR), AS_OF, tmp_path / "b", after_spend=stop)
    assert draws == []
    from privacy.params import PrivacyParams

    with pytest.raises(PendingRelease):
        publish_dp(settings, int(YEAR), AS_OF, tmp_path / "c", PrivacyParams(epsilon_total=1.0))
    assert draws == []
    publish_dp(settings, int(YEAR), AS_OF, tmp_path / "d")  # finishes the paid release
    assert draws == [1]
    with pytest.raises(BudgetExceeded):
        publish_dp(settings, int(YEAR), AS_OF, tmp_path / "e")
    assert draws == [1]
    assert not any((tmp_path / n).exists() for n in "abce")


def test_a_release_paid_for_by_an_earlier_layout_is_never_drawn_again(
    opened: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pending release recorded by a version that still measured victims_by_year (weights
    for every table) is not finished with this version's fit, nor drawn again: refused, the
    budget spent once, nothing written."""
    from infra.composition import open_budget_ledger
    from infra.publish import PendingRelease, publish_dp
    from infra.settings import Settings
    from privacy import release as release_module

    draws: list[int] = []
    monkeypatch.setattr(release_module.Prepared, "measure", lambda self: draws.append(1))
    data = copy(opened, tmp_path)
    settings = Settings(data_dir=data)
    old_weights = {"victims_by_year": 2.0, "by_gender": 1.0}
    ledger = open_budget_ledger(settings)
    try:
        ledger.spend(
            int(YEAR),
            {"victims_by_year": 2.5, "by_gender": 2.5},
            release_id="old-1",
            released_by="earlier version",
            request={
                "as_of": AS_OF,
                "epsilon_total": 5.0,
                "weights": old_weights,
                "threshold": 5,
                "alpha": 0.05,
            },
        )
    finally:
        ledger.close()
    with pytest.raises(PendingRelease, match="earlier version that measured other tables"):
        publish_dp(settings, int(YEAR), AS_OF, tmp_path / "out")
    assert draws == [] and not (tmp_path / "out").exists()
    ledger = open_budget_ledger(settings)
    try:
        budget = ledger.budget(int(YEAR))
        assert budget is not None and budget.release_ids() == {"old-1"}
    finally:
        ledger.close()


def test_a_release_never_sets_or_changes_the_allocation(opened: Path, tmp_path: Path) -> None:
    data = copy(opened, tmp_path)
    ok(publish(data, tmp_path / "small", "--epsilon", "0.5"))
    summary = json.loads(ok(cmm("budget", "--year", YEAR, "--json", data_dir=data)).stdout)
    assert summary["allocated"]["total"] == 5.0
    assert summary["remaining_total"] == pytest.approx(4.5)
    assert events_named(data, "BudgetAllocated") == 1
    ok(publish(data, tmp_path / "second", "--epsilon", "0.5"))
    assert len(spends(data)) == 2
    # Allocating again with another epsilon is refused; the maximum is configurable.
    changed = cmm("budget", "allocate", "--year", YEAR, "--epsilon", "9", data_dir=data)
    assert changed.returncode == 3 and "cannot be changed" in changed.stderr
    capped = cmm(
        "budget",
        "allocate",
        "--year",
        "2013",
        "--epsilon",
        "3",
        data_dir=data,
        CMM_MAX_YEAR_EPSILON="2",
    )
    assert capped.returncode == 3 and "above the maximum of 2" in capped.stderr
    assert events_named(data, "BudgetAllocated") == 1

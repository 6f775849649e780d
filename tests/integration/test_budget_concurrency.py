"""Concurrent releases cannot overspend together: parallel processes on one ledger, on SQLite
(a table of the events file) and on PostgreSQL."""

from __future__ import annotations

import multiprocessing as mp
from fractions import Fraction
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from infra.composition import open_budget_ledger
from infra.settings import Settings
from privacy.budget import SLACK
from tests.facts import victims

YEAR = 2012
TOTAL = 1.0
PER_SPEND = {"by_gender": 0.15, "by_age_band": 0.15}  # 0.3 a release: three fit, not four


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return Settings(data_dir=tmp_path)
    dsn = request.getfixturevalue("pg_dsn")
    return Settings(data_dir=tmp_path, store="postgres", postgres_dsn=dsn)


def _spend_worker(settings: Settings, name: str, start: Any, results: Any) -> None:
    try:
        start.wait(timeout=120)
        # Opened after the barrier, so the processes also race to open the store.
        ledger = open_budget_ledger(settings)
        ledger.spend(YEAR, PER_SPEND, release_id=name, released_by=name)
    except Exception as error:  # reported to the parent, which asserts on it
        results.put((name, type(error).__name__))
    else:
        results.put((name, "ok"))


def _run(target: Any, args_for: list[tuple[Any, ...]]) -> list[tuple[str, str]]:
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(len(args_for))  # every worker is ready before any spends
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*a, start, results)) for a in args_for]
    for p in procs:
        p.start()
    try:
        out = [results.get(timeout=300) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.terminate()
    assert [p.exitcode for p in procs] == [0] * len(procs)
    return out


def test_parallel_spends_never_overspend(settings: Settings) -> None:
    open_budget_ledger(settings).allocate(YEAR, TOTAL, "test", maximum=10.0)
    outcomes = _run(_spend_worker, [(settings, f"release-{i}") for i in range(8)])
    ok = [n for n, o in outcomes if o == "ok"]
    refused = [n for n, o in outcomes if o == "BudgetExceeded"]
    assert len(ok) + len(refused) == 8, outcomes
    assert len(ok) == 3 and len(refused) == 5
    budget = open_budget_ledger(settings).budget(YEAR)
    assert budget is not None
    assert sorted(budget.release_ids()) == sorted(ok)
    assert budget.spent_total() <= Fraction(TOTAL) * (1 + SLACK)
    if settings.store == "sqlite":
        assert (settings.data_dir / "events.sqlite3").exists()
        assert not (settings.data_dir / "budget.sqlite3").exists()


def _facts() -> pd.DataFrame:
    return victims(30, YEAR)


def _release_worker(settings: Settings, name: str, start: Any, results: Any) -> None:
    from types import SimpleNamespace

    from infra.publish import release_with_budget
    from privacy.params import PrivacyParams

    inputs = SimpleNamespace(
        facts=_facts(),
        hotline=pd.DataFrame(columns=["event_id", "year", "caller", "reason"]),
        outreach=pd.DataFrame(columns=["event_id", "year", "place", "measure", "value"]),
    )
    params = PrivacyParams(epsilon_total=1.0)
    try:
        start.wait(timeout=120)
        ledger = open_budget_ledger(settings)
        release_with_budget(inputs, YEAR, params, ledger, released_by=name, release_id=name)
    except Exception as error:
        results.put((name, type(error).__name__))
    else:
        results.put((name, "ok"))


def test_parallel_full_releases_never_overspend(settings: Settings) -> None:
    # Room for two releases of epsilon 1, not three.
    open_budget_ledger(settings).allocate(YEAR, 2.5, "test", maximum=10.0)
    outcomes = _run(_release_worker, [(settings, f"release-{i}") for i in range(4)])
    assert sorted(o for _, o in outcomes) == ["BudgetExceeded", "BudgetExceeded", "ok", "ok"]
    budget = open_budget_ledger(settings).budget(YEAR)
    assert budget is not None and len(budget.spends) == 2
    # Each release recorded its measurements once.
    assert all(s["measurements"] is not None for s in budget.spends)
    assert budget.spent_total() <= Fraction(2.5) * (1 + SLACK)

"""``cmm project``: interrupted during its first catch-up it ends cleanly (it raised
``UnboundLocalError`` before); following, it shows its first catch-up's progress and then
projects what arrives."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path
from typing import Any

import pytest

import infra.readmodel
from infra import cli
from infra.composition import open_view
from infra.settings import Settings
from infra.sqlite.store import SQLiteEventStore
from tests.integration.conftest import CmmProcess, cmm_env, run_cmm, sample_events, wait_until


def test_interrupt_during_the_first_catch_up_exits_130_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(infra.readmodel, "catch_up", interrupted)
    SQLiteEventStore(tmp_path / "events.sqlite3").close()  # a store, still empty
    code = cli.main(["project", "--follow", "--data-dir", str(tmp_path), "--store", "sqlite"])
    assert code == cli.EXIT_INTERRUPTED
    assert "interrupted before the first catch-up ended" in capsys.readouterr().err


@pytest.mark.integration
def test_follow_catches_up_with_progress_then_follows_new_events(
    either_store: Settings, tmp_path: Path, processes: list[CmmProcess]
) -> None:
    """``cmm project --follow`` says how far its first catch-up got (on PostgreSQL too, where
    eventsourcing's runner then follows, and showed nothing before), then keeps the read model
    up to date with what arrives later."""
    env = cmm_env(either_store)
    events = sample_events(seed=11)
    first, later = events[: len(events) // 2], events[len(events) // 2 :]
    for name, part in (("first", first), ("later", later)):
        with (tmp_path / f"{name}.jsonl").open("w") as out:
            out.writelines(json.dumps(e) + "\n" for e in part)
    assert run_cmm(["ingest", str(tmp_path / "first.jsonl")], env).returncode == 0
    projector = CmmProcess(["project", "--follow"], env, tmp_path / "project.log")
    processes.append(projector)
    projector.wait_for_output("projections at notification", timeout=300)
    caught_up = re.search(r"project: ([\d,]+) events in", projector.output())
    position = re.search(r"projections at notification ([\d,]+)", projector.output())
    assert caught_up is not None and position is not None, projector.output()
    # A fresh read model's first catch-up reads every stored event, up to the last.
    processed = int(caught_up.group(1).replace(",", ""))
    assert processed == int(position.group(1).replace(",", "")) >= len(first)

    assert run_cmm(["ingest", str(tmp_path / "later.jsonl")], env).returncode == 0
    people = {e["person_ref"] for e in events if e.get("person_ref")}

    def projected() -> int:
        view = open_view(either_store)
        try:
            return len(view.cases())
        finally:
            view.close()

    wait_until(
        lambda: projected() == len(people), 300, "the follower to project the rest", interval=0.5
    )
    projector.proc.send_signal(signal.SIGTERM)
    assert projector.wait(120) == 0, projector.output()

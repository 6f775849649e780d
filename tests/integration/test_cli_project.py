"""``cmm project`` interrupted during its first catch-up ends cleanly (it raised
``UnboundLocalError`` before)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import infra.readmodel
from infra import cli
from infra.sqlite.store import SQLiteEventStore


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

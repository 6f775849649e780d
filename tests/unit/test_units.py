"""The release says who it protects and how much, in the package and in the report, and the
numbers it states are what its tables spend."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from privacy.package import write_package
from privacy.params import PrivacyParams
from privacy.release import release_dp
from tests.facts import victims


def _inputs() -> SimpleNamespace:
    facts = victims(20)
    return SimpleNamespace(
        facts=facts,
        hotline=pd.DataFrame(columns=["event_id", "year", "caller", "reason"]),
        outreach=pd.DataFrame(columns=["event_id", "year", "place", "measure", "value"]),
    )


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"epsilon (\d+(?:\.\d+)?)", text)]


def test_the_stated_losses_are_what_the_tables_spend(tmp_path: Path) -> None:
    release = release_dp(_inputs(), 2012, PrivacyParams())
    write_package(release, tmp_path)
    package = json.loads((tmp_path / "datapackage.json").read_text())
    statements = package["protection"]
    assert len(statements) == 4
    # Recomputed from the package's own table list: a person is in every person table and
    # in the outreach table (assessed victims by place); a call only in the hotline tables.
    tables = package["privacy"]["tables"]
    person = sum(t["epsilon"] for t in tables.values() if t["unit"] == "person")
    person += sum(t["epsilon"] for t in tables.values() if t["unit"] == "outreach_unit")
    call = sum(t["epsilon"] for t in tables.values() if t["unit"] == "call")
    counted = sum(t["epsilon"] for t in tables.values() if t["unit"] == "outreach_unit")
    assert _numbers(statements[0]) == [round(person, 2)]
    assert _numbers(statements[1]) == [round(call, 2)]
    assert f"u x {round(counted, 2):g}" in statements[2]
    assert "k times" in statements[3]
    html = (tmp_path / "report.html").read_text()
    assert "Who is protected, and how much" in html
    for statement in statements:
        assert statement.split(":")[0] in html

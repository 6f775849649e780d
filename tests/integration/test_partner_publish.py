"""``cmm publish --method suppression`` through the store: every partner release is recorded
in the event store, a later release of the year is protected against the earlier ones (the
published CSVs of both, attacked together, expose no small change), and a release that
cannot be protected writes and records nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from domain.events import to_record, validate_event
from infra.composition import open_partner_ledger
from infra.files.ingest import ingest_file
from infra.publish_partners import publish_sdc
from infra.settings import Settings
from privacy.sdc import ProtectionError
from simulation.simulate import write_jsonl
from tests.integration.test_partner_attack import (
    DIMS,
    PUBLIC,
    THRESHOLD,
    YEAR,
    Attack,
    exact_tables,
    records,
    too_narrow,
)

FIRST, LATER = "2013-01-31", "2013-12-31"


def read_package(folder: Path) -> dict[str, pd.DataFrame]:
    """The published CSVs as a partner reads them."""
    out = {}
    for name in PUBLIC:
        frame = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
        frame["count"] = pd.array(
            [None if c == "" else int(c) for c in frame["count"]], dtype="Int64"
        )
        out[name] = frame
    return out


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "data")
    source = tmp_path / "events.jsonl"
    write_jsonl([to_record(validate_event(e)) for e in records()], source)
    from infra.composition import open_store

    with open_store(settings) as store:
        assert ingest_file(source, store).ok
    return settings


def recorded(settings: Settings) -> list[str]:
    ledger = open_partner_ledger(settings).year(YEAR)
    return [] if ledger is None else [r["as_of"] for r in ledger.releases]


def test_partner_releases_are_recorded_and_audited_against_each_other(
    tmp_path: Path, settings: Settings
) -> None:
    publish_sdc(settings, YEAR, FIRST, tmp_path / "first", released_by="tester")
    assert recorded(settings) == [FIRST]
    publish_sdc(settings, YEAR, LATER, tmp_path / "later", released_by="tester")
    assert recorded(settings) == [FIRST, LATER]

    attack = Attack()
    r1 = attack.add_release(read_package(tmp_path / "first"), exact_tables(as_of=FIRST))
    r2 = attack.add_release(read_package(tmp_path / "later"), exact_tables(as_of=LATER))
    changed = 0
    for ref, v2 in attack.cells[r2].items():
        v1 = attack.cells[r1].get(ref)
        d = attack.truth[v2] - (attack.truth[v1] if v1 is not None else 0.0)
        if not 0 < abs(d) < THRESHOLD:
            continue
        changed += 1
        objective = {v2: 1.0}
        if v1 is not None:
            objective[v1] = objective.get(v1, 0.0) - 1.0
        lower, upper = attack.interval(objective)
        old_fixed = v1 is not None and v1 not in attack.hidden[r1]
        q_min = 1.0 - attack.truth[v1] if old_fixed else -float("inf")
        new_zero = attack.truth[v2] == 0
        q_max = (0.0 if new_zero else float("inf")) - (attack.truth[v1] if old_fixed else 1.0)
        assert upper >= min(d + 5, q_max), (ref, d, lower, upper)
        assert lower <= max(d - 5, q_min), (ref, d, lower, upper)
    # The later cut-off sees corrections (hotline reasons, statuses): there is something to hide.
    assert changed > 0
    assert too_narrow(attack, r2) == []
    assert set(DIMS) == set(PUBLIC)


def test_the_ledger_lives_in_the_event_store(tmp_path: Path, settings: Settings) -> None:
    publish_sdc(settings, YEAR, FIRST, tmp_path / "first", released_by="tester")
    events = settings.data_dir / "events.sqlite3"
    assert events.exists()
    for path in settings.data_dir.iterdir():
        if path.is_file() and not path.name.startswith("events.sqlite3"):
            path.unlink()
    assert recorded(settings) == [FIRST]


def test_a_release_that_cannot_be_protected_writes_and_records_nothing(
    tmp_path: Path, settings: Settings
) -> None:
    out = tmp_path / "refused"
    with pytest.raises(ProtectionError, match="nothing is released"):
        publish_sdc(settings, YEAR, FIRST, out, protection=100.0, released_by="tester")
    assert not out.exists()
    assert recorded(settings) == []

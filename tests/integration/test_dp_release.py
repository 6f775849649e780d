"""200 DP releases of a 2012-like year, each with a fresh budget ledger: what is published is
always safe by construction, consistent, and complete."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

import privacy.release._from_measurements as release_module
from domain.countries import COUNTRIES
from infra.ledgers.budget import BudgetLedger, memory_ledger
from infra.publish import (
    allocate_budget,
    budget_json,
    budget_report,
    publish_dp,
    release_with_budget,
)
from infra.settings import Settings
from privacy.budget import BudgetExceeded
from privacy.mechanisms import table_specs
from privacy.model import Release
from privacy.params import RELEASED_TABLES, PrivacyParams
from privacy.postprocess import publish_cells

YEAR = 2012
AS_OF = "2013-01-31"
RELEASES = 200


def _expand(pool: dict[str, int]) -> list[str]:
    return [code for code, n in pool.items() for _ in range(n)]


def synthetic_2012() -> SimpleNamespace:
    """66 victims with the 2012 report's figures (tests/data/cmm-2012.json), plus
    a 2011 victim and a duplicate row that the release must not count."""
    n = 66
    authority = _expand({"immigration_service": 45, "cmm": 21})
    channel = _expand(
        {
            "police": 33,
            "street_outreach": 4,
            "massage_clinic": 5,
            "meeting_place": 4,
            "mobile_health": 2,
            "prison": 9,
            "partner_referral": 5,
            "asylum_system": 2,
            "self_referral": 2,
        }
    )
    place = {
        "street_outreach": "street_odense",
        "massage_clinic": "massage_clinics",
        "meeting_place": "meeting_place_vesterbro",
        "mobile_health": "mobile_health",
        "prison": "prisons",
    }
    citizenship = _expand(
        {
            "NG": 22,
            "RO": 10,
            "TH": 9,
            "GH": 3,
            "CM": 2,
            "UG": 2,
            "KE": 2,
            "BG": 2,
            "SK": 2,
            "HU": 1,
            "LT": 1,
            "PH": 1,
            "CN": 1,
            "VN": 1,
            "MN": 1,
            "BR": 1,
            "DO": 1,
            "CO": 1,
            "IQ": 1,
            "SY": 1,
            "IR": 1,
            "XX": 0,
        }
    )
    labour = (
        [("male", "cleaning")] * 4
        + [("male", "restaurants")] * 2
        + [("male", "construction"), ("male", "cannabis_production")]
        + [("female", "cleaning")] * 3
        + [("female", "domestic_work")] * 4
        + [("female", "massage_clinic_odd_jobs")] * 2
    )
    others = [("female", "sexual_exploitation")] * 45 + [
        ("male", "forced_criminality"),
        ("male", "forced_criminality"),
        ("female", "forced_marriage"),
        ("female", "forced_marriage"),
    ]
    status = _expand(
        {
            "prepared_return_iom": 7,
            "return_supported_cmm": 10,
            "stayed_in_denmark": 3,
            "declined": 16,
            "left": 10,
            "accepted": 12,
            "other": 8,
        }
    )
    assert len(authority) == len(channel) == len(citizenship) == len(status) == n
    rows: list[dict[str, Any]] = []
    for i in range(n):
        if i < len(labour):
            gender, industry = labour[i]
            exploitation: str = "forced_labour"
        else:
            gender, exploitation = others[i - len(labour)]
            industry = None
        age = 18 + (i * 7) % 44
        rows.append(
            {
                "person_ref": f"CMM-{i:08x}",
                "year": YEAR,
                "assessed_on": f"{YEAR}-{1 + i % 12:02d}-15",
                "authority": authority[i],
                "channel": channel[i],
                "channel_group": {
                    "police": "police",
                    "partner_referral": "partners_and_other",
                    "asylum_system": "partners_and_other",
                    "self_referral": "partners_and_other",
                }.get(channel[i], "outreach"),
                "place": place.get(channel[i]),
                "citizenship": citizenship[i],
                "region": COUNTRIES[citizenship[i]].region.value,
                "exploitation": exploitation,
                "industry": industry,
                "gender": gender,
                "age": age,
                "age_band": next(
                    b
                    for lo, b in (
                        (60, "60+"),
                        (50, "50-59"),
                        (40, "40-49"),
                        (30, "30-39"),
                        (25, "25-29"),
                        (18, "18-24"),
                    )
                    if age >= lo
                ),
                "legal_residence": authority[i] == "cmm",
                "eu_citizen": False,
                "status": status[i],
                "status_on": None,
                "return_support": None,
                "accommodation": None,
                "departed_on": None,
                "days_in_denmark": None,
            }
        )
    rows.append({**rows[0], "assessed_on": f"{YEAR}-01-02", "gender": "male"})  # duplicate
    rows.append(
        {**rows[1], "person_ref": "CMM-ffffffff", "year": 2011, "assessed_on": "2011-06-01"}
    )
    calls = _expand(
        {"person_in_police_custody": 55, "upcoming_police_action": 22, "follow_up_or_questions": 34}
    )
    hotline = [
        {
            "event_id": f"h{i}",
            "occurred_on": f"{YEAR}-05-01",
            "year": YEAR,
            "caller": "police",
            "reason": r,
        }
        for i, r in enumerate(calls)
    ]
    hotline += [
        {
            "event_id": f"n{i}",
            "occurred_on": f"{YEAR}-05-01",
            "year": YEAR,
            "caller": ("ngo", "municipality", "private_person")[i % 3],
            "reason": ("advice", "suspicion")[i % 2],
        }
        for i in range(71)
    ]
    outreach_values = {
        ("street_copenhagen", "shifts"): 40,
        ("street_copenhagen", "persons_observed"): 674,
        ("street_copenhagen", "new_persons"): 135,
        ("street_odense", "visits"): 62,
        ("street_odense", "personal_contacts"): 193,
        ("street_odense", "distinct_persons"): 21,
        ("street_odense", "nationalities"): 6,
        ("street_odense", "new_persons"): 9,
        ("massage_clinics", "visits"): 370,
        ("massage_clinics", "persons_contacted"): 384,
        ("meeting_place_vesterbro", "uses"): 2907,
        ("meeting_place_vesterbro", "health_uses_per_person_max"): 11,
        ("mobile_health", "persons_contacted"): 188,
        ("mobile_health", "health_examinations"): 169,
    }
    outreach = [
        {
            "event_id": f"o{i}",
            "occurred_on": f"{YEAR}-12-31",
            "year": YEAR,
            "place": p,
            "period": "year",
            "measure": m,
            "value": v,
        }
        for i, ((p, m), v) in enumerate(outreach_values.items())
    ]
    return SimpleNamespace(
        facts=pd.DataFrame(rows), hotline=pd.DataFrame(hotline), outreach=pd.DataFrame(outreach)
    )


@pytest.fixture(scope="module")
def inputs_2012() -> SimpleNamespace:
    return synthetic_2012()


def _cells(table: pd.DataFrame, dims: Sequence[str]) -> pd.DataFrame:
    """The table without its total row."""
    return table[~(table[list(dims)] == "total").all(axis=1)]


def open_ledger(total: float = 5.0) -> BudgetLedger:
    """A fresh in-memory ledger with the year open at ``total``."""
    ledger = memory_ledger()
    ledger.allocate(YEAR, total, "test", maximum=10.0)
    return ledger


@pytest.fixture(scope="module")
def releases(inputs_2012: SimpleNamespace) -> Iterator[list[tuple[Release, list[Any]]]]:
    """200 releases, each with a fresh ledger, recording what post-processing saw (the
    released values before suppression) to check that the cells add up."""
    seen: list[Any] = []

    def spy(dims: Any, counts: Any, threshold: int, moe95: int, **kw: Any) -> pd.DataFrame:
        seen.append((list(counts), kw.get("total")))
        return publish_cells(dims, counts, threshold, moe95, **kw)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(release_module, "publish_cells", spy)
        out = []
        params = PrivacyParams()
        for i in range(RELEASES):
            seen.clear()
            ledger = open_ledger()
            release = release_with_budget(
                inputs_2012,
                YEAR,
                params,
                ledger,
                released_by="test",
                as_of=AS_OF,
                release_id=f"r{i}",
            )
            budget = ledger.budget(YEAR)
            assert budget is not None and budget.release_ids() == {f"r{i}"}
            out.append((release, list(seen)))
        yield out


def _rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Plain rows (``count`` None when missing): checking 2,800 tables row by row in pandas
    would cost more than making the releases."""
    columns = {c: table[c].tolist() for c in table.columns}
    columns["count"] = [None if c is pd.NA else c for c in columns["count"]]
    return [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]


def test_no_published_cell_is_below_the_threshold(
    releases: list[tuple[Release, list[Any]]],
) -> None:
    for release, _ in releases:
        for name, table in release.tables.items():
            for row in _rows(table):
                if row["status"] == "published":
                    assert isinstance(row["count"], int) and row["count"] >= 5, (name, row)
                    assert row["display"] == str(row["count"]), (name, row)
                else:
                    assert row["status"] == "suppressed", (name, row)
                    assert row["count"] is None, (name, row)
                    assert row["display"] == "<5", (name, row)


def test_counts_are_nonnegative_integers_that_add_up(
    releases: list[tuple[Release, list[Any]]],
) -> None:
    specs = table_specs(YEAR)
    for release, seen in releases:
        for counts, total in seen:
            assert all(isinstance(c, int) and c >= 0 for c in counts)
            if total is not None:
                # The rounded fit adds up exactly; negatives shown as 0 can only add.
                assert sum(counts) >= total
        for name, table in release.tables.items():
            assert str(table["count"].dtype) == "Int64", name
            dims = specs[name].dims
            rows = _rows(table)
            totals = [r for r in rows if all(r[d] == "total" for d in dims)]
            cells = [r for r in rows if not all(r[d] == "total" for d in dims)]
            assert len(cells) == len(specs[name].cells)
            if not totals or totals[0]["status"] == "suppressed":
                continue
            hidden = sum(r["status"] == "suppressed" for r in cells)
            if hidden == 0:
                published = sum(r["count"] for r in cells)
                assert published >= totals[0]["count"], name


def test_tables_agree_on_their_shared_totals(releases: list[tuple[Release, list[Any]]]) -> None:
    for release, _ in releases:
        t = release.tables
        year_total = t["victims_by_year"]["display"].iloc[0]
        for name in ("by_authority", "by_gender", "by_citizenship", "status_at_cutoff"):
            assert t[name]["display"].iloc[-1] == year_total
        labour = t["by_exploitation"].set_index("exploitation").loc["forced_labour", "display"]
        assert t["labour_by_industry"]["display"].iloc[-1] == labour
        assert t["labour_by_industry_gender"]["display"].iloc[-1] == labour
        police = t["hotline_by_caller"].set_index("caller").loc["police", "display"]
        assert t["hotline_police_by_reason"]["display"].iloc[-1] == police


def test_every_code_list_category_is_present(releases: list[tuple[Release, list[Any]]]) -> None:
    specs = table_specs(YEAR)
    for release, _ in releases[:20]:
        assert tuple(release.tables) == RELEASED_TABLES
        for name, spec in specs.items():
            cells = _cells(release.tables[name], spec.dims)
            got = [
                tuple(str(v) for v in row) for row in cells[list(spec.dims)].itertuples(index=False)
            ]
            assert got == list(spec.cells), name
    # Every country is in exactly one by_citizenship cell: its own or its region's other.
    regions = {c[0]: c[1] for c in specs["by_citizenship"].cells}
    recode = dict(dict(specs["by_citizenship"].recode)["citizenship"])
    for code, country in COUNTRIES.items():
        assert regions[recode.get(code, code)] == country.region.value, code


def test_metadata_states_the_contract(releases: list[tuple[Release, list[Any]]]) -> None:
    release, _ = releases[0]
    meta = release.metadata
    assert meta["method"] == "differential_privacy"
    assert meta["year"] == YEAR and meta["as_of"] == AS_OF and meta["threshold"] == 5
    privacy = meta["privacy"]
    assert privacy["epsilon_total"] == pytest.approx(5.0)
    assert privacy["marker"] == "<5"
    assert privacy["derived_tables"] == [
        "victims_by_year",
        "by_citizenship_group",
        "by_exploitation_group",
        "by_exploitation",
        "labour_by_industry",
        "by_gender",
        "by_age_band",
        "by_gender_age_group",
    ]
    for name, table_meta in privacy["tables"].items():
        if name in privacy["derived_tables"]:
            assert not table_meta["measured"] and table_meta["epsilon"] == 0, name
            assert table_meta["scale"] is None, name
        else:
            assert table_meta["epsilon"] > 0 and table_meta["scale"] > 0, name
            assert table_meta["privacy_map"] <= table_meta["epsilon"]
        assert table_meta["unit"] in ("person", "call", "outreach_unit")
        assert (release.tables[name]["moe95"].dropna() >= 0).all()
    json.dumps(meta)  # JSON-ready as it is


def test_the_truth_is_roughly_recovered(releases: list[tuple[Release, list[Any]]]) -> None:
    """Not a privacy property: a sanity check that noise is centred (mean over releases)."""
    totals = [int(r.tables["victims_by_year"]["count"].iloc[0]) for r, _ in releases]
    assert sum(totals) / len(totals) == pytest.approx(66, abs=1.0)


def test_a_second_release_of_the_year_is_refused(inputs_2012: SimpleNamespace) -> None:
    ledger = open_ledger()
    params = PrivacyParams()
    release_with_budget(inputs_2012, YEAR, params, ledger, released_by="a")
    with pytest.raises(BudgetExceeded, match=r"^refused: the release would overspend"):
        release_with_budget(inputs_2012, YEAR, params, ledger, released_by="b")
    budget = ledger.budget(YEAR)
    assert budget is not None and len(budget.spends) == 1


def test_publish_and_budget_report(
    inputs_2012: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import infra.readmodel

    monkeypatch.setattr(infra.readmodel, "load_report_inputs", lambda settings, as_of: inputs_2012)
    settings = Settings(data_dir=tmp_path / "data")
    out = tmp_path / "out"
    allocate_budget(settings, YEAR, 5.0, "carol")
    release = publish_dp(settings, YEAR, AS_OF, out, released_by="alice")
    assert release.metadata["released_by"] == "alice"
    assert (out / "by_gender.csv").exists()
    # The ledger is a table of the event store, not a file of its own.
    assert sorted(p.name for p in settings.data_dir.iterdir() if "sqlite3" in p.name) == [
        n
        for n in ("events.sqlite3", "events.sqlite3-shm", "events.sqlite3-wal")
        if (settings.data_dir / n).exists()
    ]
    summary = budget_json(settings, YEAR)
    assert summary["spent_total"] == pytest.approx(5.0)
    assert summary["releases"][0]["released_by"] == "alice"
    assert summary["releases"][0]["release_id"] == release.metadata["release_id"]
    report = budget_report(settings, YEAR)
    assert "alice" in report and "Remaining: 0" in report
    with pytest.raises(BudgetExceeded):
        publish_dp(settings, YEAR, AS_OF, tmp_path / "out2", released_by="bob")
    assert not (tmp_path / "out2").exists()


def test_simulated_2012_year(tmp_path: Path) -> None:
    """The same guarantees on the simulator's 2012 year, through the read model's frames."""
    from simulation.simulate import simulated_inputs

    inputs = simulated_inputs("cmm-2012", seed=3, as_of=AS_OF)
    assert int((inputs.facts["year"] == YEAR).sum()) == 66
    for i in range(20):
        release = release_with_budget(
            inputs, YEAR, PrivacyParams(), open_ledger(), released_by="sim", release_id=f"s{i}"
        )
        for table in release.tables.values():
            published = table[table["status"] == "published"]
            assert (published["count"] >= 5).all()
            assert table.loc[table["status"] == "suppressed", "count"].isna().all()

"""The downloadable package: valid for the real ``frictionless`` validator, every CSV as its
schema says, and no suppressed cell ever a number."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from frictionless import validate

from privacy.model import TOTAL, Release
from privacy.package import write_package
from privacy.sdc import release_sdc

NUMBER = re.compile(r"^\s*[-+]?\d+(\.\d+)?\s*$")


def _one_d(dim: str, counts: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame({dim: list(counts), "count": list(counts.values())})


def reference_tables() -> dict[str, pd.DataFrame]:
    """Exact counts shaped like the read model's report tables, with figures fabricated
    around the centre's 2012 report (where the report gives them, its figures)."""
    labour = {
        "female": {"cleaning": 3, "domestic_work": 4, "massage_clinic_odd_jobs": 2},
        "male": {"cleaning": 4, "restaurants": 2, "construction": 1, "cannabis_production": 1},
    }
    industries = [
        "cleaning",
        "domestic_work",
        "restaurants",
        "construction",
        "massage_clinic_odd_jobs",
        "cannabis_production",
        "agriculture",
        "other",
    ]
    citizenship = [
        ("NG", "africa", 20),
        ("GH", "africa", 4),
        ("UG", "africa", 3),
        ("CM", "africa", 2),
        ("KE", "africa", 2),
        ("RO", "europe", 12),
        ("BG", "europe", 2),
        ("HU", "europe", 2),
        ("UA", "europe", 2),
        ("TH", "asia", 10),
        ("CN", "asia", 2),
        ("BR", "latin_america", 2),
        ("DO", "latin_america", 1),
        ("IQ", "middle_east", 2),
    ]
    cit = pd.DataFrame(citizenship, columns=["citizenship", "region", "count"])
    regions = ["africa", "europe", "asia", "middle_east", "latin_america", "oceania", "unknown"]
    by_region = cit.groupby("region")["count"].sum()
    return {
        "victims_by_year": pd.DataFrame({"year": [2011, 2012], "count": [60, 66]}),
        "by_authority": _one_d("authority", {"immigration_service": 45, "cmm": 21}),
        "by_channel": pd.DataFrame(
            [
                ("police", "police", 33),
                ("outreach", "street_outreach", 9),
                ("outreach", "massage_clinic", 5),
                ("outreach", "prison", 4),
                ("outreach", "meeting_place", 4),
                ("outreach", "mobile_health", 2),
                ("partners_and_other", "asylum_system", 3),
                ("partners_and_other", "partner_referral", 4),
                ("partners_and_other", "self_referral", 2),
                ("partners_and_other", "unknown", 0),
            ],
            columns=["channel_group", "channel", "count"],
        ),
        "by_citizenship": cit,
        "by_region": _one_d("region", {r: int(by_region.get(r, 0)) for r in regions}),
        "by_exploitation": _one_d(
            "exploitation",
            {
                "sexual_exploitation": 45,
                "forced_labour": 17,
                "forced_criminality": 2,
                "forced_marriage": 2,
                "organ_removal": 0,
                "other": 0,
            },
        ),
        "labour_by_industry": _one_d(
            "industry", {i: sum(labour[g].get(i, 0) for g in labour) for i in industries}
        ),
        "labour_by_industry_gender": pd.DataFrame(
            [(i, g, labour.get(g, {}).get(i, 0)) for i in industries for g in ("female", "male")],
            columns=["industry", "gender", "count"],
        ),
        "by_gender": _one_d("gender", {"female": 56, "male": 10, "other": 0}),
        "by_age_band": _one_d(
            "age_band",
            {"0-17": 0, "18-24": 17, "25-29": 19, "30-39": 18, "40-49": 8, "50-59": 3, "60+": 1},
        ),
        "status_at_cutoff": _one_d(
            "status",
            {
                "accepted": 12,
                "declined": 20,
                "left": 6,
                "prepared_return_iom": 7,
                "return_supported_cmm": 10,
                "stayed_in_denmark": 3,
                "other": 8,
            },
        ),
        "hotline_by_caller": _one_d(
            "caller",
            {
                "police": 111,
                "ngo": 20,
                "municipality": 15,
                "authority": 12,
                "private_person": 14,
                "person_concerned": 6,
                "other": 4,
            },
        ),
        "hotline_police_by_reason": _one_d(
            "reason",
            {
                "person_in_police_custody": 55,
                "upcoming_police_action": 22,
                "follow_up_or_questions": 34,
                "suspicion": 0,
            },
        ),
        "outreach_activity": pd.DataFrame(
            [
                ("street_copenhagen", "shifts", 40),
                ("street_copenhagen", "persons_observed", 674),
                ("street_odense", "visits", 62),
                ("street_odense", "assessed_victims", 4),
                ("massage_clinics", "visits", 370),
                ("massage_clinics", "assessed_victims", 5),
                ("meeting_place_vesterbro", "health_uses_per_person_max", 11),
            ],
            columns=["place", "measure", "value"],
        ),
    }


METADATA: dict[str, Any] = {
    "year": 2012,
    "as_of": "2013-01-31",
    "released_by": "unit test",
    "release_id": "0b6c1c1e-2b0f-4a53-9d0e-000000002012",
    "released_at": "2013-03-01T12:00:00+00:00",
}


@cache
def sdc_release() -> Release:
    """Made once: the release's tables are only read, never changed, by these tests."""
    return release_sdc(reference_tables(), metadata=METADATA)


def dp_release() -> Release:
    """A hand-made release in the DP shape: noisy counts with margins of error, "<5"."""
    frame = pd.DataFrame(
        {
            "gender": ["female", "male", "other"],
            "count": pd.array([57, 9, pd.NA], dtype="Int64"),
            "status": ["published", "published", "suppressed"],
            "display": ["57", "9", "<5"],
            "moe95": [6.0, 6.0, None],
        }
    )
    year = pd.DataFrame(
        {
            "year": [2012],
            "count": pd.array([65], dtype="Int64"),
            "status": ["published"],
            "display": ["65"],
            "moe95": [4.5],
        }
    )
    metadata = {
        **METADATA,
        "method": "differential_privacy",
        "threshold": 5,
        "code_list_version": "2026.1",
        "privacy": {
            "mechanism": "discrete_laplace",
            "unit": "person",
            "epsilon": {"victims_by_year": 0.74, "by_gender": 0.37},
            "epsilon_total": 1.11,
        },
    }
    return Release(tables={"victims_by_year": year, "by_gender": frame}, metadata=metadata)


def assert_valid(descriptor: Path) -> None:
    report = validate(str(descriptor))
    assert report.valid, report.flatten(["type", "note"])


@pytest.mark.parametrize("make", [sdc_release, dp_release], ids=["sdc", "dp"])
def test_package_validates_with_frictionless(make: Any, tmp_path: Path) -> None:
    descriptor = write_package(make(), tmp_path)
    assert descriptor == tmp_path / "datapackage.json"
    assert_valid(descriptor)


@pytest.mark.slow
def test_frictionless_cli_accepts_the_package(tmp_path: Path) -> None:
    descriptor = write_package(sdc_release(), tmp_path)
    cli = Path(sys.executable).with_name("frictionless")
    result = subprocess.run(
        [str(cli), "validate", descriptor.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validator_is_real_a_broken_csv_fails(tmp_path: Path) -> None:
    descriptor = write_package(sdc_release(), tmp_path)
    path = tmp_path / "by_gender.csv"
    path.write_text(path.read_text().replace("total,66,", "total,-66,"))
    report = validate(str(descriptor))
    assert not report.valid
    notes = " ".join(str(n) for n in report.flatten(["type"]))
    assert "constraint-error" in notes


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("make", [sdc_release, dp_release], ids=["sdc", "dp"])
def test_every_csv_matches_its_schema_and_hides_what_is_suppressed(
    make: Any, tmp_path: Path
) -> None:
    release = make()
    descriptor = json.loads(write_package(release, tmp_path).read_text())
    tables = [r for r in descriptor["resources"] if "schema" in r]
    assert [r["name"] for r in tables] == list(release.tables)
    for resource in tables:
        schema = resource["schema"]
        names = [f["name"] for f in schema["fields"]]
        rows = read_csv(tmp_path / resource["path"])
        assert rows, resource["name"]
        assert list(rows[0]) == names
        assert names[-4:] == ["count", "status", "display", "moe95"]
        assert schema["missingValues"] == [""]
        fields = {f["name"]: f for f in schema["fields"]}
        assert fields["count"] == {**fields["count"], "type": "integer"}
        assert fields["count"]["constraints"] == {"minimum": 0}
        for row in rows:
            for name in schema["primaryKey"]:
                enum = fields[name]["constraints"].get("enum")
                if enum is not None:
                    assert row[name] in enum, (resource["name"], name, row[name])
            if row["status"] == "suppressed":
                assert row["count"] == ""
                assert not NUMBER.match(row["display"]), row
                assert row["moe95"] == ""
            else:
                assert row["status"] == "published"
                assert int(row["count"]) >= 0
                assert row["display"] == row["count"]


def test_descriptor_carries_the_release_context(tmp_path: Path) -> None:
    release = sdc_release()
    descriptor = json.loads(write_package(release, tmp_path).read_text())

    assert descriptor["name"] == "cmm-human-trafficking-statistics-2012-suppression"
    assert descriptor["licenses"][0]["name"] == "CC-BY-4.0"
    assert "event ledger" in descriptor["sources"][0]["title"]
    assert descriptor["created"] == "2013-03-01T12:00:00+00:00"
    assert descriptor["cutOffDate"] == "2013-01-31"
    assert descriptor["method"] == "suppression"
    assert descriptor["threshold"] == 5
    assert descriptor["privacy"]["protection_level"] == 5.0
    assert descriptor["codeListVersion"] == release.metadata["code_list_version"]
    report = next(r for r in descriptor["resources"] if r["name"] == "report")
    assert report["path"] == "report.html" and (tmp_path / "report.html").is_file()
    labour = next(r for r in descriptor["resources"] if r["name"] == "labour_by_industry_gender")
    industry = labour["schema"]["fields"][0]
    assert industry["name"] == "industry" and "cleaning" in industry["constraints"]["enum"]
    assert TOTAL in industry["constraints"]["enum"]
    assert labour["schema"]["primaryKey"] == ["industry", "gender"]


def test_a_suppressed_cell_showing_a_number_is_refused(tmp_path: Path) -> None:
    release = dp_release()
    leaky = release.tables["by_gender"].copy()
    leaky.loc[2, "display"] = "3"
    bad = Release(tables={"by_gender": leaky}, metadata=release.metadata)
    with pytest.raises(ValueError, match="a suppressed cell displays the number '3'"):
        write_package(bad, tmp_path)

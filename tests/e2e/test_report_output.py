"""Reports say what they are, and read well: the CSVs come with ``metadata.json`` (year,
cut-off, code-list version, labels) and keep Namibia's code ``NA`` a code when read as the
metadata says; terminal tables use labels, in English or Danish, and leave out measures
with no value."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.e2e.test_cli import cmm, simulated_store

REPORT = ("report", "--year", "2012", "--as-of", "2013-01-31")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated year in which one victim is from Namibia (code NA)."""

    def from_namibia(lines: list[str]) -> None:
        for i, line in enumerate(lines):
            event = json.loads(line)
            if (
                event["type"] == "AssessmentDecided"
                and event["payload"]["outcome"] == "victim"
                and event["occurred_at"].startswith("2012")
            ):
                event["payload"]["citizenship"] = "NA"
                lines[i] = json.dumps(event)
                return

    return simulated_store(tmp_path_factory.mktemp("output"), seed=8, edit=from_namibia)


def test_csv_folder_carries_its_metadata_and_namibia_stays_a_code(
    data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "tables"
    cmm(*REPORT, "--format", "csv", "--out", str(out), data_dir=data)
    metadata = json.loads((out / "metadata.json").read_text())
    assert (metadata["year"], metadata["as_of"]) == (2012, "2013-01-31")
    assert metadata["code_list_version"]
    assert metadata["labels"]["citizenship"]["NA"]["en"] == "Namibia"
    assert "keep_default_na=False" in metadata["read_with"]
    assert metadata["tables"]["by_citizenship"]["file"] == "by_citizenship.csv"

    path = out / "by_citizenship.csv"
    read = pd.read_csv(path, keep_default_na=False, na_values=[""])
    assert "NA" in set(read["citizenship"])
    naive = pd.read_csv(path)  # what the metadata warns about
    assert naive["citizenship"].isna().any()


def test_json_names_its_year_cut_off_code_lists_and_labels(data: Path) -> None:
    report = json.loads(cmm(*REPORT, "--format", "json", data_dir=data).stdout)
    assert (report["year"], report["as_of"]) == (2012, "2013-01-31")
    assert report["labels"]["citizenship"]["NA"] == {"en": "Namibia", "da": "Namibia"}
    rows = report["tables"]["by_citizenship"]
    assert any(r["citizenship"] == "NA" for r in rows)


def test_terminal_tables_use_labels_in_english_or_danish(data: Path) -> None:
    english = cmm(*REPORT, data_dir=data).stdout
    assert "Immigration Service" in english and "immigration_service" not in english
    danish = cmm(*REPORT, "--lang", "da", data_dir=data).stdout
    assert "Udlændingestyrelsen" in danish and "årsrapport 2012" in danish
    assert max(len(line) for line in english.splitlines()) <= 100  # folded to fit

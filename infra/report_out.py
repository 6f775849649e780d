"""How an exact report leaves the program: JSON and CSV files that say what they hold (the
year, the cut-off, the code-list version and the labels of every code in English and
Danish). The tables a person reads in a terminal are ``infra.cli.tables``'.

Codes stay codes in the files (``NA`` is Namibia, not a missing value): ``metadata.json``
beside the CSVs says how to read them with pandas so that it stays so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from domain import codes
from domain.codes import CODE_LIST_VERSION
from infra.safe_files import private_dir, refuse_symlink, write_text
from privacy.model import TABLES
from projections.report import report_to_json

Lang = Literal["en", "da"]

READ_CSV_WITH = "pandas.read_csv(path, keep_default_na=False, na_values=[''])"
"""How to read the CSVs: pandas takes the text NA (Namibia) for a missing value by default;
a missing value is written as an empty field."""


def _code_lists() -> dict[str, Mapping[str, tuple[str, str]]]:
    """Each coded column's labels (English, Danish), by column name."""
    lists: dict[str, Mapping[str, tuple[str, str]]] = {}
    for spec in TABLES.values():
        for dimension in spec.dimensions:
            if dimension.labels:
                lists.setdefault(dimension.name, dimension.labels)
    for name, enum in (
        ("status", codes.SupportStatus),
        ("caller", codes.CallerType),
        ("reason", codes.CallReason),
        ("place", codes.Place),
        ("measure", codes.OutreachMeasure),
        ("period", codes.Period),
        ("return_support", codes.ReturnSupport),
        ("accommodation", codes.Accommodation),
    ):
        lists.setdefault(name, {m.value: (m.label_en, m.label_da) for m in enum})
    # The returns table groups two statuses in one row.
    lists["status"] = {
        **lists["status"],
        "declined_or_left": ("Declined or left", "Takkede nej eller rejste"),
    }
    return lists


CODE_LISTS = _code_lists()

_TITLES: dict[str, tuple[str, str]] = {
    "count": ("Count", "Antal"),
    "value": ("Value", "Værdi"),
    "sessions": ("Sessions", "Indsatser"),
    "per_session_min": ("Min per session", "Min pr. indsats"),
    "per_session_max": ("Max per session", "Maks pr. indsats"),
    "per_session_mean": ("Mean per session", "Gns. pr. indsats"),
    "min": ("Youngest", "Yngste"),
    "max": ("Oldest", "Ældste"),
    "mean": ("Mean age", "Gns. alder"),
    "minors": ("Minors", "Mindreårige"),
    "persons_contacted": ("Persons contacted", "Personer i kontakt"),
    "contacts": ("Contacts", "Kontakter"),
    "female": ("Women", "Kvinder"),
    "days_min": ("Fewest days", "Færrest dage"),
    "days_max": ("Most days", "Flest dage"),
    "rank": ("Rank", "Plads"),
    "share": ("Share", "Andel"),
    "cumulative_share": ("Cumulative share", "Samlet andel"),
    "assessed_before_year": ("Assessed before the year", "Vurderet før året"),
    "year": ("Year", "År"),
}


def _dimension_titles() -> dict[str, tuple[str, str]]:
    titles: dict[str, tuple[str, str]] = {}
    for spec in TABLES.values():
        for dimension in spec.dimensions:
            titles.setdefault(dimension.name, (dimension.title_en, dimension.title_da))
    return titles


_TITLES.update({k: v for k, v in _dimension_titles().items() if k not in _TITLES})
_TITLES.setdefault("status", ("Support status", "Støttestatus"))
_TITLES.setdefault("caller", ("Caller", "Opkalder"))
_TITLES.setdefault("reason", ("Reason", "Årsag"))
_TITLES.setdefault("place", ("Place", "Sted"))
_TITLES.setdefault("measure", ("Measure", "Mål"))
# The case list's fields (``cmm cases``).
for _column, _pair in {
    "person_ref": ("Person", "Person"),
    "first_contact_channel": ("First contact through", "Første kontakt via"),
    "first_contact_on": ("First contact on", "Første kontakt den"),
    "assessed": ("Assessed", "Vurderet"),
    "outcome": ("Outcome", "Resultat"),
    "age": ("Age", "Alder"),
    "assessed_on": ("Assessed on", "Vurderet den"),
    "status_on": ("Status since", "Status siden"),
    "accommodation": ("Accommodation", "Indkvartering"),
    "departed_on": ("Departed on", "Udrejst den"),
    "days_in_denmark": ("Days in Denmark", "Dage i Danmark"),
    "flags": ("Flags", "Markeringer"),
    "event_count": ("Events", "Hændelser"),
    "last_recorded_at": ("Last recorded at", "Senest registreret"),
}.items():
    _TITLES.setdefault(_column, _pair)
# A case's first contact channel is coded as the report's channels are.
CODE_LISTS.setdefault("first_contact_channel", CODE_LISTS["channel"])


def column_title(column: str, lang: Lang = "en") -> str:
    pair = _TITLES.get(column)
    if pair is None:
        return column.replace("_", " ").capitalize()
    return pair[0] if lang == "en" else pair[1]


def label(column: str, code: Any, lang: Lang = "en") -> str:
    """The label of a code in its column; the code itself when the column has no code list
    or the code is not in it."""
    pair = CODE_LISTS.get(column, {}).get(str(code))
    if pair is None:
        return str(code)
    return pair[0] if lang == "en" else pair[1]


def labels_used(tables: Mapping[str, pd.DataFrame]) -> dict[str, dict[str, dict[str, str]]]:
    """``{column: {code: {"en": ..., "da": ...}}}`` for every code the tables hold."""
    used: dict[str, dict[str, dict[str, str]]] = {}
    for table in tables.values():
        for column in table.columns:
            code_list = CODE_LISTS.get(str(column))
            if code_list is None:
                continue
            for code in table[column].dropna().unique():
                pair = code_list.get(str(code))
                if pair is not None:
                    used.setdefault(str(column), {})[str(code)] = {"en": pair[0], "da": pair[1]}
    return used


def describe(year: int, as_of: str) -> dict[str, Any]:
    """What every output of a report says first about itself."""
    return {
        "report": "CMM Ledger annual report (exact figures, for analysts)",
        "year": year,
        "as_of": as_of,
        "as_of_meaning": "what had been recorded by the end of this day (UTC)",
        "code_list_version": CODE_LIST_VERSION,
    }


def report_document(tables: Mapping[str, pd.DataFrame], year: int, as_of: str) -> dict[str, Any]:
    """The JSON document of a report: what it is, its tables, and the labels of its codes."""
    return {
        **describe(year, as_of),
        "tables": report_to_json(tables),
        "labels": labels_used(tables),
    }


def write_csv_folder(
    tables: Mapping[str, pd.DataFrame], out: Path, year: int, as_of: str
) -> list[Path]:
    """One CSV per table and ``metadata.json`` beside them; returns the files written."""
    private_dir(out)
    # Every target checked before any is written: a planted link refuses the whole report.
    for name in [*(f"{name}.csv" for name in tables), "metadata.json"]:
        refuse_symlink(out / name)
    written = []
    for name, table in tables.items():
        path = out / f"{name}.csv"
        write_text(path, table.to_csv(index=False, na_rep=""))
        written.append(path)
    metadata = {
        **describe(year, as_of),
        "read_with": READ_CSV_WITH,
        "tables": {
            name: {
                "file": f"{name}.csv",
                "columns": [
                    {
                        "name": str(c),
                        "title_en": column_title(str(c)),
                        "title_da": column_title(str(c), "da"),
                    }
                    for c in table.columns
                ],
            }
            for name, table in tables.items()
        },
        "labels": labels_used(tables),
    }
    meta_path = out / "metadata.json"
    write_text(meta_path, json.dumps(metadata, indent=2, ensure_ascii=False) + "\n")
    written.append(meta_path)
    return written

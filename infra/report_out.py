"""How an exact report leaves the program: JSON and CSV files that say what they hold (the
year, the cut-off, the code-list version and the labels of every code), and tables a person
can read in a terminal, in English or Danish.

Codes stay codes in the files (``NA`` is Namibia, not a missing value): ``metadata.json``
beside the CSVs says how to read them with pandas so that it stays so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TextIO

import pandas as pd

from domain import codes
from domain.codes import CODE_LIST_VERSION
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
    out.mkdir(exist_ok=True)
    written = []
    for name, table in tables.items():
        path = out / f"{name}.csv"
        table.to_csv(path, index=False, na_rep="")
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
    meta_path.write_text(json.dumps(metadata, indent=2, ensure_ascii=False) + "\n", encoding="utf8")
    written.append(meta_path)
    return written


_TABLE_TITLES: dict[str, tuple[str, str]] = {
    name: (spec.title_en, spec.title_da) for name, spec in TABLES.items()
}


def _readable(table: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    """Labels for codes, and the rows of measures with no value at all left out."""
    measures = [c for c in table.columns if c not in CODE_LISTS and c != "rank"]
    shown = table
    if measures and len(table.columns) > len(measures):
        shown = table[~table[measures].isna().all(axis=1)]
    shown = shown.copy()
    for column in shown.columns:
        if column in CODE_LISTS:
            shown[column] = [label(str(column), v, lang) for v in shown[column]]
    return shown


def print_tables(
    tables: Mapping[str, pd.DataFrame],
    year: int,
    as_of: str,
    out: TextIO,
    lang: Lang = "en",
) -> None:
    """The report as tables for a person: labels and titles, measures with no value left
    out, and a wide table turned (its columns as rows) so that it fits the terminal."""
    from rich.table import Table

    console = _console_for(out)
    heading = (
        f"CMM Ledger: annual report {year}, as known on {as_of}"
        if lang == "en"
        else f"CMM Ledger: årsrapport {year}, som kendt den {as_of}"
    )
    console.print(heading, markup=False, highlight=False, soft_wrap=True)
    for name, table in tables.items():
        title = _TABLE_TITLES.get(name, (name.replace("_", " ").capitalize(),) * 2)
        console.print(
            f"\n{title[0] if lang == 'en' else title[1]} ({name})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        headers, right, rows = _cells(_readable(table, lang), lang)
        grid = Table()
        for header, numeric in zip(headers, right, strict=True):
            grid.add_column(header, justify="right" if numeric else "left")
        for row in rows:
            grid.add_row(*row)
        console.print(grid)


def _pipe_aware_console_class() -> type:
    from rich.console import Console

    class PipeAwareConsole(Console):
        """A closed pipe (``cmm report | head``) is the command's to handle, with the exit
        status it documents; rich's own handling would exit with status 1."""

        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return PipeAwareConsole


def _console_for(out: TextIO) -> Any:
    return _pipe_aware_console_class()(file=out)


FOLD_COLUMNS = 7
"""A table with more columns than this, and no more rows, is printed turned: its columns as
rows, so it fits a terminal instead of wrapping every cell."""


def _cells(shown: pd.DataFrame, lang: Lang) -> tuple[list[str], list[bool], list[list[str]]]:
    """Headers, which columns are numbers (right-aligned), and the rows, as text."""
    columns = [str(c) for c in shown.columns]
    rows = [["-" if pd.isna(v) else _number(v) for v in row] for row in shown.itertuples(False)]
    if len(columns) > FOLD_COLUMNS and 0 < len(rows) <= FOLD_COLUMNS:
        key = [i for i, c in enumerate(columns) if c in CODE_LISTS] or [0]
        headers = ["", *(" / ".join(row[i] for i in key) for row in rows)]
        turned = [
            [column_title(c, lang), *(row[i] for row in rows)]
            for i, c in enumerate(columns)
            if i not in key
        ]
        return headers, [False, *(True for _ in rows)], turned
    headers = [column_title(c, lang) for c in columns]
    right = [c not in CODE_LISTS for c in columns]
    return headers, right, rows or [["" for _ in columns]]


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return str(value)

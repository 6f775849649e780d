"""Tables a person can read in a terminal: labels instead of codes (English or Danish),
the rows of measures with no value left out, and a wide table turned so that it fits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import pandas as pd

from infra.report_out import CODE_LISTS, Lang, column_title, label
from privacy.model import TABLES

_TABLE_TITLES: dict[str, tuple[str, str]] = {
    name: (spec.title_en, spec.title_da) for name, spec in TABLES.items()
}


def _readable(table: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    """Labels for codes, and the rows and the columns of measures with no value at all left
    out (a column no row has a value in is noise in a terminal; the JSON and CSV keep it)."""
    measures = [c for c in table.columns if c not in CODE_LISTS and c != "rank"]
    shown = table
    if measures and len(table.columns) > len(measures):
        shown = table[~table[measures].isna().all(axis=1)]
    empty = [c for c in measures if len(shown) and shown[c].isna().all()]
    shown = shown.drop(columns=empty)
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


def print_rows(
    rows: Sequence[Mapping[str, Any]], out: TextIO, empty: str, lang: Lang = "en"
) -> None:
    """Rows of one kind (the case list): one table if its columns fit the terminal, else
    each row folded into a small table of its own, field by field, its empty fields left
    out (a case has some twenty fields, most of them empty for most cases)."""
    if not rows:
        print(empty, file=out)
        return
    from rich.table import Table

    console = _console_for(out)
    columns = list(rows[0])
    if len(columns) <= FOLD_COLUMNS:
        grid = Table()
        for column in columns:
            grid.add_column(column_title(column, lang))
        for row in rows:
            grid.add_row(
                *("-" if row[c] is None else label(c, _number(row[c]), lang) for c in columns)
            )
        console.print(grid)
        return
    for row in rows:
        folded = Table(title=str(row[columns[0]]), title_justify="left", show_header=False)
        folded.add_column(style="bold")
        folded.add_column()
        for column in columns[1:]:
            if row[column] is not None and row[column] != "":
                folded.add_row(
                    column_title(column, lang), label(column, _number(row[column]), lang)
                )
        console.print(folded)

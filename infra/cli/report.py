"""``cmm report``: the exact annual report, for analysts: terminal tables, JSON or CSV."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from infra.cli.common import (
    EXIT_OK,
    DataDir,
    Lang,
    LangOption,
    Store,
    UsageError,
    as_of_option,
    epilog,
    existing_store,
    say,
    settings_of,
    writable_file,
    year_option,
)
from infra.cli.progress import Progress
from infra.safe_files import refuse_symlink


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _format(chosen: Format | None, out: str | None) -> Format:
    """``--format``, or what ``--out`` says: a ``.json`` file, or a folder for the CSVs."""
    if chosen is not None:
        return chosen
    if out is None:
        return Format.table
    if out.endswith(".json"):
        return Format.json
    if Path(out).suffix == "" or Path(out).is_dir():
        return Format.csv
    raise UsageError(
        f"--out {out}: say what to write with --format json (a file) or --format csv (a folder)"
    )


def _check_out(fmt: Format, out: str | None) -> Path | None:
    """The file or folder to write, refused before any work if it cannot be written."""
    if out:
        refuse_symlink(Path(out), "--out")
    if fmt is Format.json and out:
        return writable_file(out)
    if fmt is Format.csv:
        if not out:
            raise UsageError("--format csv needs --out FOLDER, where one CSV per table goes")
        if Path(out).exists() and not Path(out).is_dir():
            raise UsageError(f"--out {out} is a file; --format csv writes a folder")
        if not Path(out).parent.is_dir():
            raise UsageError(f"--out {out}: the folder {Path(out).parent} does not exist")
        return Path(out)
    return None


def report(
    year: Annotated[int, year_option()],
    as_of: Annotated[
        str,
        as_of_option(
            "Cut-off date YYYY-MM-DD, on or after the year's end: the report counts what had "
            "been recorded by the end of that day."
        ),
    ],
    data_dir: DataDir = None,
    store: Store = None,
    format: Annotated[
        Format | None,
        typer.Option(
            "--format",
            help="table (on the terminal), json or csv. Default: table; with --out, json for "
            "a .json file, else csv.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            metavar="PATH", help="A .json file (json) or a folder (csv).", show_default=False
        ),
    ] = None,
    lang: LangOption = Lang.en,
) -> int:
    """The exact annual report of a year as known at a cut-off (for analysts: exact counts,
    not for publication; `cmm publish` makes the safe release)."""
    from application.report import annual_report, check_as_of
    from infra import safe_files
    from infra.report_out import READ_CSV_WITH, report_document, write_csv_folder
    from infra.wiring import adapters

    fmt = _format(format, out)
    target = _check_out(fmt, out)
    check_as_of(year, as_of)
    settings = existing_store(settings_of(data_dir, store))
    progress = Progress("projecting")
    tables = annual_report(adapters(settings), year, as_of, progress=lambda d, t: progress(d, t))
    progress.stop()
    if fmt is Format.json:
        text = json.dumps(report_document(tables, year, as_of), indent=2, ensure_ascii=False)
        if target is not None:
            safe_files.write_text(target, text + "\n")
            say(f"report written to {target}")
        else:
            print(text)
    elif fmt is Format.csv:
        assert target is not None
        written = write_csv_folder(tables, target, year, as_of)
        say(
            f"{len(tables)} tables and metadata.json written to {target} "
            f"({len(written)} files; read them with {READ_CSV_WITH})"
        )
    else:
        from infra.cli.tables import print_tables

        print_tables(tables, year, as_of, sys.stdout, lang=lang.value)
    return EXIT_OK


def register(app: typer.Typer) -> None:
    app.command(
        short_help="The exact annual report (analysts).",
        epilog=epilog(
            "cmm report --year 2012 --as-of 2013-01-31",
            "cmm report --year 2012 --as-of 2013-01-31 --lang da | less -R",
            "cmm report --year 2012 --as-of 2013-01-31 --out report-2012.json",
            "cmm report --year 2012 --as-of 2013-01-31 --out tables-2012/",
        ),
    )(report)

"""What every ``cmm`` command shares: its exit codes, the checks of its arguments, the
options every command takes, and the one-line messages for the mistakes a user makes every
day.

A read command (report, cases, publish, ...) never creates a data directory: pointed at
one with no store in it, it says so and stops, rather than printing a report of zeros.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from application.report import FIRST_YEAR, LAST_YEAR
from infra.settings import Settings

EXIT_OK = 0
EXIT_REJECTS = 1
"""Input rejected: invalid or conflicting lines (the valid ones are stored), or a file that
is not UTF-8 JSON lines."""
EXIT_USAGE = 2
"""A mistake in the command: an unknown flag, a malformed date, a year with no events, a
data directory with no store in it."""
EXIT_REFUSED = 3
"""A release refused: no budget left or none allocated, protection not proved, an output
folder not empty. Nothing is released or spent."""
EXIT_FAILED = 4
"""A server or the store failed or cannot be reached; what was stored stays stored."""
EXIT_INTERNAL = 5
"""A bug: an error nobody foresaw. ``--debug`` shows its traceback."""
EXIT_INTERRUPTED = 130
"""Interrupted (SIGINT), as shells report 128 + 2."""
EXIT_BROKEN_PIPE = 141
"""The reader of the output went away (``cmm report | head``), as shells report 128 + 13."""
EXIT_TERMINATED = 143
"""Stopped by SIGTERM, as shells report 128 + 15."""

EXIT_CODES_HELP = """exit status:
  0    ok
  1    input rejected (invalid or conflicting lines; the valid ones are stored)
  2    usage: a bad flag or date, a year with no events, no store in --data-dir,
       an output path that is a symbolic link, a missing or wrong key
  3    release refused (budget, protection, output folder); nothing spent
  4    a server or the store failed or cannot be reached
  5    internal error (run with --debug for the traceback)
  130  interrupted, 141 output closed early, 143 stopped by SIGTERM"""


def epilog(*examples: str) -> str:
    """A command's examples, kept as written (``\\b``: no rewrapping)."""
    return "\b\nexamples:\n" + "\n".join(f"  {e}" for e in examples)


class UsageError(ValueError):
    """A mistake in the command line, told in one line naming the flag."""


class StoreKind(StrEnum):
    sqlite = "sqlite"
    postgres = "postgres"


class Lang(StrEnum):
    en = "en"
    da = "da"


DataDir = Annotated[
    str | None,
    typer.Option(
        "--data-dir",
        metavar="DIR",
        help="Data directory (default: $CMM_DATA_DIR, else a per-user folder).",
        show_default=False,
    ),
]
Store = Annotated[
    StoreKind | None,
    typer.Option(
        "--store",
        metavar="sqlite|postgres",
        help="Event store (default: $CMM_STORE, else sqlite).",
        show_default=False,
    ),
]
LangOption = Annotated[
    Lang, typer.Option("--lang", help="Language of the table labels: English or Danish.")
]


def settings_of(data_dir: str | None, store: StoreKind | None) -> Settings:
    return Settings.from_env(data_dir=data_dir, store=None if store is None else store.value)


def parse_year(text: str) -> int:
    """``--year``: a four-digit year that events can have."""
    try:
        year = int(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a year, e.g. 2012") from None
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise typer.BadParameter(
            f"{year} is outside the years events can have ({FIRST_YEAR}-{LAST_YEAR}); "
            "give the year in full, e.g. 2012"
        )
    return year


def parse_date(text: str) -> str:
    """``--as-of``: a calendar date written YYYY-MM-DD, kept as that text."""
    try:
        if len(text) != 10:
            raise ValueError
        date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date in the form YYYY-MM-DD, e.g. 2013-01-31"
        ) from None
    return text


def year_option(help: str = "The year, e.g. 2012.") -> Any:
    return typer.Option("--year", parser=parse_year, metavar="YEAR", help=help)


def as_of_option(help: str) -> Any:
    return typer.Option("--as-of", parser=parse_date, metavar="YYYY-MM-DD", help=help)


def existing_store(settings: Settings) -> Settings:
    """``settings``, once sure its store exists: a read command must not make an empty one."""
    from infra.composition import store_absent

    absent = store_absent(settings)
    if absent == "not_a_folder":
        raise UsageError(f"--data-dir {settings.data_dir} is a file, not a folder")
    if absent == "empty":
        raise UsageError(
            f"no event store in {settings.data_dir}: nothing has been ingested there (check "
            "--data-dir or CMM_DATA_DIR, or run cmm ingest first)"
        )
    return settings


def writable_file(out: str, flag: str = "--out") -> Path:
    """A file to write: its folder must exist (a typo should not make a tree of folders)."""
    path = Path(out)
    if path.is_dir():
        raise UsageError(f"{flag} {out} is a folder; give a file name, e.g. {out}/report.json")
    if not path.parent.is_dir():
        raise UsageError(f"{flag} {out}: the folder {path.parent} does not exist")
    return path


def say(text: str) -> None:
    """A message for the person at the terminal: on stderr, so stdout holds only data."""
    print(text, file=sys.stderr)


class Terminated(Exception):
    """SIGTERM arrived: the command stops at the next safe point."""


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` in the main thread while the block runs, so a
    command unwinds (workers stopped, files closed, transactions ended) instead of dying."""

    def terminate(*_: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

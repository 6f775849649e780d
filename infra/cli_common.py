"""What every ``cmm`` command shares: its exit codes, the checks of its arguments, and the
one-line messages for the mistakes a user makes every day.

A read command (report, cases, publish, ...) never creates a data directory: pointed at
one with no store in it, it says so and stops, rather than printing a report of zeros.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any, NoReturn, TextIO

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
  2    usage: a bad flag or date, a year with no events, no store in --data-dir
  3    release refused (budget, protection, output folder); nothing spent
  4    a server or the store failed or cannot be reached
  5    internal error (run with --debug for the traceback)
  130  interrupted, 141 output closed early, 143 stopped by SIGTERM"""

FIRST_YEAR, LAST_YEAR = 1990, 2099  # domain.events.EARLIEST and LATEST: no event lies outside


class SuggestingParser(argparse.ArgumentParser):
    """An argument parser that suggests the command or option a typo was meant to be
    (``cmm reprot`` ... did you mean 'report'?). Its sub-command parsers are of this class
    too (argparse makes them of the parent's class)."""

    def error(self, message: str) -> NoReturn:
        super().error(message + _suggestion(self, message))


def _suggestion(parser: argparse.ArgumentParser, message: str) -> str:
    choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if choice:
        known = re.findall(r"'([^']*)'", choice.group(2))
        close = difflib.get_close_matches(choice.group(1), known, n=1)
        return f"; did you mean '{close[0]}'?" if close else ""
    unknown = re.search(r"unrecognized arguments: (.*)", message)
    if unknown:
        options = sorted(_option_strings(parser))
        for token in unknown.group(1).split():
            if token.startswith("--"):
                close = difflib.get_close_matches(token.split("=")[0], options, n=1)
                if close:
                    return f"; did you mean {close[0]}?"
    return ""


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every long option of ``parser`` and of its sub-commands."""
    found: set[str] = set()
    for action in parser._actions:  # argparse keeps no public list of them
        found.update(o for o in action.option_strings if o.startswith("--"))
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _option_strings(sub)
    return found


class UsageError(ValueError):
    """A mistake in the command line, told in one line naming the flag."""


def year_arg(text: str) -> int:
    """``--year``: a four-digit year that events can have."""
    try:
        year = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a year, e.g. 2012") from None
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise argparse.ArgumentTypeError(
            f"{year} is outside the years events can have ({FIRST_YEAR}-{LAST_YEAR}); "
            "give the year in full, e.g. 2012"
        )
    return year


def date_arg(text: str) -> str:
    """``--as-of``: a calendar date written YYYY-MM-DD, kept as that text."""
    try:
        if len(text) != 10:
            raise ValueError
        date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date in the form YYYY-MM-DD, e.g. 2013-01-31"
        ) from None
    return text


def check_as_of(year: int, as_of: str) -> None:
    """A year's figures need a cut-off on or after the year's last day."""
    if date.fromisoformat(as_of) < date(year, 12, 31):
        raise UsageError(
            f"--as-of {as_of} is before the end of {year}: a year's figures need a cut-off "
            f"on or after {year}-12-31 (the centre reports as at {year + 1}-01-31)"
        )


def existing_store(settings: Settings) -> Settings:
    """``settings``, once sure its store exists: a read command must not make an empty one."""
    if settings.store != "sqlite":
        return settings
    where = settings.data_dir
    if where.exists() and not where.is_dir():
        raise UsageError(f"--data-dir {where} is a file, not a folder")
    if not settings.sqlite_path.is_file():
        raise UsageError(
            f"no event store in {where}: nothing has been ingested there (check --data-dir "
            "or CMM_DATA_DIR, or run cmm ingest first)"
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


class Progress:
    """Progress on stderr: a bar with the total, percentage, rate and time left on a terminal
    (rich), a line every few seconds in a log. ``total`` may be an estimate (``about``)."""

    def __init__(self, label: str, stream: TextIO | None = None, every: float = 2.0) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.every = every
        self.started = time.monotonic()
        self.last = 0.0
        self.tty = self.stream.isatty()
        self._bar: Any = None
        self._task: Any = None

    def __call__(
        self, done: int, total: int | None = None, unit: str = "events", about: bool = False
    ) -> None:
        now = time.monotonic()
        if self.tty:
            self._draw(done, total, unit)
            return
        if now - self.last < self.every:
            return
        self.last = now
        self.stream.write(self.line(done, total, unit, now, about) + "\n")
        self.stream.flush()

    def line(self, done: int, total: int | None, unit: str, now: float, about: bool = False) -> str:
        """``label: done / total (pct%) unit, rate/s, time left`` (for logs)."""
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        text = f"{self.label}: {done:,}"
        if total:
            shown = max(total, done)
            text += f" / {'about ' if about else ''}{shown:,} ({100 * done / shown:.0f}%)"
        text += f" {unit}, {rate:,.0f}/s"
        if total and rate > 0 and done < total:
            text += f", {_duration((total - done) / rate)} left"
        return text

    def _draw(self, done: int, total: int | None, unit: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        if self._bar is None:
            self._bar = Bar(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(unit),
                TaskProgressColumn(),
                TimeRemainingColumn(),
                console=_console(self.stream),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=total)
        self._bar.update(self._task, completed=done, total=max(total, done) if total else None)

    def done(self, done: int, unit: str = "events") -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elapsed = time.monotonic() - self.started
        rate = f", {done / elapsed:,.0f}/s" if elapsed > 0 else ""
        self.stream.write(f"{self.label}: {done:,} {unit} in {elapsed:.1f} s{rate}\n")
        self.stream.flush()


def _console(stream: TextIO) -> Any:
    from rich.console import Console

    return Console(file=stream)


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"

"""Progress on stderr: a rich bar with the total, percentage and time left on a terminal, a
line every few seconds in a log (where a bar would be noise)."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class Progress:
    """Progress on stderr: a bar with the total, percentage, rate and time left on a terminal
    (rich), a line every few seconds in a log. ``total`` may be an estimate (``about``)."""

    def __init__(self, label: str, stream: TextIO | None = None, every: float = 2.0) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.every = every
        # rich's test of a terminal, so TTY_COMPATIBLE=1 (or FORCE_COLOR) asks for the bar
        # where the stream is not one (a CI log that renders it, a test).
        self.tty = bool(_console(self.stream).is_terminal)
        self.started = time.monotonic()  # after rich is imported: the work starts now
        self.last = 0.0
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

    def stop(self) -> None:
        """Take the bar off the terminal (it is transient: the screen keeps no trace)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def done(self, done: int, unit: str = "events") -> None:
        """Stop, and say in one line how much was done and how fast."""
        self.stop()
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

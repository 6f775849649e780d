"""The exact annual report, kept while the store has nothing new: for a server that many
analysts ask at once.

A report of ``(year, as_of)`` depends on the events alone, so it is kept under the store's
position (its last notification id) when it was asked for: while nothing new is stored,
every request gets the kept tables at once; the first request after new events computes
it again (the read model catching up first), and the others asking for it meanwhile wait
for that one computation rather than each doing it. A report computed while events
arrived may count some of them: it is never older than its position.

The tables handed out are shared between requests: callers must not change them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from application.ports import Adapters
from application.report import annual_report, check_as_of, check_year

T = TypeVar("T")

KEPT = 32
"""Reports kept at most (the least recently asked for go first)."""


class ReportCache:
    def __init__(self, adapters: Adapters, kept: int = KEPT) -> None:
        self._adapters = adapters
        self._kept = kept
        self._lock = threading.Lock()
        self._reports: OrderedDict[tuple[int, str, int], dict[str, Any]] = OrderedDict()
        self._computing: dict[tuple[int, str, int], threading.Lock] = {}
        self._rendered: dict[tuple[int, str, int], dict[str, Any]] = {}
        self._local = threading.local()

    def _position(self) -> int:
        """The store's position, on a connection of this thread's own (kept open)."""
        store: Any = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = self._adapters.open_store()
        position: int = store.max_notification_id()  # the store port's (infra.store)
        return position

    def annual_report(self, year: int, as_of: str) -> dict[str, Any]:
        """:func:`application.report.annual_report`, from the kept tables when the store has
        nothing new since they were computed."""
        return self._tables(self._key(year, as_of))

    def rendered(
        self, year: int, as_of: str, variant: str, render: Callable[[dict[str, Any]], T]
    ) -> T:
        """``render(tables)`` of the report, kept with it under ``variant`` (e.g. its JSON
        document): the entry point's own form of the report, made once per position."""
        key = self._key(year, as_of)
        tables = self._tables(key)
        with self._lock:
            kept = self._rendered.get(key, {})
            if variant in kept:
                found: T = kept[variant]
                return found
        made = render(tables)
        with self._lock:
            if key in self._reports:  # not if evicted meanwhile
                self._rendered.setdefault(key, {})[variant] = made
        return made

    def _key(self, year: int, as_of: str) -> tuple[int, str, int]:
        check_year(year)
        check_as_of(year, as_of)
        return (year, as_of, self._position())

    def _tables(self, key: tuple[int, str, int]) -> dict[str, Any]:
        year, as_of, _ = key
        with self._lock:
            if key in self._reports:
                self._reports.move_to_end(key)
                return self._reports[key]
            computing = self._computing.setdefault(key, threading.Lock())
        with computing:
            with self._lock:
                if key in self._reports:
                    return self._reports[key]
            tables = annual_report(self._adapters, year, as_of)
            with self._lock:
                self._reports[key] = tables
                while len(self._reports) > self._kept:
                    gone, _ = self._reports.popitem(last=False)
                    self._rendered.pop(gone, None)
                self._computing.pop(key, None)
        return tables

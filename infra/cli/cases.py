"""``cmm cases`` and ``cmm project``: the case read model, for case workers."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from enum import StrEnum
from typing import Annotated

import typer

from infra.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    DataDir,
    Lang,
    LangOption,
    Store,
    epilog,
    existing_store,
    say,
    settings_of,
)
from infra.cli.progress import Progress


class CasesFormat(StrEnum):
    table = "table"
    json = "json"


def cases(
    data_dir: DataDir = None,
    store: Store = None,
    person: Annotated[
        str | None, typer.Option(help="Only this person_ref.", show_default=False)
    ] = None,
    flagged: Annotated[
        bool, typer.Option(help="Only cases whose history is inconsistent, with their flags.")
    ] = False,
    format: Annotated[CasesFormat, typer.Option("--format", help="table or json.")] = (
        CasesFormat.table
    ),
    lang: LangOption = Lang.en,
) -> int:
    """The current state of cases (one row per person), brought up to date first."""
    from application.cases import cases as case_list
    from infra.wiring import adapters

    settings = existing_store(settings_of(data_dir, store))
    progress = Progress("projecting")
    rows = case_list(
        adapters(settings), person, flagged=flagged, progress=lambda d, t: progress(d, t)
    )
    progress.stop()
    if format is CasesFormat.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        from infra.cli.tables import print_rows

        empty = "(no cases)" if lang is Lang.en else "(ingen sager)"
        print_rows(rows, sys.stdout, empty=empty, lang=lang.value)
    return EXIT_OK


def project(
    data_dir: DataDir = None,
    store: Store = None,
    follow: Annotated[
        bool, typer.Option(help="Keep following new events until Ctrl-C or SIGTERM.")
    ] = False,
    interval: Annotated[
        float, typer.Option(help="Seconds between polls of SQLite when nothing was new.")
    ] = 1.0,
) -> int:
    """Bring the projections (the read model) up to date with the store. Every read command
    does so itself; this command does it ahead of them, or keeps doing it with --follow."""
    from application.project import InterruptedFirstCatchUp
    from application.project import project as bring_up_to_date
    from infra.composition import store_notifies
    from infra.wiring import adapters

    settings = existing_store(settings_of(data_dir, store))
    progress = Progress("project")
    try:
        # The first catch-up, with its progress, and where it got; following goes on after.
        result = bring_up_to_date(adapters(settings), progress=lambda d, t: progress(d, t))
    except InterruptedFirstCatchUp:
        progress.stop()
        say("cmm project: interrupted before the first catch-up ended")
        return EXIT_INTERRUPTED
    progress.done(result.processed)
    print(f"projections at notification {result.position:,}", flush=True)
    if not follow:
        return EXIT_OK
    if store_notifies(settings):
        # PostgreSQL notifies: eventsourcing's ProjectionRunner follows it (LISTEN/NOTIFY).
        from infra.cli.stream import project_follow_postgres

        return project_follow_postgres(settings)
    signal.signal(signal.SIGTERM, _interrupt)  # a service manager stops it as Ctrl-C does
    # Stopped before anything new arrived, the first catch-up above stands.
    with contextlib.suppress(InterruptedFirstCatchUp):
        bring_up_to_date(adapters(settings), follow=True, interval=interval)
    return EXIT_OK


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def register(app: typer.Typer) -> None:
    app.command(
        short_help="The current state of cases (case workers).",
        epilog=epilog(
            "cmm cases --flagged",
            "cmm cases --person P-000123 --format json",
            "cmm cases --flagged --lang da",
        ),
    )(cases)
    app.command(
        short_help="Bring the read model up to date.",
        epilog=epilog("cmm project", "cmm project --follow --interval 5"),
    )(project)

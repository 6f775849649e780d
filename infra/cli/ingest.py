"""``cmm ingest``, ``cmm simulate`` and ``cmm demo``: events into the store."""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from infra.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REJECTS,
    EXIT_TERMINATED,
    EXIT_USAGE,
    DataDir,
    Lang,
    LangOption,
    Store,
    Terminated,
    UsageError,
    epilog,
    say,
    settings_of,
    stop_on_sigterm,
)
from infra.cli.progress import Progress
from simulation.profile_help import PROFILE_HELP

Profile = Annotated[str, typer.Option(metavar="NAME|PATH", help=PROFILE_HELP)]
Seed = Annotated[
    int, typer.Option(metavar="N", help="Random seed: the same seed gives the same events.")
]
Scale = Annotated[
    int, typer.Option(metavar="N", help="Multiply the profile's volumes (load tests).")
]


def ingest(
    files: Annotated[
        list[Path], typer.Argument(help="JSON-lines files (or .gz), one event per line.")
    ],
    data_dir: DataDir = None,
    store: Store = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Parser processes (0: none; default: one per core, at most 4)."),
    ] = None,
) -> int:
    """Store events from JSON-lines files: each valid line once, each invalid one rejected
    with its reason (written beside the file). Running it again stores only what is new."""
    from application.ingest import MissingInput
    from application.ingest import ingest as ingest_one
    from infra.files.ingest import DamagedInput, UnreadableInput
    from infra.files.rejects import rejects_path_for
    from infra.safe_files import refuse_symlink
    from infra.wiring import adapters

    for source in files:  # before the store is opened: nothing made, nothing stored
        refuse_symlink(rejects_path_for(source), "the rejects file")
    settings = settings_of(data_dir, store)
    ports = adapters(settings)
    exit_code = EXIT_OK
    for source in files:
        progress = Progress(f"ingest {source.name}")

        def show(lines: int, total: int | None, exact: bool, progress: Progress = progress) -> None:
            progress(lines, total, unit="lines", about=not exact)

        def reject(r: Any, source: Path = source) -> None:
            say(f"{source}:{r.line}: rejected: {r.reason}")

        try:
            with stop_on_sigterm():
                report = ingest_one(ports, source, workers=workers, progress=show, on_reject=reject)
        except MissingInput as missing:
            say(f"cmm ingest: {missing}")
            return EXIT_USAGE
        except UnreadableInput as error:
            say(f"cmm ingest: {source}: refused, nothing stored: {error}")
            return EXIT_REJECTS
        except DamagedInput as error:
            say(f"cmm ingest: {source}: damaged: {error}")
            return EXIT_REJECTS
        except Terminated:
            say(
                f"cmm ingest: stopped by SIGTERM in {source}: every batch is stored whole or "
                "not at all; run the same command again to store the rest"
            )
            return EXIT_TERMINATED
        except sqlite3.OperationalError as error:
            # A full disk, an I/O error: SQLite's words say which. The batch that failed was
            # rolled back whole; those before it are stored.
            say(
                f"cmm ingest: the store could not write ({error}) while ingesting {source}; "
                "nothing of the failed batch was stored: fix the cause and run the same "
                "command again to store the rest"
            )
            return EXIT_FAILED
        progress.done(report.lines, unit="lines")
        print(
            f"{source}: {report.appended:,} events stored, {report.duplicates:,} already "
            f"stored, {len(report.rejects):,} rejected"
        )
        if report.rejects:
            say(f"{source}: rejected lines written with their reasons to {report.rejects_path}")
            exit_code = EXIT_REJECTS
    return exit_code


def _profile(name_or_path: str) -> Any:
    """The profile ``--profile`` names, or a usage error saying where it was looked for."""
    from simulation.profile import ProfileError, load_profile

    try:
        return load_profile(name_or_path)
    except ProfileError as error:
        raise UsageError(f"--profile {name_or_path}: {error}") from None


def simulate(
    out: Annotated[Path, typer.Option(metavar="FILE", help="The JSON-lines file to write.")],
    profile: Profile = "cmm-2012",
    seed: Seed = 1,
    scale: Scale = 1,
) -> int:
    """Write a synthetic event stream: a year of cases, hotline calls and outreach shaped
    like the centre's published figures. Nothing in it is about a real person."""
    from simulation.simulate import simulate as simulated
    from simulation.simulate import write_jsonl

    chosen = _profile(profile)
    progress = Progress("simulate")
    count = write_jsonl(
        simulated(chosen, seed=seed, scale=scale),
        out,
        progress=lambda n: progress(n),
    )
    progress.done(count)
    print(f"{count:,} events written to {out}")
    return EXIT_OK


def demo(
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Where to keep the demo data (default: a new temporary folder)."),
    ] = None,
    profile: Profile = "cmm-2012",
    seed: Seed = 1,
    scale: Scale = 1,
    lang: LangOption = Lang.en,
) -> int:
    """Simulate a year, ingest it and print its report, all on SQLite: the whole pipeline in
    one command, touching nothing but the demo folder."""
    from application.ingest import ingest as ingest_one
    from application.report import report_tables
    from infra.cli.tables import print_tables
    from infra.settings import Settings
    from infra.wiring import adapters
    from simulation.profile import demo_events_path
    from simulation.simulate import simulate as simulated
    from simulation.simulate import write_jsonl

    chosen = _profile(profile)
    where = data_dir or Path(tempfile.mkdtemp(prefix="cmm-demo-"))
    if not (os.environ.get("CMM_KEY_FILE") or os.environ.get("CMM_KEY")):
        # Synthetic data: a key of its own, beside it, so the demo runs on a fresh clone.
        from infra.safe_files import private_dir
        from infra.sealing import write_key_file

        key_file = private_dir(where) / "demo.key"
        if not key_file.exists():
            write_key_file(key_file)
        os.environ["CMM_KEY_FILE"] = str(key_file)
        say(f"demo: no key configured; the demo's own key is {key_file}")
    ports = adapters(Settings.from_env(data_dir=where, store="sqlite"))
    events_file = demo_events_path(where, chosen, seed, scale)
    events_file.parent.mkdir(parents=True, exist_ok=True)
    say(f"demo: data in {where}")
    progress = Progress("1/3 simulate")
    count = write_jsonl(simulated(chosen, seed=seed, scale=scale), events_file, progress=progress)
    progress.done(count)
    progress = Progress("2/3 ingest")
    report = ingest_one(
        ports, events_file, progress=lambda n, total, exact: progress(n, total, unit="lines")
    )
    progress.done(report.appended)
    year = int(getattr(chosen, "year", 2012))
    as_of = str(getattr(chosen, "status_cutoff", f"{year + 1}-01-31"))
    say("demo: 3/3 projecting and reporting")
    progress = Progress("project")
    tables = report_tables(ports, year, as_of, progress=lambda d, t: progress(d, t))
    progress.stop()
    print_tables(tables, year, as_of, sys.stdout, lang=lang.value)
    say(
        f"\ndemo: events in {events_file}; try `cmm report --data-dir {where} "
        f"--year {year} --as-of {as_of} --format json`"
    )
    return EXIT_OK


def register(app: typer.Typer) -> None:
    app.command(
        short_help="Store events from JSON-lines files.",
        epilog=epilog(
            "cmm ingest events.jsonl",
            "cmm ingest --data-dir ./data day1.jsonl day2.jsonl.gz",
            "CMM_STORE=postgres cmm ingest events.jsonl",
        ),
    )(ingest)
    app.command(
        short_help="Write a synthetic year of events.",
        epilog=epilog(
            "cmm simulate --out events.jsonl",
            "cmm simulate --seed 7 --scale 10 --out big.jsonl",
        ),
    )(simulate)
    app.command(
        short_help="Simulate, ingest and report a year (SQLite).",
        epilog=epilog("cmm demo", "cmm demo --data-dir ./demo --lang da"),
    )(demo)

"""``cmm``: the command line of CMM Ledger.

Every command takes ``--data-dir`` (or ``CMM_DATA_DIR``) and ``--store`` (or ``CMM_STORE``);
the default is the embedded SQLite store in a per-user data directory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from infra.cli_common import (
    EXIT_BROKEN_PIPE,
    EXIT_CODES_HELP,
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REJECTS,
    EXIT_TERMINATED,
    EXIT_USAGE,
    Progress,
    SuggestingParser,
    UsageError,
    check_as_of,
    date_arg,
    existing_store,
    writable_file,
    year_arg,
)
from infra.settings import Settings

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_REJECTS", "EXIT_USAGE", "main"]


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(data_dir=args.data_dir, store=args.store)


# ----------------------------------------------------------------------------------------------
# Commands


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


def _estimated_lines(source: Path) -> tuple[int | None, bool]:
    """How many lines ``source`` has, for the progress bar: counted when the file is small,
    estimated from its first MiB otherwise (exact: False); None for a compressed file."""
    sample_size = 1 << 20
    with source.open("rb") as handle:
        sample = handle.read(sample_size)
    if sample.startswith(b"\x1f\x8b"):
        return None, False
    lines = sample.count(b"\n") + (0 if sample.endswith(b"\n") or not sample else 1)
    size = source.stat().st_size
    if size <= sample_size or not lines:
        return lines, True
    return round(size * lines / len(sample)), False


def cmd_ingest(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from infra.composition import open_store
    from infra.files.ingest import DamagedInput, UnreadableInput, ingest_file

    settings = _settings(args)
    total_lines = 0
    exit_code = EXIT_OK
    for name in args.files:
        source = Path(name)
        if not source.is_file():
            print(f"cmm ingest: no such file: {source}", file=sys.stderr)
            return EXIT_USAGE
        progress = Progress(f"ingest {source.name}")
        lines, exact = _estimated_lines(source)

        def show(
            report: Any,
            progress: Progress = progress,
            lines: int | None = lines,
            about: bool = not exact,
        ) -> None:
            progress(report.lines, lines, unit="lines", about=about)

        def reject(r: Any, source: Path = source) -> None:
            print(f"{source}:{r.line}: rejected: {r.reason}", file=sys.stderr)

        try:
            with stop_on_sigterm(), open_store(settings) as store:
                report = ingest_file(
                    source,
                    store,
                    workers=args.workers,
                    clock_skew=timedelta(seconds=settings.clock_skew_seconds),
                    progress=show,
                    on_reject=reject,
                )
        except UnreadableInput as error:
            print(f"cmm ingest: {source}: refused, nothing stored: {error}", file=sys.stderr)
            return EXIT_REJECTS
        except DamagedInput as error:
            print(f"cmm ingest: {source}: damaged: {error}", file=sys.stderr)
            return EXIT_REJECTS
        except Terminated:
            print(
                f"cmm ingest: stopped by SIGTERM in {source}: every batch is stored whole or "
                "not at all; run the same command again to store the rest",
                file=sys.stderr,
            )
            return EXIT_TERMINATED
        except sqlite3.OperationalError as error:
            # A full disk, an I/O error: SQLite's words say which. The batch that failed
            # was rolled back whole; those before it are stored.
            print(
                f"cmm ingest: the store could not write ({error}) while ingesting {source}; "
                "nothing of the failed batch was stored: fix the cause and run the same "
                "command again to store the rest",
                file=sys.stderr,
            )
            return EXIT_FAILED
        progress.done(report.lines, unit="lines")
        total_lines += report.lines
        print(
            f"{source}: {report.appended:,} events stored, {report.duplicates:,} already "
            f"stored, {len(report.rejects):,} rejected"
        )
        if report.rejects:
            print(
                f"{source}: rejected lines written with their reasons to {report.rejects_path}",
                file=sys.stderr,
            )
            exit_code = EXIT_REJECTS
    return exit_code


def _report_tables(settings: Settings, year: int, as_of: str) -> dict[str, Any]:
    from infra.readmodel import load_report_inputs
    from projections.report import report_tables

    progress = Progress("projecting")
    inputs = load_report_inputs(settings, as_of, progress=lambda d, t: progress(d, t))
    return report_tables(inputs.facts, inputs.hotline, inputs.outreach, year, inputs.contacts)


def _report_format(args: argparse.Namespace) -> str:
    """``--format``, or what ``--out`` says: a ``.json`` file, or a folder for the CSVs."""
    if args.format is not None:
        return str(args.format)
    if args.out is None:
        return "table"
    if args.out.endswith(".json"):
        return "json"
    if Path(args.out).suffix == "" or Path(args.out).is_dir():
        return "csv"
    raise UsageError(
        f"--out {args.out}: say what to write with --format json (a file) or --format csv "
        "(a folder)"
    )


def _has_figures(tables: dict[str, Any]) -> bool:
    """Whether any table of the year counts anything (a year with no events counts nothing;
    ``victims_by_year`` is the series of every year, so it does not say)."""
    for name, table in tables.items():
        if name == "victims_by_year":
            continue
        numbers = table.select_dtypes("number").drop(columns=["year"], errors="ignore")
        if not numbers.empty and bool((numbers.fillna(0) != 0).to_numpy().any()):
            return True
    return False


def cmd_report(args: argparse.Namespace) -> int:
    from infra.report_out import READ_CSV_WITH, report_document, write_csv_folder

    fmt = _report_format(args)
    if fmt == "json" and args.out:
        out_file = writable_file(args.out)
    if fmt == "csv":
        if not args.out:
            raise UsageError("--format csv needs --out FOLDER, where one CSV per table goes")
        if Path(args.out).exists() and not Path(args.out).is_dir():
            raise UsageError(f"--out {args.out} is a file; --format csv writes a folder")
        if not Path(args.out).parent.is_dir():
            raise UsageError(f"--out {args.out}: the folder {Path(args.out).parent} does not exist")
    check_as_of(args.year, args.as_of)
    settings = existing_store(_settings(args))
    tables = _report_tables(settings, args.year, args.as_of)
    if not _has_figures(tables):
        raise UsageError(
            f"--year {args.year}: the store holds no events of {args.year} recorded by {args.as_of}"
        )
    if fmt == "json":
        document = report_document(tables, args.year, args.as_of)
        text = json.dumps(document, indent=2, ensure_ascii=False)
        if args.out:
            out_file.write_text(text + "\n", encoding="utf8")
            print(f"report written to {args.out}", file=sys.stderr)
        else:
            print(text)
    elif fmt == "csv":
        written = write_csv_folder(tables, Path(args.out), args.year, args.as_of)
        print(
            f"{len(tables)} tables and metadata.json written to {args.out} "
            f"({len(written)} files; read them with {READ_CSV_WITH})",
            file=sys.stderr,
        )
    else:
        from infra.report_out import print_tables

        print_tables(tables, args.year, args.as_of, sys.stdout, lang=args.lang)
    return EXIT_OK


def cmd_simulate(args: argparse.Namespace) -> int:
    from simulation.simulate import load_profile, simulate, write_jsonl

    profile = load_profile(args.profile)
    progress = Progress("simulate")
    count = write_jsonl(
        simulate(profile, seed=args.seed, scale=args.scale),
        Path(args.out),
        progress=lambda n: progress(n),
    )
    progress.done(count)
    print(f"{count:,} events written to {args.out}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Simulate the 2012 profile, ingest it and print the report, all on SQLite."""
    from infra.composition import open_store
    from infra.files.ingest import ingest_file
    from simulation.simulate import load_profile, simulate, write_jsonl

    data_dir = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="cmm-demo-"))
    settings = Settings.from_env(data_dir=data_dir, store="sqlite")
    profile = load_profile(args.profile)
    events_file = data_dir / f"{args.profile}-seed{args.seed}.jsonl"
    print(f"demo: data in {data_dir}", file=sys.stderr)
    progress = Progress("1/3 simulate")
    count = write_jsonl(
        simulate(profile, seed=args.seed, scale=args.scale), events_file, progress=progress
    )
    progress.done(count)
    progress = Progress("2/3 ingest")
    with open_store(settings) as store:
        report = ingest_file(events_file, store, progress=lambda r: progress(r.lines, unit="lines"))
    progress.done(report.appended)
    year = int(getattr(profile, "year", 2012))
    as_of = str(getattr(profile, "status_cutoff", f"{year + 1}-01-31"))
    print("demo: 3/3 projecting and reporting", file=sys.stderr)
    tables = _report_tables(settings, year, as_of)
    from infra.report_out import print_tables

    print_tables(tables, year, as_of, sys.stdout, lang=args.lang)
    print(
        f"\ndemo: events in {events_file}; try `cmm report --data-dir {data_dir} "
        f"--year {year} --as-of {as_of} --format json`",
        file=sys.stderr,
    )
    return EXIT_OK


def cmd_project(args: argparse.Namespace) -> int:
    from infra.composition import open_store, open_view, updating
    from infra.readmodel import catch_up

    settings = existing_store(_settings(args))
    if args.follow and settings.store == "postgres":
        # PostgreSQL notifies: eventsourcing's ProjectionRunner follows it (LISTEN/NOTIFY).
        from infra.cli_stream import project_follow_postgres

        return project_follow_postgres(settings)
    progress = Progress("project")
    result = None
    with open_store(settings) as store:
        with updating(settings):
            view = open_view(settings)
        try:
            while True:
                with updating(settings):
                    result = catch_up(store, view, progress=lambda d, t: progress(d, t))
                if not args.follow:
                    break
                if result.processed == 0:
                    time.sleep(args.interval)
        except KeyboardInterrupt:
            if result is None:
                # Interrupted in the first catch-up: what it committed stays, and the next
                # run goes on from there.
                print("cmm project: interrupted before the first catch-up ended", file=sys.stderr)
                return EXIT_INTERRUPTED
        finally:
            view.close()
    progress.done(result.processed)
    print(f"projections at notification {result.position:,}")
    return EXIT_OK


def cmd_cases(args: argparse.Namespace) -> int:
    from infra.composition import open_store
    from infra.readmodel import case_rows, up_to_date_view

    settings = existing_store(_settings(args))
    with open_store(settings) as store:
        view = up_to_date_view(settings, store)
    try:
        rows = case_rows(view, args.person)
    finally:
        view.close()
    if args.flagged:
        rows = [r for r in rows if r["flags"]]
    if args.format == "json":
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        import pandas as pd

        frame = pd.DataFrame(rows)
        print(frame.to_string(index=False, na_rep="-") if rows else "(no cases)")
    return EXIT_OK


# ----------------------------------------------------------------------------------------------
# Parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="data directory (default: $CMM_DATA_DIR or per user)")
    parser.add_argument("--store", choices=["sqlite", "postgres"], help="event store")


Command = Callable[[argparse.Namespace], int]


def _extra_commands() -> list[Callable[[Any], None]]:
    """Commands kept in modules of their own (they import heavier dependencies lazily)."""
    from infra import cli_publish

    registers: list[Callable[[Any], None]] = [cli_publish.register]
    try:
        from infra import cli_stream
    except ImportError:  # pragma: no cover - only while the Kafka module is absent
        return registers
    registers.append(cli_stream.register)
    return registers


def build_parser() -> argparse.ArgumentParser:
    parser = SuggestingParser(
        prog="cmm",
        description="CMM Ledger: event-sourced statistics and safe open data.",
        epilog="examples:\n"
        "  cmm simulate --out events.jsonl && cmm ingest events.jsonl\n"
        "  cmm report --year 2012 --as-of 2013-01-31\n"
        "  cmm cases --flagged\n\n" + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an unexpected error"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="store events from JSON-lines files")
    _common(p)
    p.add_argument("files", nargs="+", help="JSON-lines files, one event per line")
    p.add_argument("--workers", type=int, default=None, help="parser processes (0: none)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("report", help="the exact annual report (analysts)")
    _common(p)
    p.add_argument("--year", type=year_arg, required=True, help="the year, e.g. 2012")
    p.add_argument(
        "--as-of",
        type=date_arg,
        required=True,
        help="cut-off date YYYY-MM-DD, on or after the year's end: what was recorded by then",
    )
    p.add_argument(
        "--format",
        choices=["table", "json", "csv"],
        help="default: table on the terminal; with --out, json for a .json file, else csv",
    )
    p.add_argument("--out", help="a .json file (json) or a folder (csv)")
    p.add_argument(
        "--lang", choices=["en", "da"], default="en", help="labels of the terminal tables"
    )
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("simulate", help="write a synthetic event stream")
    p.add_argument("--profile", default="cmm-2012")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scale", type=int, default=1)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("demo", help="simulate a year, ingest it, print the report (SQLite)")
    p.add_argument("--data-dir", help="where to keep the demo data (default: a new temp dir)")
    p.add_argument("--profile", default="cmm-2012")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scale", type=int, default=1)
    p.add_argument("--lang", choices=["en", "da"], default="en", help="labels of the tables")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("project", help="bring the projections up to date with the store")
    _common(p)
    p.add_argument("--follow", action="store_true", help="keep following new events")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    p.set_defaults(func=cmd_project)

    p = sub.add_parser("cases", help="current state of cases (case workers)")
    _common(p)
    p.add_argument("--person", help="one person_ref")
    p.add_argument("--flagged", action="store_true", help="only cases with inconsistencies")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_cases)

    for register in _extra_commands():
        register(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cmm-ledger")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def _unreachable(error: BaseException) -> str | None:
    """One line for a server that cannot be reached or failed, or None if it is not that."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        psycopg = None  # type: ignore[assignment]
    if psycopg is not None and isinstance(error, psycopg.OperationalError):
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"PostgreSQL cannot be reached or failed: {first}"
    try:
        from kafka.errors import KafkaError
    except ImportError:  # pragma: no cover - kafka-python is a dependency
        return None
    if isinstance(error, KafkaError):
        return f"Kafka cannot be reached or failed: {type(error).__name__} {error}".strip()
    if isinstance(error, sqlite3.OperationalError | sqlite3.DatabaseError):
        return f"the store failed: {error}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = f"cmm {args.command}"
    try:
        code: int = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
    except BrokenPipeError:
        # `cmm report | head`: the reader has all it wanted. No traceback, and none from
        # Python's flush of stdout at exit either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ValueError as error:  # UsageError, and settings that do not parse
        if args.debug:
            raise
        print(f"{command}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as error:
        if args.debug:
            raise
        message = _unreachable(error)
        if message is not None:
            print(f"{command}: {message}", file=sys.stderr)
            return EXIT_FAILED
        print(
            f"{command}: internal error ({type(error).__name__}); nothing was lost that was "
            "stored. Run it again with cmm --debug ... for the traceback, and report it",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    return code


if __name__ == "__main__":
    sys.exit(main())

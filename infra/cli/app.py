"""The ``cmm`` application: its root command, the exit status of every outcome, and the one
line a user reads when something goes wrong (a traceback only with ``--debug``)."""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from infra.cli.common import (
    EXIT_BROKEN_PIPE,
    EXIT_CODES_HELP,
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
)
from infra.safe_files import private_umask

EXAMPLES = """examples:
  cmm demo
  cmm simulate --out events.jsonl && cmm ingest events.jsonl
  cmm report --year 2012 --as-of 2013-01-31
  cmm report --year 2012 --as-of 2013-01-31 --lang da
  cmm cases --flagged
  cmm publish --year 2012 --as-of 2013-01-31 --out open-data-2012"""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cmm-ledger")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def _unreachable(error: BaseException) -> str | None:
    """One line for a server that cannot be reached or failed, or None if it is not that."""
    if "psycopg" in sys.modules:  # only a command that used PostgreSQL can have its errors
        import psycopg

        if isinstance(error, psycopg.OperationalError):
            text = str(error).strip()
            first = text.splitlines()[0] if text else type(error).__name__
            return f"PostgreSQL cannot be reached or failed: {first}"
    if "kafka" in sys.modules:
        from kafka.errors import KafkaError

        if isinstance(error, KafkaError):
            return f"Kafka cannot be reached or failed: {type(error).__name__} {error}".strip()
    if isinstance(error, sqlite3.OperationalError | sqlite3.DatabaseError):
        return f"the store failed: {error}"
    return None


class Cmm(TyperGroup):
    """The root command: runs the sub-command and turns each way it can end into its
    documented exit status and one line on stderr."""

    def invoke(self, ctx: Any) -> Any:
        debug = bool(ctx.params.get("debug"))
        try:
            code = super().invoke(ctx)
            sys.stdout.flush()  # a closed pipe shows here, not at exit
        except (typer.TyperException, typer.Exit, typer.Abort):
            raise  # usage errors, --help, --version: main() tells them
        except BaseException:
            command = f"cmm {ctx.invoked_subcommand}" if ctx.invoked_subcommand else "cmm"
            return self._ended(command, debug)
        return EXIT_OK if code is None else code

    @staticmethod
    def _ended(command: str, debug: bool) -> int:
        """The exit status of a command that raised, and its one line on stderr."""
        try:
            raise
        except BrokenPipeError:
            # `cmm report | head`: the reader has all it wanted. No traceback, and none from
            # Python's flush of stdout at exit either.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return EXIT_BROKEN_PIPE
        except KeyboardInterrupt:
            print(f"{command}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except ValueError as error:  # UsageError, refusals of a report, settings that do not parse
            if debug:
                raise
            print(f"{command}: {error}", file=sys.stderr)
            return EXIT_USAGE
        except Exception as error:
            if debug:
                raise
            message = _unreachable(error)
            if message is not None:
                print(f"{command}: {message}", file=sys.stderr)
                return EXIT_FAILED
            print(
                f"{command}: internal error ({type(error).__name__}); nothing was lost that "
                "was stored. Run it again with cmm --debug ... for the traceback, and report it",
                file=sys.stderr,
            )
            return EXIT_INTERNAL


def _show_version(value: bool) -> None:
    if value:
        print(f"cmm {_version()}")
        raise typer.Exit(EXIT_OK)


def build_app() -> typer.Typer:
    """The ``cmm`` command and all its sub-commands (their heavy imports wait for a run)."""
    app = typer.Typer(
        cls=Cmm,
        rich_markup_mode=None,
        name="cmm",
        help="CMM Ledger: event-sourced statistics and safe open data.",
        epilog="\b\n" + EXAMPLES + "\n\n\b\n" + EXIT_CODES_HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def root(
        version: Annotated[
            bool,
            typer.Option(
                "--version", callback=_show_version, is_eager=True, help="Show the version."
            ),
        ] = False,
        debug: Annotated[
            bool, typer.Option("--debug", help="Show the traceback of an unexpected error.")
        ] = False,
    ) -> None:
        """CMM Ledger: event-sourced statistics and safe open data."""

    from infra.cli import (
        cases,
        erase,
        ingest,
        key,
        publish,
        report,
        schema,
        serve,
        stream,
        users,
    )

    for module in (ingest, report, cases, publish, stream, schema, key, erase, serve, users):
        module.register(app)
    return app


def _one_line(error: typer.TyperException) -> str:
    """A usage error in one line, with the option a typo was meant to be."""
    close = getattr(error, "possibilities", None)
    name = getattr(error, "option_name", None)
    if close and name:
        return f"No such option: {name}. Did you mean {close[0]}?"
    return error.format_message()


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cmm`` with ``argv`` (default: the process's arguments); return its exit status."""
    private_umask()  # everything this run creates is its owner's alone
    command = typer.main.get_command(build_app())
    try:
        code = command.main(
            args=list(sys.argv[1:] if argv is None else argv),
            prog_name="cmm",
            standalone_mode=False,
        )
    except typer.TyperException as error:  # click's usage errors
        status = int(getattr(error, "exit_code", EXIT_USAGE))
        context = getattr(error, "ctx", None)
        where = context.command_path if context is not None else "cmm"
        if type(error).__name__ == "NoArgsIsHelpError" and context is not None:
            print(context.get_help(), file=sys.stderr)  # `cmm` alone: what it can do
            return status
        print(f"{where}: {_one_line(error)}", file=sys.stderr)
        return status
    except typer.Abort:
        return EXIT_INTERRUPTED
    return EXIT_OK if code is None else int(code)

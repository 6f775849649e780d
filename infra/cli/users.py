"""``cmm users`` (add, revoke, list) and ``cmm audit``: who may use the HTTP API, and what
they did. A new user's token is printed once, as the last line; only its hash is kept."""

from __future__ import annotations

import getpass
import json
import socket
import sys
from datetime import UTC, date, datetime
from typing import Annotated

import typer

from infra.cli.common import (
    EXIT_OK,
    DataDir,
    Store,
    epilog,
    existing_store,
    parse_date,
    say,
    settings_of,
)


def _who() -> tuple[str, str]:
    """Who changes users from this command line, and from where."""
    return f"{getpass.getuser()} (command line)", socket.gethostname()


def add(
    name: Annotated[str, typer.Argument(help="The user's name (unique among active users).")],
    role: Annotated[str, typer.Option(help="admin, analyst, case_worker, publisher or source.")],
    source: Annotated[
        str | None,
        typer.Option(
            metavar="ORG", help="For a source: the organisation it submits as.", show_default=False
        ),
    ] = None,
    expires: Annotated[
        float | None,
        typer.Option(metavar="DAYS", help="Days until the token expires.", show_default=False),
    ] = None,
    data_dir: DataDir = None,
    store: Store = None,
) -> int:
    """Add a user and print its bearer token (once: it is stored only as a hash)."""
    from application.access import add_user
    from infra.composition import open_access_ledger

    by, where = _who()
    ledger = open_access_ledger(settings_of(data_dir, store))
    token = add_user(ledger, name, role, source=source, expires_days=expires, by=by, client=where)
    say(f"user {name} added ({role}); its token is shown once, below: keep it safe")
    print(token)
    return EXIT_OK


def revoke(
    name: Annotated[str, typer.Argument(help="The user to revoke.")],
    data_dir: DataDir = None,
    store: Store = None,
) -> int:
    """Revoke a user's token, at once."""
    from application.access import revoke_user
    from infra.composition import open_access_ledger

    by, where = _who()
    revoke_user(
        open_access_ledger(existing_store(settings_of(data_dir, store))), name, by=by, client=where
    )
    say(f"user {name} revoked")
    return EXIT_OK


def list_(data_dir: DataDir = None, store: Store = None) -> int:
    """Every user ever added, with its role and state (never a token or hash)."""
    from application.access import list_users
    from infra.cli.tables import print_rows
    from infra.composition import open_access_ledger

    rows = list_users(open_access_ledger(existing_store(settings_of(data_dir, store))))
    print_rows(rows, sys.stdout, empty="(no users)")
    return EXIT_OK


def audit(
    since: Annotated[
        str | None, typer.Option(metavar="YYYY-MM-DD", help="First day (UTC); default today.")
    ] = None,
    until: Annotated[
        str | None, typer.Option(metavar="YYYY-MM-DD", help="Last day (UTC); default --since.")
    ] = None,
    person: Annotated[
        str | None, typer.Option(help="Only the entries that read this person_ref.")
    ] = None,
    data_dir: DataDir = None,
    store: Store = None,
) -> int:
    """The audit trail: every access to the API and every change of users, as JSON lines."""
    from application.access import audit as audit_trail
    from infra.composition import open_access_ledger

    first = date.fromisoformat(parse_date(since)) if since else datetime.now(UTC).date()
    last = date.fromisoformat(parse_date(until)) if until else first
    ledger = open_access_ledger(existing_store(settings_of(data_dir, store)))
    for entry in audit_trail(ledger, first, last, person):
        print(json.dumps(entry, ensure_ascii=False))
    return EXIT_OK


def register(app: typer.Typer) -> None:
    users = typer.Typer(
        help="Users of the HTTP API and their tokens.",
        no_args_is_help=True,
        rich_markup_mode=None,
    )
    users.command(
        short_help="Add a user; prints its token once.",
        epilog=epilog(
            "cmm users add ana --role analyst --expires 90",
            "cmm users add police-feed --role source --source police",
        ),
    )(add)
    users.command(short_help="Revoke a user's token.", epilog=epilog("cmm users revoke ana"))(
        revoke
    )
    users.command("list", short_help="List the users.", epilog=epilog("cmm users list"))(list_)
    app.add_typer(users, name="users", short_help="Users of the HTTP API and their tokens.")
    app.command(
        short_help="The audit trail of the HTTP API (admins).",
        epilog=epilog("cmm audit", "cmm audit --since 2026-01-01 --until 2026-01-31"),
    )(audit)

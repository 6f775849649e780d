"""``cmm erase``: erase a person (GDPR article 17) by deleting their data key, or every case
with no event for longer than the retention period."""

from __future__ import annotations

from typing import Annotated

import typer

from domain.erasure import ErasureReason
from infra.cli.common import (
    EXIT_OK,
    DataDir,
    Store,
    UsageError,
    epilog,
    existing_store,
    say,
    settings_of,
)


def erase(
    person_ref: Annotated[
        str | None,
        typer.Argument(metavar="[PERSON_REF]", help="The person to erase.", show_default=False),
    ] = None,
    reason: Annotated[
        ErasureReason | None,
        typer.Option(
            "--reason",
            help="Why: data_subject_request, retention_expired or entered_in_error (a code, "
            "never free text). Required with PERSON_REF; --older-than uses retention_expired.",
            show_default=False,
        ),
    ] = None,
    older_than: Annotated[
        int | None,
        typer.Option(
            "--older-than",
            metavar="DAYS",
            help="Erase every case whose last event was recorded more than DAYS days ago "
            "(the retention period).",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --older-than: list the cases, erase none.")
    ] = False,
    data_dir: DataDir = None,
    store: Store = None,
) -> int:
    """Erase a person: delete their data key, so none of their events can be read again by
    anyone (they stay in the log, sealed), remove them from the read model, and record the
    erasure (the case's stream id, the reason code and the time; nothing personal). Later
    reports, and as-of reports made later, no longer count them; releases published before
    stay as published, and the privacy budget is unchanged."""
    from infra.erasure import erase_person, expired_cases

    if (person_ref is None) == (older_than is None):
        raise UsageError("give PERSON_REF or --older-than DAYS (one of them)")
    if dry_run and older_than is None:
        raise UsageError("--dry-run goes with --older-than")
    settings = existing_store(settings_of(data_dir, store))
    if person_ref is not None:
        if reason is None:
            raise UsageError(
                "--reason is required: data_subject_request, retention_expired or entered_in_error"
            )
        done = erase_person(settings, person_ref, reason)
        what = "completed the erasure of" if done.completed else "erased"
        say(
            f"{what} {person_ref}: data key deleted, {done.rows_removed} read-model rows "
            f"removed; recorded as {done.reason} at {done.erased_at}"
        )
        return EXIT_OK
    assert older_than is not None
    if reason not in (None, ErasureReason.retention_expired):
        raise UsageError("--older-than erases with --reason retention_expired")
    expired = expired_cases(settings, older_than)
    if dry_run:
        for ref in expired:
            print(ref)
        say(f"{len(expired)} cases with no event for more than {older_than} days; none erased")
        return EXIT_OK
    for ref in expired:
        erase_person(settings, ref, ErasureReason.retention_expired)
    say(f"erased {len(expired)} cases with no event for more than {older_than} days")
    return EXIT_OK


def register(app: typer.Typer) -> None:
    app.command(
        short_help="Erase a person (GDPR art. 17) by deleting their key.",
        epilog=epilog(
            "cmm erase P-0a1b2c3d --reason data_subject_request",
            "cmm erase --older-than 1825 --dry-run",
            "cmm erase --older-than 1825",
        ),
    )(erase)

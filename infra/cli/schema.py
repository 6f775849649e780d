"""``cmm schema export``: the event contract for other languages (JSON Schema, AsyncAPI 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra.cli.common import EXIT_OK, StoreKind, settings_of

schema_app = typer.Typer(
    name="schema", help="The event contract for other languages.", no_args_is_help=True
)


@schema_app.command(epilog="\b\nexamples:\n  cmm schema export contract/")
def export(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="Output folder.")],
    data_dir: Annotated[str | None, typer.Option(hidden=True)] = None,
    store: Annotated[StoreKind | None, typer.Option(hidden=True)] = None,
) -> int:
    """Write a JSON Schema per event type, one for any event, and an AsyncAPI 3 document of
    the topics (their names from the settings)."""
    from infra.schema_export import export as write_contract

    settings = settings_of(data_dir, store)
    written = write_contract(
        folder,
        events_topic=settings.kafka_topic,
        dead_letter_topic=settings.kafka_dead_letter_topic,
    )
    for path in written:
        print(path)
    return EXIT_OK


def register(app: typer.Typer) -> None:
    app.add_typer(schema_app)

"""``cmm serve``: the HTTP API (:mod:`infra.http`) on uvicorn."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from infra.cli.common import EXIT_OK, DataDir, Store, epilog, existing_store, say, settings_of


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    releases: Annotated[
        str | None,
        typer.Option(
            metavar="DIR",
            help="Folder of published releases (one cmm publish --out folder each) the "
            "public may read.",
            show_default=False,
        ),
    ] = None,
    data_dir: DataDir = None,
    store: Store = None,
) -> int:
    """Serve the HTTP API: reports for analysts, cases for case workers, event submission
    for partners, the audit trail for admins, and published releases for anyone."""
    import uvicorn

    from infra.http.app import create_app

    settings = existing_store(settings_of(data_dir, store))
    app = create_app(settings, releases=None if releases is None else Path(releases))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    say(f"serving on http://{host}:{port} (Ctrl-C stops)")
    # uvicorn's access log writes each request's path and query: a person_ref would land in
    # the log. The app logs the route's template instead (infra.http.audit).
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="info")
    return EXIT_OK


def register(app: typer.Typer) -> None:
    app.command(
        short_help="Serve the HTTP API.",
        epilog=epilog("cmm serve", "cmm serve --host 0.0.0.0 --port 8080 --releases published/"),
    )(serve)

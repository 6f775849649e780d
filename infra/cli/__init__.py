"""``cmm``: the command line of CMM Ledger, on typer and rich.

One module per group of commands (:mod:`.ingest`, :mod:`.report`, :mod:`.cases`,
:mod:`.publish`, :mod:`.stream`, :mod:`.schema`), each a thin layer that parses its options,
calls a use case of :mod:`application` and prints the result; :mod:`.app` holds the root
command and turns every outcome into its documented exit status (:mod:`.common`).
Progress and messages go to stderr, data to stdout.
"""

from __future__ import annotations

from infra.cli.app import build_app, main
from infra.cli.common import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_REJECTS,
    EXIT_TERMINATED,
    EXIT_USAGE,
)

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILED",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_REJECTS",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "build_app",
    "main",
]

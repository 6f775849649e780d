"""``cmm key new``: a new encryption key for the stored events, in a file only its owner reads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra.cli.common import EXIT_OK, say

key_app = typer.Typer(
    name="key", help="The encryption key of the stored events.", no_args_is_help=True
)


@key_app.command(
    epilog="\b\nexamples:\n  cmm key new ~/.config/cmm/key\n  export CMM_KEY_FILE=~/.config/cmm/key"
)
def new(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="The key file to create.")],
) -> int:
    """Write a new random key (AES-256) to PATH, mode 0600; an existing file is never
    overwritten. Point CMM_KEY_FILE at it; keep a copy apart from the data: without the
    key the events cannot be read."""
    from infra.safe_files import refuse_symlink
    from infra.sealing import write_key_file

    refuse_symlink(path, "PATH")
    write_key_file(path)
    say(f"key written to {path} (mode 0600); use it with CMM_KEY_FILE={path}")
    return EXIT_OK


def register(app: typer.Typer) -> None:
    app.add_typer(key_app)

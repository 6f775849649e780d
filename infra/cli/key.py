"""``cmm key new``: a new encryption key for the stored events, in a file only its owner reads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra.cli.common import (
    EXIT_OK,
    DataDir,
    Store,
    existing_store,
    say,
    settings_of,
)

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


@key_app.command(
    epilog="\b\nexamples:\n  cmm key new ~/.config/cmm/key-2027\n"
    "  cmm key rotate --new-key-file ~/.config/cmm/key-2027\n"
    "  export CMM_KEY_FILE=~/.config/cmm/key-2027"
)
def rotate(
    new_key_file: Annotated[
        Path,
        typer.Option(
            "--new-key-file",
            metavar="PATH",
            help="The new key (made with cmm key new).",
            show_default=False,
        ),
    ],
    data_dir: DataDir = None,
    store: Store = None,
) -> int:
    """Re-key the store: everything sealed with the current key (CMM_KEY_FILE or CMM_KEY)
    is sealed again with the key in PATH, in one transaction (the persons' data keys are
    wrapped again; their events, sealed with those, are not rewritten), and the read model
    is built again. Stop servers and consumers first: a writer still holding the old key
    is refused. Afterwards point CMM_KEY_FILE at the new key; keep the old one until your
    backups made with it have expired."""
    from infra.cli.progress import Progress
    from infra.rekey import rotate as rotate_store

    settings = existing_store(settings_of(data_dir, store))
    progress = Progress("rebuilding the read model")
    done = rotate_store(settings, new_key_file, lambda d, t: progress(d, t))
    progress.stop()
    say(
        f"re-keyed: {done.events:,} events sealed again, {done.person_keys:,} person keys "
        f"wrapped again, the read model built again from {done.rebuilt:,} events; use "
        f"CMM_KEY_FILE={new_key_file} from now on"
    )
    return EXIT_OK


def register(app: typer.Typer) -> None:
    app.add_typer(key_app)

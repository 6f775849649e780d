"""Where a release's package goes: checked before anything is spent, written all at once.

A release costs privacy budget (DP) or enters the partner ledger (suppression) before its
package is written, so everything about the output folder that can fail is checked first:
``--out`` must be an empty folder or not exist yet, its parent must be writable, the path must
not be too long for the file system, and there must be room for the package. The package is
then written into a hidden staging folder beside ``--out`` and renamed into place, so a
reader sees either no package or a whole one, never files of two releases mixed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infra.safe_files import PRIVATE_DIR, PRIVATE_FILE, set_tree_modes

MIN_FREE_BYTES = 32 * 1024 * 1024
"""Room asked for before a release: its packages are a few hundred kilobytes."""

LONGEST_FILE = "labour_by_industry_gender.csv.tmp-probe-000000"
"""A name at least as long as any file the package holds, to probe the path length."""


class OutputRefused(Exception):
    """``--out`` cannot take the package; nothing was spent, recorded or written."""


@dataclass
class Staging:
    """A hidden folder beside the target, on the same file system, for one package."""

    target: Path
    folder: Path

    def commit(self, write: Callable[[Path], object]) -> Path:
        """Write the package into the staging folder, then rename it to the target."""
        write(self.folder)
        # Owner-only until the user asks for a publication's modes (``cmm publish --public``).
        set_tree_modes(self.folder, PRIVATE_FILE, PRIVATE_DIR)
        try:
            os.rename(self.folder, self.target)
        except OSError as error:
            raise OutputRefused(
                f"{self.target} appeared or filled while the package was written; "
                "run the command again with another --out"
            ) from error
        _fsync_dir(self.target.parent)
        return self.target

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def stage(out_dir: Path) -> Staging:
    """Check ``out_dir`` and make its staging folder, or raise :class:`OutputRefused`."""
    target = Path(out_dir).expanduser().absolute()
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputRefused(f"cannot create {parent}: {error.strerror}; nothing released") from None
    try:
        name_max = os.pathconf(parent, "PC_NAME_MAX")
        path_max = os.pathconf(parent, "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = 255, 4096
    if len(os.fsencode(target.name)) > name_max:
        raise OutputRefused("the name of --out is too long for its file system; nothing released")
    if len(os.fsencode(target / LONGEST_FILE)) >= path_max:
        raise OutputRefused("--out is too long a path for the package's files; nothing released")
    try:
        exists = target.exists() or target.is_symlink()
        if exists and (not target.is_dir() or target.is_symlink()):
            raise OutputRefused(f"{out_dir} exists and is not a folder; nothing released")
        if exists and any(target.iterdir()):
            raise OutputRefused(f"{out_dir} is not an empty folder; nothing released")
    except OSError as error:
        raise OutputRefused(f"cannot use {out_dir}: {error.strerror}; nothing released") from None
    free = shutil.disk_usage(parent).free
    if free < MIN_FREE_BYTES:
        raise OutputRefused(
            f"only {free // 1024} KiB free beside {out_dir}; a release needs "
            f"{MIN_FREE_BYTES // (1024 * 1024)} MiB"
        )
    try:
        folder = Path(tempfile.mkdtemp(prefix=f".{target.name[:64]}.", dir=parent))
    except OSError as error:
        raise OutputRefused(
            f"cannot write beside {out_dir}: {error.strerror}; nothing released"
        ) from None
    try:
        # The longest file name the package will hold fits, and the folder takes writes.
        (folder / LONGEST_FILE).write_bytes(b"")
        (folder / LONGEST_FILE).unlink()
    except OSError as error:
        shutil.rmtree(folder, ignore_errors=True)
        raise OutputRefused(
            f"cannot write the package beside {out_dir}: {error.strerror}; nothing released"
        ) from None
    return Staging(target, folder)

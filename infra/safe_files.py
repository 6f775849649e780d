"""Writing files that hold or describe the people in the data, safely.

Everything the project writes (stores, rejects, reports, releases, exports, key files) is
readable by its owner alone unless the user asks otherwise, and no write follows a symbolic
link or writes into a file it did not make: a file is written to a temporary file in its
target folder (made with ``O_EXCL``, mode 0600) and renamed into place, so a link or a hard
link planted at the target is never written through, and a reader sees the old file or the
whole new one. A target that is a symbolic link is refused with :class:`UnsafePath`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
PUBLIC_FILE = 0o644
PUBLIC_DIR = 0o755
PRIVATE_UMASK = 0o077
"""What a process of the project creates without an explicit mode (SQLite's ``-wal`` and
``-shm`` files take the database file's mode) is then the owner's alone."""


class UnsafePath(ValueError):
    """An output path that is a symbolic link (or otherwise not safe to write): refused."""


def private_umask() -> None:
    """Make what this process creates readable by its owner alone from now on."""
    os.umask(PRIVATE_UMASK)


def refuse_symlink(path: Path, what: str = "output") -> None:
    """Raise :class:`UnsafePath` if ``path`` is a symbolic link (dangling or not)."""
    if os.path.islink(path):
        raise UnsafePath(
            f"{what} {path} is a symbolic link; refusing to write through it "
            "(remove the link or choose another path)"
        )


def private_dir(path: Path, mode: int = PRIVATE_DIR) -> Path:
    """Make the folder ``path`` (and its missing parents) with ``mode``; a folder that
    exists is left as it is, a symbolic link in its place is refused."""
    refuse_symlink(path, "folder")
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=mode)
        with contextlib.suppress(OSError):
            os.chmod(path, mode)  # mkdir's mode is masked by the umask
    return path


def create_private(path: Path, mode: int = PRIVATE_FILE) -> bool:
    """Create the empty file ``path`` with ``mode`` if there is none (never following a
    link); returns whether this call made it."""
    refuse_symlink(path, "file")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def open_lock(path: Path) -> int:
    """A descriptor of the lock file ``path`` (made 0600 if missing), never through a link."""
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, PRIVATE_FILE)


class AtomicFile:
    """A text file that becomes ``path`` on :meth:`commit`: written to a temporary file
    beside it (0600, made with ``O_EXCL``) and renamed into place; :meth:`discard` removes
    it instead."""

    def __init__(self, path: Path, mode: int = PRIVATE_FILE) -> None:
        self.path = Path(path)
        refuse_symlink(self.path)
        fd, self._temporary = tempfile.mkstemp(
            prefix=f".{self.path.name[:64]}.", suffix=".tmp", dir=self.path.parent
        )
        os.fchmod(fd, mode)
        self.handle: IO[str] = os.fdopen(fd, "w", encoding="utf8", newline="")
        self._open = True

    def commit(self) -> Path:
        if self._open:
            self._open = False
            try:
                self.handle.flush()
                os.fsync(self.handle.fileno())
                self.handle.close()
                # Checked again right before the rename: a link planted while writing.
                refuse_symlink(self.path)
                os.replace(self._temporary, self.path)
            except BaseException:
                self._remove()
                raise
        return self.path

    def discard(self) -> None:
        if self._open:
            self._open = False
            self._remove()

    def _remove(self) -> None:
        with contextlib.suppress(OSError):
            self.handle.close()
        with contextlib.suppress(OSError):
            os.unlink(self._temporary)


@contextlib.contextmanager
def atomic_open(path: Path, mode: int = PRIVATE_FILE) -> Iterator[IO[str]]:
    """A text file that becomes ``path`` when the block ends without an error (see
    :class:`AtomicFile`); if the block raises, nothing is written at ``path``."""
    target = AtomicFile(path, mode)
    try:
        yield target.handle
    except BaseException:
        target.discard()
        raise
    target.commit()


def write_text(path: Path, text: str, mode: int = PRIVATE_FILE) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, never through a link."""
    with atomic_open(path, mode) as handle:
        handle.write(text)
    return path


def set_tree_modes(folder: Path, file_mode: int, dir_mode: int) -> None:
    """Give ``folder``, its sub-folders and its files these modes (links are not followed)."""
    for root, dirs, files in os.walk(folder):
        os.chmod(root, dir_mode)
        for name in files:
            target = os.path.join(root, name)
            if not os.path.islink(target):
                os.chmod(target, file_mode)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]

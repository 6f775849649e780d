"""The SQLite database file that the event store and the read model share: how it is made
(its page size), and the file locks by which processes of one data directory take turns."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.safe_files import create_private, open_lock, private_dir

# SQLite's default page is 4 KiB. Stream ids are name-based, so a batch's inserts land all
# over the primary-key index, and a commit writes every page they touched to the WAL, a frame
# (header, checksum, write call) a page: larger pages mean fewer frames for the same inserts.
# 16 KiB is the size at which ``bench.bench_ingest``'s ``ingest`` figure stopped rising (32
# and 64 KiB did no better); measure it again before changing this.
PAGE_SIZE = 16384


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (made if missing; it holds no data, and
    deleting it is harmless) for the block: the way processes of one data directory take
    turns."""
    private_dir(path.parent)
    fd = open_lock(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def schema_lock(path: Path) -> contextlib.AbstractContextManager[None]:
    """The lock under which the database at ``path`` and its tables are made.

    Two processes opening a new store at once would otherwise both find no tables, both
    create them and both write eventsourcing's tracking-table marker (``__migration__``); the
    second write fails with ``IntegrityError`` and that process stores nothing."""
    return file_lock(Path(f"{path}.lock"))


def ensure_database(path: Path) -> None:
    """Create the database file with the store's page size if there is none yet (the page
    size is fixed once the file exists), whichever of the store and the view opens it first."""
    if path.exists() and path.stat().st_size > 0:
        return
    private_dir(path.parent)
    # Made here, owner-only, so SQLite's -wal and -shm files (which take its mode) are too.
    create_private(path)
    db = sqlite3.connect(path)
    try:
        db.execute(f"PRAGMA page_size={PAGE_SIZE}")
        db.execute("PRAGMA journal_mode=WAL")
    finally:
        db.close()

"""What an input file is, before a line of it is read: gzip or plain, and UTF-8 or not.

The input is UTF-8 JSON lines, with or without a byte order mark, plain or gzip-compressed
(recognised by its first bytes, whatever its name). Text in another encoding (UTF-16 or
UTF-32, or anything that is not UTF-8 at the start) is refused as a whole, with one reason
and nothing stored, rather than as a rejected line per line.
"""

from __future__ import annotations

import codecs
import gzip
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, cast


class UnreadableInput(ValueError):
    """The file as a whole is not UTF-8 JSON lines (plain or gzip): nothing is stored."""


class DamagedInput(ValueError):
    """A gzip file that cannot be unpacked past some point (cut short or corrupt): the
    lines before it are stored, nothing after it is."""


_GZIP_MAGIC = b"\x1f\x8b"
_FOREIGN_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),  # before UTF-16 LE, whose BOM begins it
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_SNIFF_BYTES = 1 << 16


def _check_text(start: bytes) -> int:
    """How many bytes of a byte order mark to skip at the start of the text; raises
    :class:`UnreadableInput` for text that is not UTF-8."""
    for bom, name in _FOREIGN_BOMS:
        if start.startswith(bom):
            raise UnreadableInput(
                f"the file is {name} text (it starts with a {name} byte "
                "order mark); convert it to UTF-8"
            )
    skip = len(codecs.BOM_UTF8) if start.startswith(codecs.BOM_UTF8) else 0
    if b"\x00" in start:
        raise UnreadableInput(
            "the file holds NUL bytes near its start: it is binary, or UTF-16/UTF-32 "
            "without a byte order mark; convert it to UTF-8 JSON lines"
        )
    try:
        codecs.getincrementaldecoder("utf8")().decode(start[skip:], final=False)
    except UnicodeDecodeError as error:
        raise UnreadableInput(
            f"the file is not UTF-8 (byte {skip + error.start} cannot be decoded); "
            "convert it to UTF-8 JSON lines"
        ) from None
    return skip


def sniff(source: Path) -> tuple[bool, int]:
    """(gzip-compressed, bytes of byte order mark to skip) of ``source``."""
    with source.open("rb") as handle:
        start = handle.read(_SNIFF_BYTES)
    if start.startswith(_GZIP_MAGIC):
        try:
            with gzip.open(source, "rb") as unpacked:
                return True, _check_text(unpacked.read(_SNIFF_BYTES))
        except (OSError, EOFError) as error:  # gzip.BadGzipFile is an OSError
            raise UnreadableInput(
                f"the file starts as gzip but cannot be unpacked: {error}"
            ) from None
    return False, _check_text(start)


def open_input(source: Path, compressed: bool) -> IO[bytes]:
    if compressed:
        return cast(IO[bytes], gzip.open(source, "rb"))
    return source.open("rb")


def unpacked(
    chunks: Iterator[tuple[int, list[bytes]]],
    compressed: bool,
    lines_read: Callable[[], int],
    flush: Callable[[], None],
) -> Iterator[tuple[int, list[bytes]]]:
    """``chunks``, with a gzip stream that breaks off turned into :class:`DamagedInput`
    once what was read before it is stored (``flush``); ``lines_read``: how many lines were
    read by then."""
    try:
        yield from chunks
    except (OSError, EOFError) as error:  # gzip.BadGzipFile is an OSError
        if not compressed:
            raise
        flush()
        lines = lines_read()
        kept = (
            f"the events of lines 1 to {lines:,} are stored, nothing after them"
            if lines
            else "nothing of it is stored"
        )
        raise DamagedInput(
            f"the gzip stream cannot be unpacked after line {lines:,} ({error}); "
            f"{kept}: fix or replace the file and ingest it again to store the rest"
        ) from None

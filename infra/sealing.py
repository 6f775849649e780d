"""Stored events encrypted at rest: the key, and sealing and opening an event's state.

Every stored event's state (what eventsourcing's mapper writes, and what the fast paths of
ingest write without it) is encrypted with AES-256-GCM before it reaches
the database, and opened after it is read: a copy of the data directory, a backup or a
``pg_dump`` shows no person's fields. One format for both writers: eventsourcing's mapper
calls :class:`StateCipher` (``CIPHER_TOPIC``), the fast paths call :func:`seal` and
:func:`unseal` (``infra.append_plan``, the stores' ``read``, ``infra.view_sql.loads_state``),
so an aggregate reads what a bulk ingest stored and a rebuild reads what an aggregate stored.

Sealed state: ``0x01``, a 12-byte random nonce, then AES-GCM (with its tag) of the state.
It is not compressed: zlib took 15 of the 18 microseconds sealing an event cost (and most
of what encryption cost ingest and rebuild, ``bench.bench_encryption``), to save about a
hundred bytes an event. A stored state that begins with ``{`` was stored before encryption
was turned on, and is read as it is.

The key (32 random bytes, base64) comes from ``CMM_KEY_FILE`` (a file only its owner can
read, as ``cmm key new PATH`` writes it) or ``CMM_KEY``; never from the repository. The
composition root installs it before any store is opened and refuses to run without one.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Cipher

KEY_BYTES = 32
VERSION = b"\x01"
_NONCE = 12
_PLAIN = ord("{")


class KeyError_(ValueError):
    """The key is missing, unreadable, or does not open the stored events."""


class MissingKey(KeyError_):
    pass


class WrongKey(KeyError_):
    pass


def new_key() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def parse_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyError_(f"{where} is not a key (base64 of {KEY_BYTES} bytes)") from None
    if len(key) != KEY_BYTES:
        raise KeyError_(f"{where} is not a key (base64 of {KEY_BYTES} bytes)")
    return key


def key_from_env(env: Mapping[str, str]) -> bytes:
    """The key ``CMM_KEY_FILE`` or ``CMM_KEY`` gives, or :class:`MissingKey`."""
    path = env.get("CMM_KEY_FILE")
    if path:
        file = Path(path)
        try:
            info = file.stat()
        except OSError as error:
            raise KeyError_(f"CMM_KEY_FILE {path}: {error.strerror}") from None
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyError_(
                f"CMM_KEY_FILE {path} can be read by others (mode "
                f"{stat.S_IMODE(info.st_mode):o}); make it the owner's alone: chmod 600 {path}"
            )
        return parse_key(file.read_text(encoding="ascii", errors="replace"), f"CMM_KEY_FILE {path}")
    text = env.get("CMM_KEY")
    if text:
        return parse_key(text, "CMM_KEY")
    raise MissingKey(
        "no encryption key: set CMM_KEY_FILE to a key file (make one with `cmm key new PATH`) "
        "or CMM_KEY; the events are never stored unencrypted"
    )


def write_key_file(path: Path) -> Path:
    """A new key in a new file at ``path``, mode 0600; an existing file is never replaced."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise KeyError_(f"{path} exists; a key file is never overwritten") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(new_key() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return path


class Sealer:
    """Seals and opens states with one key."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self._aead = AESGCM(key)

    def seal(self, state: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return VERSION + nonce + self._aead.encrypt(nonce, state, None)

    def unseal(self, sealed: bytes) -> bytes:
        if sealed[:1] != VERSION:
            if sealed[:1] == b"{":
                return sealed  # stored before encryption was turned on
            raise WrongKey("a stored event is damaged or in an unknown format")
        try:
            plain = self._aead.decrypt(sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :], None)
        except InvalidTag:
            raise WrongKey(
                "the key does not open the stored events (check CMM_KEY_FILE or CMM_KEY); "
                "nothing was written"
            ) from None
        return plain


_active: Sealer | None = None


def install(key: bytes) -> None:
    """Seal what this process stores with ``key`` from now on (and its forked workers)."""
    global _active
    if _active is None or _active.key != key:
        _active = Sealer(key)


def installed() -> bool:
    return _active is not None


def seal(state: bytes) -> bytes:
    """``state`` as it is stored. Without an installed key (unit tests of the fast paths,
    which open no store through the composition root) it is left as it is."""
    return state if _active is None else _active.seal(state)


def unseal(stored: bytes | memoryview) -> bytes:
    """A stored state opened (see :func:`seal`)."""
    if isinstance(stored, memoryview):
        stored = bytes(stored)
    if _active is None:
        if stored[:1] == VERSION:
            raise MissingKey("the stored events are encrypted and no key is installed")
        return stored
    if stored[:1] == b"{":
        return stored
    return _active.unseal(stored)


class StateCipher(Cipher):
    """eventsourcing's ``CIPHER_TOPIC`` for the installed key: its mapper then writes and
    reads exactly what :func:`seal` and :func:`unseal` do."""

    def __init__(self, environment: Any) -> None:
        if _active is None:  # an application made outside the composition root
            install(key_from_env(os.environ))

    def encrypt(self, plaintext: bytes) -> bytes:
        return seal(plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        return unseal(ciphertext)


CIPHER_TOPIC = "infra.sealing:StateCipher"
"""eventsourcing's ``CIPHER_TOPIC`` setting, in every environment the project builds."""


def derived_key(info: bytes) -> bytes | None:
    """A key of its own for data other than the stored events (the read model: ``info``
    ``b"cmm read model"``, ``infra.view_seal``), derived from the installed key with
    HKDF-SHA256; None while no key is installed (as :func:`seal` then leaves states as they
    are). Deriving it, rather than using the main key itself, keeps the read model's
    ciphertexts and the events' apart: neither can be passed off as the other."""
    return None if _active is None else _derive(_active.key, info)


@lru_cache(maxsize=8)
def _derive(key: bytes, info: bytes) -> bytes:
    # Once per key: the read model asks for its key on every batch it writes or reads.
    from cryptography.hazmat.primitives.hashes import SHA256
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=SHA256(), length=KEY_BYTES, salt=None, info=info).derive(key)

"""Stored events encrypted at rest: the key, and sealing and opening an event's state.

Every stored event's state (what eventsourcing's mapper writes, and what the fast paths of
ingest write without it) is encrypted with AES-256-GCM before it reaches
the database, and opened after it is read: a copy of the data directory, a backup or a
``pg_dump`` shows no person's fields. One format for both writers: eventsourcing's mapper
calls :class:`StateCipher` (``CIPHER_TOPIC``), the fast paths call :func:`seal` (or
:func:`person_sealer`) and :func:`unseal` (``infra.append_plan``, the stores' ``read``,
``infra.view_sql.loads_state``), so an aggregate reads what a bulk ingest stored and a
rebuild reads what an aggregate stored.

Sealed state: ``0x01``, a 12-byte random nonce, then AES-GCM (with its tag) of the state.
It is not compressed: zlib took 15 of the 18 microseconds sealing an event cost (and most
of what encryption cost ingest and rebuild, ``bench.bench_encryption``), to save about a
hundred bytes an event. A stored state that begins with ``{`` was stored before encryption
was turned on, and is read as it is.

A case stream's events are sealed, in a format of their own (``0x02``), with the data key
of the person (below, and ``infra.person_keys``), so that deleting that key erases the
person (``cmm erase``); everything else with the main key.

The key (32 random bytes, base64) comes from ``CMM_KEY_FILE`` (a file only its owner can
read, as ``cmm key new PATH`` writes it) or ``CMM_KEY``; never from the repository. The
composition root installs it before any store is opened and refuses to run without one.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
import threading
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


class Erased(KeyError_):
    """The event belongs to a person whose data key was deleted (``cmm erase``): it cannot
    be opened by anyone, and readers leave it out."""


class UnknownPersonKey(KeyError_):
    """A stored event names a person key the key table does not hold: the store is damaged,
    or its key table was not restored with it."""


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


class _RandomPool:
    """Random bytes (``os.urandom``) fetched 64 KiB at a time and handed out in slices: one
    system call for thousands of nonces and keys instead of one each (a tenth of what
    sealing an event cost). A forked child starts with an empty pool, so a worker never
    hands out the bytes its parent (or a sibling) hands out: a nonce is never used twice."""

    _SIZE = 1 << 16

    def __init__(self) -> None:
        self._buffer = b""
        self._at = 0
        self._lock = threading.Lock()  # threads of a server seal at once

    def take(self, n: int) -> bytes:
        with self._lock:
            at = self._at
            if at + n > len(self._buffer):
                self._buffer = os.urandom(self._SIZE)
                at = 0
            self._at = at + n
            return self._buffer[at : at + n]

    def clear(self) -> None:
        self._buffer = b""
        self._at = 0
        self._lock = threading.Lock()


_random = _RandomPool()
os.register_at_fork(after_in_child=_random.clear)


class Sealer:
    """Seals and opens states with one key."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self._aead = AESGCM(key)

    def seal(self, state: bytes) -> bytes:
        nonce = _random.take(_NONCE)
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
        _forget_person_keys()


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
    if stored[:1] == PERSON_VERSION:
        return _unseal_person(stored)
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


# -- per-person data keys: erasure by crypto-shredding --------------------------------------
#
# Every event of a case stream is sealed with a data key of its own person, not with the
# main key: ``0x02``, the key's 16-byte id, a 12-byte nonce, then AES-GCM of the state (the
# key id as associated data). The data keys live in a key table beside the events
# (``infra.person_keys``), each wrapped (sealed) with the main key. Erasing a person deletes
# the wrapped key: their events stay in the log, and no one can open them again, from the
# database, a copy of it, or a backup made after the erasure.
#
# This process keeps the key table's keys it has read (wrapped, unwrapped on first use) and
# the ids of the erased ones; ``infra.person_keys`` reads the table (all of it at first,
# then what changed since) when an event names a key this process has not seen.

PERSON_VERSION = b"\x02"
KEY_ID_BYTES = 16
_PERSON_AAD = b"cmm person key "


class _Keys:
    """The person keys this process has read, by key id: key ids are random, so one map
    serves every store the process opens."""

    def __init__(self) -> None:
        self.wrapped: dict[bytes, bytes] = {}  # key id -> the data key sealed with the main key
        self.open: dict[bytes, AESGCM] = {}  # key id -> the data key, unwrapped
        self.erased: set[bytes] = set()


class StoreKeys:
    """What this process has read of one store's key table: which key is whose."""

    def __init__(self) -> None:
        self.by_stream: dict[str, bytes] = {}  # case stream id (hex) -> key id
        self.erased_streams: set[str] = set()
        self.seen = -1  # the key table's last change read (-1: nothing read yet)


_keys = _Keys()
_stores: dict[str, StoreKeys] = {}
# Per store: (key id | None) -> None, reads the key table's changes (``infra.person_keys``).
_readers: dict[str, Any] = {}


def _forget_person_keys() -> None:
    global _keys
    _keys = _Keys()
    _stores.clear()


def store_keys(store: str) -> StoreKeys:
    """This process's knowledge of the key table of ``store`` (a store's identity: its
    database file, or its DSN)."""
    known = _stores.get(store)
    if known is None:
        known = _stores[store] = StoreKeys()
    return known


def set_person_key_reader(store: str, reader: Any) -> None:
    """Where this process reads the key table of ``store`` from when an event names a key
    it has not seen."""
    _readers[store] = reader


def has_person_key_reader(store: str) -> bool:
    return store in _readers


def refresh_person_keys(key_id: bytes | None = None) -> None:
    """Read what changed in the key tables since this process last looked (new keys, and
    erasures: a key erased by another process is then forgotten here too), and ``key_id``
    if it is still unknown."""
    # The newest first: a process that opened several stores (tests, benchmarks) most
    # likely reads the last. A reader of a store that went away (a dropped database) fails;
    # that is an error only if no reader could read.
    failed: Exception | None = None
    read = False
    for reader in reversed(list(_readers.values())):
        try:
            reader(key_id)
        except Exception as error:
            failed = failed or error
            continue
        read = True
        if key_id is not None and (key_id in _keys.wrapped or key_id in _keys.erased):
            return
    if failed is not None and not read:
        raise failed


def new_person_key() -> tuple[bytes, bytes, bytes]:
    """A new data key: (key id, the key, the key wrapped with the main key)."""
    if _active is None:
        raise MissingKey("no encryption key is installed")
    drawn = _random.take(KEY_ID_BYTES + KEY_BYTES + _NONCE)
    key_id = drawn[:KEY_ID_BYTES]
    dek = drawn[KEY_ID_BYTES : KEY_ID_BYTES + KEY_BYTES]
    nonce = drawn[KEY_ID_BYTES + KEY_BYTES :]
    wrapped = VERSION + nonce + _active._aead.encrypt(nonce, dek, _PERSON_AAD + key_id)
    return key_id, dek, wrapped


def wrap_person_key(key_id: bytes, dek: bytes, main: bytes) -> bytes:
    """A data key sealed with the main key ``main`` (a rotation wraps with the new one)."""
    nonce = _random.take(_NONCE)
    return VERSION + nonce + AESGCM(main).encrypt(nonce, dek, _PERSON_AAD + key_id)


def unwrap_person_key(key_id: bytes, wrapped: bytes, main: bytes | None = None) -> bytes:
    """A data key opened with the main key (the installed one unless ``main`` is given;
    :class:`WrongKey` if it does not open)."""
    if main is None:
        if _active is None:
            raise MissingKey("the person keys are encrypted and no key is installed")
        aead = _active._aead
    else:
        aead = AESGCM(main)
    try:
        return aead.decrypt(wrapped[1 : 1 + _NONCE], wrapped[1 + _NONCE :], _PERSON_AAD + key_id)
    except InvalidTag:
        raise WrongKey(
            "the key does not open the stored events (check CMM_KEY_FILE or CMM_KEY); "
            "nothing was written"
        ) from None


def remember_person_key(
    store: StoreKeys, stream: str, key_id: bytes, wrapped: bytes | None, dek: bytes | None = None
) -> None:
    """What a store's key table holds for a case stream (``wrapped`` None: erased)."""
    keys = _keys
    if wrapped is None:
        keys.erased.add(key_id)
        keys.wrapped.pop(key_id, None)
        keys.open.pop(key_id, None)
        store.erased_streams.add(stream)
        store.by_stream.pop(stream, None)
        return
    keys.wrapped[key_id] = wrapped
    store.by_stream[stream] = key_id
    if dek is not None:
        keys.open[key_id] = AESGCM(dek)


def forget_person_key(store: StoreKeys, stream: str) -> None:
    """Forget a key whose row was never committed."""
    key_id = store.by_stream.pop(stream, None)
    if key_id is not None:
        _keys.wrapped.pop(key_id, None)
        _keys.open.pop(key_id, None)


def _person_aead(key_id: bytes) -> AESGCM:
    keys = _keys
    aead = keys.open.get(key_id)
    if aead is not None:
        return aead
    wrapped = keys.wrapped.get(key_id)
    if wrapped is None and key_id not in keys.erased:
        refresh_person_keys(key_id)
        keys = _keys
        wrapped = keys.wrapped.get(key_id)
    if wrapped is None:
        if key_id in keys.erased:
            raise Erased("the person's data was erased")
        raise UnknownPersonKey(
            "a stored event names a person key the key table does not hold (was the key "
            "table restored with the events?)"
        )
    aead = keys.open[key_id] = AESGCM(unwrap_person_key(key_id, wrapped))
    return aead


def person_sealer(key_id: bytes) -> Any:
    """``seal(state)`` for the states of one person (a stream's events in a batch): the key
    looked up once, not once an event."""
    encrypt = _person_aead(key_id).encrypt
    prefix = PERSON_VERSION + key_id
    take = _random.take

    def seal(state: bytes) -> bytes:
        nonce = take(_NONCE)
        return prefix + nonce + encrypt(nonce, state, key_id)

    return seal


def _unseal_person(sealed: bytes) -> bytes:
    key_id = sealed[1 : 1 + KEY_ID_BYTES]
    start = 1 + KEY_ID_BYTES
    try:
        return _person_aead(key_id).decrypt(
            sealed[start : start + _NONCE], sealed[start + _NONCE :], key_id
        )
    except InvalidTag:
        raise WrongKey("a stored event is damaged: its person key does not open it") from None


def person_key_id(stored: bytes | memoryview) -> bytes | None:
    """The person key a stored state is sealed with, if it is sealed with one."""
    if bytes(stored[:1]) != PERSON_VERSION:
        return None
    return bytes(stored[1 : 1 + KEY_ID_BYTES])


def fingerprint(key: bytes | None = None) -> bytes:
    """A digest that tells keys apart without revealing them (HKDF of the key): the store
    keeps the fingerprint of the key it is sealed with (``infra.person_keys.check_writer``),
    so a writer still holding the key from before a rotation is refused."""
    if key is None:
        if _active is None:
            raise MissingKey("no encryption key is installed")
        key = _active.key
    return _derive(key, b"cmm key check")[:16]


def active_key() -> bytes:
    if _active is None:
        raise MissingKey("no encryption key is installed")
    return _active.key

"""Sealing stored states: what the fast paths write, eventsourcing's mapper reads, and back."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
)

from domain.case import Case
from infra import sealing
from infra.sealing import Sealer, StateCipher, WrongKey, parse_key

KEY = bytes(range(32))


@pytest.fixture(autouse=True)
def _no_key_left_installed() -> Iterator[None]:
    """The other unit tests run without a key: leave none installed."""
    yield
    sealing._active = None


def test_a_sealed_state_hides_the_state_and_opens_to_it() -> None:
    state = b'{"payload":{"citizenship":"TV","note":"QZXJW"}}'
    sealed = Sealer(KEY).seal(state)
    assert b"TV" not in sealed and b"QZXJW" not in sealed and sealed[:1] == sealing.VERSION
    assert Sealer(KEY).seal(state) != sealed  # a fresh nonce each time
    assert Sealer(KEY).unseal(sealed) == state
    with pytest.raises(WrongKey, match="the key does not open the stored events"):
        Sealer(bytes(32)).unseal(sealed)
    with pytest.raises(WrongKey, match="damaged"):
        Sealer(KEY).unseal(b"\x02" + sealed[1:])


def test_eventsourcings_mapper_and_the_fast_paths_read_each_other() -> None:
    sealing.install(KEY)
    transcoder = JSONTranscoder()
    transcoder.register(DatetimeAsISO())
    transcoder.register(UUIDAsHex())
    mapper = Mapper(transcoder=transcoder, cipher=StateCipher(None))
    opened = Case.open("P-0123456789abcdef", datetime(2012, 3, 1, tzinfo=UTC))
    (event,) = opened.collect_events()
    stored = mapper.to_stored_event(event)
    assert b"P-0123456789abcdef" not in stored.state
    plain = sealing.unseal(stored.state)  # what the fast paths read
    assert b"P-0123456789abcdef" in plain
    resealed = StoredEvent(
        stored.originator_id, stored.originator_version, stored.topic, sealing.seal(plain)
    )  # what the fast paths write
    assert mapper.to_domain_event(resealed).person_ref == "P-0123456789abcdef"


@pytest.mark.parametrize("text", ["", "not base64!", base64.b64encode(b"short").decode()])
def test_a_key_that_is_not_32_bytes_of_base64_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"CMM_KEY is not a key \(base64 of 32 bytes\)"):
        parse_key(text, "CMM_KEY")


def test_no_key_is_refused_in_one_line() -> None:
    with pytest.raises(sealing.MissingKey, match=r"^no encryption key: set CMM_KEY_FILE"):
        sealing.key_from_env({})

"""The contract's versions, and reading every stored event in the current one.

- Version 1: the contract the centre's 2012 figures were recorded in.
- Version 2 adds, and changes nothing of version 1: exploitation ``undetermined``, gender
  ``unknown`` (apart from ``other``), a null (unknown) age, ``additional_forms`` and an
  assessment ``kind`` (a reassessment or an appeal supersedes the earlier assessments).

The store is never rewritten: an event stays as its producer wrote it, in its version, and
is read in the current version by one upcaster per step, as eventsourcing's
``upcast_vN_vN+1`` methods are chained. (eventsourcing's own chain follows the event class's
``class_version``, which versions the stored object, not the contract a producer wrote; a
version-1 producer still sends version-1 events today, so the step follows the envelope's
``schema_version`` instead.) A reader states once what it reads (:func:`upcast`); readers
that only fold payloads read no field whose meaning changed, since none did.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any, TypeVar

from domain.envelope import SCHEMA_VERSION, SCHEMA_VERSIONS

VERSION_NOTES: dict[int, str] = {
    1: "The first contract (the 2012 figures were recorded in it).",
    2: (
        "Adds, and changes nothing of version 1: exploitation 'undetermined' (allowed for a "
        "victim; industry then absent), gender 'unknown' (not 'other'), a null or absent age "
        "(unknown), additional_forms (further forms of exploitation of the same person) and "
        "an assessment kind ('initial', 'reassessment', 'appeal'; a reassessment or appeal "
        "supersedes every earlier assessment). A version-1 event may not use these; it is "
        "read as version 2 unchanged but for its number."
    ),
}
"""What each version is, for the exported contract."""
assert tuple(VERSION_NOTES) == SCHEMA_VERSIONS

State = MutableMapping[str, Any]
_S = TypeVar("_S", bound=State)


def upcast_v1_v2(state: State) -> None:
    """Version 1 to 2. Every version-1 payload is a valid version-2 payload that means the
    same: an assessment without ``kind`` is an initial one, its age is known, and its codes
    are all still codes. Only the number changes."""
    state["schema_version"] = 2


UPCASTERS: dict[int, Callable[[State], None]] = {1: upcast_v1_v2}
assert tuple(UPCASTERS) == SCHEMA_VERSIONS[:-1], "one upcaster per step between versions"
assert SCHEMA_VERSIONS[-1] == SCHEMA_VERSION


def upcast(state: _S) -> _S:
    """``state`` (a stored record or event state, changed in place) in the current version."""
    version = state["schema_version"]
    while version != SCHEMA_VERSION:
        UPCASTERS[version](state)
        version = state["schema_version"]
    return state

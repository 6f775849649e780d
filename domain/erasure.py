"""Erasure of a person (GDPR article 17), as the event store records it.

The store is immutable: a person's events are never deleted. They are sealed with a data
key of the person's own, and erasing the person deletes that key (crypto-shredding,
``infra.person_keys``): the events stay in the log, and no one can read them again. What is
recorded of the erasure is an :class:`Erasure`, which holds no personal data: the case
stream's id (a name-based id of the person_ref, never the person_ref itself), the reason as
a code, and when.

Imports only the standard library and ``eventsourcing.domain``.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

ERASURE_NAMESPACE = uuid5(NAMESPACE_URL, "urn:cmm-ledger:erasure")


class ErasureReason(StrEnum):
    """Why a person's data was erased: a code, never free text."""

    data_subject_request = "data_subject_request"  # the person asked (GDPR article 17)
    retention_expired = "retention_expired"  # no events for longer than the retention period
    entered_in_error = "entered_in_error"  # the person should never have been recorded


def erasure_id(stream_id: str) -> UUID:
    """The erasure of a case stream: name-based, so a second erasure of it is found."""
    return uuid5(ERASURE_NAMESPACE, f"erasure/{stream_id}")


class Erasure(Aggregate):
    """That a person's data was erased: which case stream, why, when. Recorded once; never
    changed."""

    @staticmethod
    def create_id(stream_id: str, reason: str, erased_at: str) -> UUID:
        return erasure_id(stream_id)

    @event("Erased")
    def __init__(self, stream_id: str, reason: str, erased_at: str) -> None:
        ErasureReason(reason)  # a code, or ValueError
        self.stream_id = stream_id
        self.reason = reason
        self.erased_at = erased_at

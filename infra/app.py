"""The eventsourcing application: the straightforward way to record events, one aggregate at
a time, and the way case workers read one case.

Bulk ingestion writes the same stored events through the store (:mod:`infra.store`) without
loading an aggregate per event; this application is the reference it must agree with, and the
baseline the ingest benchmark compares against. :func:`infra.composition.ledger_application`
builds it over the configured store.

It stores through eventsourcing's mapper, which seals every state with the main key
(``infra.sealing.StateCipher``): a case event recorded here is not sealed with its person's
data key, so ``cmm erase`` refuses such a person ("stored before person keys"). Nothing
the centre runs records case events here (files, Kafka and the HTTP API all go through
the store's ``append``); case workers read cases through it, which opens both.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from domain.case import Case, Log, case_id, log_id, log_key
from domain.events import Event, to_record

APPLICATION_NAME = "Ledger"
"""The application whose notification log the store holds: eventsourcing names the PostgreSQL
tables after it (``ledger_events``, ``ledger_tracking``), and the read model's tracking
position is recorded under it."""


class LedgerApplication(Application[UUID]):
    name = APPLICATION_NAME

    def record(self, event: Event) -> bool:
        """Load (or open) the event's stream, record the event, save. False if its id was
        already recorded."""
        record = to_record(event)
        opened_at = datetime.fromisoformat(record["recorded_at"])
        stream: Case | Log
        if event.person_ref is not None:
            try:
                stream = self.repository.get(case_id(event.person_ref))
            except AggregateNotFoundError:
                stream = Case.open(event.person_ref, opened_at)
        else:
            key = log_key(record)
            try:
                stream = self.repository.get(log_id(key))
            except AggregateNotFoundError:
                stream = Log.open(key, opened_at)
        if not stream.record(event):
            return False
        self.save(stream)
        return True

    def case(self, person_ref: str) -> Case:
        case: Case = self.repository.get(case_id(person_ref))
        return case

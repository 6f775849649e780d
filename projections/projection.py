"""The ledger projection: events in, read-model changes out.

One handler per event type (eventsourcing's ``Projection.process_event`` with
``singledispatchmethod``). Handlers only say what changed; the view (a tracking recorder, in
``infra/``) applies the change and records the position in one transaction, so a restart
neither loses nor repeats work. The same projection runs behind eventsourcing's
``ProjectionRunner`` (PostgreSQL, LISTEN/NOTIFY) and behind the catch-up runner that follows
SQLite, which also hands the view whole batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import singledispatchmethod
from typing import Any, Protocol

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from domain.case import Case, Log, _Stream
from domain.events import SCHEMA_VERSION
from domain.versions import upcast

Record = dict[str, Any]


@dataclass
class Changes:
    """What a run of events changes: the case streams touched (hex ids; the view folds
    their whole history again, read from the store up to the tracked position) and the new
    log records (hotline calls, outreach logs and their corrections), each with its position
    in the store."""

    case_streams: set[str] = field(default_factory=set)
    log_records: list[tuple[int, Record]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.case_streams or self.log_records)


class ProjectedView(Protocol):
    """What the projection writes to (``infra.view.LedgerView`` extends it)."""

    def apply(self, changes: Changes, tracking: Tracking) -> None: ...

    def insert_tracking(self, tracking: Tracking) -> None: ...


class LedgerProjection(Projection[Any]):
    """Builds case state, bitemporal facts, contacts and log rows (see ``infra.view``)."""

    name = "ledger_projection"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        # Opened events, and events of other types: nothing to project, but move past them.
        self._ledger_view().insert_tracking(tracking)

    @process_event.register(Case.ContactRegistered)
    @process_event.register(Case.AssessmentDecided)
    @process_event.register(Case.SupportOffered)
    @process_event.register(Case.SupportStatusChanged)
    @process_event.register(Case.AccommodationChanged)
    @process_event.register(Case.DepartedDenmark)
    @process_event.register(Case.CorrectionRecorded)
    def _case_event(self, domain_event: _Stream.Recorded, tracking: Tracking) -> None:
        self._ledger_view().apply(Changes(case_streams={domain_event.originator_id.hex}), tracking)

    @process_event.register(Log.HotlineCallReceived)
    @process_event.register(Log.OutreachActivityLogged)
    @process_event.register(Log.CorrectionRecorded)
    def _log_event(self, domain_event: _Stream.Recorded, tracking: Tracking) -> None:
        # The tracking record's position is this event's own.
        record = (tracking.notification_id, domain_event.as_record())
        self._ledger_view().apply(Changes(log_records=[record]), tracking)

    def _ledger_view(self) -> ProjectedView:
        # Not ``_view``: eventsourcing's Projection keeps the view in that attribute.
        view: ProjectedView = self.view
        return view


_CASE_HANDLER = vars(LedgerProjection)["_case_event"]
_LOG_HANDLER = vars(LedgerProjection)["_log_event"]


def projected_as(event_class: type) -> str | None:
    """How ``LedgerProjection`` projects events of ``event_class``, read from its own
    dispatch: "case" (its stream is folded again), "log" (its record is added), or None (it
    only moves the position past them). The catch-up runner decodes stored rows by this."""
    dispatch: singledispatchmethod[Any] = vars(LedgerProjection)["process_event"]
    handler = dispatch.dispatcher.dispatch(event_class)
    return {_CASE_HANDLER: "case", _LOG_HANDLER: "log"}.get(handler)


def record_from_state(topic: str, state: dict[str, Any]) -> Record | None:
    """A stored ``Recorded`` event's state as a record in the contract's current version
    (the catch-up runner's decoder, which skips eventsourcing's object mapping); None for
    ``Opened`` events."""
    kind = topic.rsplit(".", 1)[-1]
    if kind == "Opened":
        return None
    record = {
        "event_id": state["event_id"],
        "type": kind,
        "schema_version": state["schema_version"],
        "occurred_at": state["occurred_at"],
        "recorded_at": state["recorded_at"],
        "source": state["source"],
        "payload": state["payload"],
    }
    # Stored events keep the version they were recorded in; readers see the current one.
    return record if record["schema_version"] == SCHEMA_VERSION else upcast(record)

"""The catch-up runner's decoding of stored rows (``infra.readmodel.changes_from_rows``)
against ``LedgerProjection``'s dispatch, which eventsourcing's ProjectionRunner drives: for
every stored event, both say the same change (the case stream to fold again, the log record
to add, or nothing but the position)."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Tracking

from domain.events import validate_event
from infra.app import LedgerApplication
from infra.readmodel import changes_from_rows
from infra.store import StoredRow
from projections.projection import Changes, LedgerProjection
from simulation.simulate import load_profile, simulate


def _sample() -> list[dict[str, Any]]:
    """Events of a simulated year: some of its persons' and some of its log events, with
    every correction and what it corrects."""
    events = list(simulate(load_profile("cmm-2012"), seed=3))
    corrections = [e for e in events if e["type"] == "CorrectionRecorded"]
    targets = {e["payload"]["target_event_id"] for e in corrections}
    persons = sorted({e["person_ref"] for e in events if e.get("person_ref")})[:150]
    persons += [e["person_ref"] for e in corrections if e.get("person_ref")]
    logs = [e["event_id"] for e in events if not e.get("person_ref")][:150]
    chosen = targets.union(logs, (e["event_id"] for e in corrections))
    return [e for e in events if e.get("person_ref") in persons or e["event_id"] in chosen]


class _RecordingView:
    """A view that keeps what the projection asks of it, by position."""

    def __init__(self) -> None:
        self.changes: dict[int, Changes] = {}

    def apply(self, changes: Changes, tracking: Tracking) -> None:
        self.changes[tracking.notification_id] = changes

    def insert_tracking(self, tracking: Tracking) -> None:
        self.changes[tracking.notification_id] = Changes()


def test_changes_from_rows_agree_with_the_projections_dispatch_event_by_event() -> None:
    app = LedgerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    for event in _sample():
        app.record(validate_event(event))
    notifications = app.recorder.select_notifications(start=1, limit=1_000_000)
    view = _RecordingView()
    projection = LedgerProjection(view=view)  # type: ignore[arg-type]
    rows = []
    for n in notifications:
        stored = app.mapper.to_domain_event(n)
        projection.process_event(stored, Tracking("Ledger", n.id))
        rows.append(StoredRow(n.id, n.originator_id.hex, n.originator_version, n.topic, n.state))
    kinds = {"case": 0, "log": 0, "none": 0}
    for row in rows:
        from_rows = changes_from_rows([row])
        assert from_rows == view.changes[row.notification_id], row.topic
        kinds["case" if from_rows.case_streams else "log" if from_rows.log_records else "none"] += 1
    # Every kind of change occurs, corrections of log events among them.
    assert all(kinds.values()), kinds
    assert any(
        r["type"] == "CorrectionRecorded" for c in view.changes.values() for _, r in c.log_records
    )
    # A chunk's changes are its events' changes together.
    merged = Changes()
    for row in rows:
        merged.case_streams |= view.changes[row.notification_id].case_streams
        merged.log_records += view.changes[row.notification_id].log_records
    assert changes_from_rows(rows) == merged

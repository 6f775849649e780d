"""What both store adapters do alike with a batch before they write it: drop the events
that repeat an id within the batch, find the conflicts (an id stored, or given earlier, with
other content), and plan the rows of ``stored_events``.

Only the ids that were stored already are compared, with the stored events of their streams:
the path of new events, nearly all of them, does no extra work.

Events are read by position (``e[0]`` the event id, ``e[1]`` the stream, ``e[2]`` its kind,
``e[3]`` its key, ``e[4]`` the topic, ``e[5]`` the state, ``e[6]`` ``recorded_at``: the fields
of :class:`infra.encoding.Encoded`), because they may be plain tuples fresh from a worker
process (see ``Encoded``), which have no field names.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter

from infra.encoding import Encoded, opened_state
from infra.person_keys import ERASED_REASON
from infra.sealing import Erased, person_sealer, seal, unseal
from infra.store import Conflict

Repeat = tuple[int, Encoded, Encoded]
"""A later event of a batch that repeats an earlier one's id with other content: (its index
in the batch, it, the first event of the batch with that id)."""


def dedupe(events: Sequence[Encoded]) -> tuple[list[Encoded], list[int] | None, list[Repeat]]:
    """The events with the first of each event id (a batch rarely repeats one), the index in
    ``events`` of each (None: the same as its place), and the later ones that repeat an id
    with other content (identical repeats are dropped)."""
    if len({e[0] for e in events}) == len(events):
        return list(events), None, []
    first: dict[bytes, Encoded] = {}
    unique = []
    where = []
    repeats = []
    for index, e in enumerate(events):
        seen = first.get(e[0])
        if seen is None:
            first[e[0]] = e
            unique.append(e)
            where.append(index)
        elif not _same_content(seen, e):
            repeats.append((index, e, seen))
    return unique, where, repeats


def split_repeats(
    repeats: Sequence[Repeat], is_stored: Callable[[bytes], bool]
) -> tuple[list[Conflict], list[tuple[int, Encoded]]]:
    """Conflicts of repeats whose id is new (with the batch's first event of that id), and
    the repeats of a stored id, to be compared with the stored event (which is the one
    kept: an identical resubmission of it stays a no-op, whatever else the batch holds)."""
    conflicts: list[Conflict] = []
    against_store: list[tuple[int, Encoded]] = []
    for index, e, seen in repeats:
        if is_stored(e[0]):
            against_store.append((index, e))
        else:
            reason = _difference(seen, e, "an earlier event of the same batch")
            if reason is not None:
                conflicts.append(Conflict(index, reason))
    return conflicts, against_store


def _same_content(a: Encoded, b: Encoded) -> bool:
    return a[1] == b[1] and a[4] == b[4] and (a[5] == b[5] or _load(a[5]) == _load(b[5]))


def _load(state: bytes) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(state)
    return loaded


def _differing_fields(stored: dict[str, object], new: dict[str, object]) -> list[str]:
    fields: list[str] = []
    for key in sorted(set(stored) | set(new)):
        if key == "timestamp":
            continue  # follows recorded_at
        a, b = stored.get(key), new.get(key)
        if key == "payload" and isinstance(a, dict) and isinstance(b, dict):
            fields.extend(f"payload.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))
        elif a != b:
            fields.append(key)
    return fields


def _difference(stored: Encoded, new: Encoded, what: str) -> str | None:
    """Why ``new`` conflicts with ``stored`` (the same id), or None when it is the same
    event. Names fields, never values: the values are personal data."""
    if _same_content(stored, new):
        return None
    fields = []
    if stored[4] != new[4]:
        fields.append("type")
    if stored[1] != new[1]:
        fields.append("person_ref" if new[2] == "case" else "the log it belongs to")
    else:
        fields.extend(_differing_fields(_load(stored[5]), _load(new[5])))
    return _conflict_reason(what, fields)


def _conflict_reason(what: str, fields: Sequence[str]) -> str:
    differ = f" ({', '.join(fields)} {'differs' if len(fields) == 1 else 'differ'})"
    return (
        f"event_id: conflict: the same event_id as {what}, with other content"
        f"{differ if fields else ''}; an event id stands for one event, so this one is not "
        "stored and the first is kept"
    )


def stored_conflicts(
    known: Sequence[tuple[int, Encoded]], stored: Iterable[tuple[str, str, bytes]]
) -> list[Conflict]:
    """Which of ``known`` (events whose id is stored already, with their index) differ from
    what is stored. ``stored``: (originator id, topic, state) of every stored event of
    their streams. An identical resubmission, the usual case, is found by its bytes; only
    the others are parsed. An event of an erased person is refused (``ERASED_REASON``):
    what it is compared with can no longer be read."""
    rows = []
    erased: set[str] = set()
    for oid, topic, state in stored:
        try:
            rows.append((oid, topic, unseal(state)))
        except Erased:
            erased.add(oid)
    refused = [Conflict(i, ERASED_REASON) for i, e in known if e[1] in erased]
    if refused:
        known = [(i, e) for i, e in known if e[1] not in erased]
        return sorted(refused + stored_conflicts(known, rows), key=lambda c: c.index)
    exact = {(oid, topic, bytes(state)) for oid, topic, state in rows}
    pending = [(i, e) for i, e in known if (e[1], e[4], bytes(e[5])) not in exact]
    if not pending:
        return []
    by_id: dict[str, tuple[str, str, dict[str, object]]] = {}
    wanted = {_load(e[5])["event_id"] for _, e in pending}
    for oid, topic, state in rows:
        if b'"event_id"' not in state:
            continue  # a stream's Opened event
        loaded = _load(bytes(state))
        if loaded.get("event_id") in wanted:
            by_id[str(loaded["event_id"])] = (oid, topic, loaded)
    conflicts = []
    for index, e in pending:
        new = _load(e[5])
        found = by_id.get(str(new["event_id"]))
        if found is None:
            # Stored, but not in this event's stream: its stream key differs.
            fields = ["person_ref" if e[2] == "case" else "type or the log it belongs to"]
            reason = _conflict_reason("a stored event", fields)
        elif found[0] == e[1] and found[1] == e[4] and found[2] == new:
            continue  # the same event, serialised in another key order
        else:
            fields = ["type"] if found[1] != e[4] else []
            fields.extend(_differing_fields(found[2], new))
            reason = _conflict_reason("a stored event", fields)
        conflicts.append(Conflict(index, reason))
    return conflicts


def refuse_erased(
    unique: Sequence[Encoded],
    where: Sequence[int] | None,
    fresh: Sequence[Encoded],
    erased: set[str],
) -> tuple[list[Encoded], list[Conflict]]:
    """The new events but those of erased persons, and a conflict for each of those (with
    its index among the events given to ``append``)."""
    if not erased:
        return list(fresh), []
    refused = {e[0] for e in fresh if e[1] in erased}
    conflicts = [
        Conflict(i if where is None else where[i], ERASED_REASON)
        for i, e in enumerate(unique)
        if e[0] in refused
    ]
    return [e for e in fresh if e[0] not in refused], conflicts


def plan_rows(
    fresh: Sequence[Encoded],
    versions: Mapping[str, int],
    keys: Mapping[str, bytes] | None = None,
) -> list[tuple[str, int, str, bytes]]:
    """Rows for ``stored_events``: each stream continues from its stored version; a new
    stream starts with its ``Opened`` event. Rows are grouped by stream (a stable sort keeps
    each stream's arrival order), which keeps the primary-key index inserts local. A case
    stream's events are sealed with its person's data key (``keys``: stream -> key id, from
    ``infra.person_keys.keys_for``), every other with the main key."""
    # Positional access throughout: events may be plain tuples fresh from a worker process.
    rows: list[tuple[str, int, str, bytes]] = []
    append = rows.append
    current = ""
    version = 0
    sealer = seal
    for e in sorted(fresh, key=itemgetter(1)):
        oid = e[1]
        if oid != current:
            current = oid
            key = keys.get(oid) if keys else None
            sealer = seal if key is None else person_sealer(key)
            version = versions.get(oid, 0)
            if version == 0:
                topic, state = opened_state(e[2], e[3], e[6])
                version = 1
                append((oid, 1, topic, sealer(state)))
        version += 1
        append((oid, version, e[4], sealer(e[5])))
    return rows

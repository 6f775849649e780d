"""When each event is recorded, and the merge that emits them in recorded order.

A history (``simulation.histories``) hands every event it makes to :meth:`Recorder._push`
with the moment it happened; the recording delay, the event id and the hour bucket it waits
in are the recorder's. :meth:`Recorder.events` walks the plan hour by hour and emits each
hour's events once nothing still to be made can be recorded in it."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any, Final

from domain.events import SCHEMA_VERSION
from simulation.draws import uuid7
from simulation.plan import Entity
from simulation.profile import Profile
from simulation.timeline import (
    DATE_TEXTS,
    DAY,
    HOUR,
    MINUTE,
    SimulatedYear,
    date_text,
    time_texts,
)

# (recorded, seq, event_id, type, occurred, source, person_ref, payload)
Pending = tuple[int, int, str, str, int, str, str | None, dict[str, Any]]
# (when, seq, person_ref, contacted-only group, the person's later times in reverse order)
Repeat = tuple[int, int, str, int, list[int]]

DONE: Final[Entity] = (0, 0, -1, None)


class Recorder(SimulatedYear, ABC):
    """The pending events of a run by the hour they are recorded in, and their merge.

    What each plan entry makes is the subclass's (:meth:`_handlers`, :meth:`_repeat`)."""

    def __init__(
        self,
        profile: Profile,
        rng: random.Random,
        aside: random.Random | None = None,
        seq: int = 0,
    ) -> None:
        super().__init__(profile, rng, aside, seq)
        self.refs: set[int] = set()
        # Pending events and repeat contacts still to come, by the hour they are due.
        self.pending: dict[int, list[Pending]] = {}
        self.later: dict[int, list[Repeat]] = {}
        cumulative, bands = 0.0, []
        for band in profile.recording.delay_bands:
            cumulative += band.share
            bands.append((cumulative, int(band.min_hours * HOUR), int(band.max_hours * HOUR)))
        self.bands = bands

    @abstractmethod
    def _handlers(self) -> dict[int, Callable[[int, Any], None]]:
        """What turns a plan entry of each kind into pending events."""

    @abstractmethod
    def _repeat(self, ts: int, _: int, ref: str, gi: int, times: list[int]) -> None:
        """One repeat contact that was waiting in ``later``."""

    def events(self, entities: list[Entity], overtaken: float) -> Iterator[dict[str, Any]]:
        """Merge plan entries and pending events in ``recorded_at`` order, an hour at a time.

        Everything an entry or a repeat contact makes happens, and so is recorded, at or after
        its own moment. So once every entry and repeat due before the end of an hour has been
        turned into events, that hour's pending events are complete: sort and emit them. Hour
        buckets cost one append per event where a heap cost some thirty comparisons.

        Then let events overtake each other a little, as they do between partners' systems:
        an ``overtaken`` share is held back while a geometric number (mean two) of later ones
        pass it. This loop runs once per event of a million-event benchmark, hence the
        inlined look-ups and no further generator layer."""
        pending, later, random_ = self.pending, self.later, self._random
        dates, times = DATE_TEXTS, time_texts()
        handlers, repeat_ = self._handlers(), self._repeat
        held: dict[str, Any] | None = None
        i, n = 0, len(entities)
        hour = entities[0][0] // HOUR if entities else 0  # nothing happens before the plan
        while i < n or pending or later:
            end = (hour + 1) * HOUR
            while i < n and entities[i][0] < end:
                anchor, _, kind, data = entities[i]
                entities[i] = DONE  # the plan shrinks as the stream advances
                handlers[kind](anchor, data)
                i += 1
            while due := later.pop(hour, None):  # a repeat may bring the next one this hour
                due.sort()
                for repeat in due:
                    repeat_(*repeat)
            bucket = pending.pop(hour, None)
            hour += 1
            if bucket is None:
                continue
            bucket.sort()  # by (recorded, seq): seq is unique, so nothing else is compared
            for recorded, _, event_id, kind_name, occurred, source, ref, payload in bucket:
                o_day, o_sec = divmod(occurred, DAY)
                r_day, r_sec = divmod(recorded, DAY)
                envelope: dict[str, Any] = {
                    "event_id": event_id,
                    "type": kind_name,
                    "schema_version": SCHEMA_VERSION,
                    "occurred_at": (dates.get(o_day) or date_text(o_day)) + times[o_sec],
                    "recorded_at": (dates.get(r_day) or date_text(r_day)) + times[r_sec],
                    "source": source,
                }
                if ref is not None:
                    envelope["person_ref"] = ref
                envelope["payload"] = payload
                if held is None:
                    if random_() < overtaken:
                        held = envelope
                    else:
                        yield envelope
                else:
                    yield envelope
                    if random_() < 0.5:
                        yield held
                        held = None
        if held is not None:
            yield held

    def _recorded(self, occurred: int, deadline: int | None) -> int:
        """When a partner's system records an event: mostly within two days, often within
        three weeks, a few months late; never after ``deadline`` if one is given."""
        random_ = self._random
        r = random_()
        for cumulative, lo, hi in self.bands:  # noqa: B007 (the band found is used below)
            if r < cumulative:
                break
        recorded = occurred + lo + int(random_() * (hi - lo + 1))
        if deadline is not None and recorded > deadline:
            room = deadline - occurred
            recorded = occurred + self._int(min(10 * MINUTE, room), room)
        elif self.deadline < recorded < self.reopen:
            # Nothing is recorded around the cut-off day: late paperwork waits until after it.
            recorded += self.reopen - self.deadline
        return recorded

    def _push(
        self,
        occurred: int,
        recorded: int,
        kind: str,
        source: str,
        ref: str | None,
        payload: dict[str, Any],
        aside: random.Random | None = None,
    ) -> str:
        if aside is None:
            event_id = uuid7(recorded * 1000 + int(self._random() * 1000), self.rng)
        else:
            event_id = uuid7(recorded * 1000 + int(aside.random() * 1000), aside)
        self.seq += 1
        item = (recorded, self.seq, event_id, kind, occurred, source, ref, payload)
        bucket = self.pending.get(recorded // HOUR)
        if bucket is None:
            self.pending[recorded // HOUR] = [item]
        else:
            bucket.append(item)
        return event_id

    def _ref(self) -> str:
        """A fresh pseudonym: 16 hex digits, never all digits (the contract would take them
        for a CPR or phone number) and never one already given out in this stream."""
        while True:
            token = self.rng.getrandbits(64)
            text = f"{token:016x}"
            if token not in self.refs and not text.isdigit():
                self.refs.add(token)
                return f"P-{text}"

    def _later(self, repeat: Repeat) -> None:
        bucket = self.later.get(repeat[0] // HOUR)
        if bucket is None:
            self.later[repeat[0] // HOUR] = [repeat]
        else:
            bucket.append(repeat)

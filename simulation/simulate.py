"""Synthetic event streams: invented people and logs whose reports match published figures.

Nothing here is real: every person, date, pseudonym and identifier is drawn from a seeded
``random.Random``. The numbers live in a *profile* (``simulation/profiles/<name>.json``), a data
file, so another year is a new file rather than new code (its schema and checks are
``simulation.profile``); this module holds only the rules that turn those numbers into
plausible histories (contacts before the assessment, support after it, a departure on the day
the return is recorded, recording delays, corrections).

Why the figures come out exact whatever the seed: nothing the report counts is sampled. Each
victim group in the profile has fixed attributes and *pools* (``{"NG": 20, "GH": 1}``) that
are dealt out at random inside the group, so totals and cross-tabulations are exact while the
individuals (who is Nigerian, who was met by the police, who is 18) change with the seed.
Extremes (youngest, oldest, fewest and most days in Denmark, busiest opening day) are pinned
on a random member; the rest is drawn, and sums are then nudged onto their targets.

Why it streams: a 1M-event benchmark file must not sit in memory. The plan holds one small
tuple per person or log, keyed by the moment its first event happens. A merge walks the
plan hour by hour, turning an entry into events only when the merge reaches it and emitting
each hour's events, sorted by ``recorded_at``, once nothing still to be made can be recorded
in that hour. A person's later repeat contacts wait as times, not events. So memory follows
the plan and the events "in flight" (made, not yet recorded), about an eighth of the stream.
A small share of events is then overtaken by later ones, as happens between partners.

Why nothing is recorded on the cut-off day: whatever a report needs is recorded by the day
before, and later paperwork waits until the day after, so "as of 2013-01-31" gives the same
report whether it is read as the start or the end of that day.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final, TypeVar

from domain.codes import (
    Accommodation,
    Authority,
    Channel,
    ExploitationForm,
    Gender,
    Industry,
    Outcome,
    OutreachMeasure,
    Period,
    ReturnSupport,
    Source,
    SupportStatus,
)
from domain.countries import UNKNOWN_CODE
from domain.events import SCHEMA_VERSION
from simulation.profile import (
    DATED_ENDS,
    DEPARTURES,
    ONGOING,
    PROFILES_DIR,
    AgeHint,
    LateCallFix,
    PersonGroup,
    Profile,
    ProfileError,
    ResentCall,
    Where,
    load_profile,
    parse_profile,
)

DAY: Final = 86_400
HOUR: Final = 3_600
MINUTE: Final = 60
_EPOCH: Final = date(1970, 1, 1)

_PER_SESSION = frozenset({Period.SESSION.value, Period.WEEK.value})
_CMM, _HOTLINE = Source.CMM.value, Source.HOTLINE.value
_K = TypeVar("_K")


class SimulationError(RuntimeError):
    """The profile passed validation but one draw could not satisfy it (a bug to report)."""


# ----------------------------------------------------------------------------------------------
# Small deterministic pieces


def _day(d: date) -> int:
    return (d - _EPOCH).days


_DATES: dict[int, str] = {}
_TIMES: list[str] = []


def _date(day: int) -> str:
    text = _DATES[day] = (_EPOCH + timedelta(days=day)).isoformat()
    return text


def _times() -> list[str]:
    if not _TIMES:
        _TIMES.extend(
            f"T{s // HOUR:02d}:{s // 60 % 60:02d}:{s % 60:02d}.000000Z" for s in range(DAY)
        )
    return _TIMES


def _iso(ts: int) -> str:
    """Seconds since the epoch as ``YYYY-MM-DDTHH:MM:SS.000000Z``, as ``to_record`` writes:
    two table look-ups, because formatting two timestamps per event was the top cost."""
    day, second = divmod(ts, DAY)
    return (_DATES.get(day) or _date(day)) + _times()[second]


def uuid7(unix_ms: int, rng: random.Random) -> str:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then 74 bits from ``rng``.

    Python 3.11 has no ``uuid.uuid7``; drawing the random part from the caller's seeded RNG
    keeps ids reproducible per seed while staying time-ordered for the store's indexes."""
    ms = unix_ms & 0xFFFF_FFFF_FFFF
    r = rng.getrandbits(74)  # 12 bits rand_a, then 62 bits rand_b
    return "%08x-%04x-%04x-%04x-%012x" % (  # noqa: UP031 (faster than format here)
        ms >> 16,
        ms & 0xFFFF,
        0x7000 | (r >> 62),  # version 7
        0x8000 | ((r >> 48) & 0x3FFF),  # variant 0b10
        r & 0xFFFF_FFFF_FFFF,
    )


def _deal(rng: random.Random, pool: Mapping[_K, int]) -> list[_K]:
    """A pool's values, each as many times as its count, in random order."""
    dealt = [k for k, n in pool.items() for _ in range(n)]
    rng.shuffle(dealt)
    return dealt


def _pool(value: _K | Mapping[_K, int], count: int) -> Mapping[_K, int]:
    """A fixed attribute as a pool of one value."""
    return value if isinstance(value, Mapping) else {value: count}


def split_total(
    rng: random.Random,
    total: int,
    n: int,
    lo: int,
    hi: int,
    caps: Sequence[int] | None = None,
    pin: bool = True,
) -> list[int]:
    """``n`` integers in ``[lo, hi]`` (each also at most ``caps[i]``) that add up to ``total``,
    with ``lo`` and ``hi`` both attained when ``pin`` (so per-log extremes are exact)."""
    upper = [hi] * n if caps is None else [min(hi, c) for c in caps]
    if any(u < lo for u in upper):
        raise SimulationError(f"a cap below the minimum {lo}")
    values = [lo] * n
    fixed: set[int] = set()
    if pin and n >= 2 and lo < hi:
        # The maximum first: caps may leave only a few logs able to take it.
        tops = [i for i in range(n) if upper[i] >= hi]
        if not tops:
            raise SimulationError(f"no log can take the maximum {hi}")
        top = rng.choice(tops)
        low = rng.choice([i for i in range(n) if i != top])
        values[top] = hi
        fixed = {low, top}
    free = [i for i in range(n) if i not in fixed]
    remaining = total - sum(values)
    if remaining < 0 or remaining > sum(upper[i] - values[i] for i in free):
        raise SimulationError(f"cannot split {total} over {n} logs of {lo}..{hi}")
    weights = [0.25 + rng.random() for _ in free]
    scale = remaining / sum(weights) if free else 0.0
    for i, w in zip(free, weights, strict=True):
        values[i] += min(upper[i] - values[i], int(w * scale))
    open_ = [i for i in free if values[i] < upper[i]]
    left = total - sum(values)
    while left > 0:
        k = rng.randrange(len(open_))
        i = open_[k]
        values[i] += 1
        left -= 1
        if values[i] == upper[i]:
            open_[k] = open_[-1]
            open_.pop()
    return values


# ----------------------------------------------------------------------------------------------
# The plan


@dataclass(slots=True)
class _Person:
    """A planned case; times are seconds since the epoch, days are days since the epoch."""

    victim: bool
    citizenship: str
    gender: Gender
    legal_residence: bool
    exploitation: ExploitationForm | None
    industry: Industry | None
    first: Where
    status: SupportStatus | None
    age_hint: AgeHint
    age: int = 0
    pinned_age: bool = False
    days: int | None = None
    accommodation: Accommodation | None = None
    return_support: ReturnSupport | None = None
    after_cutoff: SupportStatus | None = None
    typo: Channel | None = None
    age_fix: int | None = None
    assessed_day: int = 0
    first_ts: int = 0
    second_opinion: bool = False  # a later negative assessment: a flag for a case worker


_CASE, _CONTACTED, _CALL, _LOG = range(4)
# (anchor: when the entity's first event happens, seq, kind, data)
_Entity = tuple[int, int, int, Any]
# (recorded, seq, event_id, type, occurred, source, person_ref, payload)
_Pending = tuple[int, int, str, str, int, str, str | None, dict[str, Any]]
# (when, seq, person_ref, contacted-only group, the person's later times in reverse order)
_Repeat = tuple[int, int, str, int, list[int]]


class _Simulation:
    """One seeded run: plans replicas, then merges their events in recorded order."""

    SECOND_OPINIONS = 3
    """Victims a replica gives a later, negative assessment as well: case histories that
    are inconsistent (``conflicting_assessments``), as real ones sometimes are, so case
    workers' flags have something to show. The positive assessment still counts, so the
    published figures do not change."""

    def __init__(
        self, profile: Profile, rng: random.Random, aside: random.Random | None = None
    ) -> None:
        self.p = profile
        self.rng = rng
        # Draws for the inconsistent histories, apart from ``rng``: adding them left every
        # other person, date and id of a seed's stream as it was.
        self.aside = aside or random.Random(0)
        self.y0 = _day(date(profile.year, 1, 1))
        self.y_end = _day(date(profile.year, 12, 31))
        self.cutoff = _day(profile.status_cutoff)
        # Anything the as-of report needs is recorded by this moment, a day clear of the
        # cut-off, so no reading of "as of 2013-01-31" (start or end of day) can split it.
        self.deadline = (self.cutoff - 1) * DAY - 4 * HOUR
        self.reopen = (self.cutoff + 1) * DAY  # recording resumes the day after the cut-off
        self.limit_day = self.cutoff - 6  # latest day of a pre-cut-off status change
        self.seq = 0
        self.refs: set[int] = set()
        # Pending events and repeat contacts still to come, by the hour they are due.
        self.pending: dict[int, list[_Pending]] = {}
        self.later: dict[int, list[_Repeat]] = {}
        cumulative, bands = 0.0, []
        for band in profile.recording.delay_bands:
            cumulative += band.share
            bands.append((cumulative, int(band.min_hours * HOUR), int(band.max_hours * HOUR)))
        self.bands = bands
        self.sources = {c.value: s.value for c, s in profile.contact_sources.items()}
        self._random = rng.random
        # Contact payload templates (copied per event), so the hot path does no enum work.
        spec = profile.contacted_only
        self.group_first = [
            self._template(Where(channel=g.channel, place=g.place)) for g in spec.groups
        ]
        self.contacted_repeats = [self._template(w) for w in spec.repeat_channels]
        self.victim_repeats = [self._template(w) for w in profile.victims.repeat_channels]

    def _int(self, lo: int, hi: int) -> int:
        """Uniform in ``[lo, hi]``; ``random.randint`` costs ten times more per call."""
        return lo + int(self._random() * (hi - lo + 1))

    def _template(self, where: Where) -> tuple[dict[str, Any], str]:
        payload = _contact_payload(where)
        return payload, self.sources[payload["channel"]]

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    # -- planning ------------------------------------------------------------------------------

    def plan(self, scale: int) -> list[_Entity]:
        entities: list[_Entity] = []
        for _ in range(scale):
            entities.extend(self._plan_replica())
        entities.sort()  # by (anchor, seq); seq is unique, so data is never compared
        return entities

    def _plan_replica(self) -> list[_Entity]:
        out: list[_Entity] = []
        victims = self._expand(self.p.victims.groups, victim=True)
        self._allocate(victims)
        for v in self.aside.sample(victims, min(self.SECOND_OPINIONS, len(victims))):
            v.second_opinion = True
        for v in victims:
            self._date_victim(v)
        earlier = self._expand(self.p.earlier_victims.groups, victim=True)
        for e in earlier:
            self._date_earlier(e)
        others = self._expand(self.p.not_victims.groups, victim=False)
        for o in others:
            o.age = self._adult_age(o.age_hint)
            o.assessed_day = self._int(self.y0 + 10, self.y_end - 8)
            self._date_first_contact(o, self.y0 + 1)
        for person in [*victims, *earlier, *others]:
            out.append((person.first_ts, self._next(), _CASE, person))
        for gi, group in enumerate(self.p.contacted_only.groups):
            for _ in range(group.count):
                ts = self._moment(self._int(self.y0 + 1, self.y_end - 3), 7, 20)
                out.append((ts, self._next(), _CONTACTED, gi))
        out.extend(self._plan_calls())
        out.extend(self._plan_logs())
        return out

    def _expand(self, groups: Sequence[PersonGroup], victim: bool) -> list[_Person]:
        rng = self.rng
        people: list[_Person] = []
        for g in groups:
            n = g.count
            wheres = [Where(channel=w.channel, place=w.place) for w in g.first_contact]
            firsts = _deal(rng, {i: w.count for i, w in enumerate(g.first_contact)})
            statuses: list[SupportStatus | None] = [None] * n
            if g.status is not None:
                dealt: list[SupportStatus] = _deal(rng, _pool(g.status, n))
                statuses = list(dealt)
            citizenships: list[str] = _deal(rng, _pool(g.citizenship, n))
            genders: list[Gender] = _deal(rng, _pool(g.gender, n))
            for citizenship, gender, first, status in zip(
                citizenships,
                genders,
                firsts,
                statuses,
                strict=True,
            ):
                people.append(
                    _Person(
                        victim=victim,
                        citizenship=citizenship,
                        gender=gender,
                        legal_residence=g.legal_residence,
                        exploitation=g.exploitation,
                        industry=g.industry,
                        first=wheres[first],
                        status=status,
                        age_hint=g.age,
                    )
                )
        rng.shuffle(people)
        return people

    def _allocate(self, victims: list[_Person]) -> None:
        """Deal the status-dependent pools, pin the extremes and correct the sums."""
        rng, spec = self.rng, self.p.victims
        for status, pool in spec.accommodation.items():
            members = [v for v in victims if v.status is status]
            for v, acc in zip(members, _deal(rng, pool), strict=True):
                v.accommodation = acc
        cmm = [v for v in victims if v.status is SupportStatus.RETURN_SUPPORTED_CMM]
        for v, support in zip(cmm, _deal(rng, spec.return_support), strict=True):
            v.return_support = support
        for rule in spec.days_in_denmark:
            members = [v for v in victims if v.status in rule.statuses]
            rng.shuffle(members)
            for i, v in enumerate(members):
                v.days = (rule.min, rule.max)[i] if i < 2 else self._int(rule.min, rule.max)
        self._ages(victims)
        taken: set[int] = set()
        for status in _deal(rng, spec.changes_after_cutoff):
            # IOM prepares returns for people without legal residence.
            iom = status is SupportStatus.PREPARED_RETURN_IOM
            candidates = [
                i
                for i, v in enumerate(victims)
                if v.status in ONGOING and i not in taken and not (iom and v.legal_residence)
            ]
            if not candidates:
                raise SimulationError(f"no ongoing victim left to change to '{status.value}'")
            i = rng.choice(candidates)
            taken.add(i)
            victims[i].after_cutoff = status
        for typo in self.p.corrections.contact_channel:
            candidates = [
                i for i, v in enumerate(victims) if v.first.channel is typo.right and v.typo is None
            ]
            victims[rng.choice(candidates)].typo = typo.wrong
        ages = spec.age
        free = [v for v in victims if not v.pinned_age]
        for v in rng.sample(free, min(len(free), self.p.corrections.age_after_cutoff)):
            shift = rng.choice((-3, -2, -1, 1, 2, 3))
            v.age_fix = min(ages.max - 1, max(ages.min + 1, v.age + shift))
            if v.age_fix == v.age:
                v.age_fix = v.age - shift

    def _ages(self, victims: list[_Person]) -> None:
        rng, rule = self.rng, self.p.victims.age
        for v in victims:
            drawn = round(rng.gauss(v.age_hint.mean, v.age_hint.sd))
            v.age = min(rule.max - 1, max(rule.min + 1, drawn))
        youngest, oldest = rng.sample(range(len(victims)), 2)
        victims[youngest].age, victims[oldest].age = rule.min, rule.max
        victims[youngest].pinned_age = victims[oldest].pinned_age = True
        n = len(victims)
        free = [v for v in victims if not v.pinned_age]
        lo = max(math.ceil(rule.mean_min * n), rule.min + rule.max + len(free) * (rule.min + 1))
        hi = min(math.floor(rule.mean_max * n), rule.min + rule.max + len(free) * (rule.max - 1))
        if lo > hi:
            raise SimulationError(
                f"no ages of {n} victims have a mean in {rule.mean_min}..{rule.mean_max}"
            )
        target = self._int(lo, hi)
        total = sum(v.age for v in victims)
        while total != target:
            v = rng.choice(free)
            step = 1 if total < target else -1
            if rule.min < v.age + step < rule.max:
                v.age += step
                total += step

    def _adult_age(self, hint: AgeHint) -> int:
        """An age for someone outside the year's victims, within the victims' age range."""
        rule = self.p.victims.age
        return min(rule.max, max(rule.min, round(self.rng.gauss(hint.mean, hint.sd))))

    def _moment(self, day: int, from_hour: int, to_hour: int) -> int:
        """A random second of ``day`` between the two hours (UTC). Everything happens in
        daytime, so a date never depends on the time zone a report reads it in."""
        return day * DAY + from_hour * HOUR + int(self._random() * (to_hour - from_hour) * HOUR)

    def _date_first_contact(self, p: _Person, earliest: int) -> None:
        lag = self.p.victims.contact_lag_days
        span = lag.max - lag.min
        days = lag.min + int(span * self.rng.random() ** 2.5)  # most are met shortly before
        day = max(earliest, p.assessed_day - days)
        day = min(day, p.assessed_day - 1)
        p.first_ts = self._moment(day, 7, 20)

    def _date_victim(self, v: _Person) -> None:
        hi = self.y_end - 8
        if v.status in DEPARTURES and v.days is not None:
            hi = min(hi, self.y_end - 8 - v.days)
        elif v.status in DATED_ENDS and v.days is not None:
            hi = min(hi, self.limit_day - v.days)
        if v.typo is not None:
            hi = min(hi, self.y_end - 30)  # leave time to correct the typo before the cut-off
        v.assessed_day = self._int(self.y0 + 10, hi)
        self._date_first_contact(v, self.y0 + 1)

    def _date_earlier(self, e: _Person) -> None:
        spec = self.p.earlier_victims
        e.days = self._int(spec.days_in_denmark.min, spec.days_in_denmark.max)
        start = _day(date(spec.assessed_year, 1, 1))
        lo = max(self.y0 + 3 - e.days, start)
        hi = min(self.y0 - 5, self.y_end - 8 - e.days)
        e.assessed_day = self._int(lo, hi)
        e.age = self._adult_age(e.age_hint)
        self._date_first_contact(e, start)

    def _plan_calls(self) -> list[_Entity]:
        rng = self.rng
        calls = [
            (c.caller.value, c.reason.value) for c in self.p.hotline.calls for _ in range(c.count)
        ]
        rng.shuffle(calls)
        marks: list[Any] = [None] * len(calls)
        fixes: list[ResentCall | LateCallFix] = [
            *self.p.corrections.hotline_resent,
            *self.p.corrections.hotline_after_cutoff,
        ]
        for fix in fixes:
            key = (fix.caller.value, fix.reason.value)
            free = [i for i, c in enumerate(calls) if c == key and marks[i] is None]
            marks[rng.choice(free)] = fix
        out: list[_Entity] = []
        for (caller, reason), mark in zip(calls, marks, strict=True):
            ts = self._moment(self._int(self.y0, self.y_end - 3), 7, 21)
            out.append((ts, self._next(), _CALL, (caller, reason, mark)))
        return out

    def _plan_logs(self) -> list[_Entity]:
        rng = self.rng
        out: list[_Entity] = []
        monday = self.y0 + (7 - date(self.p.year, 1, 1).weekday()) % 7
        for spec in self.p.outreach:
            for series in spec.series:
                n = series.logs
                if series.period is Period.SESSION:
                    pool = range(self.y0 + 1, self.y_end - 2)
                    days = sorted(rng.sample(pool, n) if n <= len(pool) else rng.choices(pool, k=n))
                elif series.period is Period.WEEK:
                    days = [monday + 7 * k + 3 for k in range(n)]
                elif series.period is Period.MONTH:
                    days = [_day(date(self.p.year, m + 1, 25)) for m in range(n)]
                else:
                    days = [self.y_end - 3]
                values: dict[OutreachMeasure, list[int]] = {}
                keys = tuple(measure.value for measure in series.measures)
                for measure, m in series.measures.items():
                    if isinstance(m, int):
                        values[measure] = [m] if n == 1 else split_total(rng, m, n, 0, m, pin=False)
                    else:
                        caps = values[m.at_most] if m.at_most is not None else None
                        hi = m.total if m.max is None else m.max
                        values[measure] = split_total(rng, m.total, n, m.min or 0, hi, caps)
                for i, day in enumerate(days):
                    measured = tuple(v[i] for v in values.values())  # a dict only when emitted
                    data = (
                        spec.place.value,
                        series.period.value,
                        keys,
                        measured,
                        spec.source.value,
                    )
                    out.append((self._moment(day, 9, 20), self._next(), _LOG, data))
        return out

    # -- materialising -------------------------------------------------------------------------

    def events(self, entities: list[_Entity], overtaken: float) -> Iterator[dict[str, Any]]:
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
        dates, times = _DATES, _times()
        handlers: dict[int, Callable[[int, Any], None]] = {
            _CASE: self._case,
            _CONTACTED: self._contacted,
            _CALL: self._call,
            _LOG: self._log,
        }
        held: dict[str, Any] | None = None
        i, n = 0, len(entities)
        hour = entities[0][0] // HOUR if entities else 0  # nothing happens before the plan
        while i < n or pending or later:
            end = (hour + 1) * HOUR
            while i < n and entities[i][0] < end:
                anchor, _, kind, data = entities[i]
                entities[i] = _DONE  # the plan shrinks as the stream advances
                handlers[kind](anchor, data)
                i += 1
            while due := later.pop(hour, None):  # a repeat may bring the next one this hour
                due.sort()
                for repeat in due:
                    self._repeat(*repeat)
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
                    "occurred_at": (dates.get(o_day) or _date(o_day)) + times[o_sec],
                    "recorded_at": (dates.get(r_day) or _date(r_day)) + times[r_sec],
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

    def _between(self, lo: int, hi: int) -> int:
        """A daytime moment in ``[lo, hi]`` (both daytime moments themselves)."""
        first, random_ = lo // DAY, self._random
        day = first + int(random_() * (hi // DAY - first + 1))
        ts = day * DAY + 7 * HOUR + int(random_() * 13 * HOUR)
        return lo if ts < lo else hi if ts > hi else ts

    def _contact(
        self, ts: int, template: tuple[dict[str, Any], str], ref: str, deadline: int | None
    ) -> str:
        payload, source = template
        recorded = self._recorded(ts, deadline)
        return self._push(ts, recorded, "ContactRegistered", source, ref, dict(payload))

    def _contacted(self, anchor: int, gi: int) -> None:
        """A person met but never assessed. Their contacts may be recorded after the cut-off
        (no published figure is exact about them), as late paperwork is."""
        group = self.p.contacted_only.groups[gi]
        ref = self._ref()
        first = self.group_first[gi]
        self._contact(anchor, first, ref, None)
        last = min(anchor + group.span_days * DAY, (self.y_end - 3) * DAY + 20 * HOUR)
        repeats = self._int(group.repeats.min, group.repeats.max)
        if repeats and last > anchor + HOUR:
            # Users of a meeting place come back for months: keep the times, not the events,
            # until the merge gets there (see _repeat).
            times = sorted(self._between(anchor + HOUR, last) for _ in range(repeats))
            times.reverse()
            self._later((times.pop(), self._next(), ref, gi, times))

    def _later(self, repeat: _Repeat) -> None:
        bucket = self.later.get(repeat[0] // HOUR)
        if bucket is None:
            self.later[repeat[0] // HOUR] = [repeat]
        else:
            bucket.append(repeat)

    def _repeat(self, ts: int, _: int, ref: str, gi: int, times: list[int]) -> None:
        """One repeat contact of a person met earlier; the rest wait in ``later``."""
        spec, random_ = self.p.contacted_only, self._random
        others = self.contacted_repeats
        if random_() < spec.repeat_same_share:
            where = self.group_first[gi]
        else:
            where = others[int(random_() * len(others))]
        self._contact(ts, where, ref, None)
        if times:
            self._later((times.pop(), self._next(), ref, gi, times))

    def _case(self, anchor: int, p: _Person) -> None:
        rng, spec, deadline = self.rng, self.p.victims, self.deadline
        ref = self._ref()
        assessed = self._moment(p.assessed_day, 8, 11)
        first = self._template(p.first)
        if p.typo is None:
            self._contact(anchor, first, ref, deadline)
        else:
            # Typed as the wrong channel, corrected a few days later, well before the cut-off.
            shown = Where(channel=p.typo, place=p.first.place)
            recorded = anchor + self._int(HOUR, DAY)
            source = self.sources[p.first.channel.value]
            first_id = self._push(
                anchor, recorded, "ContactRegistered", source, ref, _contact_payload(shown)
            )
            at = min(recorded + self._int(2 * HOUR, 5 * DAY), deadline - HOUR)
            fix = {
                "target_event_id": first_id,
                "target_type": "ContactRegistered",
                "action": "replace",
                "replacement": _contact_payload(p.first),
                "reason": f"channel typed as '{p.typo.value}', should be '{p.first.channel.value}'",
            }
            self._push(
                at,
                min(at + self._int(5 * MINUTE, 4 * HOUR), deadline),
                "CorrectionRecorded",
                source,
                ref,
                fix,
            )
        if assessed - HOUR > anchor + HOUR:
            for _ in range(self._int(spec.repeat_contacts.min, spec.repeat_contacts.max)):
                w = (
                    first
                    if rng.random() < spec.repeat_same_share
                    else rng.choice(self.victim_repeats)
                )
                self._contact(self._between(anchor + HOUR, assessed - HOUR), w, ref, deadline)

        authority = (Authority.CMM if p.legal_residence else Authority.IMMIGRATION_SERVICE).value
        payload: dict[str, Any] = {
            "authority": authority,
            "outcome": (Outcome.VICTIM if p.victim else Outcome.NOT_VICTIM).value,
        }
        if p.exploitation is not None:
            payload["exploitation"] = p.exploitation.value
        if p.industry is not None:
            payload["industry"] = p.industry.value
        payload["citizenship"] = p.citizenship
        payload["gender"] = p.gender.value
        payload["age"] = p.age
        payload["legal_residence"] = p.legal_residence
        assessment_id = self._push(
            assessed,
            self._recorded(assessed, deadline),
            "AssessmentDecided",
            authority,
            ref,
            payload,
        )
        if p.second_opinion:
            self._second_opinion(assessed, ref, payload)
        if p.age_fix is not None:
            at = self._after_cutoff(9, 16)
            fix = {
                "target_event_id": assessment_id,
                "target_type": "AssessmentDecided",
                "action": "replace",
                "replacement": {**payload, "age": p.age_fix},
                "reason": "age corrected from identity documents",
            }
            self._push(
                at, at + self._int(10 * MINUTE, 2 * DAY), "CorrectionRecorded", authority, ref, fix
            )
        if p.status is not None:
            self._support(p, ref)

    def _second_opinion(self, assessed: int, ref: str, positive: dict[str, Any]) -> None:
        """A negative assessment of the same person minutes after the positive one (a
        second authority's view, entered before anything else happens in the case),
        recorded within the hour (drawn from ``aside``)."""
        aside = self.aside
        occurred = assessed + 10 * MINUTE + int(aside.random() * 30 * MINUTE)
        payload = {
            k: v for k, v in positive.items() if k not in ("outcome", "exploitation", "industry")
        }
        payload["outcome"] = Outcome.NOT_VICTIM.value
        authority = positive["authority"]
        self._push(occurred, occurred + HOUR, "AssessmentDecided", authority, ref, payload, aside)

    def _after_cutoff(self, from_hour: int, to_hour: int) -> int:
        window = self.p.after_cutoff_days
        day = self.cutoff + self._int(window.min, window.max)
        return self._moment(day, from_hour, to_hour)

    def _support(self, p: _Person, ref: str) -> None:
        """Offer, status changes, accommodation and departure. Each kind of event has its own
        hours of the day, so several on one day still come in a sensible order, and the
        stay's end is a whole number of days after the assessment whichever way it is
        counted (dates or elapsed time)."""
        rng, spec, deadline = self.rng, self.p.victims, self.deadline
        status = p.status
        assert status is not None
        a, limit = p.assessed_day, self.limit_day
        end: int | None
        if status in DATED_ENDS:
            assert p.days is not None
            end = a + p.days
        elif status is SupportStatus.STAYED_IN_DENMARK:
            end = a + self._int(7, min(120, limit - a))
        elif status is SupportStatus.OTHER:
            end = a + self._int(5, min(90, limit - a))
        elif status is SupportStatus.ACCEPTED:
            end = a + self._int(0, min(21, limit - a))
        else:
            end = None
        reach = a + 3 if end is None else end
        offered_day = a + self._int(0, min(3, reach - a))
        offered = offered_day * DAY + self._int(11 * HOUR, 11 * HOUR + 30 * MINUTE)
        offer: dict[str, Any] = {}
        reflection = spec.reflection_days_without_legal_residence
        if reflection is not None and not p.legal_residence:
            offer["reflection_days"] = reflection
        cmm = _CMM
        self._push(offered, self._recorded(offered, deadline), "SupportOffered", cmm, ref, offer)
        ts = offered + self._int(MINUTE, 15 * MINUTE)
        self._status(ts, ref, {"status": SupportStatus.OFFERED.value}, deadline)

        accommodation = p.accommodation
        if accommodation is None and rng.random() < spec.other_accommodation_share:
            options = list(spec.other_accommodation)
            weights = list(spec.other_accommodation.values())
            accommodation = rng.choices(options, weights)[0]
        if accommodation is not None:
            day = offered_day + self._int(
                0, min(5, (reach + 5 if end is None else end) - offered_day)
            )
            ts = self._moment(day, 12, 13)
            self._push(
                ts,
                self._recorded(ts, deadline),
                "AccommodationChanged",
                cmm,
                ref,
                {"accommodation": accommodation.value},
            )

        if end is not None and status is not SupportStatus.DECLINED:
            accepted_day = (
                end
                if status is SupportStatus.ACCEPTED
                else (offered_day + self._int(0, min(10, end - offered_day)))
            )
            ts = self._moment(accepted_day, 13, 14)
            self._status(ts, ref, {"status": SupportStatus.ACCEPTED.value}, deadline)
        if end is not None and status is not SupportStatus.ACCEPTED:
            change: dict[str, Any] = {"status": status.value}
            if p.return_support is not None:
                change["return_support"] = p.return_support.value
            self._status(self._moment(end, 14, 16), ref, change, deadline)
            if status in DEPARTURES:
                self._departure(self._moment(end, 16, 19), ref, p.citizenship, deadline)

        if p.after_cutoff is not None:
            ts = self._after_cutoff(9, 14)
            change = {"status": p.after_cutoff.value}
            if p.after_cutoff is SupportStatus.RETURN_SUPPORTED_CMM:
                change["return_support"] = ReturnSupport.TRAVEL_ONLY.value
            self._status(ts, ref, change, None)
            if p.after_cutoff in DEPARTURES:
                self._departure(ts + self._int(3 * HOUR, 5 * HOUR), ref, p.citizenship, None)

    def _status(self, ts: int, ref: str, change: dict[str, Any], deadline: int | None) -> None:
        self._push(ts, self._recorded(ts, deadline), "SupportStatusChanged", _CMM, ref, change)

    def _departure(self, ts: int, ref: str, citizenship: str, deadline: int | None) -> None:
        payload = {} if citizenship == UNKNOWN_CODE else {"destination": citizenship}
        self._push(ts, self._recorded(ts, deadline), "DepartedDenmark", _CMM, ref, payload)

    def _call(self, anchor: int, data: tuple[str, str, ResentCall | LateCallFix | None]) -> None:
        delay = self.p.hotline.delay_minutes
        caller, reason, mark = data
        hotline = _HOTLINE
        recorded = anchor + self._int(delay.min, delay.max) * MINUTE
        if isinstance(mark, ResentCall):
            # Logged with the wrong reason, retracted, and sent again as a new event.
            wrong = {"caller": caller, "reason": mark.wrong_reason.value}
            wrong_id = self._push(anchor, recorded, "HotlineCallReceived", hotline, None, wrong)
            at = min(recorded + self._int(HOUR, 3 * DAY), self.deadline - HOUR)
            at_recorded = at + self._int(MINUTE, 30 * MINUTE)
            retract = {
                "target_event_id": wrong_id,
                "target_type": "HotlineCallReceived",
                "action": "retract",
                "reason": "wrong reason recorded; the call is sent again",
            }
            self._push(at, at_recorded, "CorrectionRecorded", hotline, None, retract)
            self._push(
                anchor,
                at_recorded + self._int(MINUTE, 20 * MINUTE),
                "HotlineCallReceived",
                hotline,
                None,
                {"caller": caller, "reason": reason},
            )
            return
        call_id = self._push(
            anchor,
            recorded,
            "HotlineCallReceived",
            hotline,
            None,
            {"caller": caller, "reason": reason},
        )
        if isinstance(mark, LateCallFix):
            # Corrected after the cut-off: the as-of report keeps the original reason.
            at = self._after_cutoff(9, 16)
            fix = {
                "target_event_id": call_id,
                "target_type": "HotlineCallReceived",
                "action": "replace",
                "replacement": {"caller": caller, "reason": mark.corrected_reason.value},
                "reason": "reason of the call corrected",
            }
            self._push(
                at, at + self._int(MINUTE, 2 * DAY), "CorrectionRecorded", hotline, None, fix
            )

    def _log(
        self, anchor: int, data: tuple[str, str, tuple[str, ...], tuple[int, ...], str]
    ) -> None:
        place, period, keys, values, source = data
        measures = dict(zip(keys, values, strict=True))
        if period in _PER_SESSION:
            recorded = self._recorded(anchor, self.deadline)
        else:  # period totals are compiled after the period ends, before the report
            recorded = min(anchor + self._int(3 * DAY, 20 * DAY), self.deadline)
        payload = {"place": place, "period": period, "measures": measures}
        self._push(anchor, recorded, "OutreachActivityLogged", source, None, payload)


_DONE: Final[_Entity] = (0, 0, -1, None)


def _contact_payload(where: Where) -> dict[str, Any]:
    payload: dict[str, Any] = {"channel": where.channel.value}
    if where.place is not None:
        payload["place"] = where.place.value
    return payload


# ----------------------------------------------------------------------------------------------
# Public API


def simulate(profile: Profile | str | Path, seed: int, scale: int = 1) -> Iterator[dict[str, Any]]:
    """Envelope dicts (as ``domain.events.to_record`` writes them) for the profile's year and
    what its report needs from the neighbouring years, in roughly ``recorded_at`` order.

    The same seed gives the same stream, byte for byte; another seed gives other people,
    dates and ids with the same published figures. ``scale`` multiplies every population
    (victims, other persons, hotline calls, outreach logs), so exact figures are multiplied
    exactly. The plan (one small tuple per person or log) is made now; events are made as
    they are consumed."""
    if not isinstance(profile, Profile):
        profile = load_profile(profile)
    if scale < 1:
        raise ValueError(f"scale must be at least 1, not {scale}")
    rng = random.Random(seed)
    simulation = _Simulation(profile, rng, aside=random.Random(f"{seed}/inconsistent"))
    entities = simulation.plan(scale)
    return simulation.events(entities, profile.recording.overtaken_share)


def write_jsonl(
    events: Iterable[Mapping[str, Any]],
    out: Path,
    progress: Callable[[int], None] | None = None,
    every: int = 50_000,
) -> int:
    """Write one compact JSON object per line, streaming; return the number written.

    Lines go out in batches of ``every`` (``progress`` is called with the running count after
    each, and at the end). The file appears under its name only when complete, so a crash
    never leaves a truncated stream that looks finished."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    encode = json.JSONEncoder(separators=(",", ":")).encode
    count = 0
    batch: list[str] = []
    try:
        with partial.open("w", encoding="utf-8", newline="\n") as handle:
            for event in events:
                batch.append(encode(event))
                count += 1
                if len(batch) >= every:
                    batch.append("")
                    handle.write("\n".join(batch))
                    batch.clear()
                    if progress is not None:
                        progress(count)
            if batch:
                batch.append("")
                handle.write("\n".join(batch))
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if progress is not None:
        progress(count)
    return count


__all__ = [
    "PROFILES_DIR",
    "Profile",
    "ProfileError",
    "SimulationError",
    "load_profile",
    "parse_profile",
    "simulate",
    "split_total",
    "uuid7",
    "write_jsonl",
]


def simulated_inputs(profile: Profile | str | Path, seed: int, as_of: str) -> Any:
    """The report inputs (facts, hotline, outreach frames) of a simulated stream as of
    ``as_of``, folded in memory the way the read model folds them: for tests and benchmarks
    that need the simulator's year without a store."""
    from types import SimpleNamespace

    from projections.bitemporal import as_of_bound, prepare
    from projections.case_fold import fold_prepared
    from projections.logs import log_rows
    from projections.report import facts_frame, hotline_frame, outreach_frame

    bound = as_of_bound(as_of)
    cases: dict[str, list[dict[str, Any]]] = {}
    logs: list[dict[str, Any]] = []
    for record in simulate(profile, seed=seed):
        if record.get("person_ref") is None:
            logs.append(record)
        else:
            cases.setdefault(record["person_ref"], []).append(record)
    facts = [
        f
        for ref in sorted(cases)
        if (f := fold_prepared(ref, prepare(cases[ref]), bound).fact()) is not None
    ]
    hotline, outreach = log_rows(logs, as_of)
    return SimpleNamespace(
        facts=facts_frame(facts), hotline=hotline_frame(hotline), outreach=outreach_frame(outreach)
    )

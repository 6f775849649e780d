"""The plan of a run: who exists, with which attributes, and when each history starts.

Planning deals the profile's pools out among the people of each group, pins the extremes,
nudges sums onto their targets and dates every assessment and first contact; it makes no
event. Each person, contacted-only person, hotline call and outreach log becomes one small
entry, keyed by the moment its first event happens, for ``simulation.histories`` to turn
into events when the merge reaches it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.codes import (
    Accommodation,
    Channel,
    ExploitationForm,
    Gender,
    Industry,
    OutreachMeasure,
    Period,
    ReturnSupport,
    SupportStatus,
)
from simulation.draws import SimulationError, deal, pool_of, split_total
from simulation.profile import DATED_ENDS, DEPARTURES, ONGOING
from simulation.profile_sections import AgeHint, LateCallFix, PersonGroup, ResentCall, Where
from simulation.timeline import SimulatedYear, day_number


@dataclass(slots=True)
class Person:
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


CASE, CONTACTED, CALL, LOG = range(4)
# (anchor: when the entity's first event happens, seq, kind, data)
Entity = tuple[int, int, int, Any]


class Planner(SimulatedYear):
    """Plans the replicas of one seeded run."""

    SECOND_OPINIONS = 3
    """Victims a replica gives a later, negative assessment as well: case histories that
    are inconsistent (``conflicting_assessments``), as real ones sometimes are, so case
    workers' flags have something to show. The positive assessment still counts, so the
    published figures do not change."""

    def plan(self, scale: int) -> list[Entity]:
        entities: list[Entity] = []
        for _ in range(scale):
            entities.extend(self._plan_replica())
        entities.sort()  # by (anchor, seq); seq is unique, so data is never compared
        return entities

    def _plan_replica(self) -> list[Entity]:
        out: list[Entity] = []
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
            out.append((person.first_ts, self._next(), CASE, person))
        for gi, group in enumerate(self.p.contacted_only.groups):
            for _ in range(group.count):
                ts = self._moment(self._int(self.y0 + 1, self.y_end - 3), 7, 20)
                out.append((ts, self._next(), CONTACTED, gi))
        out.extend(self._plan_calls())
        out.extend(self._plan_logs())
        return out

    def _expand(self, groups: Sequence[PersonGroup], victim: bool) -> list[Person]:
        rng = self.rng
        people: list[Person] = []
        for g in groups:
            n = g.count
            wheres = [Where(channel=w.channel, place=w.place) for w in g.first_contact]
            firsts = deal(rng, {i: w.count for i, w in enumerate(g.first_contact)})
            statuses: list[SupportStatus | None] = [None] * n
            if g.status is not None:
                dealt: list[SupportStatus] = deal(rng, pool_of(g.status, n))
                statuses = list(dealt)
            citizenships: list[str] = deal(rng, pool_of(g.citizenship, n))
            genders: list[Gender] = deal(rng, pool_of(g.gender, n))
            for citizenship, gender, first, status in zip(
                citizenships,
                genders,
                firsts,
                statuses,
                strict=True,
            ):
                people.append(
                    Person(
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

    def _allocate(self, victims: list[Person]) -> None:
        """Deal the status-dependent pools, pin the extremes and correct the sums."""
        rng, spec = self.rng, self.p.victims
        for status, pool in spec.accommodation.items():
            members = [v for v in victims if v.status is status]
            for v, acc in zip(members, deal(rng, pool), strict=True):
                v.accommodation = acc
        cmm = [v for v in victims if v.status is SupportStatus.RETURN_SUPPORTED_CMM]
        for v, support in zip(cmm, deal(rng, spec.return_support), strict=True):
            v.return_support = support
        for rule in spec.days_in_denmark:
            members = [v for v in victims if v.status in rule.statuses]
            rng.shuffle(members)
            for i, v in enumerate(members):
                v.days = (rule.min, rule.max)[i] if i < 2 else self._int(rule.min, rule.max)
        self._ages(victims)
        taken: set[int] = set()
        for status in deal(rng, spec.changes_after_cutoff):
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

    def _ages(self, victims: list[Person]) -> None:
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

    def _date_first_contact(self, p: Person, earliest: int) -> None:
        lag = self.p.victims.contact_lag_days
        span = lag.max - lag.min
        days = lag.min + int(span * self.rng.random() ** 2.5)  # most are met shortly before
        day = max(earliest, p.assessed_day - days)
        day = min(day, p.assessed_day - 1)
        p.first_ts = self._moment(day, 7, 20)

    def _date_victim(self, v: Person) -> None:
        hi = self.y_end - 8
        if v.status in DEPARTURES and v.days is not None:
            hi = min(hi, self.y_end - 8 - v.days)
        elif v.status in DATED_ENDS and v.days is not None:
            hi = min(hi, self.limit_day - v.days)
        if v.typo is not None:
            hi = min(hi, self.y_end - 30)  # leave time to correct the typo before the cut-off
        v.assessed_day = self._int(self.y0 + 10, hi)
        self._date_first_contact(v, self.y0 + 1)

    def _date_earlier(self, e: Person) -> None:
        spec = self.p.earlier_victims
        e.days = self._int(spec.days_in_denmark.min, spec.days_in_denmark.max)
        start = day_number(date(spec.assessed_year, 1, 1))
        lo = max(self.y0 + 3 - e.days, start)
        hi = min(self.y0 - 5, self.y_end - 8 - e.days)
        e.assessed_day = self._int(lo, hi)
        e.age = self._adult_age(e.age_hint)
        self._date_first_contact(e, start)

    def _plan_calls(self) -> list[Entity]:
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
        out: list[Entity] = []
        for (caller, reason), mark in zip(calls, marks, strict=True):
            ts = self._moment(self._int(self.y0, self.y_end - 3), 7, 21)
            out.append((ts, self._next(), CALL, (caller, reason, mark)))
        return out

    def _plan_logs(self) -> list[Entity]:
        rng = self.rng
        out: list[Entity] = []
        # Weekly logs fall on the year's Thursdays from the first one on: 52 of them end by
        # 28 December, whatever weekday the year starts on, so none falls in the next year.
        thursday = self.y0 + (3 - date(self.p.year, 1, 1).weekday()) % 7
        for spec in self.p.outreach:
            for series in spec.series:
                n = series.logs
                if series.period is Period.SESSION:
                    pool = range(self.y0 + 1, self.y_end - 2)
                    days = sorted(rng.sample(pool, n) if n <= len(pool) else rng.choices(pool, k=n))
                elif series.period is Period.WEEK:
                    days = [thursday + 7 * k for k in range(n)]
                elif series.period is Period.MONTH:
                    days = [day_number(date(self.p.year, m + 1, 25)) for m in range(n)]
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
                    out.append((self._moment(day, 9, 20), self._next(), LOG, data))
        return out

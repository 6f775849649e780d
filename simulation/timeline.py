"""The simulated year in seconds: day numbers, timestamp text, and the moments every
part of a run shares (the year, the status cut-off, the recording deadline around it).

Times are whole seconds since the Unix epoch and days are days since it; an event's
timestamps are written as ``domain.events.to_record`` writes them, by table look-up
(formatting two timestamps per event was the simulator's top cost)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Final

from simulation.profile import Profile

DAY: Final = 86_400
HOUR: Final = 3_600
MINUTE: Final = 60
EPOCH: Final = date(1970, 1, 1)


def day_number(d: date) -> int:
    """Days since the epoch."""
    return (d - EPOCH).days


# An event's two timestamps are a date and a time of day looked up here, filled as needed.
DATE_TEXTS: dict[int, str] = {}
_TIMES: list[str] = []


def date_text(day: int) -> str:
    """``YYYY-MM-DD`` of a day number, remembered in :data:`DATE_TEXTS`."""
    text = DATE_TEXTS[day] = (EPOCH + timedelta(days=day)).isoformat()
    return text


def time_texts() -> list[str]:
    """``THH:MM:SS.000000Z`` of every second of a day, by second."""
    if not _TIMES:
        _TIMES.extend(
            f"T{s // HOUR:02d}:{s // 60 % 60:02d}:{s % 60:02d}.000000Z" for s in range(DAY)
        )
    return _TIMES


class SimulatedYear:
    """What the planning and the recording of one seeded run share: the profile, the random
    numbers, the year's landmarks, a sequence number unique over the run (it breaks ties in
    every sort, so nothing else is ever compared), and the draws of moments."""

    def __init__(
        self,
        profile: Profile,
        rng: random.Random,
        aside: random.Random | None = None,
        seq: int = 0,
    ) -> None:
        self.p = profile
        self.rng = rng
        # Draws for the inconsistent histories, apart from ``rng``: adding them left every
        # other person, date and id of a seed's stream as it was.
        self.aside = aside or random.Random(0)
        self.y0 = day_number(date(profile.year, 1, 1))
        self.y_end = day_number(date(profile.year, 12, 31))
        self.cutoff = day_number(profile.status_cutoff)
        # Anything the as-of report needs is recorded by this moment, a day clear of the
        # cut-off, so no reading of "as of 2013-01-31" (start or end of day) can split it.
        self.deadline = (self.cutoff - 1) * DAY - 4 * HOUR
        self.reopen = (self.cutoff + 1) * DAY  # recording resumes the day after the cut-off
        self.limit_day = self.cutoff - 6  # latest day of a pre-cut-off status change
        self.seq = seq
        self._random = rng.random

    def _int(self, lo: int, hi: int) -> int:
        """Uniform in ``[lo, hi]``; ``random.randint`` costs ten times more per call."""
        return lo + int(self._random() * (hi - lo + 1))

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def _moment(self, day: int, from_hour: int, to_hour: int) -> int:
        """A random second of ``day`` between the two hours (UTC). Everything happens in
        daytime, so a date never depends on the time zone a report reads it in."""
        return day * DAY + from_hour * HOUR + int(self._random() * (to_hour - from_hour) * HOUR)

    def _between(self, lo: int, hi: int) -> int:
        """A daytime moment in ``[lo, hi]`` (both daytime moments themselves)."""
        first, random_ = lo // DAY, self._random
        day = first + int(random_() * (hi // DAY - first + 1))
        ts = day * DAY + 7 * HOUR + int(random_() * 13 * HOUR)
        return lo if ts < lo else hi if ts > hi else ts

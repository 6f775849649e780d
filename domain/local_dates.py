"""The centre's calendar: reporting years and dates are Danish local dates.

The store keeps moments in UTC (fixed-width ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, so string order
is time order); a report counts days and years as they were in Denmark (Europe/Copenhagen,
by the IANA time-zone database through ``zoneinfo``). A hotline call at
``2020-01-01T00:30:00+01:00`` (``2019-12-31T23:30:00Z``) is a call of 2020, and an assessment
at that moment is dated 2020-01-01. A report's cut-off date ends at midnight in Denmark.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TIMEZONE = ZoneInfo("Europe/Copenhagen")

# Denmark is one or two hours ahead of UTC (CET, CEST), so before 22:00 UTC its date is the
# UTC date: the text's own date, without converting. The folds take a date of every event.
_SAME_DATE_BEFORE = "22"


def local_date(moment: str) -> str:
    """``YYYY-MM-DD`` in Denmark of a stored UTC moment (a date passes unchanged)."""
    if moment[11:13] < _SAME_DATE_BEFORE:
        return moment[:10]
    return datetime.fromisoformat(moment).astimezone(TIMEZONE).date().isoformat()


def end_of_local_day(day: date) -> datetime:
    """The last microsecond of ``day`` in Denmark, in UTC."""
    midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=TIMEZONE)
    return (midnight - timedelta(microseconds=1)).astimezone(UTC)

"""The rows a case projects to: the victim fact row, the contact rows, and their versions.

A fact row is made in one place, :func:`fact_values`, from the fields of the assessment that
counts and of the support that followed; the fold (:mod:`projections.case_fold`) and the
one-pass fold (:mod:`projections.case_fold_fast`) both call it, so the two cannot disagree
on a column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, NamedTuple

from domain.codes import AgeBand, Channel, SupportStatus
from domain.countries import COUNTRIES, is_eu_member

# EU membership, for ``FactRow.eu_citizen``: whether the country of citizenship was an EU member
# state in the reporting year. The domain holds the membership (``domain.countries``).
is_eu_citizen = is_eu_member


@dataclass(frozen=True, slots=True)
class FactRow:
    """One assessed victim in one reporting year (the year of the assessment), as the annual
    report counts them. Codes are plain strings so rows go straight into a DataFrame or SQL."""

    person_ref: str
    year: int
    assessed_on: str
    authority: str
    channel: str
    channel_group: str
    place: str | None
    citizenship: str
    region: str
    exploitation: str
    additional_forms: str | None
    industry: str | None
    gender: str
    age: int | None
    age_band: str
    legal_residence: bool
    eu_citizen: bool
    status: str
    status_on: str | None
    return_support: str | None
    accommodation: str | None
    departed_on: str | None
    days_in_denmark: int | None
    reflection_days: int | None


FACT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(FactRow))


class ContactRow(NamedTuple):
    """Contacts registered for one person in one calendar year (for ``contacts_summary``)."""

    person_ref: str
    year: int
    contacts: int


CONTACT_COLUMNS: tuple[str, ...] = ContactRow._fields


class CaseVersion(NamedTuple):
    """The projections of a case valid from ``recorded_at`` until the next version."""

    recorded_at: str
    fact: FactRow | None
    contacts: tuple[ContactRow, ...]


# Lookups precomputed once: enum attribute access costs more than the fold itself.
CHANNEL_GROUP: Mapping[str, str] = {c.value: c.group.value for c in Channel}
REGION: Mapping[str, str] = {code: c.region.value for code, c in COUNTRIES.items()}
_AGE_BAND: tuple[str, ...] = tuple(AgeBand.of(age).value for age in range(121))
_UNKNOWN_AGE_BAND = AgeBand.UNKNOWN.value
# Statuses that end the stay for ``days_in_denmark`` when no departure is recorded. Staying in
# Denmark (EU citizens) and ongoing support have no end date.
_STAY_ENDING_STATUSES = frozenset(
    {
        SupportStatus.DECLINED.value,
        SupportStatus.LEFT.value,
        SupportStatus.PREPARED_RETURN_IOM.value,
        SupportStatus.RETURN_SUPPORTED_CMM.value,
    }
)


def region_of(citizenship: str | None) -> str | None:
    """The world region of a country of citizenship (None for none)."""
    return None if citizenship is None else REGION[citizenship]


def days_in_denmark(
    assessed_on: str, departed_on: str | None, status: str, status_on: str | None
) -> int | None:
    """Days from the assessment to the departure, else to a status that ends the stay (dates
    as ``YYYY-MM-DD``); None while the stay goes on."""
    if departed_on is not None:
        end = departed_on
    elif status in _STAY_ENDING_STATUSES and status_on is not None:
        end = status_on
    else:
        return None
    return (date.fromisoformat(end) - date.fromisoformat(assessed_on)).days


def fact_values(
    person_ref: str,
    assessed_on: str,
    authority: str | None,
    channel: str,
    place: str | None,
    citizenship: str | None,
    exploitation: str | None,
    additional_forms: str | None,
    industry: str | None,
    gender: str | None,
    age: int | None,
    legal_residence: bool | None,
    status: str,
    status_on: str | None,
    return_support: str | None,
    accommodation: str | None,
    departed_on: str | None,
    reflection_days: int | None,
) -> tuple[Any, ...]:
    """FactRow's values, in FACT_COLUMNS order, for a person assessed as a victim on
    ``assessed_on``: the fields of the assessment that counts, the first contact's channel and
    place, the support status, accommodation and departure, and the columns derived from them
    (year, channel group, region, age band, EU citizenship, days in Denmark), and the
    reflection period of the first offer of support. A missing code
    is the empty string, as the report tables count them; an unknown age is None, in the
    ``unknown`` band. ``assessed_on`` is a local date (``domain.local_dates``), and so the
    year is Danish."""
    year = int(assessed_on[:4])
    region = "" if citizenship is None else REGION[citizenship]
    citizenship = citizenship or ""
    return (
        person_ref,
        year,
        assessed_on,
        authority or "",
        channel,
        CHANNEL_GROUP[channel],
        place,
        citizenship,
        region,
        exploitation or "",
        additional_forms,
        industry,
        gender or "",
        age,
        _UNKNOWN_AGE_BAND
        if age is None
        else _AGE_BAND[age]
        if 0 <= age < len(_AGE_BAND)
        else AgeBand.of(age).value,
        bool(legal_residence),
        is_eu_citizen(citizenship, year),
        status,
        status_on,
        return_support,
        accommodation,
        departed_on,
        days_in_denmark(assessed_on, departed_on, status, status_on),
        reflection_days,
    )

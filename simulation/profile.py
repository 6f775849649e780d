"""The simulator's profile: the numbers of one synthetic year, their schema and their checks.

A profile (``simulation/profiles/<name>.json``) is data, so another year is a new file rather than
new code. It is validated on load: each field against its type and range, then the rules that
span sections (:func:`_cross_checks`), so a profile that loads is one the simulator
(``simulation.simulate``) can satisfy, and every contradiction is reported at once, named by where
to look.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Final, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from domain.codes import (
    Accommodation,
    Aggregation,
    CallerType,
    CallReason,
    Channel,
    ExploitationForm,
    Gender,
    Industry,
    OutreachMeasure,
    Period,
    Place,
    ReturnSupport,
    Source,
    SupportStatus,
)
from domain.countries import COUNTRIES, eu_members

PROFILES_DIR: Final = Path(__file__).with_name("profiles")

# Statuses whose date ends the stay (days_in_denmark), and the ones with no end yet.
DEPARTURES = frozenset({SupportStatus.PREPARED_RETURN_IOM, SupportStatus.RETURN_SUPPORTED_CMM})
DATED_ENDS = DEPARTURES | {SupportStatus.DECLINED, SupportStatus.LEFT}
ONGOING = frozenset({SupportStatus.ACCEPTED, SupportStatus.OFFERED, SupportStatus.OTHER})


class ProfileError(ValueError):
    """A profile that cannot be read or whose numbers contradict each other or the contract."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Count = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]


class Bounds(_Model):
    min: int
    max: int

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class AgeHint(_Model):
    mean: float = 30.0
    sd: Annotated[float, Field(ge=0.0)] = 8.0


class Where(_Model):
    channel: Channel
    place: Place | None = None


class WhereCount(Where):
    count: Positive


def _pool_total(name: str, pool: Mapping[Any, int] | None, count: int) -> None:
    if pool is not None and sum(pool.values()) != count:
        raise ValueError(f"{name} adds up to {sum(pool.values())}, not the group's count {count}")


class PersonGroup(_Model):
    """People who share the fixed attributes; pooled attributes are dealt out among them."""

    label: str = ""
    count: Positive
    citizenship: str | dict[str, Positive]
    gender: Gender | dict[Gender, Positive]
    legal_residence: bool
    exploitation: ExploitationForm | None = None
    industry: Industry | None = None
    status: SupportStatus | dict[SupportStatus, Positive] | None = None
    first_contact: Annotated[list[WhereCount], Field(min_length=1)]
    age: AgeHint = AgeHint()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for code in self.citizenships():
            if code not in COUNTRIES:
                raise ValueError(f"citizenship: unknown country code {code!r}")
        for name, pool in (("citizenship", self.citizenship), ("gender", self.gender)):
            _pool_total(name, pool if isinstance(pool, dict) else None, self.count)
        if isinstance(self.status, dict):
            _pool_total("status", self.status, self.count)
        _pool_total(
            "first_contact", {i: w.count for i, w in enumerate(self.first_contact)}, self.count
        )
        forced_labour = self.exploitation is ExploitationForm.FORCED_LABOUR
        if forced_labour and self.industry is None:
            raise ValueError("industry is required when exploitation is 'forced_labour'")
        if self.industry is not None and not forced_labour:
            raise ValueError("industry is only allowed when exploitation is 'forced_labour'")
        if self.status is SupportStatus.NONE or (
            isinstance(self.status, dict) and SupportStatus.NONE in self.status
        ):
            raise ValueError("status 'none' is a report category and cannot be recorded")
        return self

    def citizenships(self) -> list[str]:
        return list(self.citizenship) if isinstance(self.citizenship, dict) else [self.citizenship]

    def status_counts(self) -> dict[SupportStatus, int]:
        if self.status is None:
            return {}
        return dict(self.status) if isinstance(self.status, dict) else {self.status: self.count}


class AgeRule(_Model):
    min: Count
    max: Count
    mean_min: float
    mean_max: float

    @model_validator(mode="after")
    def _feasible(self) -> Self:
        if not self.min + 2 <= self.max:
            raise ValueError("max must exceed min by at least 2 (the extremes are pinned)")
        if not self.min < self.mean_min <= self.mean_max < self.max:
            raise ValueError("need min < mean_min <= mean_max < max")
        return self


class DaysRule(_Model):
    statuses: Annotated[list[SupportStatus], Field(min_length=1)]
    min: Count
    max: Count


class VictimsSpec(_Model):
    groups: Annotated[list[PersonGroup], Field(min_length=1)]
    age: AgeRule
    days_in_denmark: list[DaysRule]
    accommodation: dict[SupportStatus, dict[Accommodation, Positive]]
    other_accommodation_share: Share
    other_accommodation: dict[Accommodation, Positive]
    return_support: dict[ReturnSupport, Positive]
    reflection_days_without_legal_residence: Annotated[int, Field(ge=0, le=365)] | None = None
    changes_after_cutoff: dict[SupportStatus, Positive] = {}
    contact_lag_days: Bounds
    repeat_contacts: Bounds
    repeat_same_share: Share
    repeat_channels: Annotated[list[Where], Field(min_length=1)]


class EarlierVictimsSpec(_Model):
    assessed_year: int
    groups: list[PersonGroup]
    days_in_denmark: Bounds


class NotVictimsSpec(_Model):
    groups: list[PersonGroup]


class ContactedGroup(_Model):
    label: str = ""
    count: Positive
    channel: Channel
    place: Place | None = None
    repeats: Bounds
    span_days: Positive


class ContactedOnlySpec(_Model):
    groups: list[ContactedGroup]
    repeat_same_share: Share
    repeat_channels: Annotated[list[Where], Field(min_length=1)]


class CallSpec(_Model):
    caller: CallerType
    reason: CallReason
    count: Positive


class HotlineSpec(_Model):
    calls: list[CallSpec]
    delay_minutes: Bounds


class MeasureSpec(_Model):
    """A measure split over a series of logs: ``total`` over all, each log within
    ``[min, max]`` (both attained when given), optionally at most another measure's value."""

    total: Count
    min: Count | None = None
    max: Count | None = None
    at_most: OutreachMeasure | None = None


class LogSeries(_Model):
    period: Period
    count: Positive | None = None
    measures: Annotated[dict[OutreachMeasure, Count | MeasureSpec], Field(min_length=1)]

    @property
    def logs(self) -> int:
        default = {Period.WEEK: 52, Period.MONTH: 12, Period.YEAR: 1}.get(self.period, 0)
        return self.count or default

    @model_validator(mode="after")
    def _feasible(self) -> Self:
        n = self.logs
        if n == 0:
            raise ValueError(f"count is required for period '{self.period.value}'")
        limit = {Period.WEEK: 52, Period.MONTH: 12, Period.YEAR: 1}.get(self.period)
        if limit is not None and n > limit:
            raise ValueError(f"at most {limit} '{self.period.value}' logs fit in a year")
        seen: list[OutreachMeasure] = []
        for measure, spec in self.measures.items():
            if measure.aggregation is not Aggregation.SUM and n != 1:
                raise ValueError(
                    f"{measure.value}: a {measure.aggregation.value} measure needs "
                    "a series of one log"
                )
            if isinstance(spec, MeasureSpec):
                lo, hi = spec.min or 0, spec.total if spec.max is None else spec.max
                if lo > hi:
                    raise ValueError(f"{measure.value}: min {lo} is greater than max {hi}")
                pinned = 2 if n >= 2 and lo < hi else 0
                if (
                    not lo * n + (hi - lo) * (pinned // 2)
                    <= spec.total
                    <= hi * n - (hi - lo) * (pinned // 2)
                ):
                    raise ValueError(
                        f"{measure.value}: total {spec.total} cannot be split over "
                        f"{n} logs of {lo}..{hi} with both extremes attained"
                    )
                if spec.at_most is not None and spec.at_most not in seen:
                    raise ValueError(
                        f"{measure.value}: at_most must name a measure listed before it"
                    )
            seen.append(measure)
        return self


class OutreachPlace(_Model):
    place: Place
    source: Source
    series: Annotated[list[LogSeries], Field(min_length=1)]


class DelayBand(_Model):
    share: Annotated[float, Field(gt=0.0, le=1.0)]
    min_hours: Annotated[float, Field(ge=0.0)]
    max_hours: Annotated[float, Field(ge=0.0)]


class RecordingSpec(_Model):
    delay_bands: Annotated[list[DelayBand], Field(min_length=1)]
    overtaken_share: Annotated[float, Field(ge=0.0, lt=1.0)]

    @model_validator(mode="after")
    def _shares(self) -> Self:
        if not math.isclose(sum(b.share for b in self.delay_bands), 1.0, abs_tol=1e-9):
            raise ValueError("delay_bands: shares must add up to 1")
        return self


class ChannelTypo(_Model):
    wrong: Channel
    right: Channel


class ResentCall(_Model):
    caller: CallerType
    wrong_reason: CallReason
    reason: CallReason


class LateCallFix(_Model):
    caller: CallerType
    reason: CallReason
    corrected_reason: CallReason


class CorrectionsSpec(_Model):
    contact_channel: list[ChannelTypo] = []
    hotline_resent: list[ResentCall] = []
    hotline_after_cutoff: list[LateCallFix] = []
    age_after_cutoff: Count = 0


class Profile(_Model):
    """Everything a synthetic year needs; see ``simulation/profiles/cmm-2012.json``."""

    name: str
    description: str = ""
    year: Annotated[int, Field(ge=1991, le=2098)]
    status_cutoff: date
    after_cutoff_days: Bounds
    contact_sources: dict[Channel, Source]
    recording: RecordingSpec
    victims: VictimsSpec
    earlier_victims: EarlierVictimsSpec
    not_victims: NotVictimsSpec
    contacted_only: ContactedOnlySpec
    hotline: HotlineSpec
    outreach: list[OutreachPlace]
    corrections: CorrectionsSpec

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        errors = _cross_checks(self)
        if errors:
            raise ValueError("; ".join(errors))
        return self


def _cross_checks(p: Profile) -> list[str]:
    """Rules that span sections; each message names where to look."""
    errors: list[str] = []
    # Day numbers: only their differences matter here.
    cutoff = p.status_cutoff.toordinal()
    y0, y_end = date(p.year, 1, 1).toordinal(), date(p.year, 12, 31).toordinal()
    if not y_end < cutoff - 8:
        errors.append("status_cutoff: must be at least 9 days after the end of the year")
    sections = {
        "victims": p.victims.groups,
        "earlier_victims": p.earlier_victims.groups,
        "not_victims": p.not_victims.groups,
    }
    eu = eu_members(p.year)  # membership is the domain's, in the profile's year
    for section, groups in sections.items():
        for i, g in enumerate(groups):
            where = f"{section}.groups[{i}]"
            eu_here = sorted(eu.intersection(g.citizenships()))
            if eu_here and not g.legal_residence:
                errors.append(
                    f"{where}: EU citizens ({', '.join(eu_here)}) have legal residence;"
                    " set legal_residence to true or split the group"
                )
            victim = section != "not_victims"
            if victim and (g.exploitation is None or g.status is None):
                errors.append(f"{where}: a victim group needs exploitation and status")
            if not victim and (g.exploitation is not None or g.status is not None):
                errors.append(f"{where}: a not-victim group has no exploitation or status")
            for w in g.first_contact:
                if w.channel not in p.contact_sources:
                    errors.append(f"{where}: channel '{w.channel.value}' has no contact_sources")
    statuses: dict[SupportStatus, int] = {}
    for g in p.victims.groups:
        for s, n in g.status_counts().items():
            statuses[s] = statuses.get(s, 0) + n
    v = p.victims
    for status, pool in v.accommodation.items():
        if sum(pool.values()) != statuses.get(status, 0):
            errors.append(
                f"victims.accommodation.{status.value}: adds up to "
                f"{sum(pool.values())}, but {statuses.get(status, 0)} victims have it"
            )
    cmm = statuses.get(SupportStatus.RETURN_SUPPORTED_CMM, 0)
    if sum(v.return_support.values()) != cmm:
        errors.append(
            f"victims.return_support: adds up to {sum(v.return_support.values())}, "
            f"but {cmm} victims have status 'return_supported_cmm'"
        )
    for i, rule in enumerate(v.days_in_denmark):
        members = sum(statuses.get(s, 0) for s in rule.statuses)
        if any(s not in DATED_ENDS for s in rule.statuses):
            errors.append(
                f"victims.days_in_denmark[{i}]: only statuses that end the stay "
                "(declined, left, prepared_return_iom, return_supported_cmm)"
            )
        elif members < (2 if rule.min < rule.max else 1):
            errors.append(f"victims.days_in_denmark[{i}]: too few victims to attain min and max")
        end = y_end - 8 if rule.statuses[0] in DEPARTURES else cutoff - 6
        if rule.min > rule.max or y0 + 10 + rule.max > end:
            errors.append(
                f"victims.days_in_denmark[{i}]: {rule.min}..{rule.max} days do not fit "
                "between assessment in the year and the end of the stay"
            )
    ruled = {s for rule in v.days_in_denmark for s in rule.statuses}
    for s in DATED_ENDS:
        if statuses.get(s) and s not in ruled:
            errors.append(f"victims.days_in_denmark: no rule for status '{s.value}'")
    ongoing = sum(statuses.get(s, 0) for s in ONGOING)
    if sum(v.changes_after_cutoff.values()) > ongoing:
        errors.append(
            f"victims.changes_after_cutoff: more changes than the {ongoing} victims "
            "whose support is ongoing"
        )
    if sum(statuses.values()) < 2:
        errors.append("victims: at least two victims are needed to pin the youngest and oldest")
    for g in p.earlier_victims.groups:
        if any(s not in DEPARTURES for s in g.status_counts()):
            errors.append("earlier_victims: statuses must be departures from Denmark")
    if p.earlier_victims.assessed_year >= p.year:
        errors.append("earlier_victims.assessed_year: must be before the year")
    earlier_days = p.earlier_victims.days_in_denmark
    if not 8 <= earlier_days.min <= earlier_days.max <= 340:
        errors.append(
            "earlier_victims.days_in_denmark: must lie within 8..340 days, so the "
            "assessment falls before the year and the departure in it"
        )
    for i, c in enumerate(p.contacted_only.groups):
        if c.channel not in p.contact_sources:
            errors.append(f"contacted_only.groups[{i}]: channel has no contact_sources")
    for repeat in [*v.repeat_channels, *p.contacted_only.repeat_channels]:
        if repeat.channel not in p.contact_sources:
            errors.append(f"repeat_channels: channel '{repeat.channel.value}' has no source")
    contacts = [w.channel for g in p.victims.groups for w in g.first_contact]
    for typo in p.corrections.contact_channel:
        if typo.right not in contacts:
            errors.append(
                f"corrections.contact_channel: no victim was first met via '{typo.right.value}'"
            )
    calls = {(c.caller, c.reason): c.count for c in p.hotline.calls}
    wanted: dict[tuple[CallerType, CallReason], int] = {}
    for key in [(r.caller, r.reason) for r in p.corrections.hotline_resent] + [
        (f.caller, f.reason) for f in p.corrections.hotline_after_cutoff
    ]:
        wanted[key] = wanted.get(key, 0) + 1
    for (caller, reason), n in wanted.items():
        if calls.get((caller, reason), 0) < n:
            errors.append(
                f"corrections: too few hotline calls ({caller.value}, {reason.value}) to correct"
            )
    return errors


def parse_profile(data: Mapping[str, Any], source: str = "<profile>") -> Profile:
    """Validate ``data`` as a profile, or raise :class:`ProfileError` naming every bad field."""
    try:
        return Profile.model_validate(data)
    except ValidationError as error:
        parts = []
        for item in error.errors(include_url=False, include_input=False):
            loc = ".".join(str(p) for p in item["loc"])
            message = item["msg"].removeprefix("Value error, ")
            parts.append(f"{loc}: {message}" if loc else message)
        raise ProfileError(f"profile {source}: {'; '.join(parts)}") from None


def load_profile(name_or_path: str | Path) -> Profile:
    """A profile by name (``simulation/profiles/<name>.json``) or by path to a JSON file."""
    path = Path(name_or_path)
    if path.suffix != ".json" and len(path.parts) == 1:
        path = PROFILES_DIR / f"{name_or_path}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.json"))) or "none"
        raise ProfileError(
            f"no profile {str(name_or_path)!r} (looked for {path}); known profiles: {known}"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ProfileError(f"profile {path}: not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"profile {path}: expected a JSON object")
    return parse_profile(data, str(path))


__all__ = [
    "DATED_ENDS",
    "DEPARTURES",
    "ONGOING",
    "PROFILES_DIR",
    "Profile",
    "ProfileError",
    "load_profile",
    "parse_profile",
]

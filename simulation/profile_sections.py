"""The sections of a simulator profile: each field's type and range, and the rules within
one section (a group's pools add up to its count, a series of logs can take its totals).

The rules that span sections, and loading, are ``simulation.profile``'s."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
from domain.countries import COUNTRIES


class ProfileModel(BaseModel):
    """Any part of a profile: unknown fields are refused, and nothing changes once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Count = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]


class Bounds(ProfileModel):
    min: int
    max: int

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class AgeHint(ProfileModel):
    mean: float = 30.0
    sd: Annotated[float, Field(ge=0.0)] = 8.0


class Where(ProfileModel):
    channel: Channel
    place: Place | None = None


class WhereCount(Where):
    count: Positive


def _pool_total(name: str, pool: Mapping[Any, int] | None, count: int) -> None:
    if pool is not None and sum(pool.values()) != count:
        raise ValueError(f"{name} adds up to {sum(pool.values())}, not the group's count {count}")


class PersonGroup(ProfileModel):
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


class AgeRule(ProfileModel):
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


class DaysRule(ProfileModel):
    statuses: Annotated[list[SupportStatus], Field(min_length=1)]
    min: Count
    max: Count


class VictimsSpec(ProfileModel):
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


class EarlierVictimsSpec(ProfileModel):
    assessed_year: int
    groups: list[PersonGroup]
    days_in_denmark: Bounds


class NotVictimsSpec(ProfileModel):
    groups: list[PersonGroup]


class ContactedGroup(ProfileModel):
    label: str = ""
    count: Positive
    channel: Channel
    place: Place | None = None
    repeats: Bounds
    span_days: Positive


class ContactedOnlySpec(ProfileModel):
    groups: list[ContactedGroup]
    repeat_same_share: Share
    repeat_channels: Annotated[list[Where], Field(min_length=1)]


class CallSpec(ProfileModel):
    caller: CallerType
    reason: CallReason
    count: Positive


class HotlineSpec(ProfileModel):
    calls: list[CallSpec]
    delay_minutes: Bounds


class MeasureSpec(ProfileModel):
    """A measure split over a series of logs: ``total`` over all, each log within
    ``[min, max]`` (both attained when given), optionally at most another measure's value."""

    total: Count
    min: Count | None = None
    max: Count | None = None
    at_most: OutreachMeasure | None = None


class LogSeries(ProfileModel):
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


class OutreachPlace(ProfileModel):
    place: Place
    source: Source
    series: Annotated[list[LogSeries], Field(min_length=1)]


class DelayBand(ProfileModel):
    share: Annotated[float, Field(gt=0.0, le=1.0)]
    min_hours: Annotated[float, Field(ge=0.0)]
    max_hours: Annotated[float, Field(ge=0.0)]


class RecordingSpec(ProfileModel):
    delay_bands: Annotated[list[DelayBand], Field(min_length=1)]
    overtaken_share: Annotated[float, Field(ge=0.0, lt=1.0)]

    @model_validator(mode="after")
    def _shares(self) -> Self:
        if not math.isclose(sum(b.share for b in self.delay_bands), 1.0, abs_tol=1e-9):
            raise ValueError("delay_bands: shares must add up to 1")
        return self


class ChannelTypo(ProfileModel):
    wrong: Channel
    right: Channel


class ResentCall(ProfileModel):
    caller: CallerType
    wrong_reason: CallReason
    reason: CallReason


class LateCallFix(ProfileModel):
    caller: CallerType
    reason: CallReason
    corrected_reason: CallReason


class CorrectionsSpec(ProfileModel):
    contact_channel: list[ChannelTypo] = []
    hotline_resent: list[ResentCall] = []
    hotline_after_cutoff: list[LateCallFix] = []
    age_after_cutoff: Count = 0

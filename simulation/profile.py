"""The simulator's profile: the numbers of one synthetic year, their schema and their checks.

A profile (``simulation/profiles/<name>.json``) is data, so another year is a new file rather than
new code. It is validated on load: each field against its type and range, with the rules
within a section (``simulation.profile_sections``), then the rules that span sections
(:func:`_cross_checks`), so a profile that loads is one the simulator
(``simulation.simulate``) can satisfy, and every contradiction is reported at once, named by where
to look.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Final, Self

from pydantic import Field, ValidationError, model_validator

from domain.codes import CallerType, CallReason, Channel, Source, SupportStatus
from domain.countries import eu_members
from simulation.profile_help import PROFILE_HELP, PROFILE_PATH_VARIABLE
from simulation.profile_sections import (
    Bounds,
    ContactedOnlySpec,
    CorrectionsSpec,
    EarlierVictimsSpec,
    HotlineSpec,
    NotVictimsSpec,
    OutreachPlace,
    ProfileModel,
    RecordingSpec,
    VictimsSpec,
)

PROFILES_DIR: Final = Path(__file__).with_name("profiles")

# Statuses whose date ends the stay (days_in_denmark), and the ones with no end yet.
DEPARTURES = frozenset({SupportStatus.PREPARED_RETURN_IOM, SupportStatus.RETURN_SUPPORTED_CMM})
DATED_ENDS = DEPARTURES | {SupportStatus.DECLINED, SupportStatus.LEFT}
ONGOING = frozenset({SupportStatus.ACCEPTED, SupportStatus.OFFERED, SupportStatus.OTHER})


class ProfileError(ValueError):
    """A profile that cannot be read or whose numbers contradict each other or the contract."""


class Profile(ProfileModel):
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


def profile_folders() -> list[Path]:
    """Where a profile ``NAME`` is looked for, in order: the folders of
    ``$CMM_PROFILE_PATH``, then the built-in profiles."""
    listed = os.environ.get(PROFILE_PATH_VARIABLE, "")
    return [*(Path(f) for f in listed.split(os.pathsep) if f), PROFILES_DIR]


def known_profiles() -> list[str]:
    """The names a profile can be given by (the first folder that has a name wins)."""
    return sorted({p.stem for folder in profile_folders() for p in folder.glob("*.json")})


def resolve_profile(name_or_path: str | Path) -> Path:
    """The file of a profile given by path or by name (see :data:`PROFILE_HELP`), or a
    :class:`ProfileError` naming where it looked and the names it knows."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    looked = [path]
    if path.suffix != ".json" and len(path.parts) == 1:
        looked = [folder / f"{name_or_path}.json" for folder in profile_folders()]
        for candidate in looked:
            if candidate.is_file():
                return candidate
    where = ", ".join(str(p) for p in looked)
    known = ", ".join(known_profiles()) or "none"
    raise ProfileError(
        f"no profile {str(name_or_path)!r} (looked for {where}); known profiles: {known}; "
        f"a profile is a NAME (add NAME.json to a folder of ${PROFILE_PATH_VARIABLE}) or "
        "the path of a JSON file"
    )


def demo_events_path(data_dir: Path, profile: Profile, seed: int, scale: int) -> Path:
    """Where ``cmm demo`` keeps the events it simulates: inside the data directory it
    ingests them into, never beside the profile (which may be a read-only folder)."""
    return data_dir / "demo" / f"{profile.name}-seed{seed}-x{scale}.jsonl"


def load_profile(name_or_path: str | Path) -> Profile:
    """A profile by name or by path to a JSON file (:func:`resolve_profile`)."""
    path = resolve_profile(name_or_path)
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
    "PROFILE_HELP",
    "PROFILE_PATH_VARIABLE",
    "Profile",
    "ProfileError",
    "demo_events_path",
    "known_profiles",
    "load_profile",
    "parse_profile",
    "profile_folders",
    "resolve_profile",
]

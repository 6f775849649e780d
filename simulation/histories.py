"""What happens to each planned entry: the events of a case, a contacted-only person, a
hotline call and an outreach log, with their corrections.

A case is contacts before the assessment, support after it, a departure on the day the
return is recorded; each kind of event keeps to its own hours of the day. The events go to
the recorder (``simulation.recording``), which decides when each is recorded."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from domain.codes import Authority, Outcome, Period, ReturnSupport, Source, SupportStatus
from domain.countries import UNKNOWN_CODE
from simulation.plan import CALL, CASE, CONTACTED, LOG, Person
from simulation.profile import DATED_ENDS, DEPARTURES, Profile
from simulation.profile_sections import LateCallFix, ResentCall, Where
from simulation.recording import Recorder
from simulation.timeline import DAY, HOUR, MINUTE

_PER_SESSION = frozenset({Period.SESSION.value, Period.WEEK.value})
_CMM, _HOTLINE = Source.CMM.value, Source.HOTLINE.value


def contact_payload(where: Where) -> dict[str, Any]:
    """The payload of a ContactRegistered event met ``where``."""
    payload: dict[str, Any] = {"channel": where.channel.value}
    if where.place is not None:
        payload["place"] = where.place.value
    return payload


class Histories(Recorder):
    """Turns plan entries into pending events."""

    def __init__(
        self,
        profile: Profile,
        rng: random.Random,
        aside: random.Random | None = None,
        seq: int = 0,
    ) -> None:
        super().__init__(profile, rng, aside, seq)
        self.sources = {c.value: s.value for c, s in profile.contact_sources.items()}
        # Contact payload templates (copied per event), so the hot path does no enum work.
        spec = profile.contacted_only
        self.group_first = [
            self._template(Where(channel=g.channel, place=g.place)) for g in spec.groups
        ]
        self.contacted_repeats = [self._template(w) for w in spec.repeat_channels]
        self.victim_repeats = [self._template(w) for w in profile.victims.repeat_channels]

    def _handlers(self) -> dict[int, Callable[[int, Any], None]]:
        return {CASE: self._case, CONTACTED: self._contacted, CALL: self._call, LOG: self._log}

    def _template(self, where: Where) -> tuple[dict[str, Any], str]:
        payload = contact_payload(where)
        return payload, self.sources[payload["channel"]]

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

    def _case(self, anchor: int, p: Person) -> None:
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
                anchor, recorded, "ContactRegistered", source, ref, contact_payload(shown)
            )
            at = min(recorded + self._int(2 * HOUR, 5 * DAY), deadline - HOUR)
            fix = {
                "target_event_id": first_id,
                "target_type": "ContactRegistered",
                "action": "replace",
                "replacement": contact_payload(p.first),
                "reason": "data_entry_error",
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
                "reason": "documents_verified",
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

    def _support(self, p: Person, ref: str) -> None:
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
                "reason": "resent",
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
                "reason": "data_entry_error",
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

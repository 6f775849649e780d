"""The synthetic stream: contract, determinism, scale, streaming, and the profile's checks.

Whether the stream reproduces the published figures is ``tests/integration/
test_reference_2012.py``; here are the properties that hold whatever the figures are.
"""

from __future__ import annotations

import copy
import json
import random
import re
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.events import to_record, validate_event
from simulation.profile import (
    PROFILE_HELP,
    PROFILE_PATH_VARIABLE,
    demo_events_path,
    known_profiles,
    resolve_profile,
)
from simulation.simulate import (
    PROFILES_DIR,
    Profile,
    ProfileError,
    load_profile,
    parse_profile,
    simulate,
    split_total,
    uuid7,
    write_jsonl,
)

Record = dict[str, Any]
CUTOFF = "2013-01-31"


@cache
def profile() -> Profile:
    return load_profile("cmm-2012")


@cache
def stream(seed: int, scale: int = 1) -> tuple[Record, ...]:
    return tuple(simulate(profile(), seed, scale))


def raw_profile() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PROFILES_DIR / "cmm-2012.json").read_text("utf-8"))
    return data


def census(records: tuple[Record, ...]) -> Counter[str]:
    """What scale multiplies: people, victims, calls, logs, corrections."""
    counts: Counter[str] = Counter(r["type"] for r in records)
    counts["persons"] = len({r["person_ref"] for r in records if "person_ref" in r})
    counts["victims"] = sum(
        r["type"] == "AssessmentDecided" and r["payload"]["outcome"] == "victim" for r in records
    )
    counts["contacts"] = counts.pop("ContactRegistered")  # repeats are drawn, not fixed
    return counts


# ----------------------------------------------------------------------------------------------
# The contract


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_event_passes_the_contract_in_its_stored_form(seed: int) -> None:
    for record in stream(seed):
        assert to_record(validate_event(record)) == record


def test_case_events_carry_pseudonyms_and_logs_carry_none() -> None:
    refs = Counter(r.get("person_ref") for r in stream(1))
    logs = refs.pop(None)
    assert logs == sum(
        r["type"] in ("HotlineCallReceived", "OutreachActivityLogged")
        or (r["type"] == "CorrectionRecorded" and "person_ref" not in r)
        for r in stream(1)
    )
    for ref in refs:
        assert isinstance(ref, str)
        assert re.fullmatch(r"P-[0-9a-f]{16}", ref), ref
        assert not ref[2:].isdigit()


def test_event_ids_are_unique_uuid7_from_the_recording_time() -> None:
    ids = [r["event_id"] for r in stream(1)]
    assert len(set(ids)) == len(ids)
    for record in stream(1)[:500]:
        value = uuid.UUID(record["event_id"])
        assert value.version == 7 and value.variant == uuid.RFC_4122
        recorded_s = int(
            # Whole seconds in this stream; stored timestamps are fixed-width UTC text.
            datetime.fromisoformat(validate_event(record).recorded_at).timestamp()
        )
        assert value.int >> 80 == recorded_s * 1000 + (value.int >> 80) % 1000


def test_uuid7_is_deterministic_and_time_ordered() -> None:
    a = [uuid7(ms, random.Random(5)) for ms in (1, 2, 3)]
    b = [uuid7(ms, random.Random(5)) for ms in (1, 2, 3)]
    assert a == b
    rng = random.Random(9)
    ordered = [uuid7(1_356_998_400_000 + i, rng) for i in range(0, 5000, 7)]
    assert ordered == sorted(ordered)
    assert {uuid.UUID(u).version for u in ordered} == {7}


def test_histories_are_in_a_sensible_order() -> None:
    """Contacts before the assessment, support after it, nothing after a departure."""
    by_person: dict[str, list[Record]] = {}
    for r in stream(2):
        if "person_ref" in r and r["type"] != "CorrectionRecorded":
            by_person.setdefault(r["person_ref"], []).append(r)
    assessed = 0
    for history in by_person.values():
        at = {r["type"]: r["occurred_at"] for r in sorted(history, key=lambda r: r["occurred_at"])}
        if "AssessmentDecided" not in at:
            continue
        assessed += 1
        contacts = [r["occurred_at"] for r in history if r["type"] == "ContactRegistered"]
        first = min(r["occurred_at"] for r in history if r["type"] == "AssessmentDecided")
        assert contacts and max(contacts) < first
        support = [
            r["occurred_at"]
            for r in history
            if r["type"] not in ("ContactRegistered", "AssessmentDecided")
        ]
        assert all(s > first for s in support)
        departures = [r["occurred_at"] for r in history if r["type"] == "DepartedDenmark"]
        if departures:
            assert max(r["occurred_at"] for r in history) == max(departures)
    assert assessed == 66 + 6 + 14


def test_recorded_after_it_happened_and_roughly_in_recorded_order() -> None:
    records = stream(3)
    assert all(r["recorded_at"] >= r["occurred_at"] for r in records)
    recorded = [r["recorded_at"] for r in records]
    inversions = sum(a > b for a, b in pairwise(recorded))
    assert 0 < inversions < len(records) // 10


def test_events_after_the_cut_off_are_recorded_after_it() -> None:
    later = [r for r in stream(1) if r["occurred_at"] > CUTOFF]
    assert later, "the stream has no events after the cut-off"
    assert all(r["recorded_at"] > CUTOFF for r in later)
    types = Counter(r["type"] for r in later)
    assert types["SupportStatusChanged"] and types["CorrectionRecorded"]


def test_corrections_name_events_of_the_stream() -> None:
    records = stream(1)
    by_id = {r["event_id"]: r for r in records}
    corrections = [r for r in records if r["type"] == "CorrectionRecorded"]
    assert {c["payload"]["action"] for c in corrections} == {"replace", "retract"}
    for c in corrections:
        target = by_id[c["payload"]["target_event_id"]]
        assert target["type"] == c["payload"]["target_type"]
        assert target.get("person_ref") == c.get("person_ref")
        assert c["recorded_at"] > target["recorded_at"]


# ----------------------------------------------------------------------------------------------
# Determinism and scale


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    write_jsonl(simulate("cmm-2012", 11), one)
    write_jsonl(simulate(profile(), 11), two)
    assert one.read_bytes() == two.read_bytes()


def test_different_seeds_give_different_people_with_the_same_shape() -> None:
    a, b = stream(1), stream(2)
    assert {r["event_id"] for r in a}.isdisjoint(r["event_id"] for r in b)
    assert {r.get("person_ref") for r in a} & {r.get("person_ref") for r in b} == {None}

    def victims(records: tuple[Record, ...]) -> list[tuple[str, str, int]]:
        return sorted(
            (r["occurred_at"][:10], r["payload"]["citizenship"], r["payload"]["age"])
            for r in records
            if r["type"] == "AssessmentDecided" and r["payload"]["outcome"] == "victim"
        )

    assert victims(a) != victims(b)
    assert Counter(v[1] for v in victims(a)) == Counter(v[1] for v in victims(b))
    drawn = Counter({"contacts": 10**9, "AccommodationChanged": 10**9})  # not fixed by figures
    assert census(a) - drawn == census(b) - drawn


def test_scale_multiplies_the_population() -> None:
    one, three = census(stream(4)), census(stream(4, 3))
    for key in (
        "persons",
        "victims",
        "HotlineCallReceived",
        "OutreachActivityLogged",
        "AssessmentDecided",
        "CorrectionRecorded",
        "DepartedDenmark",
    ):
        assert three[key] == 3 * one[key], key
    assert 2.7 * one["contacts"] < three["contacts"] < 3.3 * one["contacts"]


def test_scale_must_be_positive() -> None:
    with pytest.raises(ValueError, match="scale must be at least 1, not 0"):
        simulate(profile(), 1, scale=0)


def test_a_million_events_needs_a_scale_near_220() -> None:
    per_replica = min(len(stream(seed)) for seed in (1, 2, 3))
    assert per_replica * 220 >= 1_000_000


@pytest.mark.slow
def test_scale_220_gives_a_million_events() -> None:
    assert sum(1 for _ in simulate(profile(), 1, scale=220)) >= 1_000_000


# ----------------------------------------------------------------------------------------------
# Streaming


def test_write_jsonl_writes_while_the_stream_is_still_running(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "events.jsonl"
    seen: list[int] = []

    def events() -> Iterator[Record]:
        for i, record in enumerate(stream(1)):
            if i == 2_500:
                assert seen == [1_000, 2_000], "nothing was written before the stream ended"
            yield record

    n = write_jsonl(events(), out, progress=seen.append, every=1_000)
    assert n == len(stream(1)) == seen[-1]
    lines = out.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == n + 1
    assert json.loads(lines[0]) == stream(1)[0]
    assert not list(tmp_path.glob("**/*.partial"))


def test_write_jsonl_leaves_no_file_when_the_stream_fails(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"

    def events() -> Iterator[Record]:
        yield from stream(1)[:10]
        raise RuntimeError("producer died")

    with pytest.raises(RuntimeError, match="producer died"):
        write_jsonl(events(), out, every=3)
    assert list(tmp_path.iterdir()) == []


def test_the_stream_holds_a_fraction_of_its_events_in_memory() -> None:
    next(iter(simulate(profile(), 1)))  # one-off tables, not what streaming is about
    tracemalloc.start()
    try:
        for _ in simulate(profile(), 1, scale=2):
            pass
        _, streaming = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        held = list(simulate(profile(), 1, scale=2))
        everything, _ = tracemalloc.get_traced_memory()
        del held
    finally:
        tracemalloc.stop()
    assert streaming < everything / 4


# ----------------------------------------------------------------------------------------------
# Splitting totals


@given(
    seed=st.integers(0, 2**32),
    n=st.integers(1, 60),
    lo=st.integers(0, 5),
    width=st.integers(0, 30),
    fill=st.floats(0.0, 1.0),
)
def test_split_total_hits_the_total_and_both_extremes(
    seed: int, n: int, lo: int, width: int, fill: float
) -> None:
    hi = lo + width
    pinned = n >= 2 and lo < hi
    least = lo * n + (hi - lo if pinned else 0)
    most = hi * n - (hi - lo if pinned else 0)
    total = least + round(fill * (most - least))
    values = split_total(random.Random(seed), total, n, lo, hi)
    assert sum(values) == total and len(values) == n
    assert all(lo <= v <= hi for v in values)
    if pinned:
        assert min(values) == lo and max(values) == hi


def test_split_total_respects_caps() -> None:
    rng = random.Random(3)
    uses = split_total(rng, 552, 52, 2, 22)
    health = split_total(rng, 167, 52, 0, 8, caps=uses)
    assert sum(health) == 167 and all(h <= u for h, u in zip(health, uses, strict=True))
    assert max(health) == 8 and min(health) == 0


# ----------------------------------------------------------------------------------------------
# The profile


def test_profile_by_name_and_by_path() -> None:
    assert load_profile("cmm-2012") == load_profile(PROFILES_DIR / "cmm-2012.json")


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(ProfileError, match=r"no profile 'cmm-1999'.*known profiles: .*cmm-2012"):
        load_profile("cmm-1999")


def shifted_profile(year: int, earlier_victims: bool = True) -> dict[str, Any]:
    """The 2012 profile moved to ``year``: a new year's profile is data, not code."""
    data: dict[str, Any] = json.loads((PROFILES_DIR / "cmm-2012.json").read_text("utf-8"))
    data["name"] = f"shifted-{year}"
    data["year"] = year
    data["status_cutoff"] = f"{year + 1}-01-31"
    data["earlier_victims"]["assessed_year"] = year - 1
    if not earlier_victims:
        data["earlier_victims"]["groups"] = []
    return data


def test_a_new_years_profile_is_found_by_name_in_the_profile_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "shifted-2019.json").write_text(json.dumps(shifted_profile(2019)), "utf-8")
    with pytest.raises(ProfileError, match=r"no profile 'shifted-2019'.*CMM_PROFILE_PATH"):
        load_profile("shifted-2019")
    monkeypatch.setenv(PROFILE_PATH_VARIABLE, str(folder))
    assert load_profile("shifted-2019").year == 2019
    assert "shifted-2019" in known_profiles() and "cmm-2012" in known_profiles()
    assert resolve_profile(folder / "shifted-2019.json") == folder / "shifted-2019.json"
    assert resolve_profile("cmm-2012") == PROFILES_DIR / "cmm-2012.json"
    assert "NAME or PATH" in PROFILE_HELP and PROFILE_PATH_VARIABLE in PROFILE_HELP


def test_demo_events_go_into_the_data_directory(tmp_path: Path) -> None:
    profile = load_profile(PROFILES_DIR / "cmm-2012.json")  # given by path
    path = demo_events_path(tmp_path / "data", profile, seed=3, scale=2)
    assert path.is_relative_to(tmp_path / "data")
    assert path.name == "cmm-2012-seed3-x2.jsonl"


@pytest.mark.parametrize("year", [2013, 2014, 2019, 2024])
def test_a_years_logs_and_victims_lie_in_that_year_whatever_weekday_it_starts_on(
    year: int,
) -> None:
    from projections.report import build_report

    records = list(simulate(parse_profile(shifted_profile(year)), seed=year))
    logs = [r for r in records if r["type"] == "OutreachActivityLogged"]
    assert {r["occurred_at"][:4] for r in logs} == {str(year)}
    tables = build_report(records, year, f"{year + 1}-01-31")
    assert int(tables["by_gender"]["count"].sum()) == 66


def test_profile_that_is_not_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{", "utf-8")
    with pytest.raises(ProfileError, match="not valid JSON"):
        load_profile(bad)


def _broken(edit: Any) -> dict[str, Any]:
    data = copy.deepcopy(raw_profile())
    edit(data)
    return data


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["victims"]["groups"][0].update(citizenship={"NG": 20, "ZZ": 16}),
            r"victims\.groups\.0: Value error, citizenship: unknown country code 'ZZ'|"
            r"citizenship: unknown country code 'ZZ'",
        ),
        (
            lambda d: d["victims"]["groups"][0]["status"].update(declined=10),
            "status adds up to 37, not the group's count 36",
        ),
        (
            lambda d: d["victims"]["groups"][1].update(legal_residence=False),
            r"victims\.groups\[1\]: EU citizens \(BG, RO\) have legal residence",
        ),
        (
            lambda d: d["victims"]["accommodation"]["prepared_return_iom"].update(private=2),
            "victims.accommodation.prepared_return_iom: adds up to 8, but 7 victims have it",
        ),
        (
            lambda d: d["victims"]["groups"][3].update(industry=None),
            "industry is required when exploitation is 'forced_labour'",
        ),
        (
            lambda d: d["hotline"]["calls"][0].update(caller="postman"),
            r"hotline\.calls\.0\.caller: Input should be 'police'",
        ),
        (
            lambda d: d["outreach"][3]["series"][0]["measures"]["uses"].update(total=10),
            "uses: total 10 cannot be split over 145 logs of 3..36",
        ),
        (
            lambda d: d["victims"]["days_in_denmark"][0].update(max=400),
            r"victims\.days_in_denmark\[0\]: 29\.\.400 days do not fit",
        ),
        (
            lambda d: d["corrections"]["contact_channel"][0].update(
                right="self_referral", wrong="x"
            ),
            r"corrections\.contact_channel\.0\.wrong: Input should be",
        ),
        (
            lambda d: d.update(surprise=1),
            "surprise: Extra inputs are not permitted",
        ),
    ],
)
def test_profile_errors_name_the_field(edit: Any, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        parse_profile(_broken(edit), "test")


def test_the_shipped_profile_passes_its_own_checks() -> None:
    assert parse_profile(raw_profile()).year == 2012

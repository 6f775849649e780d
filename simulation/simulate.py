"""Synthetic event streams: invented people and logs whose reports match published figures.

Nothing here is real: every person, date, pseudonym and identifier is drawn from a seeded
``random.Random``. The numbers live in a *profile* (``simulation/profiles/<name>.json``), a data
file, so another year is a new file rather than new code (its schema and checks are
``simulation.profile``). The rules that turn those numbers into plausible histories are in
three steps: :func:`simulate` plans a run (``simulation.plan``: who exists, and when), makes
the events of each planned entry (``simulation.histories``: contacts before the assessment,
support after it, a departure on the day the return is recorded, corrections) and merges
them in recorded order (``simulation.recording``: recording delays, ids, the merge). The
pieces they share are ``simulation.timeline`` (seconds, days, the year's landmarks) and
``simulation.draws`` (dealing pools, splitting totals, ids).

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
import os
import random
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from simulation.draws import SimulationError, split_total, uuid7
from simulation.histories import Histories
from simulation.plan import Planner
from simulation.profile import PROFILES_DIR, Profile, ProfileError, load_profile, parse_profile


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
    aside = random.Random(f"{seed}/inconsistent")
    planner = Planner(profile, rng, aside)
    entities = planner.plan(scale)
    histories = Histories(profile, rng, aside, seq=planner.seq)
    return histories.events(entities, profile.recording.overtaken_share)


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
    out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if out.is_symlink():
        raise ValueError(f"--out {out} is a symbolic link; refusing to write through it")
    # A new owner-only file beside the target (never an existing one, nor through a link),
    # renamed into place.
    fd, name = tempfile.mkstemp(prefix=f".{out.name[:64]}.", suffix=".partial", dir=out.parent)
    partial = Path(name)
    encode = json.JSONEncoder(separators=(",", ":")).encode
    count = 0
    batch: list[str] = []
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
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

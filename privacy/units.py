"""Who a DP release protects, and how much: the privacy units in plain words, with the loss a
person really suffers where the unit is not a person.

The person tables protect one person: each person is in at most one cell of each, enforced
before counting. The hotline tables and most of the outreach table cannot: calls carry no
person reference, and outreach counts are what the teams report per place and period. Rather
than claim a per-person guarantee no code enforces, the release says what holds: one call,
one counted unit, and what that means for a person behind several. Releases of several years
compose too. The README, ``datapackage.json`` and ``report.html`` all show these sentences,
made here from the release's own metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EXAMPLE_USES = 29
"""A person counted this many times at one meeting place: the audit's example."""


def _eps(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def protection_statements(privacy: Mapping[str, Any]) -> list[str]:
    """The statements for a DP release's ``metadata["privacy"]``; [] for anything else."""
    by_unit = privacy.get("epsilon_by_unit") if isinstance(privacy, Mapping) else None
    if not isinstance(by_unit, Mapping) or "person" not in by_unit:
        return []
    person = float(by_unit["person"])
    call = float(by_unit.get("call", 0.0))
    counted = float(by_unit.get("outreach_unit", 0.0))
    out = [
        f"One person: in one year's release a person loses at most epsilon {_eps(person)} "
        "over all the person tables together (each person is counted in at most one cell of "
        "each table, which the code enforces before counting)."
    ]
    if call > 0:
        out.append(
            "Hotline calls carry no person reference, so the hotline tables protect one call, "
            f"not one person: a call costs its caller epsilon {_eps(call)}, and a person "
            f"behind c calls loses up to c x {_eps(call)}, on top of the above."
        )
    if counted > 0:
        out.append(
            "Outreach activity is counted as the teams report it per place and period, so "
            "that table protects one counted unit: a person counted u times loses up to "
            f"u x {_eps(counted)} (for example {EXAMPLE_USES} uses of a meeting place: up to "
            f"{_eps(EXAMPLE_USES * counted)}), on top of the above."
        )
    out.append(
        "Years add up: each reporting year has its own budget, so a person who is in the "
        "releases of k years loses up to k times that year's loss."
    )
    return out

"""The joint fit: the truth back from noise-free measurements, integers that add up, and
margins of error that cover what they say, checked with a sampler of the test's own."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
import opendp.prelude as dp
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.codes import (
    AgeBand,
    Authority,
    Channel,
    ExploitationForm,
    ExploitationGroup,
    Gender,
    Industry,
)
from domain.countries import COUNTRIES
from privacy.estimate import layout, margin_of_error, round_estimate
from privacy.mechanisms import bound_persons, exact_counts_many, table_specs
from privacy.params import MARGIN_OF, RELEASED_TABLES, PrivacyParams
from privacy.release import prepare_release, released_values

YEAR = 2012
PARAMS = PrivacyParams()


def _persons(seed: int, n: int) -> pd.DataFrame:
    rng = random.Random(seed)
    countries = sorted(COUNTRIES)
    rows: list[dict[str, Any]] = []
    for i in range(n):
        exploitation = rng.choice(ExploitationForm.codes())
        channel = rng.choice(list(Channel))
        country = rng.choice([*countries, "NG", "NG", "RO", "TH"])
        rows.append(
            {
                "person_ref": f"P-{i:08d}",
                "year": YEAR,
                "assessed_on": f"{YEAR}-03-01",
                "authority": rng.choice(Authority.codes()),
                "channel": channel.value,
                "channel_group": channel.group.value,
                "place": None,
                "citizenship": country,
                "region": COUNTRIES[country].region.value,
                "exploitation": exploitation,
                "industry": (
                    rng.choice(Industry.codes()) if exploitation == "forced_labour" else None
                ),
                "gender": rng.choice(Gender.codes()),
                "age_band": rng.choice(AgeBand.codes()),
                "status": "none",
            }
        )
    return pd.DataFrame(rows)


def _inputs(facts: pd.DataFrame) -> SimpleNamespace:
    hotline = pd.DataFrame(
        [
            {"event_id": f"h{i}", "year": YEAR, "caller": c, "reason": "advice"}
            for i, c in enumerate(["police", "police", "ngo", "private_person"])
        ]
    )
    outreach = pd.DataFrame(
        [{"event_id": "o1", "year": YEAR, "place": "prisons", "measure": "visits", "value": 12}]
    )
    return SimpleNamespace(facts=facts, hotline=hotline, outreach=outreach)


def _count(frame: pd.DataFrame, column: str, codes: Sequence[str]) -> list[int]:
    counted = Counter(frame[column].tolist())
    return [counted.get(c, 0) for c in codes]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_noise_free_measurements_give_every_table_back(seed: int) -> None:
    """Fed the exact counts as if they were noisy, the fit returns every table exactly,
    including the two tables nothing measures (the year total, forced labour by industry),
    counted here with pandas from the rows."""
    facts = _persons(seed, 300)
    prepared = prepare_release(_inputs(facts), YEAR, PARAMS)
    released = released_values(dict(prepared._exact), YEAR, PARAMS)
    assert released["victims_by_year"].values == [len(facts)]
    labour = facts[facts["exploitation"] == "forced_labour"]
    assert released["labour_by_industry"].values == _count(labour, "industry", Industry.codes())
    assert released["by_gender"].values == _count(facts, "gender", Gender.codes())
    assert released["by_age_band"].values == _count(facts, "age_band", AgeBand.codes())
    # The groups of forms, measured by nothing of their own: the sums of their forms.
    groups = facts["exploitation"].map(lambda f: ExploitationForm(f).group.value)
    assert released["by_exploitation_group"].values == _count(
        pd.DataFrame({"group": groups}), "group", ExploitationGroup.codes()
    )
    # The breakdowns for Eurostat, GRETA and UNODC, counted here from the rows: sex by child
    # or adult, sex by form, and citizenship in Danish, other EU (members in 2012) and non-EU.
    child = {"0-14", "15-17"}
    groups_of_age = [
        "unknown" if b == "unknown" else "child" if b in child else "adult"
        for b in facts["age_band"]
    ]
    pairs = Counter(zip(facts["gender"], groups_of_age, strict=True))
    assert released["by_gender_age_group"].values == [
        pairs.get((g, a), 0) for g in Gender.codes() for a in ("child", "adult", "unknown")
    ]
    bands = Counter(zip(facts["gender"], facts["age_band"], strict=True))
    assert released["by_gender_age_band"].values == [
        bands.get((g, b), 0) for g in Gender.codes() for b in AgeBand.codes()
    ]
    forms = Counter(zip(facts["exploitation"], facts["gender"], strict=True))
    assert released["by_exploitation_gender"].values == [
        forms.get((f, g), 0) for f in ExploitationForm.codes() for g in Gender.codes()
    ]
    assert released["by_exploitation"].values == _count(
        facts, "exploitation", ExploitationForm.codes()
    )
    eu_2012 = _EU_2012
    citizenship_groups = Counter(
        "danish" if c == "DK" else "other_eu" if c in eu_2012 else "non_eu"
        for c in facts["citizenship"]
    )
    assert released["by_citizenship_group"].values == [
        citizenship_groups.get(g, 0) for g in ("danish", "other_eu", "non_eu")
    ]
    assert PARAMS.epsilon_for("by_exploitation_gender") > 0
    assert PARAMS.epsilon_for("by_gender_age_band") > 0
    for derived in (
        "by_exploitation_group",
        "by_exploitation",
        "by_gender",
        "by_age_band",
        "by_gender_age_group",
        "by_citizenship_group",
    ):
        with pytest.raises(ValueError, match=f"'{derived}' is not measured"):
            PARAMS.epsilon_for(derived)
    specs = table_specs(YEAR)
    # Every table, derived ones included, as the counting code would count it.
    every = exact_counts_many(
        [specs[t] for t in RELEASED_TABLES if specs[t].source == "facts"],
        bound_persons(facts, YEAR),
    )
    for name, counts in every.items():
        assert released[name].values == counts, name


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10_000))
def test_released_integers_are_within_one_of_the_fit_and_add_up(seed: int) -> None:
    plan = layout(YEAR, PARAMS)
    specs = table_specs(YEAR)
    rng = np.random.default_rng(seed)
    noisy = {
        name: rng.integers(-8, 30, size=len(specs[name].cells)).tolist() for name in plan.measured
    }
    y = np.concatenate([np.asarray(noisy[n], dtype=float) for n in plan.measured])
    fitted = plan.fit @ y
    rounded = round_estimate(plan, fitted)
    assert np.all(np.abs(rounded - fitted) < 1 + 1e-9)
    total = int(rounded[plan.offsets["victims_by_year"][0]])
    for name in RELEASED_TABLES:
        spec = specs[name]
        if spec.source == "facts" and name != "victims_by_year":
            start, stop = plan.offsets[name]
            expected = (
                total if not name.startswith("labour") else int(rounded[plan.total_index[name]])
            )
            assert int(rounded[start:stop].sum()) == expected, name
    # A finer table is rounded within its first margin in release order: exact there; its
    # other margins are rounded on their own and agree with its sums to within rounding.
    first_margin: dict[str, str] = {}
    for coarse in RELEASED_TABLES:
        for fine in MARGIN_OF.get(coarse, ()):
            first_margin.setdefault(fine, coarse)
    for coarse, fines in MARGIN_OF.items():
        for fine in fines:
            c0 = plan.offsets[coarse][0]
            f0 = plan.offsets[fine][0]
            index = {cell: i for i, cell in enumerate(specs[coarse].cells)}
            sums: Counter[int] = Counter()
            members: Counter[int] = Counter()
            for i, cell in enumerate(specs[fine].cells):
                values = dict(zip(specs[fine].dims, cell, strict=True))
                key = tuple(_margin_code(coarse, d, values) for d in specs[coarse].dims)
                sums[index[key]] += int(rounded[f0 + i])
                members[index[key]] += 1
            for j in range(len(specs[coarse].cells)):
                if first_margin[fine] == coarse:
                    assert sums[j] == int(rounded[c0 + j]), (coarse, fine, j)
                else:
                    assert abs(sums[j] - int(rounded[c0 + j])) <= members[j], (coarse, fine, j)


_EU_2012 = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GB GR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()  # noqa: SIM905
)


def _margin_code(coarse: str, dim: str, values: dict[str, str]) -> str:
    """The margin cell's code of a finer cell, by the test's own reading of the public rules."""
    if dim == "exploitation_group":  # forms into their groups
        return ExploitationForm(values["exploitation"]).group.value
    if dim == "age_group":
        band = values["age_band"]
        return "unknown" if band == "unknown" else "child" if band in ("0-14", "15-17") else "adult"
    if dim == "citizenship_group":
        cell = values["citizenship"]
        if cell == "DK":
            return "danish"
        eu = cell.endswith("_eu") if cell.startswith("other_") else cell in _EU_2012
        return "other_eu" if eu else "non_eu"
    return values[dim]  # a margin over the dimensions the two tables share


def _discrete_laplace(scale: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """The test's own sampler: the difference of two geometric variables."""
    p = 1.0 - math.exp(-1.0 / scale)
    return rng.geometric(p, size) - rng.geometric(p, size)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_margin_of_error_covers_and_is_not_loose(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 12))
    coefficients = np.round(rng.uniform(-1.0, 1.0, size=k), 3)
    scales = rng.choice([1.5, 2.3, 4.0], size=k)
    m = margin_of_error(coefficients, scales, 0.05)
    draws = 200_000
    total = sum(
        c * _discrete_laplace(s, draws, rng) for c, s in zip(coefficients, scales, strict=True)
    )
    error = np.abs(total)
    se = math.sqrt(0.05 * 0.95 / draws)
    assert (error < m).mean() >= 0.95 - 4 * se
    # Not needlessly wide: one less would not cover (with the grid's slack, two).
    assert (error < m - 2).mean() < 0.95


def test_a_cell_that_is_its_own_measurement_has_opendps_margin() -> None:
    for scale in (1.0, 2.3, 4.6):
        expected = math.floor(dp.discrete_laplacian_scale_to_accuracy(scale, 0.05))
        assert margin_of_error(np.array([1.0]), np.array([scale]), 0.05, exact=True) == expected


def test_margins_depend_only_on_public_parameters() -> None:
    """Two very different data sets give the same margin for every cell."""
    a = prepare_release(_inputs(_persons(1, 40)), YEAR, PARAMS)
    b = prepare_release(_inputs(_persons(2, 900)), YEAR, PARAMS)
    ra = released_values(a.measure(), YEAR, PARAMS)
    rb = released_values(b.measure(), YEAR, PARAMS)
    for name in RELEASED_TABLES:
        assert ra[name].moe95 == rb[name].moe95, name


def test_the_group_of_forced_labour_and_criminality_is_published_when_one_form_is_small() -> None:
    """Issue 13, point 4: with few victims of forced criminality their cell is suppressed, but
    the annual report's group of forced labour and forced criminality is a table of the
    release, large enough to publish (noise-free measurements, so the test is exact)."""
    from privacy.release import release_from_measurements

    facts = _persons(4, 40)
    facts["exploitation"] = (
        ["forced_labour"] * 20 + ["forced_criminality"] * 2 + ["sexual_exploitation"] * 18
    )
    facts["industry"] = ["cleaning"] * 20 + [None] * 20
    prepared = prepare_release(_inputs(facts), YEAR, PARAMS)
    release = release_from_measurements(dict(prepared._exact), YEAR, PARAMS)
    forms = release.tables["by_exploitation"].set_index("exploitation")
    groups = release.tables["by_exploitation_group"].set_index("exploitation_group")
    assert forms.loc["forced_criminality", "status"] == "suppressed"
    group = groups.loc["forced_labour_and_criminality"]
    assert (group["status"], int(group["count"])) == ("published", 22)

"""The margins of error a DP release states are true, checked over many releases of one year
against counts made here with pandas (nothing shared with the fit under test).

For every person table, over the cells with 5 or more victims: the stated 95% margin covers
the true count in at least 95% of releases (less a binomial allowance), no cell's mean error is
beyond a third of its margin (the fit is unbiased; the earlier projection onto the total
biased large countries downwards), and a cell of 10 or more is published, not suppressed, in
at least 90% of releases.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import pytest

from domain.codes import ExploitationForm
from domain.countries import COUNTRIES
from privacy.mechanisms import table_specs
from privacy.params import LISTED_CITIZENSHIPS, PERSON_TABLES, PrivacyParams
from privacy.release import prepare_release, released_values
from tests.integration.test_dp_release import YEAR, synthetic_2012

RELEASES = 300

# Table -> (column of the facts, filter); the cells are the table's public categories.
_COLUMNS = {
    "by_authority": ("authority", None),
    "by_channel": ("channel", None),
    "by_region": ("region", None),
    "by_citizenship": ("citizenship_cell", None),
    "by_exploitation": ("exploitation", None),
    "labour_by_industry": ("industry", "forced_labour"),
    "labour_by_industry_gender": ("industry_gender", "forced_labour"),
    "by_gender": ("gender", None),
    "by_age_band": ("age_band", None),
    "by_exploitation_gender": ("exploitation_gender", None),
    "by_gender_age_band": ("gender_age_band", None),
    "by_gender_age_group": ("gender_age_group", None),
    "by_citizenship_group": ("citizenship_group", None),
    "status_at_cutoff": ("status", None),
}


_EU_2012 = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GB GR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()  # noqa: SIM905
)
"""The EU member states in 2012, written out here rather than read from the code under test."""


def _truth(facts: pd.DataFrame) -> dict[str, list[int]]:
    """Every person table's true counts, from the facts alone."""
    facts = facts[facts["year"] == YEAR]
    # One row per person: the latest assessment (the release's contribution bound).
    facts = facts.sort_values("assessed_on", kind="stable").drop_duplicates(
        "person_ref", keep="last"
    )
    facts["citizenship_cell"] = [
        c
        if c in LISTED_CITIZENSHIPS
        else f"other_{COUNTRIES[c].region.value}" + ("_eu" if c in _EU_2012 else "")
        for c in facts["citizenship"]
    ]
    facts["industry_gender"] = facts["industry"].astype(str) + "|" + facts["gender"]
    facts["exploitation_gender"] = facts["exploitation"] + "|" + facts["gender"]
    facts["gender_age_band"] = facts["gender"] + "|" + facts["age_band"]
    age_group = [
        "unknown" if b == "unknown" else "child" if b in ("0-14", "15-17") else "adult"
        for b in facts["age_band"]
    ]
    facts["gender_age_group"] = facts["gender"] + "|" + pd.Series(age_group, index=facts.index)
    facts["citizenship_group"] = [
        "danish" if c == "DK" else "other_eu" if c in _EU_2012 else "non_eu"
        for c in facts["citizenship"]
    ]
    specs = table_specs(YEAR)
    out = {"victims_by_year": [len(facts)]}
    for name, (column, exploitation) in _COLUMNS.items():
        rows = facts if exploitation is None else facts[facts["exploitation"] == exploitation]
        counted = Counter(rows[column].tolist())
        out[name] = [counted.get(c, 0) for c in specs[name].categories]
        assert sum(out[name]) == len(rows), name
    # The annual report's groups of forms, each person in the group of their primary form.
    groups = Counter(ExploitationForm(form).group.value for form in facts["exploitation"])
    out["by_exploitation_group"] = [
        groups.get(c, 0) for c in specs["by_exploitation_group"].categories
    ]
    return out


Runs = tuple[dict[str, list[int]], dict[str, Any], dict[str, list[int]]]


@pytest.fixture(scope="module")
def runs() -> Runs:
    inputs = synthetic_2012()
    params = PrivacyParams()
    prepared = prepare_release(inputs, YEAR, params)
    values: dict[str, list[list[int]]] = {name: [] for name in PERSON_TABLES}
    margins: dict[str, list[int]] = {}
    for _ in range(RELEASES):
        released = released_values(prepared.measure(), YEAR, params)
        for name in PERSON_TABLES:
            values[name].append(released[name].values)
            margins[name] = released[name].moe95
    return _truth(inputs.facts), {n: np.asarray(v) for n, v in values.items()}, margins


def _allowance(n: int, p: float = 0.95) -> float:
    return 3 * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("table", PERSON_TABLES)
def test_stated_margin_covers_the_truth(table: str, runs: Runs) -> None:
    truth, values, margins = runs
    # The margin holds for every cell; a table with no cell of 5 or more is checked on all.
    cells = [i for i, t in enumerate(truth[table]) if t >= 5] or list(range(len(truth[table])))
    exact = np.asarray(truth[table])[cells]
    error = np.abs(values[table][:, cells] - exact)
    covered = (error <= np.asarray(margins[table])[cells]).mean()
    assert covered >= 0.95 - _allowance(error.size), (table, covered)


@pytest.mark.parametrize("table", PERSON_TABLES)
def test_no_cell_is_biased(table: str, runs: Runs) -> None:
    truth, values, margins = runs
    for i, t in enumerate(truth[table]):
        if t >= 5:
            bias = float(values[table][:, i].mean()) - t
            assert abs(bias) <= margins[table][i] / 3, (table, i, t, bias)


def test_large_cells_are_published(runs: Runs) -> None:
    truth, values, _ = runs
    threshold = PrivacyParams().threshold
    for table in PERSON_TABLES:
        for i, t in enumerate(truth[table]):
            if t >= 10:
                shown = float((values[table][:, i] >= threshold).mean())
                assert shown >= 0.90, (table, i, t, shown)

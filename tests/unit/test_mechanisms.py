"""The OpenDP measurements: public categories, enforced bounds, checked privacy maps, and noise
whose distribution matches the declared scale."""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import opendp.prelude as dp
import pandas as pd
import pytest

import privacy.release._measure as release_module
from domain.codes import Industry, OutreachMeasure, SupportStatus
from domain.countries import COUNTRIES
from privacy import mechanisms
from privacy.mechanisms import (
    ADDITIVE_MEASURES,
    bound_calls,
    bound_persons,
    category_keys,
    discrete_laplace_variance,
    exact_counts,
    noisy_counts,
    plan_table,
    table_specs,
)
from privacy.params import LISTED_CITIZENSHIPS, MEASURED_TABLES, RELEASED_TABLES, PrivacyParams
from privacy.release import release_dp

YEAR = 2012


def _fact(person_ref: str, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "person_ref": person_ref,
        "year": YEAR,
        "assessed_on": f"{YEAR}-03-01",
        "authority": "immigration_service",
        "channel": "police",
        "channel_group": "police",
        "place": None,
        "citizenship": "NG",
        "region": "africa",
        "exploitation": "sexual_exploitation",
        "industry": None,
        "gender": "female",
        "age": 30,
        "age_band": "30-39",
        "legal_residence": False,
        "eu_citizen": False,
        "status": "none",
        "status_on": None,
        "return_support": None,
        "accommodation": None,
        "departed_on": None,
        "days_in_denmark": None,
    }
    row.update(changes)
    return row


def _facts(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def _inputs(facts: pd.DataFrame) -> SimpleNamespace:
    hotline = pd.DataFrame(
        [
            {
                "event_id": "h1",
                "occurred_on": f"{YEAR}-01-02",
                "year": YEAR,
                "caller": "police",
                "reason": "advice",
            }
        ]
    )
    outreach = pd.DataFrame(
        [
            {
                "event_id": "o1",
                "occurred_on": f"{YEAR}-01-02",
                "year": YEAR,
                "place": "street_odense",
                "period": "month",
                "measure": "visits",
                "value": 12,
            }
        ]
    )
    return SimpleNamespace(facts=facts, hotline=hotline, outreach=outreach)


# ----------------------------------------------------------------------------------------------
# Public categories


def test_every_table_has_full_code_list_categories() -> None:
    specs = table_specs(YEAR)
    assert tuple(specs) == RELEASED_TABLES
    listed = [c[0] for c in specs["by_citizenship"].cells if not c[0].startswith("other_")]
    assert set(listed) == LISTED_CITIZENSHIPS
    others = {c[0] for c in specs["by_citizenship"].cells} - LISTED_CITIZENSHIPS
    unlisted = [c for c in COUNTRIES if c not in LISTED_CITIZENSHIPS]
    # Each region's unlisted countries: the EU member states of the year in their own cell.
    eu_2012 = set(
        "AT BE BG CY CZ DE DK EE ES FI FR GB GR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()  # noqa: SIM905
    )
    assert others == {
        f"other_{COUNTRIES[c].region.value}" + ("_eu" if c in eu_2012 else "") for c in unlisted
    }
    assert "DK" in listed
    assert [c[0] for c in specs["labour_by_industry"].cells] == list(Industry.codes())
    assert [c[0] for c in specs["status_at_cutoff"].cells] == list(SupportStatus.codes())
    assert "none" in specs["status_at_cutoff"].categories
    assert len(specs["labour_by_industry_gender"].cells) == 13 * 4
    assert specs["victims_by_year"].cells == (("2012",),)
    withheld = {
        OutreachMeasure.HEALTH_USES_PER_PERSON_MIN,
        OutreachMeasure.HEALTH_USES_PER_PERSON_MAX,
    }
    assert not withheld & set(ADDITIVE_MEASURES)
    for spec in specs.values():
        assert len(set(spec.categories)) == len(spec.categories)


def test_an_unlisted_country_counts_in_its_regions_other_cell() -> None:
    spec = table_specs(YEAR)["by_citizenship"]
    rows = [
        _fact("P-00000001", citizenship="BR", region="latin_america"),
        _fact("P-00000002", citizenship="NG", region="africa"),
        _fact("P-00000003", citizenship="FR", region="europe"),
    ]
    counts = dict(
        zip(spec.categories, exact_counts(spec, bound_persons(_facts(rows), YEAR)), strict=True)
    )
    # France is an EU member state in 2012: its region's EU cell.
    assert counts["other_latin_america"] == 1 and counts["other_europe_eu"] == 1
    assert counts["other_europe"] == 0
    assert counts["NG"] == 1 and sum(counts.values()) == 3


def test_categories_do_not_depend_on_the_data() -> None:
    one = table_specs(YEAR)
    assert one == table_specs(YEAR)
    assert one["by_gender"].categories == table_specs(2013)["by_gender"].categories


# ----------------------------------------------------------------------------------------------
# Contribution bounds


def test_one_row_per_person_within_the_year() -> None:
    facts = _facts(
        [
            _fact("P-00000001", gender="male", assessed_on="2012-02-01"),
            _fact("P-00000001", gender="female", assessed_on="2012-09-01"),  # latest wins
            _fact("P-00000001", gender="female", assessed_on="2012-05-01"),
            _fact("P-00000002", gender="male"),
            _fact("P-00000003", gender="male", year=2011, assessed_on="2011-05-01"),
        ]
    )
    bounded = bound_persons(facts, YEAR)
    assert sorted(bounded["person_ref"].to_list()) == ["P-00000001", "P-00000002"]
    spec = table_specs(YEAR)["by_gender"]
    assert exact_counts(spec, bounded) == [1, 1, 0, 0]


def test_a_person_changes_a_table_by_at_most_one() -> None:
    """Adding all of one person's rows (several, in the year) changes each count vector by at
    most 1 in L1: the bound is enforced, not assumed."""
    base = [_fact(f"P-{i:08x}", gender=("female", "male")[i % 2]) for i in range(20)]
    extra = [
        _fact(
            "P-ffffffff",
            gender="male",
            exploitation="forced_labour",
            industry="cleaning",
            assessed_on="2012-01-01",
        ),
        _fact(
            "P-ffffffff",
            gender="female",
            exploitation="forced_labour",
            industry="fishing",
            assessed_on="2012-06-01",
        ),
    ]
    specs = table_specs(YEAR)
    without = bound_persons(_facts(base), YEAR)
    with_person = bound_persons(_facts(base + extra), YEAR)
    for name, spec in specs.items():
        if spec.source != "facts":
            continue
        a, b = exact_counts(spec, without), exact_counts(spec, with_person)
        assert sum(abs(x - y) for x, y in zip(a, b, strict=True)) <= 1, name


def test_calls_are_deduplicated_by_event_id() -> None:
    hotline = pd.DataFrame(
        [{"event_id": "h1", "year": YEAR, "caller": "police", "reason": "advice"}] * 3
        + [{"event_id": "h2", "year": 2011, "caller": "police", "reason": "advice"}]
    )
    spec = table_specs(YEAR)["hotline_by_caller"]
    assert sum(exact_counts(spec, bound_calls(hotline, YEAR))) == 1


def test_fast_counts_equal_opendp_count_by_categories() -> None:
    rows = [
        _fact(
            f"P-{i:08x}",
            citizenship=code,
            region=COUNTRIES[code].region.value,
            gender=("female", "male", "other")[i % 3],
            exploitation="forced_labour" if i % 4 == 0 else "sexual_exploitation",
            industry=list(Industry.codes())[i % 13] if i % 4 == 0 else None,
        )
        for i, code in enumerate(["NG", "RO", "TH", "NG", "XX", "SK", "NG", "BR"] * 5)
    ]
    bounded = bound_persons(_facts(rows), YEAR)
    for spec in table_specs(YEAR).values():
        if spec.source != "facts":
            continue
        counting = dp.t.make_count_by_categories(
            dp.vector_domain(dp.atom_domain(T=str)),
            dp.symmetric_distance(),
            categories=list(spec.categories),
            null_category=False,
        )
        assert exact_counts(spec, bounded) == counting(category_keys(spec, bounded)), spec.name


def test_value_outside_the_code_list_is_refused() -> None:
    bounded = bound_persons(_facts([_fact("P-00000001", gender="not_a_gender")]), YEAR)
    with pytest.raises(ValueError, match=r"^table 'by_gender': values outside the code list"):
        exact_counts(table_specs(YEAR)["by_gender"], bounded)


# ----------------------------------------------------------------------------------------------
# Measurements


@pytest.mark.parametrize("table", MEASURED_TABLES)
def test_privacy_map_equals_the_planned_epsilon(table: str) -> None:
    params = PrivacyParams()
    epsilon = params.epsilon_for(table)
    plan = plan_table(table_specs(YEAR)[table], epsilon, params.alpha)
    assert plan.chain.map(1) == plan.privacy_map
    assert epsilon * (1 - 1e-9) <= plan.privacy_map <= epsilon
    assert plan.scale == pytest.approx(1 / epsilon, rel=1e-9)
    accuracy = dp.discrete_laplacian_scale_to_accuracy(plan.scale, 0.05)
    assert plan.moe95 == math.floor(accuracy)


def test_noisy_counts_refuses_a_wrong_length() -> None:
    plan = plan_table(table_specs(YEAR)["by_gender"], 0.5, 0.05)
    with pytest.raises(ValueError, match=r"^table 'by_gender': 2 counts for 4 categories$"):
        noisy_counts(plan, [1, 2])


def _assert_matches_discrete_laplace(errors: Sequence[int], scale: float) -> None:
    """The empirical distribution of ``errors`` is the discrete Laplace of ``scale``: mean 0,
    variance and P(0) within tolerance (14,000 draws: the variance's standard error is
    ~1.9%, the tolerance 8%, so a false failure has odds of about 1 in 30,000)."""
    n = len(errors)
    mean = sum(errors) / n
    variance = sum((e - mean) ** 2 for e in errors) / (n - 1)
    expected = discrete_laplace_variance(scale)
    assert abs(mean) < 4 * math.sqrt(expected / n), f"mean {mean}"
    assert variance == pytest.approx(expected, rel=0.08), f"variance {variance} vs {expected}"
    q = math.exp(-1 / scale)
    p_zero = (1 - q) / (1 + q)
    observed_zero = sum(e == 0 for e in errors) / n
    assert observed_zero == pytest.approx(p_zero, abs=5 * math.sqrt(p_zero / n))


def _errors_over_releases(
    releases: int, scale_table: str = "by_gender_age_band"
) -> tuple[list[int], float]:
    """``releases`` releases of a fixed count vector through the table's plan."""
    params = PrivacyParams()
    plan = plan_table(table_specs(YEAR)[scale_table], params.epsilon_for(scale_table), 0.05)
    spec = table_specs(YEAR)[scale_table]
    exact = ([0, 0, 3, 25, 20, 11, 6, 1, 0] * len(spec.cells))[: len(spec.cells)]
    errors: list[int] = []
    for _ in range(releases):
        noisy = noisy_counts(plan, exact)
        errors.extend(v - t for v, t in zip(noisy, exact, strict=True))
    return errors, plan.scale


def test_noise_matches_the_declared_scale() -> None:
    errors, scale = _errors_over_releases(2000)
    _assert_matches_discrete_laplace(errors, scale)


def test_the_check_fails_without_a_mechanism() -> None:
    """The distribution test has teeth: no noise, or noise at another scale, fails it."""
    _, scale = _errors_over_releases(1)
    with pytest.raises(AssertionError):
        _assert_matches_discrete_laplace([0] * 14_000, scale)
    other = dp.m.make_laplace(
        dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int), scale=scale / 2
    )
    wrong = other([0] * 14_000)
    with pytest.raises(AssertionError):
        _assert_matches_discrete_laplace(wrong, scale)


def test_release_declares_the_scale_it_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    used: dict[str, float] = {}
    real = mechanisms.noisy_counts

    def spy(plan: Any, exact: Sequence[int]) -> list[int]:
        used[plan.table] = plan.scale
        return real(plan, exact)

    monkeypatch.setattr(release_module, "noisy_counts", spy)
    release = release_dp(_inputs(_facts([_fact("P-00000001")])), YEAR)
    declared = {
        t: m["scale"] for t, m in release.metadata["privacy"]["tables"].items() if m["measured"]
    }
    assert used == declared


def test_no_noise_is_drawn_when_the_budget_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[str] = []
    monkeypatch.setattr(release_module, "noisy_counts", lambda plan, exact: drawn.append("x"))

    def refuse(epsilons: Any) -> None:
        assert set(epsilons) == set(MEASURED_TABLES)
        raise RuntimeError("over budget")

    with pytest.raises(RuntimeError, match="over budget"):
        release_dp(_inputs(_facts([_fact("P-00000001")])), YEAR, before_noise=refuse)
    assert drawn == []

"""SDC: the threshold rule alone leaks through the totals; primary + secondary suppression
does not, as the LP audit shows."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from privacy.model import SUPPRESSED, TOTAL
from privacy.sdc import (
    MARKER,
    ProtectionError,
    SDCParams,
    audit,
    release_sdc,
    suppress,
    suppress_primary,
)
from privacy.sdc import _single_table as sdc
from privacy.sdc_joint import _protect as sdc_joint


def one_d(counts: dict[str, int], dim: str = "category") -> pd.DataFrame:
    return pd.DataFrame({dim: list(counts), "count": list(counts.values())})


def two_d(rows: dict[str, dict[str, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(r, c, v) for r, cols in rows.items() for c, v in cols.items()],
        columns=["industry", "gender", "count"],
    )


def cell(table: pd.DataFrame, **key: str) -> pd.Series:
    mask = np.ones(len(table), dtype=bool)
    for d, v in key.items():
        mask &= (table[d] == v).to_numpy()
    rows = table[mask]
    assert len(rows) == 1, key
    return rows.iloc[0]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def exact_counts(table: pd.DataFrame, dims: list[str]) -> dict[tuple[Any, ...], int]:
    return {tuple(row[d] for d in dims): int(row["count"]) for row in records(table)}


def suppressed_keys(published: pd.DataFrame, dims: list[str]) -> set[tuple[str, ...]]:
    hidden = published[published["status"] == SUPPRESSED]
    return {tuple(r) for r in hidden[dims].itertuples(index=False, name=None)}


# ----------------------------------------------------------------------------- 1-D


def test_primary_suppression_alone_is_recovered_from_the_total() -> None:
    table = one_d({"a": 3, "b": 20, "c": 30, "d": 12})
    naive = suppress_primary(table, ["category"])

    assert suppressed_keys(naive, ["category"]) == {("a",)}
    result = audit(naive, ["category"], protection=5)
    # 65 - 20 - 30 - 12 = 3: the hidden cell is known exactly.
    assert result[["lower", "upper"]].values.tolist() == [[3.0, 3.0]]
    assert not result["protected"].any()


def test_full_method_hides_a_complement_and_passes_the_audit() -> None:
    table = one_d({"a": 3, "b": 20, "c": 30, "d": 12})
    published = suppress(table, ["category"])

    # The smallest non-zero published cell is the complement; the total stays published.
    assert suppressed_keys(published, ["category"]) == {("a",), ("d",)}
    assert cell(published, category=TOTAL)["count"] == 65
    result = audit(published, ["category"], protection=5)
    assert result["protected"].all()
    assert result.set_index("category")[["lower", "upper"]].to_dict("index") == {
        "a": {"lower": 0.0, "upper": 15.0},
        "d": {"lower": 0.0, "upper": 15.0},
    }


def test_two_small_cells_that_hide_each_other_too_little_get_a_third() -> None:
    table = one_d({"a": 1, "b": 2, "c": 40, "d": 30})
    naive = audit(suppress_primary(table, ["category"]), ["category"])
    assert naive["width"].tolist() == [3.0, 3.0]  # x_a + x_b = 3: each within [0, 3]

    published = suppress(table, ["category"])
    assert suppressed_keys(published, ["category"]) == {("a",), ("b",), ("d",)}
    assert audit(published, ["category"])["protected"].all()


def test_zeros_are_published_and_suppressed_cells_show_the_marker() -> None:
    published = suppress(one_d({"a": 0, "b": 2, "c": 9, "d": 50}), ["category"])

    zero = cell(published, category="a")
    assert (zero["count"], zero["status"], zero["display"]) == (0, "published", "0")
    hidden = published[published["status"] == SUPPRESSED]
    assert hidden["count"].isna().all()
    assert set(hidden["display"]) == {MARKER}
    assert str(published["count"].dtype) == "Int64"
    assert list(published.columns) == ["category", "count", "status", "display", "moe95"]


def test_protection_wider_than_the_total_is_refused() -> None:
    with pytest.raises(ProtectionError, match="narrower than the protection level 50"):
        suppress(one_d({"a": 2, "b": 10, "c": 20}), ["category"], protection=50)


# ----------------------------------------------------------------------------- 2-D

# Forced labour by industry and gender, as in the centre's 2012 report.
LABOUR_2012 = {
    "cleaning": {"female": 3, "male": 4},
    "domestic_work": {"female": 4, "male": 0},
    "restaurants": {"female": 0, "male": 2},
    "construction": {"female": 0, "male": 1},
    "massage_clinic_odd_jobs": {"female": 2, "male": 0},
    "cannabis_production": {"female": 0, "male": 1},
}


def test_two_dimensional_single_small_cell_needs_a_rectangle() -> None:
    table = two_d(
        {
            "cleaning": {"female": 2, "male": 20, "other": 11},
            "restaurants": {"female": 10, "male": 15, "other": 9},
            "construction": {"female": 30, "male": 12, "other": 40},
        }
    )
    dims = ["industry", "gender"]
    naive = audit(suppress_primary(table, dims), dims)
    assert naive["width"].tolist() == [0.0]

    published = suppress(table, dims)
    hidden = suppressed_keys(published, dims)
    # Two rows and two columns: each hidden cell has a partner in its row and its column.
    assert len(hidden) == 4
    assert len({r for r, _ in hidden}) == 2 and len({c for _, c in hidden}) == 2
    assert ("cleaning", "female") in hidden
    margins = published[(published["industry"] == TOTAL) | (published["gender"] == TOTAL)]
    assert (margins["status"] == "published").all()
    assert audit(published, dims)["protected"].all()


def test_labour_2012_every_small_cell_hidden_and_audited() -> None:
    """In 2012 every non-zero cell of this table is below 5; the published margins (cleaning
    7, women 9, men 8, total 17) leave each hidden cell a range of at least 5."""
    table = two_d(LABOUR_2012)
    dims = ["industry", "gender"]

    published = suppress(table, dims)
    result = audit(published, dims)
    assert result["protected"].all()
    assert cell(published, industry=TOTAL, gender=TOTAL)["count"] == 17
    assert cell(published, industry="cleaning", gender=TOTAL)["count"] == 7
    interior = published[(published["industry"] != TOTAL) & (published["gender"] != TOTAL)]
    assert (interior["count"].dropna() == 0).all()
    exact = exact_counts(table, dims)
    for row in records(result):
        key = (row["industry"], row["gender"])
        if TOTAL not in key:
            assert row["lower"] <= exact[key] <= row["upper"]


def test_hierarchical_margins_publish_parent_totals_only() -> None:
    table = pd.DataFrame(
        [
            ("police", "police", 33),
            ("outreach", "street_outreach", 9),
            ("outreach", "prison", 4),
            ("outreach", "meeting_place", 3),
        ],
        columns=["channel_group", "channel", "count"],
    )
    dims = ["channel_group", "channel"]
    published = suppress(table, dims, margins=[("channel_group",), ()])
    assert set(published["channel"]) == {
        "police",
        "street_outreach",
        "prison",
        "meeting_place",
        TOTAL,
    }
    assert suppressed_keys(published, dims) == {
        ("outreach", "prison"),
        ("outreach", "meeting_place"),
    }
    assert audit(published, dims)["protected"].all()


# ----------------------------------------------------------------------------- properties

counts = st.integers(min_value=0, max_value=25)


@st.composite
def tables_1d(draw: st.DrawFn) -> pd.DataFrame:
    values = draw(st.lists(counts, min_size=1, max_size=8))
    return one_d({f"c{i}": v for i, v in enumerate(values)})


@st.composite
def tables_2d(draw: st.DrawFn) -> pd.DataFrame:
    n_rows = draw(st.integers(1, 5))
    n_cols = draw(st.integers(1, 4))
    return two_d({f"r{r}": {f"g{c}": draw(counts) for c in range(n_cols)} for r in range(n_rows)})


def check_protected(
    table: pd.DataFrame,
    dims: list[str],
    threshold: int,
    margins: list[tuple[str, ...]] | None = None,
) -> None:
    published = suppress(table, dims, threshold, margins=margins)
    exact = exact_counts(table, dims)
    is_total = published[dims] == TOTAL
    for row in records(published[~is_total.any(axis=1)]):
        key = tuple(row[d] for d in dims)
        true = exact[key]
        if 0 < true < threshold:
            assert row["status"] == SUPPRESSED, (key, true)
        if row["status"] != SUPPRESSED:
            assert row["count"] == true
    grand = published[is_total.all(axis=1)].iloc[0]
    total = int(table["count"].sum())
    assert grand["status"] == (SUPPRESSED if 0 < total < threshold else "published")
    result = audit(published, dims, protection=threshold)
    assert result["protected"].all(), result[~result["protected"]]
    assert (result["width"] >= threshold).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=tables_1d(), threshold=st.integers(2, 6))
def test_property_1d_every_suppressed_interval_is_wide_enough(
    table: pd.DataFrame, threshold: int
) -> None:
    check_protected(table, ["category"], threshold)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=tables_2d(), threshold=st.integers(2, 6))
def test_property_2d_every_suppressed_interval_is_wide_enough(
    table: pd.DataFrame, threshold: int
) -> None:
    check_protected(table, ["industry", "gender"], threshold)


@st.composite
def tables_hierarchical(draw: st.DrawFn) -> pd.DataFrame:
    sizes = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    rows = [(f"g{g}", f"g{g}c{c}", draw(counts)) for g, n in enumerate(sizes) for c in range(n)]
    return pd.DataFrame(rows, columns=["channel_group", "channel", "count"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=tables_hierarchical(), threshold=st.integers(2, 6))
def test_property_hierarchical_every_suppressed_interval_is_wide_enough(
    table: pd.DataFrame, threshold: int
) -> None:
    check_protected(table, ["channel_group", "channel"], threshold, [("channel_group",), ()])


def integer_bounds(published: pd.DataFrame, dims: list[str]) -> dict[tuple[Any, ...], float]:
    """Widths by integer programming (an attacker who uses integrality)."""
    lattice = sdc._build_lattice(
        [tuple(r) for r in published[dims].itertuples(index=False, name=None)], dims
    )
    a = lattice.matrix()
    hidden = (published["status"] == SUPPRESSED).to_numpy()
    values = published["count"].fillna(0).astype(float).to_numpy()
    lower = np.where(hidden, 0.0, values)
    upper = np.where(hidden, np.inf, values)
    widths: dict[tuple[Any, ...], float] = {}
    for i in np.flatnonzero(hidden):
        ends = []
        for sign in (1.0, -1.0):
            c = np.zeros(lattice.size)
            c[i] = sign
            res = milp(
                c,
                constraints=[LinearConstraint(a, 0, 0)] if len(a) else [],
                integrality=np.ones(lattice.size),
                bounds=Bounds(lower, upper),
            )
            # The true table is feasible, so HiGHS's "unbounded or infeasible" (4) and
            # "unbounded" (3) both mean unbounded, which only a maximisation can be.
            assert res.status == 0 or (sign < 0 and res.status in (3, 4)), res.message
            ends.append(sign * float(res.fun) if res.status == 0 else math.inf)
        widths[lattice.keys[i]] = ends[1] - ends[0]
    return widths


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=tables_2d())
def test_property_lp_intervals_equal_integer_intervals(table: pd.DataFrame) -> None:
    dims = ["industry", "gender"]
    for published in (suppress_primary(table, dims), suppress(table, dims)):
        lp = audit(published, dims)
        ip = integer_bounds(published, dims)
        for row in records(lp):
            key = (row["industry"], row["gender"])
            width = float(row["width"])
            assert width == pytest.approx(ip[key]) or (math.isinf(width) and math.isinf(ip[key]))


# ----------------------------------------------------------------------------- release


def release_input() -> dict[str, pd.DataFrame]:
    labour = two_d(LABOUR_2012)
    return {
        "victims_by_year": pd.DataFrame({"year": [2011, 2012], "count": [60, 66]}),
        "by_exploitation": one_d(
            {
                "sexual_exploitation": 45,
                "forced_labour": 17,
                "forced_criminality": 2,
                "forced_marriage": 2,
                "organ_removal": 0,
                "other": 0,
            },
            "exploitation",
        ),
        "labour_by_industry": labour.groupby("industry", sort=False)["count"].sum().reset_index(),
        "labour_by_industry_gender": labour,
        "status_at_cutoff": one_d(
            {
                "declined": 20,
                "left": 6,
                "prepared_return_iom": 7,
                "other": 30,
                "stayed_in_denmark": 3,
            },
            "status",
        ),
        "outreach_activity": pd.DataFrame(
            {
                "place": ["street_odense", "street_odense", "mobile_health", "mobile_health"],
                "measure": ["visits", "health_uses_per_person_max", "assessed_victims", "uses"],
                "value": pd.array([62, 11, 2, None], dtype="Int64"),
            }
        ),
    }


def test_release_protects_linked_tables_together() -> None:
    release = release_sdc(
        release_input(), metadata={"year": 2012, "as_of": "2013-01-31", "released_by": "test"}
    )
    t = release.tables
    assert list(t) == list(release_input())
    # labour_by_industry is exactly the industry margins of the finer table.
    margins = t["labour_by_industry_gender"]
    margins = margins[margins["gender"] == TOTAL].drop(columns="gender").reset_index(drop=True)
    pd.testing.assert_frame_equal(t["labour_by_industry"], margins)
    # The forced-labour cell is the labour tables' grand total: never hidden to protect others.
    assert cell(t["by_exploitation"], exploitation="forced_labour")["count"] == 17
    assert audit(t["by_exploitation"], ["exploitation"])["protected"].all()
    # Release-year only; the status dimension does not clash with the cell status.
    assert t["victims_by_year"]["year"].tolist() == [2012]
    assert "support_status" in t["status_at_cutoff"].columns
    # A per-person maximum is not a count; an unlogged measure is left out.
    assert set(t["outreach_activity"]["measure"]) == {"visits", "assessed_victims"}
    meta = release.metadata
    assert (meta["method"], meta["threshold"], meta["year"]) == ("suppression", 5, 2012)
    assert meta["privacy"]["protection_level"] == 5.0
    assert meta["code_list_version"] and meta["release_id"] and meta["released_at"]


def test_release_final_audit_refuses_a_pattern_without_its_secondaries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The joint integer audit runs on the final pattern: if a fault dropped the secondary
    suppressions after they were chosen, the release fails instead of leaking."""

    def primaries_only(s: Any, hide: Any, primary: Any, protection: float) -> Any:
        return primary.copy()

    monkeypatch.setattr(sdc_joint, "_publish_pinned", primaries_only)
    with pytest.raises(ProtectionError, match=r"joint audit failed for .*by_exploitation"):
        release_sdc(release_input(), metadata={"year": 2012})


def test_release_refuses_tables_that_disagree() -> None:
    tables = release_input()
    counts = tables["labour_by_industry"]["count"].to_numpy().copy()
    counts[0] += 1
    tables["labour_by_industry"]["count"] = counts
    with pytest.raises(ValueError, match=r"tables disagree: .*labour_by_industry"):
        release_sdc(tables)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"threshold": 0}, ValueError, "threshold must be at least 1, got 0"),
        ({"threshold": 2.5}, TypeError, "threshold must be an int, not float"),
        ({"protection": -1.0}, ValueError, "protection must be a positive finite number, got -1.0"),
        ({"protection": math.inf}, ValueError, "protection must be a positive finite number"),
    ],
)
def test_parameters_validate_themselves(
    kwargs: dict[str, float], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        SDCParams(**kwargs)  # type: ignore[arg-type]


def test_protection_defaults_to_the_threshold() -> None:
    assert SDCParams(threshold=7).protection_level == 7.0
    assert SDCParams(threshold=7, protection=10).protection_level == 10.0

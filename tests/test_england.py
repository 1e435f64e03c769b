"""England benchmark: Wilson intervals, England values, ranks and Fingertips comparisons."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from placekit.config import data_dir
from placekit.england import (
    ENGLAND_FILES,
    MAX_COUNT,
    EnglandBenchmark,
    default_england_dir,
    rate_counts,
    wilson_interval,
)
from placekit.errors import DataError, SchemaError

SHEFFIELD = "E08000019"
Z95 = 1.959963984540054


@pytest.fixture(scope="module")
def folder() -> Path:
    f = default_england_dir()
    if not all((f / name).is_file() for name in ENGLAND_FILES.values()):
        pytest.skip(f"England tables not found under {f}; set PLACEKIT_ENGLAND")
    return f


@pytest.fixture(scope="module")
def eng(folder: Path) -> EnglandBenchmark:
    return EnglandBenchmark.load(folder)


@pytest.fixture(scope="module")
def raw_imd(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder / ENGLAND_FILES["imd"]).set_index("LSOA21CD")


@pytest.fixture(scope="module")
def raw_census(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder / ENGLAND_FILES["census"]).set_index("LSOA21CD")


# ----------------------------------------------------------------------------- Wilson


def _wilson_textbook(k: float, n: float, z: float) -> tuple[float, float]:
    """Independent form: (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)."""
    p = k / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def test_wilson_hand_worked_10_of_100():
    lo, hi = wilson_interval(10, 100)
    assert round(float(lo), 4) == 0.0552
    assert round(float(hi), 4) == 0.1744
    assert float(lo) == pytest.approx(0.0552285, abs=1e-6)
    assert float(hi) == pytest.approx(0.1743657, abs=1e-6)


def test_wilson_k_zero_and_k_equals_n_are_exact():
    lo, hi = wilson_interval(0, 100)
    assert float(lo) == 0.0
    assert float(hi) == pytest.approx(Z95**2 / (100 + Z95**2))  # 0.036994
    lo, hi = wilson_interval(100, 100)
    assert float(hi) == 1.0
    assert float(lo) == pytest.approx(100 / (100 + Z95**2))  # 0.963006


def test_wilson_matches_textbook_form_at_other_confidence():
    z = 3.090232306167813  # 99.8%, Fingertips' outer limits
    for k, n in [(1, 7), (10, 100), (333, 1000), (5, 9)]:
        lo, hi = wilson_interval(k, n, confidence=0.998)
        exp = _wilson_textbook(k, n, z)
        assert float(lo) == pytest.approx(exp[0], rel=1e-12)
        assert float(hi) == pytest.approx(exp[1], rel=1e-12)


def test_wilson_vectorised_and_broadcast():
    k = np.array([0, 10, 50, 100])
    lo, hi = wilson_interval(k, 100)
    assert lo.shape == hi.shape == (4,)
    for j, kj in enumerate(k):
        s_lo, s_hi = wilson_interval(int(kj), 100)
        assert lo[j] == float(s_lo)
        assert hi[j] == float(s_hi)
    lo2, _ = wilson_interval(pd.Series([1.0, np.nan]), pd.Series([10.0, 10.0]))
    assert np.isfinite(lo2[0])
    assert np.isnan(lo2[1])


def test_wilson_missing_and_empty_give_nan():
    for k, n in [(np.nan, 10), (3, np.nan), (0, 0)]:
        lo, hi = wilson_interval(k, n)
        assert np.isnan(lo)
        assert np.isnan(hi)


@pytest.mark.parametrize(
    ("k", "n", "match"),
    [
        (np.inf, 10, "infinite"),
        (1, np.inf, "infinite"),
        (-1, 10, "negative"),
        (1, -5, "negative"),
        (11, 10, "exceeds"),
        (1, 0, "exceeds"),
        (1, 1e20, "implausibly large"),
        ("many", 10, "numeric"),
    ],
)
def test_wilson_hostile_counts_raise(k, n, match):
    with pytest.raises(DataError, match=match):
        wilson_interval(k, n)


@pytest.mark.parametrize("confidence", [0, 1, 1.5, -0.1, float("nan"), True])
def test_wilson_bad_confidence_raises(confidence):
    with pytest.raises(DataError, match="confidence"):
        wilson_interval(1, 10, confidence=confidence)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 10**7), frac=st.floats(0, 1), conf=st.floats(0.5, 0.9999))
def test_wilson_contains_p_and_stays_in_unit_interval(n, frac, conf):
    k = math.floor(frac * n)
    lo, hi = wilson_interval(k, n, confidence=conf)
    p = k / n
    assert 0.0 <= float(lo) <= p <= float(hi) <= 1.0


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 10**5), frac=st.floats(0, 1), m=st.integers(2, 50))
def test_wilson_narrower_with_larger_n_for_fixed_p(n, frac, m):
    k = math.floor(frac * n)
    lo1, hi1 = wilson_interval(k, n)
    lo2, hi2 = wilson_interval(m * k, m * n)  # same p, m times the trials
    assert float(hi2 - lo2) < float(hi1 - lo1)


_any_float = st.floats(allow_nan=True, allow_infinity=True, min_value=None, max_value=None)


@settings(max_examples=300, deadline=None)
@given(k=_any_float, n=_any_float)
def test_wilson_hostile_inputs_error_or_nan_as_documented(k, n):
    bad = (
        math.isinf(k) or math.isinf(n) or k < 0 or n < 0 or k > n or k > MAX_COUNT or n > MAX_COUNT
    )
    if bad:
        with pytest.raises(DataError):
            wilson_interval(k, n)
        return
    lo, hi = wilson_interval(k, n)
    if math.isnan(k) or math.isnan(n) or n == 0:
        assert np.isnan(lo)
        assert np.isnan(hi)
    else:
        assert 0.0 <= float(lo) <= k / n <= float(hi) <= 1.0


# ----------------------------------------------------------------------------- loading


def test_missing_file_names_it_and_says_comparisons_unavailable(tmp_path: Path):
    with pytest.raises(
        DataError, match=r"imd2025_england_lsoa21\.parquet.*England comparisons are unavailable"
    ):
        EnglandBenchmark.load(tmp_path)


def test_missing_census_file_is_named(tmp_path: Path, folder: Path):
    (tmp_path / ENGLAND_FILES["imd"]).symlink_to(folder / ENGLAND_FILES["imd"])
    with pytest.raises(DataError, match="census2021_england_lsoa21"):
        EnglandBenchmark.load(tmp_path)


def test_all_lsoas_and_derivable_indicators(eng: EnglandBenchmark):
    assert eng.values.shape[0] == 33_755
    assert eng.values.index.is_unique
    for i in [
        "imd2025_score",
        "imd2025_rank",
        "imd2025_decile",
        "bad_health_pct",
        "no_car_pct",
        "population",
    ]:
        assert i in eng.indicator_ids
    assert "gp_walk_min" in eng.skipped
    assert set(eng.numerators.columns) == set(eng.denominators.columns)
    assert "bad_health_pct" in eng.numerators.columns
    assert "imd2025_score" not in eng.numerators.columns
    assert eng.areas["lad24_code"].nunique() == 296
    assert eng.areas["region_code"].nunique() == 9


def test_no_england_value_for_underivable_indicator(eng: EnglandBenchmark):
    with pytest.raises(DataError, match="No England value for 'gp_walk_min'"):
        eng.england_value("gp_walk_min")
    with pytest.raises(DataError, match="Unknown indicator"):
        eng.england_value("not_an_indicator")


def test_england_population_total(
    eng: EnglandBenchmark, raw_census: pd.DataFrame, raw_imd: pd.DataFrame
):
    assert int(raw_census["ts0010001"].sum()) == 56_490_284
    assert eng.england_value("population") == 56_490_284
    assert eng.areas["population"].sum() == 56_490_284
    assert int(raw_imd["census2021_usual_residents"].sum()) == 56_490_284


def test_imd_deciles_have_a_tenth_of_lsoas_each(eng: EnglandBenchmark):
    counts = eng.values["imd2025_decile"].value_counts().sort_index()
    assert list(counts.index) == [float(d) for d in range(1, 11)]
    assert counts.sum() == 33_755
    assert set(counts) <= {3375, 3376}


def test_census_counts_are_recovered_exactly(eng: EnglandBenchmark):
    """Rates x totals, rounded, give back the Sheffield pack's summed OA counts."""
    try:
        pack_dir = data_dir()
    except DataError:
        pytest.skip("no Sheffield pack")
    pack = pack_dir / "census" / "census2021_sheffield_lsoa21_selected_tables_sum_of_oa.parquet"
    if not pack.is_file():
        pytest.skip(f"no Sheffield census table at {pack}")
    sheff = pd.read_parquet(pack).set_index("LSOA21CD")
    got = eng.numerators.loc[sheff.index, "bad_health_pct"]
    want = sheff["ts0370005"] + sheff["ts0370006"]
    assert (got == want).all()
    got = eng.numerators.loc[sheff.index, "flats_pct"]
    want = sheff[["ts0440005", "ts0440006", "ts0440007", "ts0440008"]].sum(axis=1)
    assert (got == want).all()


def test_england_census_rate_is_sum_over_sum(eng: EnglandBenchmark, raw_census: pd.DataFrame):
    t = raw_census["ts0370001"].astype(float)
    k = (
        raw_census["ts0370005_rate"].astype(float) + raw_census["ts0370006_rate"].astype(float)
    ) * t
    independent = 100 * k.sum() / t.sum()
    assert eng.england_value("bad_health_pct") == pytest.approx(independent, abs=1e-4)
    assert 5.0 < eng.england_value("bad_health_pct") < 5.3  # ONS: 5.2% bad or very bad
    t = raw_census["ts0450001"].astype(float)
    no_car = 100 * (raw_census["ts0450002_rate"].astype(float) * t).sum() / t.sum()
    assert eng.england_value("no_car_pct") == pytest.approx(no_car, abs=1e-4)


def test_england_score_is_population_weighted_mean(eng: EnglandBenchmark, raw_imd: pd.DataFrame):
    w = raw_imd["census2021_usual_residents"].astype(float)
    expect = (raw_imd["IMD_score"] * w).sum() / w.sum()
    assert eng.england_value("imd2025_score") == pytest.approx(expect, rel=1e-12)
    notes = eng.england_values(["imd2025_rank"]).attrs["notes"]
    assert "not itself a rank" in notes["imd2025_rank"]


def test_lsoa_ranks_reproduce_official_ranks_and_deciles(
    eng: EnglandBenchmark, raw_imd: pd.DataFrame
):
    out = eng.compare(eng.values[["imd2025_rank", "imd2025_score"]], level="lsoa")
    by_rank = out[out["indicator"] == "imd2025_rank"].set_index("area_code")
    official = raw_imd.loc[by_rank.index]
    assert (by_rank["england_rank"] == official["IMD_rank"]).all()
    assert (by_rank["england_decile"] == official["IMD_decile"]).all()
    by_score = out[out["indicator"] == "imd2025_score"].set_index("area_code")
    # scores are published to 3 dp, so tied scores share a rank; deciles barely move
    assert (by_score["england_decile"] == official["IMD_decile"]).mean() > 0.999
    assert (by_score["england_rank"] <= official["IMD_rank"]).all()


def test_sheffield_lad_rank_consistent_with_its_weighted_score(
    eng: EnglandBenchmark, raw_imd: pd.DataFrame
):
    w = raw_imd["census2021_usual_residents"].astype(float)
    lad = raw_imd["LAD24CD"]
    by_lad = (raw_imd["IMD_score"] * w).groupby(lad).sum() / w.groupby(lad).sum()
    table = eng.lad_table(["imd2025_score"])
    assert len(table) == 296
    assert table.loc[SHEFFIELD, "imd2025_score"] == pytest.approx(by_lad[SHEFFIELD], rel=1e-12)
    out = eng.compare(table.loc[[SHEFFIELD]], level="lad")
    rank = out["england_rank"].iloc[0]
    assert rank == 1 + (by_lad > by_lad[SHEFFIELD]).sum()
    assert rank == 55  # measured: Census-weighted IoD 2025 average score
    assert out["n_ranked"].iloc[0] == 296
    assert out["england_decile"].iloc[0] == math.ceil(10 * rank / 296)
    assert out["vs_england"].iloc[0] == "not compared"  # a score has no interval


def test_sheffield_census_rate_against_england(eng: EnglandBenchmark):
    num, den = eng.lad_counts(["bad_health_pct"])
    vals = eng.lad_table(["bad_health_pct"])
    out = eng.compare(vals.loc[[SHEFFIELD]], numerators=num, denominators=den, level="lad")
    row = out.iloc[0]
    assert row["ci_lower"] < row["value"] < row["ci_upper"]
    assert row["vs_england"] == "worse"  # 6.04% of 556,512 vs England 5.15%


# ----------------------------------------------------------------------------- compare


def _synthetic(eng: EnglandBenchmark):
    e = eng.england_value("bad_health_pct")
    areas = pd.Index(["big_high", "small_high", "big_low"], name="area_code")
    n = pd.Series([10_000.0, 5.0, 10_000.0], index=areas)
    k = pd.Series([3_000.0, 1.0, 100.0], index=areas)
    assert k["big_low"] / n["big_low"] * 100 < e < k["small_high"] / n["small_high"] * 100
    vals = pd.DataFrame({"bad_health_pct": 100 * k / n})
    return vals, pd.DataFrame({"bad_health_pct": k}), pd.DataFrame({"bad_health_pct": n})


def test_compare_marks_far_above_england_worse_unless_n_is_small(eng: EnglandBenchmark):
    vals, num, den = _synthetic(eng)
    out = eng.compare(vals, numerators=num, denominators=den, level="ward").set_index("area_code")
    assert out.loc["big_high", "vs_england"] == "worse"
    assert out.loc["small_high", "vs_england"] == "similar"  # 1 of 5: interval spans England
    assert out.loc["big_low", "vs_england"] == "better"
    assert out["england_rank"].isna().all()  # wards are not ranked
    lo, hi = wilson_interval(1, 5)
    assert out.loc["small_high", "ci_lower"] == pytest.approx(100 * float(lo))
    assert out.loc["small_high", "ci_upper"] == pytest.approx(100 * float(hi))
    assert "Wilson" in out.attrs["interval"]
    assert out.attrs["confidence"] == 0.95
    assert out.attrs["level"] == "ward"


def test_compare_directions_and_neutral(eng: EnglandBenchmark):
    areas = pd.Index(["a", "b"])
    n = pd.Series([10_000.0, 10_000.0], index=areas)
    k = pd.Series([9_000.0, 10.0], index=areas)
    ids = ["social_rented_pct", "travel_foot_pct"]  # neutral, higher_better
    vals = pd.DataFrame(dict.fromkeys(ids, 100 * k / n))
    out = eng.compare(
        vals,
        numerators=pd.DataFrame(dict.fromkeys(ids, k)),
        denominators=pd.DataFrame(dict.fromkeys(ids, n)),
        level="lsoa",
    ).set_index(["area_code", "indicator"])["vs_england"]
    assert out[("a", "social_rented_pct")] == "higher"
    assert out[("b", "social_rented_pct")] == "lower"
    assert out[("a", "travel_foot_pct")] == "better"
    assert out[("b", "travel_foot_pct")] == "worse"


def test_compare_without_counts_is_not_compared_but_ranked(eng: EnglandBenchmark):
    vals = eng.values.loc[eng.values.index[:5], ["bad_health_pct"]]
    out = eng.compare(vals, level="lsoa")
    assert (out["vs_england"] == "not compared").all()
    assert out["england_rank"].between(1, 33_755).all()
    assert out["n_ranked"].eq(33_755).all()


def test_compare_is_row_order_independent(eng: EnglandBenchmark):
    codes = eng.values.index[::1000]
    vals = eng.values.loc[codes, ["bad_health_pct", "imd2025_score"]]
    num, den = rate_counts(vals, eng.weights.loc[codes], catalogue=eng.catalogue)
    a = eng.compare(vals, numerators=num, denominators=den, level="lsoa")
    shuffled = vals.sample(frac=1, random_state=0)
    b = eng.compare(shuffled, numerators=num, denominators=den, level="lsoa")
    key = ["area_code", "indicator"]
    pd.testing.assert_frame_equal(
        a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
    )
    assert list(a["area_code"][:2]) == [codes[0], codes[0]]  # area-major, input order


def test_rate_counts_round_trip(eng: EnglandBenchmark):
    codes = eng.values.index[:50]
    vals = eng.values.loc[codes, ["bad_health_pct", "imd2025_score"]]
    num, den = rate_counts(vals, eng.weights.loc[codes], catalogue=eng.catalogue)
    assert list(num.columns) == list(den.columns) == ["bad_health_pct"]
    np.testing.assert_allclose(
        num["bad_health_pct"], eng.numerators.loc[codes, "bad_health_pct"], atol=1e-9
    )
    with pytest.raises(SchemaError, match="ts0370001"):
        rate_counts(vals, eng.weights.loc[codes, ["population"]], catalogue=eng.catalogue)


def test_compare_rejects_bad_input(eng: EnglandBenchmark):
    vals, num, den = _synthetic(eng)
    with pytest.raises(SchemaError, match="together"):
        eng.compare(vals, numerators=num, level="ward")
    with pytest.raises(DataError, match="Unknown indicator"):
        eng.compare(pd.DataFrame({"nope": [1.0]}), level="ward")
    with pytest.raises(DataError, match="exceeds"):
        eng.compare(vals, numerators=num * 10_000, denominators=den, level="ward")
    with pytest.raises(SchemaError, match="not numeric"):
        eng.compare(pd.DataFrame({"bad_health_pct": ["x"]}), level="ward")
    with pytest.raises(SchemaError, match="duplicated"):
        eng.compare(pd.concat([vals, vals]), level="ward")
    with pytest.warns(UserWarning, match="differ from"):
        eng.compare(vals + 1.0, numerators=num, denominators=den, level="ward")


def test_normal_quantile_is_scipys_ndtri_without_scipy():
    from scipy.special import ndtri

    from placekit.england import normal_quantile

    for p in np.linspace(0.5, 0.999999, 200):
        assert abs(normal_quantile(float(p)) - float(ndtri(p))) < 1e-12
    assert normal_quantile(0.975) == pytest.approx(1.959963984540054, abs=1e-15)
    # a confidence within 1e-16 of 1 rounds p to 1: infinity, as ndtri gives, not an error
    assert normal_quantile(1.0) == math.inf == float(ndtri(1.0))
    from placekit import england

    assert england._z(1 - 2**-53) == math.inf

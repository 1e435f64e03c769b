"""placekit.effects: effects of access on demand, checked on planted effects over the real LSOAs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import RandomForestRegressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from placekit.effects import (
    DEFAULT_CONFOUNDERS,
    AccessEffect,
    EffectResult,
    assumed_effect,
    compare_effects,
    confounder_frame,
    estimate_access_effect,
    planted_effect_data,
    predicted_change,
)
from placekit.errors import DataError

SEEDS = (0, 1, 2)
SIZES = (0.05, 0.2)  # percentage points of demand per minute of access


@pytest.fixture(scope="module")
def planted(place):
    """Default DML estimates on planted data, computed once per (effect, seed)."""
    out = {}
    for tau in (0.0, *SIZES):
        for seed in SEEDS:
            d = planted_effect_data(place, tau, random_state=seed)
            out[tau, seed] = (
                d,
                estimate_access_effect(place, d["demand"], d["access"], random_state=seed),
            )
    return out


# ----------------------------------------------------------------------------- planted effects


def test_planted_data_is_confounded_as_specified(place):
    d = planted_effect_data(place, 0.2, random_state=0)
    assert d.index.equals(place.lsoa.index)
    assert d.attrs["realised_r"] == pytest.approx(-0.5, abs=0.05)
    # the same seed gives the same data; another seed does not
    assert planted_effect_data(place, 0.2, random_state=0).equals(d)
    assert not planted_effect_data(place, 0.2, random_state=1).equals(d)


@pytest.mark.parametrize("tau", SIZES)
@pytest.mark.parametrize("seed", SEEDS)
def test_planted_effect_recovered(planted, tau, seed):
    _, r = planted[tau, seed]
    assert r.lower <= tau <= r.upper, (r.estimate, r.lower, r.upper)
    assert np.sign(r.estimate) == np.sign(tau)
    assert r.method == "dml" and r.spatial == "lac" and r.n == 343 and r.n_groups == 7
    assert r.n_folds == 5
    if tau >= 0.2:  # a large effect is detected, and the sentence says "more"
        assert r.point_prediction_allowed
        assert r.sentence.startswith("About ") and " more " in r.sentence
        assert "per extra minute" in r.sentence


@pytest.mark.parametrize("seed", SEEDS)
def test_naive_slope_is_biased_where_dml_is_not(planted, seed):
    """A correlation-only estimate misses the planted effect: its interval excludes the truth."""
    for tau in SIZES:
        _, r = planted[tau, seed]
        assert not (r.naive_lower <= tau <= r.naive_upper)
        assert r.naive_estimate < tau - 0.1  # biased down by deprived areas near services
        assert abs(r.estimate - tau) < abs(r.naive_estimate - tau)


@pytest.mark.parametrize("seed", SEEDS)
def test_null_says_no_detectable_effect(planted, seed):
    d, r = planted[0.0, seed]
    assert r.lower <= 0 <= r.upper
    assert not r.point_prediction_allowed
    assert r.sentence.startswith("No detectable effect")
    assert "includes zero" in r.sentence
    pc = predicted_change(r, pd.Series(-2.0, index=d.index))
    assert pc[["demand_change", "demand_change_lower", "demand_change_upper"]].isna().all().all()
    assert pc.attrs["message"].startswith("No detectable effect")
    # ... while the naive slope would report a "significant" association
    assert not (r.naive_lower <= 0 <= r.naive_upper)


def test_null_coverage_over_40_seeds(place):
    """The interval covers zero in about 95 % of null draws (a lighter forest keeps this fast)."""
    learner = RandomForestRegressor(n_estimators=25, min_samples_leaf=5, max_features=0.5)
    covered = []
    for seed in range(40):
        d = planted_effect_data(place, 0.0, random_state=1000 + seed)
        r = estimate_access_effect(
            place, d["demand"], d["access"], learner=learner, random_state=seed
        )
        covered.append(r.lower <= 0 <= r.upper)
        assert r.point_prediction_allowed == (not covered[-1])
    assert np.mean(covered) >= 0.85, np.mean(covered)


def test_ols_cross_check_recovers_effect(place):
    d = planted_effect_data(place, 0.2, random_state=0)
    r = estimate_access_effect(place, d["demand"], d["access"], method="ols")
    assert r.lower <= 0.2 <= r.upper and r.learner == "linear (OLS)" and r.n_folds == 0


# ----------------------------------------------------------------------------- reproducibility


def test_same_seed_same_result_and_row_order_does_not_matter(place):
    d = planted_effect_data(place, 0.2, random_state=3)
    learner = RandomForestRegressor(n_estimators=20, min_samples_leaf=5)
    a = estimate_access_effect(place, d["demand"], d["access"], learner=learner, random_state=4)
    b = estimate_access_effect(place, d["demand"], d["access"], learner=learner, random_state=4)
    perm = np.random.default_rng(0).permutation(len(d))
    c = estimate_access_effect(
        place, d["demand"].iloc[perm], d["access"].iloc[perm], learner=learner, random_state=4
    )
    assert a.estimate == b.estimate == c.estimate and a.se == c.se
    assert a.params["random_state"] == 4 and a.params["confounders"] == list(a.confounders)


def test_repeated_crossfitting_and_other_level(place):
    """Wards block the folds and cluster the error (no ward fixed effects: too few LSOAs each)."""
    d = planted_effect_data(place, 0.2, random_state=0)
    learner = RandomForestRegressor(n_estimators=25, min_samples_leaf=5, max_features=0.5)
    r = estimate_access_effect(
        place,
        d["demand"],
        d["access"],
        learner=learner,
        n_rep=2,
        spatial="ward",
        fixed_effects=False,
    )
    assert r.spatial == "ward" and r.n_groups == place.codes("ward").nunique()
    assert r.lower <= 0.2 <= r.upper


# ----------------------------------------------------------------------------- too few data


def test_too_few_areas_gives_no_point_prediction(place):
    d = planted_effect_data(place, 0.5, random_state=0).iloc[:40]
    r = estimate_access_effect(place, d["demand"], d["access"], learner="lasso")
    assert not r.point_prediction_allowed and r.n == 40
    assert "only 40 areas" in r.reason
    assert r.sentence.startswith("No detectable effect")
    assert math.isnan(predicted_change(r, pd.Series(-1.0, index=d.index))["demand_change"].iloc[0])


def test_too_few_localities_gives_no_point_prediction(place):
    d = planted_effect_data(place, 0.5, random_state=0)
    loc = place.codes(place.locality_level).reindex(d.index)
    keep = loc.isin(sorted(loc.unique())[:3])
    y = d["demand"].where(keep)  # missing outside three localities, as an upload might be
    r = estimate_access_effect(place, y, d["access"], learner="lasso")
    assert r.n == int(keep.sum()) >= 50 and r.n_groups == 3
    assert not r.point_prediction_allowed and "only 3 localities" in r.reason
    assert any("left out" in n for n in r.notes)


# ----------------------------------------------------------------------------- bad inputs


def test_nan_in_access_is_refused(place):
    d = planted_effect_data(place, 0.1, random_state=0)
    t = d["access"].copy()
    t.iloc[5] = np.nan
    with pytest.raises(DataError, match=r"missing or infinite for 1 LSOA\(s\)"):
        estimate_access_effect(place, d["demand"], t)


def test_constant_access_is_refused(place):
    d = planted_effect_data(place, 0.1, random_state=0)
    with pytest.raises(DataError, match=r"same .* in every LSOA"):
        estimate_access_effect(place, d["demand"], pd.Series(7.0, index=d.index))


def test_unknown_columns_are_refused(place):
    with pytest.raises(DataError, match="Unknown demand column 'bad_health'"):
        estimate_access_effect(place, "bad_health", "imd2025_score")
    with pytest.raises(DataError, match="add_access_indicators"):
        estimate_access_effect(place, "bad_health_pct", "gp_walk_min")
    with pytest.raises(DataError, match="Unknown confounder 'wealth'"):
        estimate_access_effect(place, "bad_health_pct", "imd2025_score", confounders=["wealth"])
    with pytest.raises(DataError, match="spatial must be"):
        estimate_access_effect(place, "bad_health_pct", "imd2025_score", spatial="county")
    with pytest.raises(DataError, match="method must be one of dml, ols"):
        estimate_access_effect(place, "bad_health_pct", "imd2025_score", method="iv")
    with pytest.raises(DataError, match="none of which are LSOAs"):
        estimate_access_effect(place, pd.Series([1.0, 2.0], index=["a", "b"]), "imd2025_score")


def test_confounder_frame_defaults(place):
    x = confounder_frame(place)
    assert list(x.columns) == list(DEFAULT_CONFOUNDERS)
    assert x.index.equals(place.lsoa.index) and np.isfinite(x.to_numpy()).all()
    dens = place.weights["population"] / place.lsoa["area_km2"]
    assert np.allclose(x["log_density_per_km2"], np.log(dens))


# ----------------------------------------------------------------------------- estimator contract


@parametrize_with_checks([AccessEffect(learner=LinearRegression(), min_n=1, min_groups=1)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_estimator_contract():
    est = AccessEffect(treatment="walk_min", learner="lasso", n_folds=3, random_state=7)
    assert est.get_params()["n_folds"] == 3
    c = clone(est)
    assert c.get_params() == est.get_params() and c is not est
    est.set_params(n_rep=2)
    assert est.n_rep == 2
    with pytest.raises(NotFittedError):
        est.predict_change([1.0])
    # __init__ stores only: a bad value is reported at fit, not construction
    bad = AccessEffect(method="iv")
    rng = np.random.default_rng(0)
    tab = pd.DataFrame({"walk_min": rng.normal(size=100), "dep": rng.normal(size=100)})
    with pytest.raises(DataError, match="method must be"):
        bad.fit(tab, rng.normal(size=100))


def test_estimator_on_plain_table():
    rng = np.random.default_rng(1)
    n = 600
    dep = rng.normal(size=n)
    tab = pd.DataFrame({"dep": dep, "walk_min": 10 - 3 * dep + rng.normal(size=n)})
    y = 0.3 * tab["walk_min"] + 2 * dep + dep**2 + rng.normal(size=n)
    groups = np.arange(n) % 12
    est = AccessEffect(
        treatment="walk_min", learner=RandomForestRegressor(n_estimators=50), random_state=0
    ).fit(tab, y, groups=groups)
    assert est.interval_[0] <= 0.3 <= est.interval_[1]
    assert est.result_.point_prediction_allowed and est.result_.n_groups == 12
    assert list(est.feature_names_in_) == ["dep", "walk_min"] and est.n_features_in_ == 2
    assert np.allclose(est.predict_change([-1.0, 2.0]), [-est.coef_, 2 * est.coef_])
    ry, rt = est.residuals_
    assert ry.shape == rt.shape == (n,)
    # without groups: random folds, heteroscedasticity-robust standard error
    free = clone(est).fit(tab, y)
    assert free.result_.spatial is None and free.result_.n_groups == 0
    with pytest.raises(DataError, match="groups has 5 values"):
        clone(est).fit(tab, y, groups=groups[:5])
    with pytest.raises(DataError, match="treatment column 'gp' is not in X"):
        AccessEffect(treatment="gp").fit(tab, y)
    xn = tab.copy()
    xn.iloc[0, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        clone(est).fit(xn, y)
    with pytest.raises(DataError, match="is the same"):
        clone(est).fit(tab.assign(walk_min=1.0), y)


# ----------------------------------------------------------------------------- predictions


def _effect(estimate=0.1, lower=0.05, upper=0.15, allowed=True):
    return EffectResult(
        demand="bad_health_pct",
        access="gp_walk_min",
        estimate=estimate,
        se=0.025,
        lower=lower,
        upper=upper,
        p=0.001,
        n=343,
        n_groups=7,
        method="dml",
        confounders=("x",),
        learner="forest",
        n_folds=5,
        spatial="lac",
        point_prediction_allowed=allowed,
        sentence="About 0.1 ...",
        demand_label="bad health",
        demand_unit="percentage points",
    )


def test_predicted_change_uses_the_interval():
    idx = pd.Index(["a", "b", "c", "d"], name="area_code")
    delta = pd.Series([-2.0, 0.0, 1.0, np.nan], index=idx)
    pop = pd.Series([1000.0, 2000.0, 500.0, 100.0], index=idx)
    pc = predicted_change(_effect(), delta, pop)
    assert pc.index.equals(idx)
    assert pc["demand_change"].tolist()[:3] == pytest.approx([-0.2, 0.0, 0.1])
    # a shorter walk: the interval flips order (upper effect gives the larger fall)
    assert pc.loc["a", "demand_change_lower"] == pytest.approx(-0.3)
    assert pc.loc["a", "demand_change_upper"] == pytest.approx(-0.1)
    assert pc.loc["c", ["demand_change_lower", "demand_change_upper"]].tolist() == pytest.approx(
        [0.05, 0.15]
    )
    assert math.isnan(pc.loc["d", "demand_change"])
    assert pc.loc["a", "people_change"] == pytest.approx(-2.0)  # 0.2 points of 1000 people
    s = pc.attrs["summary"]
    assert s["people_change"] == pytest.approx(-2.0 + 0.5)
    assert s["people_change_lower"] == pytest.approx(-3.0 + 0.25)
    assert s["areas_changed"] == 2 and s["point_prediction_allowed"]
    assert pc.attrs["effect"]["estimate"] == 0.1


def test_predicted_change_without_point_prediction():
    delta = pd.Series([-2.0, 1.0], index=["a", "b"])
    pc = predicted_change(_effect(estimate=0.01, lower=-0.02, upper=0.04, allowed=False), delta)
    assert pc["demand_change"].isna().all() and pc["demand_change_upper"].isna().all()
    assert pc["access_change"].tolist() == [-2.0, 1.0]
    assert "No detectable effect" in pc.attrs["message"]
    with pytest.raises(DataError, match="delta_access must be a pandas Series"):
        predicted_change(_effect(), [1.0])
    with pytest.raises(DataError, match="population lacks 1"):
        predicted_change(_effect(), delta, pd.Series([1.0], index=["a"]))


def test_assumed_effect_side_by_side():
    lit = assumed_effect(
        0.03,
        "Example et al. 2021, Table 2",
        demand="bad_health_pct",
        access="gp_walk_min",
        lower=0.01,
        upper=0.05,
        demand_unit="% of residents",
        demand_label="bad health",
        access_label="walk to a GP",
    )
    assert lit.method == "assumed" and lit.point_prediction_allowed and lit.source
    assert lit.sentence.startswith(
        "Assumed from the literature: about 0.0300 percentage points more bad health"
    )
    assert "source: Example et al. 2021, Table 2" in lit.sentence
    pc = predicted_change(lit, pd.Series([-10.0], index=["a"]))
    assert pc["demand_change"].iloc[0] == pytest.approx(-0.3)
    assert pc[["demand_change_lower", "demand_change_upper"]].iloc[0].tolist() == pytest.approx(
        [-0.5, -0.1]
    )
    both = compare_effects(_effect(), lit)
    assert both["method"].tolist() == ["dml", "assumed"] and both["source"].iloc[1]
    for args, kw, match in [
        ((math.nan, "x"), {}, "finite number"),
        ((0.1, "  "), {}, "needs its source"),
        ((0.1, "x"), {"lower": 0.2, "upper": 0.3}, "contain the value"),
        ((0.1, "x"), {"lower": 0.0}, "both lower and upper"),
    ]:
        with pytest.raises(DataError, match=match):
            assumed_effect(*args, **kw)


# ----------------------------------------------------------------------------- real data


def test_real_gp_access_and_the_069c_example(place):
    """The measured effect of walk time to a GP on bad health, and a new GP in Sheffield 069C."""
    from placekit.accessibility import add_access_indicators
    from placekit.scenarios import ScenarioEngine

    pa = add_access_indicators(place, types=("gp",))
    r = estimate_access_effect(pa, "bad_health_pct", "gp_walk_min")
    assert r.n == len(place.lsoa) and r.lower < r.estimate < r.upper
    assert r.confounders == DEFAULT_CONFOUNDERS
    includes0 = r.lower <= 0 <= r.upper
    assert r.point_prediction_allowed == (not includes0)
    assert r.sentence.startswith("No detectable effect" if includes0 else "About ")
    code = pa.lsoa.index[pa.lsoa["area_name"] == "Sheffield 069C"][0]
    pt = pa.lsoa.geometry.loc[code].representative_point()
    res = ScenarioEngine(pa).apply(
        {
            "placekit_scenario": 1,
            "name": "GP in 069C",
            "interventions": [{"type": "add_facility", "facility": "gp", "x": pt.x, "y": pt.y}],
        }
    )
    dt = res.areas["gp_min_change"].fillna(0.0)
    assert dt.loc[code] < 0
    pc = predicted_change(r, dt, pa.weights["population"])
    if r.point_prediction_allowed:
        # the sign of the change follows the estimate: shorter walks times the effect
        assert np.sign(pc.loc[code, "demand_change"]) == -np.sign(r.estimate)
        assert pc.loc[code, "demand_change_lower"] <= pc.loc[code, "demand_change_upper"]
    else:
        assert pc["demand_change"].isna().all()
        assert pc.attrs["message"].startswith("No detectable effect")


def test_predicted_change_counts_a_rate_per_1000_and_averages_a_score():
    """Hand-worked: 0.5 per 1000 per minute, 2 min shorter for 4,000 residents -> 4 fewer."""
    idx = pd.Index(["a", "b", "c"], name="area_code")
    delta = pd.Series([-2.0, 0.0, -1.0], index=idx)
    pop = pd.Series([4000.0, 1000.0, 2000.0], index=idx)
    rate = assumed_effect(
        0.5,
        "test",
        demand_label="referrals per 1000 residents",
        demand_unit="per 1000 residents",
        lower=0.25,
        upper=0.75,
    )
    pc = predicted_change(rate, delta, pop)
    # a: -2 x 0.5 = -1 per 1000 of 4000 -> -4; c: -0.5 per 1000 of 2000 -> -1
    assert pc["people_change"].tolist() == pytest.approx([-4.0, 0.0, -1.0])
    assert "about 5.00 fewer referrals (95 % interval -7.50 to -2.50)" in pc.attrs["message"]
    score = assumed_effect(0.5, "test", demand_label="a score", demand_unit="score")
    pc = predicted_change(score, delta, pop)
    assert "people_change" not in pc
    # population-weighted mean over the areas whose access changed: (-1 x 4000 - 0.5 x 2000) / 6000
    assert pc.attrs["summary"]["demand_change_mean_changed"] == pytest.approx(-5000 / 6000)
    assert "mean over the areas whose access changed" in pc.attrs["message"]


def test_no_effect_sentence_gives_the_interval_its_units():
    from placekit.effects import _areas, _sentence

    said = _sentence(
        estimate=0.01,
        lower=-0.0669,
        upper=0.0062,
        allowed=False,
        reason="interval includes zero",
        demand_label="bad health",
        access_label="walk time to a GP",
        demand_unit="% of residents",
        access_unit="minute",
        level=0.95,
    )
    assert said == (
        "No detectable effect of walk time to a GP on bad health (95 % interval -0.0669 to "
        "0.0062 % of residents per minute includes zero)."
    )
    assert (_areas(1), _areas(13), _areas(1200)) == ("1 area", "13 areas", "1,200 areas")

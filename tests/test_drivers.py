import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from placekit.catalogue import load_catalogue
from placekit.drivers import (
    DemandModel,
    driver_groups,
    driver_label,
    explain_demand,
    group_label,
    importance_words,
    spatial_lag,
)
from placekit.errors import DataError


@parametrize_with_checks([DemandModel("ridge"), DemandModel("gbm", random_state=0)])
def test_sklearn_contract(estimator, check):
    check(estimator)


def test_driver_groups_join_correlated():
    rng = np.random.default_rng(0)
    a = rng.random(100)
    X = pd.DataFrame({"a": a, "a2": a + rng.normal(0, 0.01, 100), "b": rng.random(100)})
    g = driver_groups(X)
    assert sorted(map(sorted, g.values())) == [["a", "a2"], ["b"]]


def test_explain_demand_heldout_and_importance(place):
    r = explain_demand(place, "bad_health_pct", n_repeats=2)
    assert set(r.scores.index) == {"ridge", "gbm"}
    assert 0.2 < r.scores.max() < 0.95  # held out, so below a training-set fit
    used = place.indicators[r.columns["drivers"]].fillna(0)
    train = DemandModel(r.best).fit(used, place.indicators["bad_health_pct"])
    assert r.scores[r.best] < train.score(used, place.indicators["bad_health_pct"])
    assert r.importance["importance"].iloc[0] > 0
    assert set(r.areas.columns) >= {
        "observed",
        "predicted",
        "residual",
        "flag_above_prediction",
        "flag_high_exposure_moderate_demand",
    }
    assert -1 < r.morans_i["I"] < 1
    assert "not individual risk" in r.caveat


def test_noise_driver_has_no_importance(place):
    rng = np.random.default_rng(0)
    noise = pd.DataFrame({"noise_a": rng.random(343)}, index=place.lsoa.index)
    meta = {
        "noise_a": {
            "label": "noise",
            "theme": "planning",
            "unit": "",
            "direction": "higher_worse",
            "kind": "score",
            "aggregation": "weighted_mean",
            "weight": "population",
            "tier": "primary",
            "source": "test",
            "year": "",
            "geography": "",
            "licence": "",
            "derivation": "",
        }
    }
    p = place.with_indicators(noise, meta)
    r = explain_demand(
        p, "bad_health_pct", drivers=["noise_a", "no_car_pct"], n_repeats=3, spatial=False
    )
    imp = r.importance["importance"]
    assert imp["noise_a"] < 0.02 < imp["no_car_pct"]
    # with spatial lags the noise's neighbourhood mean is a smooth random map that can meet
    # the demand's own clustering by chance: still a small fraction of a real driver's
    imp = explain_demand(
        p, "bad_health_pct", drivers=["noise_a", "no_car_pct"], n_repeats=3
    ).importance["importance"]
    assert imp["noise_a"] < 0.1 * imp["no_car_pct"]


def test_demand_as_driver_rejected(place):
    with pytest.raises(DataError, match="cannot also be a driver"):
        explain_demand(place, "bad_health_pct", drivers=["bad_health_pct"])


def _with_noise_demand(place, seed=0):
    rng = np.random.default_rng(seed)
    noise = pd.DataFrame({"noise_demand": rng.normal(size=343)}, index=place.lsoa.index)
    meta = {
        "noise_demand": {
            "label": "noise",
            "theme": "health and care demand",
            "unit": "",
            "direction": "higher_worse",
            "kind": "score",
            "aggregation": "weighted_mean",
            "weight": "population",
            "tier": "tertiary",
            "source": "test",
            "year": "",
            "geography": "",
            "licence": "",
            "derivation": "",
        }
    }
    return place.with_indicators(noise, meta)


def test_no_fold_leak_on_pure_noise(place):
    # a model scored on the data it was trained on (a fold leak) explains noise; held out must not
    r = explain_demand(_with_noise_demand(place), "noise_demand", n_repeats=2)
    assert r.scores.max() < 0.05
    used = place.indicators[r.columns["drivers"]].fillna(0)
    train_r2 = DemandModel("gbm").fit(used, r.areas["observed"]).score(used, r.areas["observed"])
    assert train_r2 > 0.3  # what a leak would have reported


def test_importance_is_heldout_not_training(place):
    # on noise, training-set permutation importance is clearly positive for a flexible model;
    # held-out importance is not
    r = explain_demand(_with_noise_demand(place, seed=1), "noise_demand", n_repeats=3)
    assert (r.importance["importance"] < 0.05).all()


def test_contiguous_variant_gives_connected_clusters(place):
    import scipy.sparse.csgraph as csg

    from placekit.clustering import DEFAULT_VARIABLES, AreaClusterer, contiguity

    X = place.indicators[DEFAULT_VARIABLES].fillna(0)
    W = contiguity(place.lsoa)
    labels = AreaClusterer(8, method="ward_contiguous", connectivity=W).fit(X).labels_
    for k in range(8):
        idx = np.flatnonzero(labels == k)
        sub = W[idx][:, idx]
        n_comp, _ = csg.connected_components(sub, directed=False)
        assert n_comp == 1


def test_flag_category_precedence():
    from placekit.drivers import flag_category

    a = pd.DataFrame(
        {
            "flag_above_prediction": [True, False, False, True],
            "flag_high_exposure_moderate_demand": [False, True, False, True],
        }
    )
    assert flag_category(a).tolist() == [
        "demand above prediction",
        "high exposure, moderate demand",
        "no flag",
        "demand above prediction",
    ]


def _meta(label: str, theme: str = "planning") -> dict[str, str]:
    return {
        "label": label,
        "theme": theme,
        "unit": "",
        "direction": "higher_worse",
        "kind": "score",
        "aggregation": "weighted_mean",
        "weight": "population",
        "tier": "primary",
        "source": "test",
        "year": "",
        "geography": "",
        "licence": "",
        "derivation": "",
    }


def test_spatial_lag_by_hand():
    """A strip of three squares A-B-C: B touches both, A and C only B; D stands alone."""
    import geopandas as gpd
    from shapely.geometry import box

    codes = ["A", "B", "C", "D"]
    geo = gpd.GeoDataFrame(
        {"area_name": codes},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1), box(10, 10, 11, 11)],
        index=pd.Index(codes, name="area_code"),
        crs=27700,
    )

    class _Place:
        lsoa = geo

    X = pd.DataFrame({"x": [1.0, 2.0, 6.0, 9.0]}, index=geo.index)
    lag = spatial_lag(_Place(), X)
    assert list(lag.columns) == ["w_x"]
    np.testing.assert_allclose(lag["w_x"], [2.0, 3.5, 2.0, 9.0])  # D has no neighbours: its own


def test_spatial_terms_recover_a_planted_neighbour_effect(place):
    """Demand planted on the neighbours' driver: SLX finds it, residual clustering falls."""
    rng = np.random.default_rng(3)
    x = pd.Series(rng.normal(size=len(place.lsoa)), index=place.lsoa.index)
    wx = spatial_lag(place, x.to_frame("d"))["w_d"]
    y = 0.3 * x + 1.5 * (wx - wx.mean()) / wx.std() + rng.normal(0, 0.3, len(x))
    p = place.with_indicators(
        pd.DataFrame({"d": x, "y_planted": y}),
        {"d": _meta("driver"), "y_planted": _meta("demand", "health and care demand")},
    )
    r = explain_demand(p, "y_planted", drivers=["d"], n_repeats=1)
    assert r.spatial_terms == ["w_d"]
    assert r.scores.max() > r.scores_without_spatial.max() + 0.3
    assert r.morans_i["I"] < r.morans_i_without_spatial["I"] - 0.2
    flat = explain_demand(p, "y_planted", drivers=["d"], n_repeats=1, spatial=False)
    assert flat.spatial_terms == [] and flat.morans_i == flat.morans_i_without_spatial
    assert flat.morans_i["I"] == pytest.approx(r.morans_i_without_spatial["I"])


def test_spatial_terms_lower_residual_clustering_on_sheffield(place):
    r = explain_demand(place, "bad_health_pct", n_repeats=1)
    assert r.morans_i["I"] < r.morans_i_without_spatial["I"]
    assert r.scores[r.best] >= r.scores_without_spatial[r.best]
    assert r.columns["demand"] == "bad_health_pct" and "no_car_pct" in r.columns["drivers"]


def test_drivers_in_words():
    cat = load_catalogue()
    assert driver_label(cat, "no_car_pct") == str(cat.row("no_car_pct")["label"])
    no_car = str(cat.row("no_car_pct")["label"])
    assert driver_label(cat, "w_no_car_pct") == f"{no_car}, neighbours' mean"
    assert driver_label(cat, "made_up_thing") == "made up thing"  # not in the catalogue
    group = "no_car_pct + flats_pct + made_up_thing"
    words = [str(cat.row(i)["label"]) for i in ("no_car_pct", "flats_pct")]
    assert group_label(cat, group) == " + ".join([*words, "made up thing"])
    assert group_label(cat, group, short=True) == f"{words[0]} (+2 related)"
    assert group_label(cat, "flats_pct", short=True) == words[1]
    imp = pd.DataFrame(
        {"importance": [0.5, 0.1], "members": ["no_car_pct, flats_pct", "made_up_thing"]},
        index=pd.Index(["no_car_pct + flats_pct", "made_up_thing"], name="group"),
    )
    t = importance_words(imp, cat)
    assert t["driver group"].tolist() == [f"{words[0]} (+1 related)", "made up thing"]
    assert t["drivers in the group"].tolist() == ["; ".join(words), "made up thing"]
    assert t.iloc[:, 1].tolist() == [0.5, 0.1]

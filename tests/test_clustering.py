import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from placekit.clustering import (
    DEFAULT_VARIABLES,
    AreaClusterer,
    OACPreprocessor,
    choose_k,
    cluster_place,
    stability,
)


@parametrize_with_checks([AreaClusterer(3, n_init=5, random_state=0), OACPreprocessor()])
def test_sklearn_contract(estimator, check):
    check(estimator)


def test_range_standardisation_handworked():
    X = np.array([[0.0, 1.0], [np.sinh(1.0), 3.0], [np.sinh(2.0), 5.0]])
    Z = OACPreprocessor(max_corr=1.0).fit_transform(X)
    np.testing.assert_allclose(Z[:, 0], [0.0, 0.5, 1.0])  # asinh then (z - min) / range
    a = np.arcsinh([1.0, 3.0, 5.0])
    np.testing.assert_allclose(Z[:, 1], (a - a.min()) / (a.max() - a.min()))


def test_correlation_screening_drops_later_twin():
    rng = np.random.default_rng(0)
    x = rng.random(50)
    X = np.column_stack([x, x * 2 + 1e-6, rng.random(50)])
    assert OACPreprocessor(max_corr=0.9).fit(X).keep_.tolist() == [0, 2]


def test_shuffle_and_seed_invariance(place):
    X = place.indicators[DEFAULT_VARIABLES].fillna(0)
    a = AreaClusterer(5, n_init=100, random_state=1).fit(X).labels_
    b = AreaClusterer(5, n_init=100, random_state=1).fit(X).labels_
    np.testing.assert_array_equal(a, b)
    perm = np.random.default_rng(3).permutation(len(X))
    c = AreaClusterer(5, n_init=100, random_state=1).fit(X.iloc[perm]).labels_
    assert adjusted_rand_score(a[perm], c) == pytest.approx(1.0)


def test_well_separated_groups_found():
    rng = np.random.default_rng(0)
    X = np.vstack(
        [rng.normal(0, 0.1, (30, 3)) + c for c in ([0, 0, 0], [5, 5, 0], [0, 5, 5])]
    ).clip(0)
    m = AreaClusterer(3, n_init=20, random_state=0).fit(X)
    truth = np.repeat([0, 1, 2], 30)
    assert adjusted_rand_score(truth, m.labels_) == 1.0
    assert (m.confidence_ > 0.5).all()


def test_choose_k_and_stability(place):
    X = place.indicators[DEFAULT_VARIABLES].fillna(0)
    d = choose_k(X, ks=range(2, 5), n_init=10)
    assert list(d.index) == [2, 3, 4]
    assert (d["wcss"].diff().dropna() < 0).all()
    aris, per = stability(X, 3, n_runs=5, n_init=10)
    assert len(aris) == 5 and per.between(0, 1).all()


def test_cluster_place_portraits(place):
    res = cluster_place(place, k=4, n_init=20)
    p = res["portraits"]
    assert p["n_areas"].sum() == 343
    assert p["population"].sum() == pytest.approx(place.weights["population"].sum())
    # index 100 = city mean: the unweighted mean of cluster indices weighted by size is 100
    col = DEFAULT_VARIABLES[0]
    assert (p[col] * p["n_areas"]).sum() / 343 == pytest.approx(100, abs=1)

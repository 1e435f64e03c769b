"""Neighbourhood typology, following the method of the ONS Output Area Classification.

Steps (:class:`AreaClusterer`): variables as rates or percentages; inverse
hyperbolic sine; range standardisation to [0, 1]; screening of highly
correlated variables (of a pair with |r| above ``max_corr`` the later one is
dropped); k-means with many restarts (``n_init``, default 300; the best kept)
and a fixed ``random_state``. Labels are renumbered by cluster size (then by
centre), so they do not depend on row order. An optional spatially constrained
variant (``method="ward_contiguous"``) uses Ward clustering with a Queen
contiguity connectivity matrix.
"""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from placekit.errors import DataError

__all__ = [
    "DEFAULT_VARIABLES",
    "AreaClusterer",
    "OACPreprocessor",
    "choose_k",
    "cluster_place",
    "contiguity",
    "pen_portraits",
    "stability",
]


class OACPreprocessor(TransformerMixin, BaseEstimator):
    """
    asinh, range standardisation and correlation screening (the OAC recipe).

    Parameters
    ----------
    max_corr
        Absolute Pearson correlation above which the later of two variables is dropped.
    """

    def __init__(self, max_corr: float = 0.9):
        self.max_corr = max_corr

    def fit(self, X: object, y: object = None) -> OACPreprocessor:
        """Learn the ranges and which variables survive screening."""
        X = np.asarray(validate_data(self, X, dtype=np.float64))
        z = np.arcsinh(X)
        self.min_ = z.min(axis=0)
        self.range_ = np.ptp(z, axis=0)
        s = self._scale(z)
        keep: list[int] = []
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.corrcoef(s, rowvar=False) if s.shape[1] > 1 else np.ones((1, 1))
        corr = np.atleast_2d(np.nan_to_num(corr))
        for j in range(s.shape[1]):
            if all(abs(corr[j, k]) <= self.max_corr for k in keep):
                keep.append(j)
        self.keep_ = np.array(keep, dtype=int)
        return self

    def _scale(self, z: np.ndarray) -> np.ndarray:
        rng = np.where(self.range_ > 0, self.range_, 1.0)
        return (z - self.min_) / rng

    def transform(self, X: object) -> np.ndarray:
        """Apply asinh, the learned range standardisation and the screening."""
        check_is_fitted(self, "keep_")
        X = np.asarray(validate_data(self, X, dtype=np.float64, reset=False))
        return self._scale(np.arcsinh(X))[:, self.keep_]


class AreaClusterer(ClusterMixin, BaseEstimator):
    """
    Group small areas by their place profile.

    Parameters
    ----------
    n_clusters
        Number of groups.
    n_init
        k-means restarts; the solution with the lowest within-cluster sum of squares is kept.
    max_corr
        Correlation screening threshold.
    method
        ``"kmeans"`` or ``"ward_contiguous"`` (needs ``connectivity``).
    connectivity
        Sparse contiguity matrix for the spatial variant (see :func:`contiguity`).
    random_state
        Seed, Generator or None.
    """

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        n_init: int = 300,
        max_corr: float = 0.9,
        method: str = "kmeans",
        connectivity: object = None,
        random_state: int | np.random.RandomState | None = None,
    ):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.max_corr = max_corr
        self.method = method
        self.connectivity = connectivity
        self.random_state = random_state

    def fit(self, X: object, y: object = None) -> AreaClusterer:
        """Fit the typology; sets ``labels_``, ``cluster_centers_``, ``confidence_``."""
        if self.method not in ("kmeans", "ward_contiguous"):
            msg = f"method must be one of ['kmeans', 'ward_contiguous']; got {self.method!r}."
            raise ValueError(msg)
        if not isinstance(self.n_clusters, (int, np.integer)) or self.n_clusters < 1:
            msg = f"n_clusters must be a positive integer; got {self.n_clusters!r}."
            raise ValueError(msg)
        self.prep_ = OACPreprocessor(max_corr=self.max_corr)
        Z = self.prep_.fit_transform(X)
        self.n_features_in_ = self.prep_.n_features_in_
        if hasattr(self.prep_, "feature_names_in_"):
            self.feature_names_in_ = self.prep_.feature_names_in_
        if Z.shape[0] < self.n_clusters:
            msg = f"n_samples={Z.shape[0]} should be >= n_clusters={self.n_clusters}."
            raise ValueError(msg)
        rng = check_random_state(self.random_state)
        if self.method == "kmeans":
            # fit on rows in a canonical (lexicographic) order so row order never changes the result
            order_rows = np.lexsort(Z.T[::-1])
            km = KMeans(self.n_clusters, n_init=self.n_init, random_state=rng).fit(Z[order_rows])
            raw = np.empty(len(Z), dtype=int)
            raw[order_rows] = km.labels_
        else:
            if self.connectivity is None:
                msg = "method='ward_contiguous' needs connectivity=contiguity(areas)."
                raise ValueError(msg)
            raw = AgglomerativeClustering(
                self.n_clusters, connectivity=self.connectivity, linkage="ward"
            ).fit_predict(Z)
        centres = np.vstack([Z[raw == k].mean(axis=0) for k in range(self.n_clusters)])
        sizes = np.bincount(raw, minlength=self.n_clusters)
        order = sorted(
            range(self.n_clusters), key=lambda k: (-sizes[k], tuple(np.round(centres[k], 9)))
        )
        remap = np.empty(self.n_clusters, dtype=int)
        remap[order] = np.arange(self.n_clusters)
        self.labels_ = remap[raw]
        self.cluster_centers_ = centres[order]
        d = np.linalg.norm(Z[:, None, :] - self.cluster_centers_[None, :, :], axis=2)
        own = d[np.arange(len(Z)), self.labels_]
        other = np.where(
            np.arange(self.n_clusters)[None, :] == self.labels_[:, None], np.inf, d
        ).min(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.confidence_ = np.where(
                np.isfinite(other), 1.0 - own / np.maximum(other, 1e-12), 1.0
            )
        self.inertia_ = float((own**2).sum())
        return self

    def predict(self, X: object) -> np.ndarray:
        """Nearest centre of each row (after the fitted preprocessing)."""
        check_is_fitted(self, "cluster_centers_")
        Z = self.prep_.transform(X)
        return np.argmin(
            np.linalg.norm(Z[:, None, :] - self.cluster_centers_[None], axis=2), axis=1
        )


def contiguity(areas: gpd.GeoDataFrame) -> object:
    """Queen contiguity (shared edge or corner) as a sparse matrix, via libpysal."""
    from libpysal.weights import Queen

    w = Queen.from_dataframe(areas.reset_index(drop=True), use_index=False, silence_warnings=True)
    return w.sparse


def choose_k(
    X: pd.DataFrame, *, ks: range = range(2, 13), n_init: int = 100, random_state: int = 0
) -> pd.DataFrame:
    """
    Diagnostics for choosing k: silhouette, Calinski-Harabasz, Davies-Bouldin and WCSS.

    Returns
    -------
    pd.DataFrame
        One row per k (chart-ready: one column per measure).
    """
    rows = []
    prep = OACPreprocessor().fit(X)
    Z = prep.transform(X)
    for k in ks:
        m = AreaClusterer(k, n_init=n_init, random_state=random_state).fit(X)
        rows.append(
            {
                "k": k,
                "silhouette": silhouette_score(Z, m.labels_),
                "calinski_harabasz": calinski_harabasz_score(Z, m.labels_),
                "davies_bouldin": davies_bouldin_score(Z, m.labels_),
                "wcss": m.inertia_,
            }
        )
    return pd.DataFrame(rows).set_index("k")


def stability(
    X: pd.DataFrame,
    k: int,
    *,
    n_runs: int = 30,
    frac: float = 0.8,
    n_init: int = 50,
    random_state: int = 0,
) -> tuple[pd.Series, pd.Series]:
    """
    Subsample stability: adjusted Rand index against the full solution, and per-area agreement.

    Returns
    -------
    (pd.Series, pd.Series)
        ARI per run; and for every area the mean share of its full-solution
        cluster-mates that stayed with it when both were drawn.
    """
    rng = check_random_state(random_state)
    full = AreaClusterer(k, n_init=n_init, random_state=random_state).fit(X).labels_
    Xa = np.asarray(X, dtype=float)
    n = len(Xa)
    agree, seen = np.zeros(n), np.zeros(n)
    aris = []
    for _ in range(n_runs):
        idx = np.sort(rng.choice(n, int(frac * n), replace=False))
        lab = AreaClusterer(k, n_init=max(n_init // 5, 10), random_state=rng).fit(Xa[idx]).labels_
        aris.append(adjusted_rand_score(full[idx], lab))
        same_full = full[idx][:, None] == full[idx][None, :]
        same_sub = lab[:, None] == lab[None, :]
        mates = same_full.sum(axis=1)
        agree[idx] += (same_full & same_sub).sum(axis=1) / np.maximum(mates, 1)
        seen[idx] += 1
    per_area = pd.Series(
        np.where(seen > 0, agree / np.maximum(seen, 1), np.nan), index=getattr(X, "index", None)
    )
    return pd.Series(aris, name="ari"), per_area


def pen_portraits(
    X: pd.DataFrame,
    labels: np.ndarray,
    *,
    population: pd.Series | None = None,
    locality: pd.Series | None = None,
    labels_map: dict[str, str] | None = None,
) -> pd.DataFrame:
    """
    Each variable as an index against the city (100 = city mean), with a generated name.

    Returns
    -------
    pd.DataFrame
        One row per cluster: ``name``, ``n_areas``, ``population``, ``main_locality``,
        and one ``<variable>`` index column each.
    """
    city = X.mean()
    idx = X.groupby(labels).mean().div(city.where(city != 0)).mul(100)
    rows = []
    for k, r in idx.iterrows():
        dev = (r - 100).dropna()
        top = dev.abs().sort_values(ascending=False).index[:2]
        words = [f"{'high' if dev[v] > 0 else 'low'} {(labels_map or {}).get(v, v)}" for v in top]
        row = {
            "cluster": k,
            "name": ", ".join(words).capitalize(),
            "n_areas": int((labels == k).sum()),
        }
        if population is not None:
            row["population"] = float(population[labels == k].sum())
        if locality is not None:
            row["main_locality"] = str(locality[labels == k].mode().iloc[0])
        rows.append(row)
    return pd.DataFrame(rows).set_index("cluster").join(idx.round(0))


def cluster_place(
    place: object,
    *,
    k: int,
    variables: list[str] | None = None,
    themes: list[str] | None = None,
    n_init: int = 300,
    random_state: int = 0,
) -> dict[str, object]:
    """
    Cluster a place's LSOAs; returns labels, confidence, portraits and the run time.
    """
    from placekit.place import Place

    assert isinstance(place, Place)
    ids = list(variables or [])
    if themes:
        ids += [i for i in place.catalogue.by_theme(themes) if i in place.indicators.columns]
    if not ids:
        ids = DEFAULT_VARIABLES
    missing = [i for i in ids if i not in place.indicators.columns]
    if missing:
        msg = f"Variables {missing} are not computed for this place; see `placekit indicators`."
        raise DataError(msg)
    X = place.indicators[ids].sort_index()
    X = X.fillna(X.median())
    t0 = time.perf_counter()
    model = AreaClusterer(k, n_init=n_init, random_state=random_state).fit(X)
    labels = pd.Series(model.labels_, index=X.index, name="cluster")
    names = {i: str(place.catalogue.row(i)["label"]).split(" (")[0].lower() for i in ids}
    portraits = pen_portraits(
        X,
        model.labels_,
        population=place.weights["population"].reindex(X.index),
        locality=place.lsoa[f"{place.locality_level}_name"].reindex(X.index),
        labels_map=names,
    )
    return {
        "labels": labels,
        "confidence": pd.Series(model.confidence_, index=X.index, name="confidence"),
        "portraits": portraits,
        "model": model,
        "variables": ids,
        "seconds": time.perf_counter() - t0,
    }


#: A balanced default set of upstream place variables (rates, one per idea).
DEFAULT_VARIABLES = [
    "no_car_pct",
    "overcrowded_bedrooms_pct",
    "social_rented_pct",
    "private_rented_pct",
    "flats_pct",
    "no_central_heating_pct",
    "fuel_poverty_pct",
    "greenspace_pct",
    "fast_food_per_1000",
    "stops_per_km2",
    "age_65plus_pct",
    "age_0_15_pct",
    "no_qualifications_pct",
    "hh_deprived_2plus_pct",
    "travel_foot_pct",
]

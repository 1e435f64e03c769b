"""Effects of access on demand, estimated as effects rather than correlations.

The question "what does a shorter walk to a GP do to bad health?" is answered
here with the partially linear model of double machine learning (DML,
Chernozhukov, Chetverikov, Demirer, Duflo, Hansen, Newey and Robins 2018,
"Double/debiased machine learning for treatment and structural parameters",
*The Econometrics Journal* 21(1), C1-C68)::

    Y = theta * T + g(X) + a_locality + e,      T = m(X) + v

with ``Y`` a demand indicator per LSOA (e.g. ``bad_health_pct``), ``T`` access
in its own unit (e.g. ``gp_walk_min``, minutes) and ``X`` the confounders
(deprivation, age structure, density, a smooth spatial trend). ``theta`` is
the change in demand per extra unit of access, holding the confounders fixed.

How it is estimated (``method="dml"``, the default):

1. **Cross-fitting on spatial blocks.** LSOAs are split into folds by whole
   localities (:class:`sklearn.model_selection.GroupKFold`), so a learner never
   predicts an LSOA whose neighbours it was trained on. In each fold a
   scikit-learn learner (a random forest by default) predicts ``Y`` from ``X``
   and, separately, ``T`` from ``X``; the held-out residuals are kept.
2. **Neyman-orthogonal score (partialling out).** ``theta`` solves
   ``sum (Y~ - theta T~) T~ = 0`` on the residuals, after removing each
   locality's mean residual (locality fixed effects, by the Frisch-Waugh-Lovell
   theorem). Errors of the learners enter only as products, so moderate
   learner error does not bias ``theta`` to first order.
3. **Cluster-robust sandwich standard error** by locality (CR1), with a
   Student t reference on ``G - 1`` degrees of freedom for ``G`` localities,
   the usual small-number-of-clusters correction.
4. Optional repeated cross-fitting (``n_rep``) with the median aggregation of
   the paper (Section 3.4).

``method="ols"`` is the linear special case (confounders entered linearly,
locality fixed effects, the same clustered standard error), kept as a
transparent cross-check. The naive slope of ``Y`` on ``T`` alone is always
reported beside the estimate so the size of the confounding is visible.

Why our own implementation rather than DoubleML or EconML: neither is
installable here (the package index offers no ``doubleml`` or ``econml``), and
the partialling-out estimator is short enough to read in one sitting: about a
hundred lines of NumPy over scikit-learn learners we already depend on. Writing
it also lets the folds be whole localities and the standard error be clustered
by the same localities, with the few-cluster t reference, which is what
spatially correlated small areas need.

Where the interval includes zero, or the data are too few to support an
estimate (fewer than ``min_n`` LSOAs or fewer than ``min_groups``
localities), the result says "no detectable effect" and sets
``point_prediction_allowed = False``; :func:`predicted_change` then shows no
point prediction. :func:`assumed_effect` lets a user state an effect from the
literature instead, with its source, in the same result type so that both can
be shown side by side (:func:`compare_effects`).
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import LassoCV
from sklearn.model_selection import GroupKFold, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from placekit.errors import DataError

__all__ = [
    "DEFAULT_CONFOUNDERS",
    "DERIVED_CONFOUNDERS",
    "LEARNERS",
    "METHODS",
    "AccessEffect",
    "EffectResult",
    "assumed_effect",
    "compare_effects",
    "confounder_frame",
    "counted_as",
    "estimate_access_effect",
    "planted_effect_data",
    "predicted_change",
]

#: Confounders used when none are given: deprivation (income, employment,
#: education), age structure, density and a smooth spatial trend. Health
#: deprivation is left out on purpose: it is built from morbidity, i.e. from
#: demand itself, and adjusting for it would remove part of the effect.
DEFAULT_CONFOUNDERS: tuple[str, ...] = (
    "income_2025_score",
    "employment_2025_score",
    "education_2025_score",
    "age_65plus_pct",
    "age_0_15_pct",
    "log_density_per_km2",
    "easting_km",
    "northing_km",
)

#: Confounders derived from the place rather than read from its indicators.
DERIVED_CONFOUNDERS: dict[str, str] = {
    "log_density_per_km2": "log of residents per km² (population / area_km2): rurality and density",
    "easting_km": "LSOA centroid easting, km (EPSG:27700): smooth west-east trend",
    "northing_km": "LSOA centroid northing, km (EPSG:27700): smooth south-north trend",
}

LEARNERS: tuple[str, ...] = ("forest", "boosting", "lasso")
METHODS: tuple[str, ...] = ("dml", "ols")

_MIN_FOR_FIT = 10  # below this no estimate is attempted at all


# ----------------------------------------------------------------------------- result


@dataclass(frozen=True)
class EffectResult:
    """
    An effect of access on demand, estimated or assumed, with its interval.

    Attributes
    ----------
    demand, access
        Indicator ids (or names) of the demand ``Y`` and the access ``T``.
    estimate
        Change in demand per extra unit of access (e.g. percentage points per minute).
    se
        Standard error (cluster-robust by locality for an estimate; NaN when assumed).
    lower, upper
        The 95 % interval (``level``) of ``estimate``.
    p
        Two-sided p-value of "no effect" (NaN when assumed).
    n
        LSOAs used.
    n_groups
        Localities (clusters and fold blocks); 0 without spatial blocking.
    method
        ``"dml"``, ``"ols"`` or ``"assumed"``.
    confounders
        Columns adjusted for (empty when assumed).
    learner
        The nuisance learner, as text.
    n_folds
        Cross-fitting folds actually used (0 when not cross-fitted).
    spatial
        The level whose localities block the folds, cluster the standard error
        and carry the fixed effects; ``None`` without blocking.
    point_prediction_allowed
        False where the interval includes zero or the data are too few: show no
        point prediction then.
    sentence
        One plain sentence for the app, the CLI and reports.
    reason
        Why a point prediction is not allowed ("" when it is).
    source
        For an assumed effect, where it comes from; "" otherwise.
    naive_estimate, naive_lower, naive_upper
        Slope of demand on access alone (no adjustment) and its interval, for
        contrast: the association a cross-sectional model would learn.
    r2_demand, r2_access
        Cross-fitted R² of the learners predicting demand and access from the
        confounders (how much of each the confounders explain).
    demand_label, access_label, demand_unit, access_unit
        Words used in the sentence.
    level
        Confidence level of the interval.
    params
        Every option used, so the result can be reproduced exactly.
    notes
        Plain-text notes (rows left out, folds reduced, ...).
    """

    demand: str
    access: str
    estimate: float
    se: float
    lower: float
    upper: float
    p: float
    n: int
    n_groups: int
    method: str
    confounders: tuple[str, ...]
    learner: str
    n_folds: int
    spatial: str | None
    point_prediction_allowed: bool
    sentence: str
    reason: str = ""
    source: str = ""
    naive_estimate: float = math.nan
    naive_lower: float = math.nan
    naive_upper: float = math.nan
    r2_demand: float = math.nan
    r2_access: float = math.nan
    demand_label: str = ""
    access_label: str = ""
    demand_unit: str = ""
    access_unit: str = "minute"
    level: float = 0.95
    params: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def interval_includes_zero(self) -> bool:
        """Whether the interval includes zero (always False for an assumed point value)."""
        return bool(self.lower <= 0.0 <= self.upper) and self.method != "assumed"

    def to_series(self) -> pd.Series:
        """The result as one row (lists and dicts as text), for tables and exports."""
        d = asdict(self)
        d["confounders"] = ", ".join(self.confounders)
        d["notes"] = " ".join(self.notes)
        d["params"] = repr(self.params)
        return pd.Series(d, name=f"{self.method}: {self.access} -> {self.demand}")


def _decimals(*values: float) -> int:
    """Decimals that give the largest of ``values`` three significant figures."""
    finite = [abs(v) for v in values if math.isfinite(v) and v != 0]
    if not finite:
        return 0
    return int(min(6, max(0, 2 - math.floor(math.log10(max(finite))))))


def _fmt(v: float, digits: int | None = None) -> str:
    """A number for a sentence: three significant figures (or ``digits`` decimals)."""
    if not math.isfinite(v):
        return "n/a"
    d = _decimals(v) if digits is None else digits
    return f"{v:,.{d}f}"


def _people_divisor(change_unit: str) -> float | None:
    """What turns a change in this unit times residents into a count: 100 for points, 1000."""
    u = change_unit.strip().lower().replace(",", "")
    if u == "percentage points":
        return 100.0
    if u.startswith("per 1000"):
        return 1000.0
    return None


def counted_as(effect: Any) -> str:
    """What a count made from the demand rate is called ("people with ...", "referrals")."""
    if _people_divisor(effect.demand_unit) == 100.0:
        return f"people with {effect.demand_label}"
    label = str(effect.demand_label)
    for tail in (" per 1000 residents", " per 1,000 residents", " per 1000", " per 1,000"):
        label = label.removesuffix(tail)
    return label.strip() or "events"


def _change_unit(unit: str) -> str:
    """How a change in a quantity with this unit is worded ("% of ..." -> percentage points)."""
    u = unit.strip()
    if u.startswith("%") or u.endswith("_pct") or u == "percent":
        return "percentage points"
    return u


def _areas(n: int) -> str:
    """'1 area', '13 areas'."""
    return f"{n:,} area" if n == 1 else f"{n:,} areas"


def _sentence(
    *,
    estimate: float,
    lower: float,
    upper: float,
    allowed: bool,
    reason: str,
    demand_label: str,
    access_label: str,
    demand_unit: str,
    access_unit: str,
    level: float,
    source: str = "",
) -> str:
    pct = f"{level * 100:g} %"
    d = _decimals(estimate, lower, upper)
    interval = f"{_fmt(lower, d)} to {_fmt(upper, d)}"
    direction = "more" if estimate > 0 else "fewer"
    if source:
        what = (
            "no change in"
            if estimate == 0
            else f"about {_fmt(abs(estimate), d)} {demand_unit} {direction}"
        )
        stated = f" ({pct} interval {interval})" if lower != upper else ""
        return (
            f"Assumed from the literature: {what} {demand_label} per extra {access_unit} "
            f"of {access_label}{stated}; source: {source}."
        )
    if not allowed:
        bits = []
        if math.isfinite(lower):
            zero = " includes zero" if lower <= 0 <= upper else ""
            per = f" {demand_unit} per {access_unit}" if demand_unit and access_unit else ""
            bits.append(f"{pct} interval {interval}{per}{zero}")
        bits += [r for r in reason.split("; ") if r and "includes zero" not in r]
        return (
            f"No detectable effect of {access_label} on {demand_label} "
            f"({'; '.join(bits) or 'not estimated'})."
        )
    return (
        f"About {_fmt(abs(estimate), d)} {demand_unit} {direction} {demand_label} per extra "
        f"{access_unit} of {access_label} ({pct} interval {interval})."
    )


# ----------------------------------------------------------------------------- core


def _make_learner(learner: object, random_state: int) -> Any:
    """A fresh scikit-learn regressor for a learner name or template."""
    if isinstance(learner, str):
        if learner == "forest":
            return RandomForestRegressor(
                n_estimators=100,
                min_samples_leaf=5,
                max_features=0.5,
                random_state=random_state,
                n_jobs=1,
            )
        if learner == "boosting":
            return HistGradientBoostingRegressor(
                max_iter=200, learning_rate=0.05, min_samples_leaf=10, random_state=random_state
            )
        if learner == "lasso":
            return make_pipeline(StandardScaler(), LassoCV(cv=5, random_state=random_state))
        msg = (
            f"learner must be one of {', '.join(LEARNERS)} or a scikit-learn regressor; "
            f"got {learner!r}."
        )
        raise DataError(msg)
    if not (hasattr(learner, "fit") and hasattr(learner, "predict")):
        msg = (
            f"learner must be one of {', '.join(LEARNERS)} or a scikit-learn regressor "
            f"(with fit and predict); got {type(learner).__name__}."
        )
        raise DataError(msg)
    est = clone(learner)
    if "random_state" in est.get_params():
        est.set_params(random_state=random_state)
    return est


def _learner_text(learner: object) -> str:
    if isinstance(learner, str):
        return {
            "forest": "random forest (100 trees, min 5 per leaf, half the features per split)",
            "boosting": "histogram gradient boosting (200 iterations)",
            "lasso": "lasso (linear in the confounders, standardised, 5-fold CV penalty)",
        }.get(learner, learner)
    return type(learner).__name__


def _demean(v: np.ndarray, codes: np.ndarray | None) -> np.ndarray:
    """Subtract each group's mean (the within transformation of fixed effects)."""
    if codes is None:
        return v - v.mean()
    s = np.bincount(codes, weights=v)
    c = np.bincount(codes)
    return v - (s / c)[codes]


def _folds(
    n: int, codes: np.ndarray | None, n_folds: int, rng: np.random.RandomState
) -> list[tuple[np.ndarray, np.ndarray]]:
    seed = int(rng.randint(np.iinfo(np.int32).max))
    idx = np.zeros(n)
    if codes is None:
        return list(KFold(n_folds, shuffle=True, random_state=seed).split(idx))
    return list(GroupKFold(n_folds, shuffle=True, random_state=seed).split(idx, groups=codes))


def _crossfit(
    xc: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    learner: object,
    rng: np.random.RandomState,
) -> tuple[np.ndarray, np.ndarray]:
    """Held-out residuals of demand and access on the confounders."""
    ry, rt = np.empty_like(y), np.empty_like(t)
    with threadpool_limits(limits=1):  # a few hundred rows: threads only add overhead
        _crossfit_folds(xc, y, t, folds, learner, rng, ry, rt)
    return ry, rt


def _crossfit_folds(
    xc: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    learner: object,
    rng: np.random.RandomState,
    ry: np.ndarray,
    rt: np.ndarray,
) -> None:
    for train, test in folds:
        if xc.shape[1] == 0:
            ry[test] = y[test] - y[train].mean()
            rt[test] = t[test] - t[train].mean()
            continue
        for target, out in ((y, ry), (t, rt)):
            m = _make_learner(learner, int(rng.randint(np.iinfo(np.int32).max)))
            m.fit(xc[train], target[train])
            out[test] = target[test] - m.predict(xc[test])


def _ols_residuals(xc: np.ndarray, v: np.ndarray) -> np.ndarray:
    design = np.column_stack([np.ones(len(v)), xc])
    coef, *_ = np.linalg.lstsq(design, v, rcond=None)
    return v - design @ coef


def _final_stage(
    ry: np.ndarray, rt: np.ndarray, codes: np.ndarray | None, *, fixed_effects: bool
) -> tuple[float, float, int]:
    """
    Partialling-out estimate on residuals, and its sandwich standard error.

    Returns ``(theta, se, df)``; ``df`` is the t reference's degrees of freedom
    (``G - 1`` when clustered, ``n - 1`` otherwise).
    """
    fe = codes if (fixed_effects and codes is not None) else None
    yt, tt = _demean(ry, fe), _demean(rt, fe)
    n = yt.size
    j = float(np.mean(tt * tt))
    if not j > 1e-12 * max(1.0, float(np.mean(rt * rt))):
        return math.nan, math.nan, 0
    theta = float(np.mean(tt * yt) / j)
    psi = (yt - theta * tt) * tt
    if codes is None:
        var = float(np.sum(psi * psi)) / (n * n * j * j) * n / max(n - 1, 1)
        return theta, math.sqrt(var), n - 1
    g = int(codes.max()) + 1
    sums = np.bincount(codes, weights=psi, minlength=g)
    var = float(np.sum(sums * sums)) / (n * n * j * j) * g / max(g - 1, 1)
    return theta, math.sqrt(var), g - 1


def _naive(y: np.ndarray, t: np.ndarray, level: float) -> tuple[float, float, float]:
    """Slope of ``y`` on ``t`` alone with a heteroscedasticity-robust (HC1) interval."""
    tc, yc = t - t.mean(), y - y.mean()
    sxx = float(tc @ tc)
    if sxx <= 0:
        return math.nan, math.nan, math.nan
    b = float(tc @ yc) / sxx
    e = yc - b * tc
    n = y.size
    se = math.sqrt(float(np.sum((tc * e) ** 2)) / sxx**2 * n / max(n - 2, 1))
    q = float(stats.t.ppf(0.5 + level / 2, max(n - 2, 1)))
    return b, b - q * se, b + q * se


def _r2(resid: np.ndarray, v: np.ndarray) -> float:
    ss = float(np.sum((v - v.mean()) ** 2))
    return 1.0 - float(np.sum(resid**2)) / ss if ss > 0 else math.nan


# ----------------------------------------------------------------------------- estimator


class AccessEffect(BaseEstimator):  # type: ignore[misc]
    """
    Double machine learning estimate of the effect of access on demand.

    The partially linear model ``Y = theta T + g(X) + a_group + e`` fitted by
    partialling out with cross-fitting on group-blocked folds, a
    Neyman-orthogonal score and a cluster-robust sandwich standard error
    (see the module docstring).

    Parameters
    ----------
    treatment
        Which column of ``X`` is the access ``T`` (name or position); the other
        columns are the confounders.
    method
        ``"dml"`` (cross-fitted learner) or ``"ols"`` (confounders linear, no
        cross-fitting).
    learner
        ``"forest"``, ``"boosting"``, ``"lasso"`` or a scikit-learn regressor
        (cloned for every fold; its ``random_state`` is set from ours).
    n_folds
        Cross-fitting folds (reduced to the number of groups if fewer).
    n_rep
        Repetitions of the cross-fitting with different splits; the median
        estimate is reported (Chernozhukov et al. 2018, Section 3.4).
    fixed_effects
        Remove each group's mean residual (group fixed effects) in the final stage.
    level
        Confidence level of the interval.
    min_n, min_groups
        Below these (LSOAs, groups) no point prediction is allowed.
    random_state
        Seed of the fold splits and learners (int, ``RandomState`` or ``None``).

    Attributes
    ----------
    coef_
        The estimate ``theta`` per unit of ``T``.
    se_, interval_, pvalue_
        Its standard error, ``(lower, upper)`` and p-value.
    result_
        The full :class:`EffectResult`.
    residuals_
        ``(demand residual, access residual)`` held out, per row.
    n_features_in_, feature_names_in_
        As usual for scikit-learn.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"dep": rng.normal(size=400)})
    >>> X["walk_min"] = 10 + 3 * X["dep"] + rng.normal(size=400)
    >>> y = 0.2 * X["walk_min"] + 2 * X["dep"] + rng.normal(size=400)
    >>> groups = np.arange(400) % 10
    >>> est = AccessEffect(treatment="walk_min", learner="lasso").fit(X, y, groups=groups)
    >>> bool(est.interval_[0] < 0.2 < est.interval_[1])
    True
    """

    def __init__(
        self,
        treatment: str | int = 0,
        *,
        method: str = "dml",
        learner: object = "forest",
        n_folds: int = 5,
        n_rep: int = 1,
        fixed_effects: bool = True,
        level: float = 0.95,
        min_n: int = 50,
        min_groups: int = 4,
        random_state: Any = 0,
    ):
        self.treatment = treatment
        self.method = method
        self.learner = learner
        self.n_folds = n_folds
        self.n_rep = n_rep
        self.fixed_effects = fixed_effects
        self.level = level
        self.min_n = min_n
        self.min_groups = min_groups
        self.random_state = random_state

    # sklearn's tags: the estimator needs y and handles only finite numbers
    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    def _check_params(self) -> None:
        if self.method not in METHODS:
            msg = f"method must be one of {', '.join(METHODS)}; got {self.method!r}."
            raise DataError(msg)
        for name, lo in (("n_folds", 2), ("n_rep", 1), ("min_n", 1), ("min_groups", 1)):
            v = getattr(self, name)
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < lo:
                msg = f"{name} must be a whole number of at least {lo}; got {v!r}."
                raise DataError(msg)
        if not (isinstance(self.level, numbers.Real) and 0 < float(self.level) < 1):
            msg = f"level must be between 0 and 1 (e.g. 0.95); got {self.level!r}."
            raise DataError(msg)
        if isinstance(self.learner, str):
            _make_learner(self.learner, 0)

    def _treatment_position(self, names: list[str] | None, p: int) -> int:
        t = self.treatment
        if isinstance(t, str):
            if names is None or t not in names:
                msg = (
                    f"treatment column {t!r} is not in X; columns are "
                    f"{', '.join(names or []) or '(X has no column names)'}."
                )
                raise DataError(msg)
            return names.index(t)
        if isinstance(t, numbers.Integral) and not isinstance(t, bool):
            if not -p <= int(t) < p:
                msg = f"treatment position {t} is outside X's {p} column(s)."
                raise DataError(msg)
            return int(t) % p
        msg = f"treatment must be a column name or position; got {t!r}."
        raise DataError(msg)

    def fit(self, X: Any, y: Any, *, groups: Any = None) -> AccessEffect:
        """
        Estimate the effect of ``X[treatment]`` on ``y``, adjusting for the other columns.

        Parameters
        ----------
        X
            Access and confounders, one row per area (finite numbers).
        y
            Demand per area.
        groups
            Locality of each area: blocks the folds, clusters the standard
            error and carries the fixed effects. Without it, folds are random
            and the standard error is heteroscedasticity-robust only, which
            understates uncertainty for spatially correlated areas.

        Returns
        -------
        AccessEffect
            ``self``, fitted.

        Raises
        ------
        DataError
            For bad options, non-finite values, a constant treatment, or
            mismatched lengths.
        """
        self._check_params()
        try:
            xa, ya = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        except ValueError as err:
            msg = f"AccessEffect.fit: {err}"
            raise DataError(msg) from None
        given = getattr(self, "feature_names_in_", None)
        pos = self._treatment_position(
            None if given is None else [str(c) for c in given], xa.shape[1]
        )
        t = xa[:, pos]
        conf = np.delete(xa, pos, axis=1)
        names = [str(c) for c in getattr(self, "feature_names_in_", [])] or [
            f"x{i}" for i in range(xa.shape[1])
        ]
        t_name = names[pos]
        conf_names = tuple(n for i, n in enumerate(names) if i != pos)
        n = ya.size
        if groups is not None:
            g = np.asarray(groups)
            if g.shape[0] != n:
                msg = f"groups has {g.shape[0]} values but X has {n} rows."
                raise DataError(msg)
            if pd.isna(g).any():
                msg = "groups has missing values; give every area a locality."
                raise DataError(msg)
            _, codes = np.unique(g.astype(str), return_inverse=True)
            codes = codes.astype(np.int64)
        else:
            codes = None
        if n >= 2 and np.ptp(t) == 0:
            msg = (
                f"The access {t_name!r} is the same ({t[0]:g}) in every area, so its effect "
                "cannot be estimated; choose an access measure that varies."
            )
            raise DataError(msg)
        self.result_ = self._estimate(conf, ya, t, codes, t_name=t_name, conf_names=conf_names)
        r = self.result_
        self.coef_ = r.estimate
        self.se_ = r.se
        self.interval_ = (r.lower, r.upper)
        self.pvalue_ = r.p
        return self

    def _estimate(
        self,
        xc: np.ndarray,
        y: np.ndarray,
        t: np.ndarray,
        codes: np.ndarray | None,
        *,
        t_name: str,
        conf_names: tuple[str, ...],
    ) -> EffectResult:
        rng = check_random_state(self.random_state)
        level = float(self.level)
        n = y.size
        g = 0 if codes is None else int(codes.max()) + 1
        notes: list[str] = []
        reasons: list[str] = []
        if n < self.min_n:
            reasons.append(f"only {n} areas; at least {self.min_n} are needed")
        if codes is not None and g < self.min_groups:
            reasons.append(
                f"only {g} localities; at least {self.min_groups} are needed for "
                "spatially blocked folds and a clustered standard error"
            )
        theta = se = math.nan
        df = 0
        k = 0
        ry = rt = np.full(n, math.nan)
        feasible = n >= _MIN_FOR_FIT and (codes is None or g >= 2)
        if feasible and self.method == "ols":
            ry, rt = _ols_residuals(xc, y), _ols_residuals(xc, t)
            theta, se, df = _final_stage(ry, rt, codes, fixed_effects=self.fixed_effects)
        elif feasible:
            k = min(self.n_folds, g) if codes is not None else min(self.n_folds, n // 2)
            if k < self.n_folds:
                notes.append(f"{k} folds instead of {self.n_folds} ({g} localities).")
            reps = []
            for _ in range(self.n_rep):
                folds = _folds(n, codes, k, rng)
                ry_r, rt_r = _crossfit(xc, y, t, folds, self.learner, rng)
                reps.append(
                    (*_final_stage(ry_r, rt_r, codes, fixed_effects=self.fixed_effects), ry_r, rt_r)
                )
            thetas = np.array([r[0] for r in reps])
            theta = float(np.median(thetas))
            ses = np.array([r[1] for r in reps])
            se = float(math.sqrt(np.median(ses**2 + (thetas - theta) ** 2)))
            df = reps[0][2]
            pick = int(np.argmin(np.abs(thetas - theta)))
            ry, rt = reps[pick][3], reps[pick][4]
        if feasible and not math.isfinite(theta):
            reasons.append("access does not vary once the confounders are accounted for")
        if not feasible and not reasons:
            reasons.append("too few areas or localities to estimate")
        if math.isfinite(theta) and math.isfinite(se) and df > 0:
            q = float(stats.t.ppf(0.5 + level / 2, df))
            lower, upper = theta - q * se, theta + q * se
            p = float(2 * stats.t.sf(abs(theta / se), df)) if se > 0 else 0.0
        else:
            lower = upper = p = math.nan
        if math.isfinite(lower) and lower <= 0 <= upper:
            reasons.append(f"the {level * 100:g} % interval includes zero")
        allowed = not reasons
        nb, nl, nu = _naive(y, t, level) if n >= 3 else (math.nan, math.nan, math.nan)
        self.residuals_ = (ry, rt)
        learner = "linear (OLS)" if self.method == "ols" else _learner_text(self.learner)
        reason = "; ".join(reasons)
        return EffectResult(
            demand="y",
            access=t_name,
            estimate=theta,
            se=se,
            lower=lower,
            upper=upper,
            p=p,
            n=n,
            n_groups=g,
            method=self.method,
            confounders=conf_names,
            learner=learner,
            n_folds=k,
            spatial="groups" if codes is not None else None,
            point_prediction_allowed=allowed,
            sentence=_sentence(
                estimate=theta,
                lower=lower,
                upper=upper,
                allowed=allowed,
                reason=reason,
                demand_label="demand",
                access_label=t_name,
                demand_unit="units",
                access_unit="unit",
                level=level,
            ),
            reason=reason,
            naive_estimate=nb,
            naive_lower=nl,
            naive_upper=nu,
            r2_demand=_r2(ry, y) if feasible else math.nan,
            r2_access=_r2(rt, t) if feasible else math.nan,
            demand_label="demand",
            access_label=t_name,
            demand_unit="units",
            access_unit="unit",
            level=level,
            params=self.get_params(deep=False),
            notes=tuple(notes),
        )

    def predict_change(self, delta_access: Any) -> np.ndarray:
        """
        Change in demand for a change in access: ``coef_ * delta_access``.

        NaN everywhere when no point prediction is allowed.
        """
        check_is_fitted(self, "result_")
        d = np.asarray(delta_access, dtype=float)
        if not self.result_.point_prediction_allowed:
            return np.full(d.shape, math.nan)
        return self.coef_ * d


# ----------------------------------------------------------------------------- place API


def _series_for(place: Any, spec: str | pd.Series, *, role: str) -> tuple[pd.Series, str]:
    """A per-LSOA series (from an indicator id or a given series), indexed like ``place.lsoa``."""
    index = place.lsoa.index
    if isinstance(spec, pd.Series):
        s = pd.to_numeric(spec, errors="coerce")
        extra = s.index.difference(index)
        if len(extra) == len(s.index) and len(s.index) > 0:
            msg = (
                f"{role} is indexed by codes none of which are LSOAs of {place.name} "
                f"(e.g. {list(map(str, s.index[:3]))}); index it by LSOA 2021 code."
            )
            raise DataError(msg)
        return s.reindex(index), str(spec.name or role)
    if not isinstance(spec, str):
        msg = (
            f"{role} must be an indicator id or a pandas Series by LSOA; got {type(spec).__name__}."
        )
        raise DataError(msg)
    if spec not in place.indicators.columns:
        hint = ""
        if role == "access" and spec.endswith(("_walk_min", "_drive_min")):
            hint = (
                " Access times are added by "
                "placekit.accessibility.add_access_indicators(place, types=(...))."
            )
        near = [c for c in place.indicators.columns if spec.split("_")[0] in c][:8]
        msg = (
            f"Unknown {role} column {spec!r} for {place.name}.{hint} "
            f"Similar columns: {', '.join(near) or 'none'}."
        )
        raise DataError(msg)
    return pd.to_numeric(place.indicators[spec], errors="coerce").reindex(index), spec


def confounder_frame(place: Any, confounders: Sequence[str] | None = None) -> pd.DataFrame:
    """
    The confounders per LSOA, indexed like ``place.lsoa``.

    Parameters
    ----------
    place
        The place.
    confounders
        Indicator ids or names from :data:`DERIVED_CONFOUNDERS`;
        :data:`DEFAULT_CONFOUNDERS` when ``None`` (those the place lacks are skipped).

    Returns
    -------
    pd.DataFrame
        One column per confounder.

    Raises
    ------
    DataError
        For an unknown column, or a confounder with missing values.
    """
    index = place.lsoa.index
    explicit = confounders is not None
    names = list(DEFAULT_CONFOUNDERS if confounders is None else confounders)
    if isinstance(confounders, str):
        msg = f"confounders must be a list of column names; got the single string {confounders!r}."
        raise DataError(msg)
    cols: dict[str, pd.Series] = {}
    cent = None
    for c in names:
        if c == "log_density_per_km2":
            pop = place.weights["population"].reindex(index).astype(float)
            area = place.lsoa["area_km2"].astype(float)
            cols[c] = np.log(pop.clip(lower=1.0) / area.where(area > 0))
        elif c in ("easting_km", "northing_km"):
            if cent is None:
                cent = place.lsoa.geometry.centroid
            cols[c] = (cent.x if c == "easting_km" else cent.y) / 1000.0
        elif c in place.indicators.columns:
            cols[c] = pd.to_numeric(place.indicators[c], errors="coerce").reindex(index)
        elif explicit:
            msg = (
                f"Unknown confounder {c!r} for {place.name}. Use indicator ids of the place or "
                f"{', '.join(DERIVED_CONFOUNDERS)}."
            )
            raise DataError(msg)
    frame = pd.DataFrame(cols, index=index)
    bad = [c for c in frame if frame[c].isna().any() or not np.isfinite(frame[c]).all()]
    if bad:
        counts = {c: int((~np.isfinite(frame[c])).sum()) for c in bad}
        msg = (
            f"Confounder(s) with missing or infinite values: {counts}. Drop them from "
            "confounders or fill them before estimating."
        )
        raise DataError(msg)
    return frame


def _labels(place: Any, spec: str | pd.Series, name: str, *, default_unit: str) -> tuple[str, str]:
    cat = getattr(place, "catalogue", None)
    if isinstance(spec, str) and cat is not None and spec in cat:
        row = cat.row(spec)
        label, unit = str(row.get("label", name)), str(row.get("unit", default_unit))
        return label[:1].lower() + label[1:] if not label[:2].isupper() else label, unit
    return name, default_unit


def estimate_access_effect(
    place: Any,
    demand: str | pd.Series,
    access: str | pd.Series,
    *,
    confounders: Sequence[str] | None = None,
    method: str = "dml",
    learner: object = "forest",
    n_folds: int = 5,
    n_rep: int = 1,
    spatial: str | None = "locality",
    fixed_effects: bool = True,
    level: float = 0.95,
    min_n: int = 50,
    min_groups: int = 4,
    random_state: Any = 0,
) -> EffectResult:
    """
    Effect on demand of one more unit of access, adjusted for confounding, with its interval.

    Parameters
    ----------
    place
        The place; its LSOAs are the units.
    demand
        Demand ``Y``: an indicator id (e.g. ``"bad_health_pct"``) or a Series
        by LSOA code (e.g. an uploaded table). LSOAs with missing demand
        (suppressed or not supplied) are left out and counted in the notes.
    access
        Access ``T``: an indicator id (e.g. ``"gp_walk_min"``, minutes) or a
        Series by LSOA code. Must be known for every LSOA used.
    confounders
        Columns to adjust for (see :func:`confounder_frame`).
    method
        ``"dml"`` (default) or ``"ols"``; see the module docstring.
    learner
        Nuisance learner for ``"dml"``: ``"forest"``, ``"boosting"``,
        ``"lasso"`` or a scikit-learn regressor.
    n_folds, n_rep
        Cross-fitting folds and repetitions.
    spatial
        Level whose localities block the folds, cluster the standard error
        and carry the fixed effects: ``"locality"`` (the place's
        ``locality_level``), another level name, or ``None`` for none (not
        advised: neighbouring LSOAs are correlated).
    fixed_effects
        Locality fixed effects in the final stage. Advised at the locality
        level (dozens of LSOAs each); at a fine level (a dozen LSOAs a ward)
        they discard most of the variation in access and leave the estimate
        resting on small within-ward differences, where learner error weighs
        most: use ``fixed_effects=False`` there.
    level
        Confidence level of the interval.
    min_n, min_groups
        Below these numbers of LSOAs and localities no point prediction is allowed.
    random_state
        Seed of the folds and learners.

    Returns
    -------
    EffectResult
        Estimate per unit of access with interval, sentence, and whether a
        point prediction may be shown.

    Raises
    ------
    DataError
        For an unknown column, missing or infinite access, constant access,
        or bad options.

    Examples
    --------
    >>> from placekit.accessibility import add_access_indicators
    >>> p = add_access_indicators(place, types=("gp",))  # doctest: +SKIP
    >>> estimate_access_effect(p, "bad_health_pct", "gp_walk_min").sentence  # doctest: +SKIP
    'No detectable effect of walk time to nearest GP practice on ...'
    """
    t0 = time.perf_counter()
    y, y_name = _series_for(place, demand, role="demand")
    t, t_name = _series_for(place, access, role="access")
    conf = confounder_frame(place, confounders)
    if spatial is None:
        level_name, groups = None, None
    else:
        if not isinstance(spatial, str):
            msg = f"spatial must be a level name, 'locality' or None; got {spatial!r}."
            raise DataError(msg)
        level_name = place.locality_level if spatial == "locality" else spatial
        if level_name not in place.levels:
            msg = (
                f"spatial must be 'locality', None or one of {', '.join(place.levels)}; "
                f"got {spatial!r}."
            )
            raise DataError(msg)
        groups = place.codes(level_name).reindex(place.lsoa.index)
    notes: list[str] = []
    keep = y.notna() & np.isfinite(y)
    if (~keep).any():
        notes.append(
            f"Demand missing for {int((~keep).sum())} of {len(y)} LSOAs (suppressed or not "
            "supplied); they are left out."
        )
    bad_t = keep & ~(t.notna() & np.isfinite(t))
    if bad_t.any():
        where = list(map(str, t.index[bad_t][:5]))
        msg = (
            f"Access {t_name!r} is missing or infinite for {int(bad_t.sum())} LSOA(s) "
            f"(e.g. {', '.join(where)}): an area no facility can be reached from. Fix the "
            "network or facility layer, or pass a Series that excludes those areas."
        )
        raise DataError(msg)
    if groups is not None and groups[keep].isna().any():
        msg = f"{int(groups[keep].isna().sum())} LSOA(s) have no {level_name}; check the pack."
        raise DataError(msg)
    if keep.sum() >= 2 and np.ptp(t[keep].to_numpy(dtype=float)) == 0:
        msg = (
            f"Access {t_name!r} is the same ({float(t[keep].iloc[0]):g}) in every LSOA, so its "
            "effect cannot be estimated; choose an access measure that varies."
        )
        raise DataError(msg)
    order = np.argsort(place.lsoa.index[keep.to_numpy()].to_numpy(dtype=str), kind="stable")
    xk = pd.concat([t.rename("__access__"), conf], axis=1)[keep].iloc[order]
    yk = y[keep].iloc[order]
    gk = None if groups is None else groups[keep].iloc[order].to_numpy()
    est = AccessEffect(
        treatment="__access__",
        method=method,
        learner=learner,
        n_folds=n_folds,
        n_rep=n_rep,
        fixed_effects=fixed_effects,
        level=level,
        min_n=min_n,
        min_groups=min_groups,
        random_state=random_state,
    )
    est.fit(xk, yk.to_numpy(dtype=float), groups=gk)
    r = est.result_
    d_label, d_unit = _labels(place, demand, y_name, default_unit="units")
    a_label, a_unit = _labels(place, access, t_name, default_unit="minutes")
    a_unit1 = "minute" if a_unit.strip().lower() in ("minutes", "min", "minute") else a_unit
    d_change = _change_unit(d_unit if d_unit != "units" else y_name)
    if d_change == y_name:
        d_change = "units"
    params = {
        "demand": y_name,
        "access": t_name,
        "confounders": list(conf.columns),
        "method": method,
        "learner": _learner_text(learner),
        "n_folds": n_folds,
        "n_rep": n_rep,
        "spatial": spatial,
        "level_name": level_name,
        "fixed_effects": fixed_effects,
        "level": level,
        "min_n": min_n,
        "min_groups": min_groups,
        "random_state": random_state
        if isinstance(random_state, int | None)
        else repr(random_state),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return EffectResult(
        demand=y_name,
        access=t_name,
        estimate=r.estimate,
        se=r.se,
        lower=r.lower,
        upper=r.upper,
        p=r.p,
        n=r.n,
        n_groups=r.n_groups,
        method=r.method,
        confounders=tuple(conf.columns),
        learner=r.learner,
        n_folds=r.n_folds,
        spatial=level_name,
        point_prediction_allowed=r.point_prediction_allowed,
        sentence=_sentence(
            estimate=r.estimate,
            lower=r.lower,
            upper=r.upper,
            allowed=r.point_prediction_allowed,
            reason=r.reason,
            demand_label=d_label,
            access_label=a_label,
            demand_unit=d_change,
            access_unit=a_unit1,
            level=level,
        ),
        reason=r.reason,
        naive_estimate=r.naive_estimate,
        naive_lower=r.naive_lower,
        naive_upper=r.naive_upper,
        r2_demand=r.r2_demand,
        r2_access=r.r2_access,
        demand_label=d_label,
        access_label=a_label,
        demand_unit=d_change,
        access_unit=a_unit1,
        level=level,
        params=params,
        notes=tuple(notes) + r.notes,
    )


def assumed_effect(
    value_per_unit: float,
    source: str,
    *,
    demand: str = "demand",
    access: str = "access",
    lower: float | None = None,
    upper: float | None = None,
    demand_label: str | None = None,
    access_label: str | None = None,
    demand_unit: str = "units",
    access_unit: str = "minute",
    level: float = 0.95,
) -> EffectResult:
    """
    An effect stated by the user (e.g. from the literature), as an :class:`EffectResult`.

    Parameters
    ----------
    value_per_unit
        Change in demand per extra unit of access (e.g. percentage points per minute).
    source
        Where the value comes from (citation, page, population studied); required.
    demand, access
        Ids of what it applies to, for tables and side-by-side display.
    lower, upper
        The source's interval, if it gives one (both or neither).
    demand_label, access_label, demand_unit, access_unit
        Words used in the sentence.
    level
        Level of the source's interval.

    Returns
    -------
    EffectResult
        ``method="assumed"``; a point prediction is allowed (the user vouches for it).

    Raises
    ------
    DataError
        For a non-finite value, an empty source, or an interval that does
        not contain the value.
    """
    if (
        isinstance(value_per_unit, bool)
        or not isinstance(value_per_unit, numbers.Real)
        or not (math.isfinite(float(value_per_unit)))
    ):
        msg = (
            "The assumed effect must be a finite number per unit of access; "
            f"got {value_per_unit!r}."
        )
        raise DataError(msg)
    if not isinstance(source, str) or not source.strip():
        msg = (
            "An assumed effect needs its source (e.g. 'Smith et al. 2020, Table 3: 0.04 points per "
            "minute, English LSOAs'); got none."
        )
        raise DataError(msg)
    v = float(value_per_unit)
    if (lower is None) != (upper is None):
        msg = "Give both lower and upper of the assumed effect's interval, or neither."
        raise DataError(msg)
    lo, hi = (v, v) if lower is None else (float(lower), float(upper))  # type: ignore[arg-type]
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= v <= hi):
        msg = f"The assumed interval {lo:g} to {hi:g} must be finite and contain the value {v:g}."
        raise DataError(msg)
    src = " ".join(source.split())[:500]
    d_label, a_label = demand_label or demand, access_label or access
    d_unit = _change_unit(demand_unit)
    return EffectResult(
        demand=demand,
        access=access,
        estimate=v,
        se=math.nan,
        lower=lo,
        upper=hi,
        p=math.nan,
        n=0,
        n_groups=0,
        method="assumed",
        confounders=(),
        learner="",
        n_folds=0,
        spatial=None,
        point_prediction_allowed=True,
        sentence=_sentence(
            estimate=v,
            lower=lo,
            upper=hi,
            allowed=True,
            reason="",
            demand_label=d_label,
            access_label=a_label,
            demand_unit=d_unit,
            access_unit=access_unit,
            level=level,
            source=src,
        ),
        source=src,
        demand_label=d_label,
        access_label=a_label,
        demand_unit=d_unit,
        access_unit=access_unit,
        level=level,
        params={"value_per_unit": v, "lower": lo, "upper": hi, "source": src},
    )


def compare_effects(*effects: EffectResult) -> pd.DataFrame:
    """
    Effects side by side (estimated and assumed), one row each.

    Returns
    -------
    pd.DataFrame
        ``method``, ``estimate``, ``lower``, ``upper``, ``p``, ``n``,
        ``point_prediction_allowed``, ``source`` and ``sentence``.
    """
    cols = [
        "method",
        "demand",
        "access",
        "estimate",
        "lower",
        "upper",
        "p",
        "n",
        "point_prediction_allowed",
        "source",
        "sentence",
    ]
    rows = [{c: getattr(e, c) for c in cols} for e in effects]
    return pd.DataFrame(rows, columns=cols)


def predicted_change(
    effect: EffectResult,
    delta_access: pd.Series,
    population: pd.Series | None = None,
) -> pd.DataFrame:
    """
    Change in demand per area implied by an effect and a change in access.

    ``demand_change = estimate * delta_access``, with the interval
    ``[lower, upper] * delta_access`` (ordered). The only uncertainty is the
    effect's, shared by every area, so the interval of a total is the total of
    the bounds.

    Parameters
    ----------
    effect
        An estimated or assumed effect.
    delta_access
        Change in access per area, in the effect's unit (e.g. minutes; negative
        is a shorter walk).
    population
        Residents per area (optional): adds a population-weighted summary and,
        for a demand in percent of residents, ``people_change`` with its interval.

    Returns
    -------
    pd.DataFrame
        Indexed like ``delta_access``: ``access_change``, ``demand_change``,
        ``demand_change_lower``, ``demand_change_upper`` (and ``population``,
        ``people_change``, ``people_change_lower``, ``people_change_upper``).
        When ``effect.point_prediction_allowed`` is False, the change columns
        are NaN. ``attrs["message"]`` holds the sentence to show,
        ``attrs["summary"]`` the totals, ``attrs["effect"]`` the effect as a dict.

    Raises
    ------
    DataError
        If ``delta_access`` is not a Series or ``population`` is not indexed like it.
    """
    if not isinstance(delta_access, pd.Series):
        msg = f"delta_access must be a pandas Series by area; got {type(delta_access).__name__}."
        raise DataError(msg)
    d = pd.to_numeric(delta_access, errors="coerce").astype(float)
    out = pd.DataFrame({"access_change": d}, index=delta_access.index)
    allowed = effect.point_prediction_allowed and math.isfinite(effect.estimate)
    if allowed:
        a, b = d * effect.lower, d * effect.upper
        out["demand_change"] = d * effect.estimate
        out["demand_change_lower"] = np.minimum(a, b)
        out["demand_change_upper"] = np.maximum(a, b)
    else:
        for c in ("demand_change", "demand_change_lower", "demand_change_upper"):
            out[c] = math.nan
    divisor = _people_divisor(effect.demand_unit)
    per_people = divisor is not None
    summary: dict[str, Any] = {
        "areas": int(d.notna().sum()),
        "areas_changed": int((d.fillna(0) != 0).sum()),
    }
    if population is not None:
        if not isinstance(population, pd.Series):
            msg = f"population must be a pandas Series by area; got {type(population).__name__}."
            raise DataError(msg)
        missing = delta_access.index.difference(population.index)
        if len(missing):
            msg = (
                f"population lacks {len(missing)} of the areas of delta_access "
                f"(e.g. {list(map(str, missing[:3]))})."
            )
            raise DataError(msg)
        pop = pd.to_numeric(population.reindex(delta_access.index), errors="coerce").astype(float)
        out["population"] = pop
        if per_people:
            for c in ("", "_lower", "_upper"):
                out[f"people_change{c}"] = out[f"demand_change{c}"] * pop / divisor
        w = pop.where(d.notna(), 0.0).fillna(0.0)
        if w.sum() > 0:
            for c in ("demand_change", "demand_change_lower", "demand_change_upper"):
                summary[f"{c}_pop_weighted_mean"] = (
                    float((out[c] * w).sum() / w.sum()) if allowed else math.nan
                )
    for c in ("demand_change", "demand_change_lower", "demand_change_upper"):
        summary[f"{c}_sum"] = float(out[c].sum()) if allowed else math.nan
    if per_people and population is not None:
        for c in ("people_change", "people_change_lower", "people_change_upper"):
            summary[c] = float(out[c].sum()) if allowed else math.nan
    # the interval the effect's interval implies, stated even when no point is shown
    pp = per_people and population is not None
    changed = d.fillna(0.0) != 0
    if pp:
        factor: Any = out["population"] / divisor
        unit = counted_as(effect)
    else:  # a rate or score: the population-weighted mean over the areas whose access changed
        w_ch = out["population"] if "population" in out else pd.Series(1.0, index=d.index)
        w_ch = w_ch.where(changed, 0.0).fillna(0.0)
        factor = w_ch / w_ch.sum() if w_ch.sum() > 0 else 0.0
        unit = (
            f"{effect.demand_unit or 'units'} (mean over the areas whose access changed, "
            "weighted by population)"
        )
        if allowed:
            summary["demand_change_mean_changed"] = float((d * factor * effect.estimate).sum())
    lo, hi = sorted(float((d * factor * v).sum()) for v in (effect.lower, effect.upper))
    summary["implied_interval"] = (lo, hi)
    summary["implied_interval_unit"] = unit
    n_ch = summary["areas_changed"]
    if allowed:
        total = summary["people_change"] if pp else summary["demand_change_mean_changed"]
        dd = _decimals(total, lo, hi)
        way = "more" if total > 0 else "fewer"
        stated = (
            f" ({effect.level * 100:g} % interval {_fmt(lo, dd)} to {_fmt(hi, dd)})"
            if lo != hi
            else ""
        )
        message = (
            f"{effect.sentence} For the change in access of {_areas(n_ch)}: about "
            f"{_fmt(abs(total), dd)} {way} {unit}{stated}."
        )
    else:
        if math.isfinite(lo):
            dd = _decimals(lo, hi)
            tail = (
                f" Applied to the change in access of {_areas(n_ch)}, the interval would be "
                f"{_fmt(lo, dd)} to {_fmt(hi, dd)} {unit}; no point prediction is shown."
            )
        else:
            tail = " No change in demand is predicted."
        message = effect.sentence + tail
        if not effect.sentence.startswith("No detectable effect"):
            message = "No detectable effect: " + message
    summary["point_prediction_allowed"] = allowed
    out.attrs["message"] = message
    out.attrs["summary"] = summary
    out.attrs["effect"] = effect.to_series().to_dict()
    return out


# ----------------------------------------------------------------------------- validation data


def _neighbour_smooth(place: Any, rng: np.random.Generator, *, passes: int = 2) -> np.ndarray:
    """Standard normal noise averaged with its LSOA neighbours (shared edges), standardised."""
    import scipy.sparse as sp
    import shapely

    geom = place.lsoa.geometry.to_numpy()
    a, b = shapely.STRtree(geom).query(geom, predicate="touches")
    w = sp.csr_matrix((np.ones(len(a)), (a, b)), shape=(len(geom), len(geom)))
    deg = np.asarray(w.sum(axis=1)).ravel()
    e = rng.normal(size=w.shape[0])
    for _ in range(passes):
        e = (e + w @ e) / (1.0 + deg)
    return (e - e.mean()) / e.std()


def planted_effect_data(
    place: Any,
    effect_per_unit: float,
    *,
    confounding_r: float = -0.5,
    access_mean: float = 12.0,
    access_sd: float = 5.0,
    noise_sd: float = 1.0,
    random_state: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """
    Synthetic demand on the place's real LSOAs with a known effect of access.

    Built to catch an implementation that reports correlations as effects:
    access is confounded with deprivation, and deprivation raises demand.

    - deprivation ``D``: standardised ``0.7 income + 0.3 employment`` (real scores);
    - access ``T = access_mean + access_sd (r D + sqrt(1 - r²) U)`` (at least 1),
      ``U`` spatially smoothed noise made orthogonal to ``D``, so corr(T, D) ≈ r;
    - demand ``Y = 6 + effect T + 2 D + 0.6 D² + 0.8 A + 0.4 tanh(P) + E`` with
      ``A`` the standardised share aged 65+, ``P`` standardised log density and
      ``E`` noise of sd ``noise_sd``: LSOA-neighbour smoothed (two passes over
      shared edges, :class:`shapely.STRtree` ``touches``), a locality-level
      random effect and an independent part (variances 0.5, 0.25, 0.25).

    Parameters
    ----------
    place
        The place (its LSOAs, indicators and locality level).
    effect_per_unit
        The planted effect: demand units per unit of access.
    confounding_r
        Correlation of access with deprivation (negative: deprived areas are
        nearer services, as in cities).
    access_mean, access_sd
        Scale of access (minutes).
    noise_sd
        Standard deviation of the demand noise.
    random_state
        Seed of every draw.

    Returns
    -------
    pd.DataFrame
        ``demand``, ``access`` and ``deprivation_z`` by LSOA; ``attrs`` records
        the parameters and the realised corr(access, deprivation).
    """
    rng = np.random.default_rng(random_state)
    x = confounder_frame(
        place,
        ["income_2025_score", "employment_2025_score", "age_65plus_pct", "log_density_per_km2"],
    )

    def z(v: np.ndarray) -> np.ndarray:
        return (v - v.mean()) / v.std()

    dep = z(
        0.7 * z(x["income_2025_score"].to_numpy()) + 0.3 * z(x["employment_2025_score"].to_numpy())
    )
    u = _neighbour_smooth(place, rng)
    u = z(u - (u @ dep) / (dep @ dep) * dep)
    r = float(confounding_r)
    t = np.maximum(access_mean + access_sd * (r * dep + math.sqrt(1 - r * r) * u), 1.0)
    g = (
        2.0 * dep
        + 0.6 * dep**2
        + 0.8 * z(x["age_65plus_pct"].to_numpy())
        + 0.4 * np.tanh(z(x["log_density_per_km2"].to_numpy()))
    )
    loc = place.codes(place.locality_level).reindex(place.lsoa.index).astype(str).to_numpy()
    _, codes = np.unique(loc, return_inverse=True)
    e = (
        math.sqrt(0.5) * _neighbour_smooth(place, rng)
        + math.sqrt(0.25) * rng.normal(size=int(codes.max()) + 1)[codes]
        + math.sqrt(0.25) * rng.normal(size=t.size)
    )
    y = 6.0 + effect_per_unit * t + g + noise_sd * e
    out = pd.DataFrame({"demand": y, "access": t, "deprivation_z": dep}, index=place.lsoa.index)
    out.attrs.update(
        {
            "effect_per_unit": float(effect_per_unit),
            "confounding_r": r,
            "realised_r": float(np.corrcoef(t, dep)[0, 1]),
            "noise_sd": noise_sd,
            "random_state": random_state if isinstance(random_state, int | None) else "rng",
        }
    )
    return out

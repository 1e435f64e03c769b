"""England as the benchmark: national values, ranks and Fingertips-style comparisons.

OHID's Fingertips compares every local value with England's: a proportion gets a
Wilson score confidence interval, and the area is *better* or *worse* than England
when that interval excludes England's value (which way is worse comes from the
indicator), else *similar*. This module does the same for placekit's catalogue,
from the England-wide LSOA 2021 tables (IoD 2025 and Census 2021) read in place.

It takes plain tables, not a :class:`~placekit.place.Place`: values indexed by area
code with one column per indicator id, and, for proportions, the counts behind
them. :func:`rate_counts` turns a place's indicator values and weights into those
counts.

England values are aggregated exactly as placekit aggregates localities:

- Census rates: ``100 * sum(numerators) / sum(denominators)``;
- counts (``aggregation == "sum"``): the sum;
- scores (``weighted_mean``): the mean weighted by the indicator's weight
  (population unless the catalogue names another);
- ranks and deciles (``weighted_mean_rank``): the population-weighted mean of
  LSOA national ranks, which is *not itself a rank*.

Examples
--------
>>> eng = EnglandBenchmark.load(default_england_dir())       # doctest: +SKIP
>>> round(eng.england_value("bad_health_pct"), 2)            # doctest: +SKIP
5.15
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from placekit.catalogue import Catalogue, load_catalogue
from placekit.errors import DataError, SchemaError

__all__ = [
    "ENGLAND_CODE",
    "ENGLAND_FILES",
    "MAX_COUNT",
    "RANKED_LEVELS",
    "VS_ENGLAND",
    "EnglandBenchmark",
    "default_england_dir",
    "rate_counts",
    "wilson_interval",
]

#: ONS code of England (country), used as the area code of England-wide values.
ENGLAND_CODE = "E92000001"
#: The England-wide files read, by role, with what each must hold.
ENGLAND_FILES: dict[str, str] = {
    "imd": "imd2025_england_lsoa21.parquet",
    "census": "census2021_england_lsoa21_selected_tables_totals_and_rates.parquet",
    "lookup": "england_lsoa21_msoa21_lad_region_lookup.parquet",
}
_FILE_WHAT = {
    "imd": "IoD 2025 scores, ranks and deciles for every English LSOA 2021",
    "census": (
        "Census 2021 table totals (ts...0001) and category rates (ts...NNNN_rate) by LSOA 2021"
    ),
    "lookup": "the LSOA 2021 -> MSOA 2021 -> LAD 2024 -> region 2024 lookup",
}
_REQUIRED = {
    "imd": ["LSOA21CD"],
    "census": ["LSOA21CD", "ts0010001", "ts0110001"],
    "lookup": ["LSOA21CD", "LSOA21NM", "LAD24CD", "LAD24NM", "RGN24CD", "RGN24NM"],
}
#: Levels at which :meth:`EnglandBenchmark.compare` ranks areas against England.
RANKED_LEVELS = ("lsoa", "lad")
#: Largest count :func:`wilson_interval` accepts (far above any population; guards overflow).
MAX_COUNT = 1e15
#: Every value the ``vs_england`` column can take.
VS_ENGLAND = ("better", "similar", "worse", "higher", "lower", "not compared")
_INTERVAL = "Wilson score interval for a proportion (as Fingertips uses for proportions)"
_RULE = (
    "Fingertips rule: 'higher' if the lower confidence limit is above England's value, "
    "'lower' if the upper limit is below it, else 'similar'; mapped to 'worse'/'better' "
    "by the catalogue direction (neutral indicators keep 'higher'/'lower'). "
    "'not compared' where there is no interval (no counts, or not a proportion) or no "
    "England value."
)
_RANK_RULE = (
    "1 + number of England areas strictly worse by the indicator's direction (1 = worst; "
    "ties share the smaller rank; neutral indicators rank 1 = highest); "
    "decile = ceil(10 * rank / n_ranked), 1 = worst 10%, as MHCLG's IMD deciles"
)


def default_england_dir() -> Path:
    """
    Locate the England-wide tables.

    Returns
    -------
    Path
        ``PLACEKIT_ENGLAND`` if set, else ``../shared/region/england`` relative to
        the current folder (nothing is resolved from the installed package). The folder is
        not checked here; :meth:`EnglandBenchmark.load`
        says which file is missing.
    """
    env = os.environ.get("PLACEKIT_ENGLAND")
    chosen = Path(env) if env else Path.cwd().parent / "shared" / "region" / "england"
    return chosen.expanduser().resolve()


# ----------------------------------------------------------------------------- Wilson


def _z(confidence: float) -> float:
    ok = isinstance(confidence, int | float) and not isinstance(confidence, bool)
    if not ok or not math.isfinite(confidence) or not 0.0 < confidence < 1.0:
        msg = (
            f"confidence must be a number strictly between 0 and 1 (e.g. 0.95); got {confidence!r}."
        )
        raise DataError(msg)
    return normal_quantile(1.0 - (1.0 - confidence) / 2.0)


def normal_quantile(p: float) -> float:
    """
    The standard normal quantile of ``p`` in (0, 1], as ``scipy.special.ndtri`` (to 1e-15).

    From the standard library, so benchmarking against England does not import SciPy; a ``p``
    that rounded to 1 (a confidence within 1e-16 of 1) gives infinity, as ndtri does.
    """
    return math.inf if p >= 1.0 else NormalDist().inv_cdf(p)


def _as_float_array(x: Any, *, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as err:
        msg = (
            f"{name} must be numeric counts; got {type(x).__name__} that cannot be read as numbers."
        )
        raise DataError(msg) from err
    return arr


def wilson_interval(k: Any, n: Any, *, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """
    Wilson score confidence interval for a proportion ``k / n``, vectorised.

    Uses the exact Wilson (1927) score formula, as in the Fingertips technical
    guide::

        lower, upper = (2k + z² ∓ z·sqrt(z² + 4k(1 - k/n))) / (2(n + z²))

    with ``z`` the standard normal quantile at ``1 - (1 - confidence)/2``
    (1.959964 for 95%).

    Parameters
    ----------
    k
        Number of events (scalar or array-like). Non-integer counts are accepted
        (for example counts apportioned between areas).
    n
        Number of trials (the denominator), broadcastable against `k`.
    confidence
        Two-sided confidence level, strictly between 0 and 1.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lower, upper)`` as proportions in [0, 1], with the broadcast shape of
        `k` and `n` (0-d arrays for scalar input). ``lower`` is exactly 0 when
        ``k == 0`` and ``upper`` exactly 1 when ``k == n``. Where ``n == 0`` or
        either input is NaN (missing), both limits are NaN.

    Raises
    ------
    DataError
        If `confidence` is not in (0, 1), an input is not numeric, or a count is
        infinite, negative, above :data:`MAX_COUNT`, or ``k > n``: these are
        errors in the data, not missing values, so they are not turned into NaN.

    Examples
    --------
    >>> lo, hi = wilson_interval(10, 100)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.0552, 0.1744)
    """
    z = _z(confidence)
    kk = _as_float_array(k, name="k")
    nn = _as_float_array(n, name="n")
    try:
        kk, nn = np.broadcast_arrays(kk, nn)
    except ValueError as err:
        msg = f"k and n must have broadcastable shapes; got {kk.shape} and {nn.shape}."
        raise DataError(msg) from err
    for arr, name in ((kk, "k"), (nn, "n")):
        if np.isinf(arr).any():
            msg = f"{name} has infinite value(s); counts must be finite (use NaN for missing)."
            raise DataError(msg)
        if (arr < 0).any():
            bad = arr[arr < 0].ravel()[:3].tolist()
            msg = f"{name} has negative count(s), e.g. {bad}; counts must be >= 0."
            raise DataError(msg)
        if (arr > MAX_COUNT).any():
            bad = arr[arr > MAX_COUNT].ravel()[:3].tolist()
            msg = (
                f"{name} has implausibly large count(s), e.g. {bad}; "
                f"counts must be <= {MAX_COUNT:g}."
            )
            raise DataError(msg)
    over = kk > nn
    if over.any():
        pairs = list(zip(kk[over].ravel()[:3].tolist(), nn[over].ravel()[:3].tolist(), strict=True))
        msg = (
            f"k exceeds n in {int(over.sum())} place(s), e.g. (k, n) = {pairs}; a numerator "
            "cannot exceed its denominator. Check that the counts belong together."
        )
        raise DataError(msg)
    z2 = z * z
    usable = nn > 0  # False for NaN too
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        p = kk / nn
        half = z * np.sqrt(z2 + 4.0 * kk * (1.0 - p))
        denom = 2.0 * (nn + z2)
        lower = (2.0 * kk + z2 - half) / denom
        upper = (2.0 * kk + z2 + half) / denom
    lower = np.where(usable, np.clip(lower, 0.0, 1.0), np.nan)
    upper = np.where(usable, np.clip(upper, 0.0, 1.0), np.nan)
    lower = np.where(usable & (kk == 0), 0.0, lower)
    upper = np.where(usable & (kk == nn), 1.0, upper)
    return lower, upper


# ----------------------------------------------------------------------------- helpers


def _read(folder: Path, role: str) -> pd.DataFrame:
    path = folder / ENGLAND_FILES[role]
    if not path.is_file():
        msg = (
            f"No England file at {path}. England comparisons are unavailable without it: "
            f"it should hold {_FILE_WHAT[role]} (see {folder / 'PROVENANCE.md'}). "
            "Set PLACEKIT_ENGLAND or pass the folder that holds it."
        )
        raise DataError(msg)
    df = pd.read_parquet(path)
    missing = [c for c in _REQUIRED[role] if c not in df.columns]
    if missing:
        msg = f"{path} is missing column(s) {missing}; England comparisons need them."
        raise SchemaError(msg)
    if df["LSOA21CD"].duplicated().any():
        msg = f"{path} has duplicated LSOA21CD codes; expected one row per LSOA."
        raise SchemaError(msg)
    return df.set_index("LSOA21CD").sort_index()


def _census_count(census: pd.DataFrame, column: str) -> pd.Series | None:
    """Count for one Census column: a table total as is, a category as rate x total."""
    if column in census.columns:
        return census[column].astype(float)
    rate = f"{column}_rate"
    total = f"{column[:5]}0001"
    if rate not in census.columns or total not in census.columns:
        return None
    t = census[total].astype(float)
    # Rates are given to 4 dp, so round(rate * total) is the exact count while the
    # table total is below 10,000 (England's largest LSOA total is 9,900).
    k = np.rint(census[rate].astype("float64") * t)
    return k.where(t > 0, 0.0)


def _meta(catalogue: Catalogue, indicator_id: str) -> pd.Series:
    return catalogue.row(indicator_id)


def _census_rate_parts(derivation: str) -> tuple[list[str], str] | None:
    src, _, arg = derivation.partition(":")
    if src != "census" or "/" not in arg:
        return None
    num, den = arg.split("/", 1)
    return num.split("+"), den


def _proportion_scale(unit: str) -> float | None:
    unit = unit.strip().lower()
    if unit.startswith("%"):
        return 100.0
    if unit == "proportion":
        return 1.0
    return None


def _rank_against(x: np.ndarray, reference: np.ndarray, direction: str) -> np.ndarray:
    ref = np.sort(reference[np.isfinite(reference)])
    out = np.full(x.shape, np.nan)
    ok = np.isfinite(x)
    if direction == "higher_better":
        worse = np.searchsorted(ref, x[ok], side="left")  # reference values below x
    else:  # higher_worse, and neutral ranked 1 = highest
        worse = ref.size - np.searchsorted(ref, x[ok], side="right")
    out[ok] = 1.0 + worse
    return out


def _decile(rank: np.ndarray, n_ranked: int) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.minimum(10.0, np.ceil(10.0 * rank / n_ranked))


def _vs_england(lower: np.ndarray, upper: np.ndarray, england: float, direction: str) -> np.ndarray:
    out = np.full(lower.shape, "not compared", dtype=object)
    if not math.isfinite(england):
        return out
    ok = np.isfinite(lower) & np.isfinite(upper)
    higher = ok & (lower > england)
    lower_ = ok & (upper < england)
    out[ok] = "similar"
    up, down = {"higher_worse": ("worse", "better"), "higher_better": ("better", "worse")}.get(
        direction, ("higher", "lower")
    )
    out[higher] = up
    out[lower_] = down
    return out


def _scaled_interval(
    indicator_id: str,
    v: np.ndarray,
    k: np.ndarray,
    n: np.ndarray,
    *,
    scale: float,
    confidence: float,
    codes: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson limits in the indicator's units; warn (for compare's caller) on mismatched values."""
    lo, hi = wilson_interval(k, n, confidence=confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        implied = scale * k / n
    off = np.isfinite(implied) & np.isfinite(v) & (np.abs(implied - v) > 1e-6 * scale)
    if off.any():
        msg = (
            f"{indicator_id}: {int(off.sum())} value(s) differ from {scale:g} x numerator / "
            f"denominator (e.g. area {codes[off][0]!r}); the interval uses the counts."
        )
        warnings.warn(msg, UserWarning, stacklevel=4)
    return lo * scale, hi * scale


def _numeric_frame(df: pd.DataFrame, *, name: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        msg = (
            f"{name} must be a pandas DataFrame (areas as rows, indicator ids as columns); "
            f"got {type(df).__name__}."
        )
        raise SchemaError(msg)
    if df.index.has_duplicates:
        dup = df.index[df.index.duplicated()].unique().tolist()[:5]
        msg = f"{name} has duplicated area codes {dup}; expected one row per area."
        raise SchemaError(msg)
    bad = [
        c for c in df.columns if not (pd.api.types.is_numeric_dtype(df[c]) or df[c].isna().all())
    ]
    if bad:
        msg = f"{name} column(s) {bad} are not numeric; convert them with pd.to_numeric first."
        raise SchemaError(msg)
    return df.astype(float)


def rate_counts(
    values: pd.DataFrame, weights: pd.DataFrame, *, catalogue: Catalogue
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """
    Numerators and denominators behind Census rate indicators, for :meth:`EnglandBenchmark.compare`.

    Parameters
    ----------
    values
        Indicator values (percentages for Census rates), areas as rows, ids as columns.
    weights
        Census denominators by area, one column per denominator named in the
        derivation (for example ``"ts0370001"``), indexed like `values`. For a
        place at LSOA level this is ``place.weights``; at another level, the sum
        of LSOA weights per area, e.g. ``place.weights.groupby(place.codes(level)).sum()``.
    catalogue
        The catalogue the values were derived with.

    Returns
    -------
    tuple of pandas.DataFrame
        ``(numerators, denominators)`` indexed like `values`, one column per
        Census rate indicator (``census:a+b/total``) of `values`; the numerator
        is ``value / 100 * denominator``. Other indicators are left out.

    Raises
    ------
    SchemaError
        If `weights` lacks a denominator column that a Census rate needs.
    """
    nums: dict[str, pd.Series] = {}
    dens: dict[str, pd.Series] = {}
    for i in values.columns:
        parts = _census_rate_parts(str(_meta(catalogue, str(i))["derivation"]))
        if parts is None:
            continue
        den = parts[1]
        if den not in weights.columns:
            msg = (
                f"weights has no column {den!r}, the denominator of {i!r}. "
                f"Columns present: {sorted(map(str, weights.columns))}."
            )
            raise SchemaError(msg)
        d = weights[den].reindex(values.index).astype(float)
        dens[str(i)] = d
        nums[str(i)] = values[i].astype(float) / 100.0 * d
    return pd.DataFrame(nums, index=values.index), pd.DataFrame(dens, index=values.index)


_Derived = tuple[
    dict[str, pd.Series],
    dict[str, pd.Series],
    dict[str, pd.Series],
    dict[str, pd.Series],
    dict[str, str],
]


def _derive(cat: Catalogue, imd: pd.DataFrame, census: pd.DataFrame) -> _Derived:
    """England LSOA values, numerators, denominators, weights and skipped ids."""
    weights: dict[str, pd.Series] = {
        "population": census["ts0010001"].astype(float),
        "households": census["ts0110001"].astype(float),
    }
    values: dict[str, pd.Series] = {}
    nums: dict[str, pd.Series] = {}
    dens: dict[str, pd.Series] = {}
    skipped: dict[str, str] = {}
    census_file = ENGLAND_FILES["census"]
    for raw_id, meta in cat.table.iterrows():
        i = str(raw_id)
        src, _, arg = str(meta["derivation"]).partition(":")
        if src == "census":
            parts = _census_rate_parts(str(meta["derivation"]))
            if parts is None:
                count = _census_count(census, arg)
                if count is None:
                    skipped[i] = f"Census column {arg!r} is not in {census_file}"
                    continue
                values[i] = count
                continue
            num_cols, den = parts
            counts = {c: _census_count(census, c) for c in num_cols}
            missing = [c for c, s in counts.items() if s is None]
            missing += [] if den in census.columns else [den]
            if missing:
                skipped[i] = f"Census column(s) {missing} not in {census_file}"
                continue
            k = sum(
                (s for s in counts.values() if s is not None),
                pd.Series(0.0, index=census.index),
            )
            d = census[den].astype(float)
            nums[i], dens[i] = k, d
            values[i] = 100.0 * k / d.where(d > 0)
            weights[den] = d
        elif src == "imd2025":
            if arg not in imd.columns:
                skipped[i] = f"column {arg!r} is not in {ENGLAND_FILES['imd']}"
                continue
            values[i] = imd[arg].astype(float)
        else:
            skipped[i] = f"no England table for derivation source {src!r}"
    for i in list(values):
        meta = cat.row(i)
        w = str(meta["weight"]) or "population"
        if meta["aggregation"] != "sum" and i not in nums and w not in weights:
            skipped[i] = f"weight {w!r} is not available for England"
            del values[i]
    return values, nums, dens, weights, skipped


# ----------------------------------------------------------------------------- benchmark


@dataclass(frozen=True, eq=False)
class EnglandBenchmark:
    """
    England's LSOA values for the catalogue, and comparisons against them.

    Build it with :meth:`load`. The frames are shared: treat them as read-only.

    Attributes
    ----------
    values
        One column per derivable catalogue indicator, indexed by LSOA 2021 code
        (``lsoa21_code``), all 33,755 English LSOAs.
    numerators
        Counts behind each Census rate indicator (same index; columns are
        indicator ids), recovered as ``round(rate * table total)`` per category.
    denominators
        The Census denominator of each Census rate indicator (same shape).
    weights
        Aggregation weights by LSOA: ``population`` (Census 2021 usual residents,
        ts0010001), ``households`` (ts0110001) and each Census denominator column.
    areas
        By LSOA: ``lsoa21_name``, ``msoa21_code``, ``lad24_code``, ``lad24_name``,
        ``region_code``, ``region_name`` and ``population``.
    catalogue
        The catalogue the values were derived from.
    folder
        Where the England tables were read.
    skipped
        ``{indicator id: why no England value}`` for catalogue rows not derivable
        from the England tables (only ``census:`` and ``imd2025:`` derivations are).
    """

    values: pd.DataFrame
    numerators: pd.DataFrame
    denominators: pd.DataFrame
    weights: pd.DataFrame
    areas: pd.DataFrame
    catalogue: Catalogue
    folder: Path
    skipped: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, folder: str | Path, *, catalogue: Catalogue | None = None) -> EnglandBenchmark:
        """
        Read the England tables in place and derive every catalogue indicator they allow.

        Parameters
        ----------
        folder
            The folder holding :data:`ENGLAND_FILES` (see :func:`default_england_dir`).
        catalogue
            The indicator catalogue; :func:`placekit.catalogue.load_catalogue` by default.

        Returns
        -------
        EnglandBenchmark

        Raises
        ------
        DataError
            If a file is missing (the message names it and says England
            comparisons are unavailable without it), or the files cover
            different LSOAs.
        SchemaError
            If a file lacks a column every benchmark needs.
        """
        folder = Path(folder).expanduser().resolve()
        cat = catalogue if catalogue is not None else load_catalogue()
        imd = _read(folder, "imd")
        census = _read(folder, "census")
        lookup = _read(folder, "lookup")
        for role, df in (("imd", imd), ("census", census)):
            if not df.index.equals(lookup.index):
                diff = df.index.symmetric_difference(lookup.index)
                msg = (
                    f"{folder / ENGLAND_FILES[role]} and {folder / ENGLAND_FILES['lookup']} "
                    f"cover different LSOAs ({len(diff)} differ, e.g. {diff[:3].tolist()}); "
                    "England values would be wrong."
                )
                raise DataError(msg)
        idx = pd.Index(lookup.index, name="lsoa21_code")
        population = census["ts0010001"].astype(float)
        values, nums, dens, weights, skipped = _derive(cat, imd, census)
        areas = pd.DataFrame(
            {
                "lsoa21_name": lookup["LSOA21NM"].astype(str),
                "msoa21_code": lookup["MSOA21CD"].astype(str) if "MSOA21CD" in lookup else pd.NA,
                "lad24_code": lookup["LAD24CD"].astype(str),
                "lad24_name": lookup["LAD24NM"].astype(str),
                "region_code": lookup["RGN24CD"].astype(str),
                "region_name": lookup["RGN24NM"].astype(str),
                "population": population,
            }
        )

        def frame(cols: dict[str, pd.Series]) -> pd.DataFrame:
            out = pd.DataFrame(cols, index=lookup.index)
            out.index = idx
            return out

        ids = [i for i in cat.ids if i in values]
        return cls(
            values=frame({i: values[i] for i in ids}),
            numerators=frame({i: nums[i] for i in ids if i in nums}),
            denominators=frame({i: dens[i] for i in ids if i in dens}),
            weights=frame(weights),
            areas=areas.set_axis(idx),
            catalogue=cat,
            folder=folder,
            skipped=skipped,
        )

    # ------------------------------------------------------------------ values

    @property
    def indicator_ids(self) -> list[str]:
        """Ids of every indicator with an England value, in catalogue order."""
        return [str(c) for c in self.values.columns]

    def _require(self, indicator_id: str) -> pd.Series:
        meta = self.catalogue.row(indicator_id)
        if indicator_id not in self.values.columns:
            why = self.skipped.get(indicator_id, "not derived")
            msg = (
                f"No England value for {indicator_id!r}: {why}. England values exist for "
                f"census: and imd2025: indicators only, e.g. {self.indicator_ids[:6]}."
            )
            raise DataError(msg)
        return meta

    def _note(self, indicator_id: str) -> str:
        meta = self.catalogue.row(indicator_id)
        w = str(meta["weight"]) or "population"
        if indicator_id in self.numerators.columns:
            den = self.denominator_column(indicator_id)
            return f"100 x sum of numerators / sum of denominators ({den})"
        if meta["aggregation"] == "sum":
            return "sum of LSOA counts"
        if meta["aggregation"] == "weighted_mean_rank":
            return f"{w}-weighted mean of LSOA national ranks; not itself a rank"
        return f"mean of LSOA values weighted by {w}"

    def denominator_column(self, indicator_id: str) -> str:
        """
        Return the Census denominator column of a rate indicator.

        Raises
        ------
        DataError
            If the indicator is not a Census rate.
        """
        parts = _census_rate_parts(str(self.catalogue.row(indicator_id)["derivation"]))
        if parts is None:
            msg = (
                f"{indicator_id!r} is not a Census rate (census:a+b/total); it has no denominator."
            )
            raise DataError(msg)
        return parts[1]

    def _aggregate(self, indicator_id: str, key: pd.Series) -> pd.Series:
        meta = self._require(indicator_id)
        if indicator_id in self.numerators.columns:
            k = self.numerators[indicator_id]
            d = self.denominators[indicator_id]
            ok = k.notna() & (d > 0)
            den = d.where(ok).groupby(key).sum()
            return 100.0 * k.where(ok).groupby(key).sum() / den.where(den > 0)
        v = self.values[indicator_id]
        if meta["aggregation"] == "sum":
            return v.groupby(key).sum(min_count=1)
        w = self.weights[str(meta["weight"]) or "population"]
        ok = v.notna() & w.notna()
        wsum = w.where(ok).groupby(key).sum()
        return (v * w).where(ok).groupby(key).sum(min_count=1) / wsum.where(wsum > 0)

    def england_value(self, indicator_id: str) -> float:
        """
        England's value of an indicator, aggregated from LSOAs the way placekit aggregates.

        Parameters
        ----------
        indicator_id
            A catalogue id with an England value (see :attr:`indicator_ids`).

        Returns
        -------
        float
            Census rates: ``100 * sum(numerators) / sum(denominators)`` (a
            percentage); counts: the England total; scores: the
            population-weighted mean (or the catalogue's weight); ranks and
            deciles: the population-weighted mean of LSOA national ranks, which
            is not itself a rank.

        Raises
        ------
        DataError
            If the id is unknown or has no England value (the message says why).
        """
        key = pd.Series(ENGLAND_CODE, index=self.values.index)
        return float(self._aggregate(indicator_id, key).iloc[0])

    def england_values(self, indicator_ids: list[str] | None = None) -> pd.Series:
        """
        England's value of several indicators (all derivable ones by default).

        Returns
        -------
        pandas.Series
            Indexed by indicator id; ``attrs["notes"]`` says how each was aggregated.
        """
        ids = self.indicator_ids if indicator_ids is None else list(indicator_ids)
        out = pd.Series({i: self.england_value(i) for i in ids}, name=ENGLAND_CODE, dtype=float)
        out.attrs["notes"] = {i: self._note(i) for i in ids}
        return out

    def lads(self) -> pd.DataFrame:
        """
        England's local authority districts (2024).

        Returns
        -------
        pandas.DataFrame
            Indexed by ``lad24_code``: ``lad24_name``, ``region_code``,
            ``region_name``, ``population`` and ``n_lsoa``.
        """
        g = self.areas.groupby("lad24_code")
        out = g[["lad24_name", "region_code", "region_name"]].first()
        out["population"] = g["population"].sum()
        out["n_lsoa"] = g.size()
        return out.sort_index()

    def lad_table(self, indicator_ids: list[str] | None = None) -> pd.DataFrame:
        """
        Every England LAD's value, aggregated from LSOAs the way placekit aggregates.

        Parameters
        ----------
        indicator_ids
            Ids with an England value; all of them by default.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``lad24_code`` (296 LADs), one column per indicator;
            ``attrs["notes"]`` says how each was aggregated.

        Raises
        ------
        DataError
            If an id has no England value.
        """
        ids = self.indicator_ids if indicator_ids is None else list(indicator_ids)
        key = self.areas["lad24_code"]
        out = pd.DataFrame({i: self._aggregate(i, key) for i in ids}, index=self.lads().index)
        out.attrs["notes"] = {i: self._note(i) for i in ids}
        return out

    def lad_counts(
        self, indicator_ids: list[str] | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """
        Numerators and denominators of Census rate indicators summed to LADs.

        Parameters
        ----------
        indicator_ids
            Census rate ids; all of them by default. Other ids are left out.

        Returns
        -------
        tuple of pandas.DataFrame
            ``(numerators, denominators)`` indexed by ``lad24_code``, ready for
            :meth:`compare` with ``level="lad"``.
        """
        ids = list(self.numerators.columns) if indicator_ids is None else list(indicator_ids)
        ids = [i for i in ids if i in self.numerators.columns]
        key = self.areas["lad24_code"]
        ok = self.numerators[ids].notna() & (self.denominators[ids] > 0)
        return (
            self.numerators[ids].where(ok).groupby(key).sum(),
            self.denominators[ids].where(ok).groupby(key).sum(),
        )

    # ------------------------------------------------------------------ comparing

    def compare(
        self,
        values: pd.DataFrame,
        *,
        numerators: pd.DataFrame | None = None,
        denominators: pd.DataFrame | None = None,
        level: str,
        catalogue: Catalogue | None = None,
        confidence: float = 0.95,
    ) -> pd.DataFrame:
        """
        Compare areas with England as Fingertips does.

        For proportions (catalogue unit ``%...`` or ``proportion``) with counts
        supplied, a Wilson score confidence interval is computed (the interval
        Fingertips uses for proportions) and the area is ``"worse"``,
        ``"better"`` or ``"similar"`` by whether the interval excludes England's
        value; for ``neutral`` indicators ``"higher"``/``"lower"``/``"similar"``.
        Anything without an interval or without an England value is
        ``"not compared"`` (ranks are still given).

        Parameters
        ----------
        values
            Indicator values, one row per area (index = area code), one column
            per catalogue id, in the catalogue's units (percentages for Census rates).
        numerators, denominators
            Counts behind the proportion indicators, indexed like `values` with
            indicator ids as columns (give both or neither); see
            :func:`rate_counts`. Indicators without both get no interval.
        level
            The level of the areas. ``"lsoa"``: rank among England's 33,755
            LSOAs; ``"lad"``: rank among England's LADs aggregated the same way
            (:meth:`lad_table`); any other level (ward, locality ...): no rank.
        catalogue
            Catalogue giving direction, unit and derivation; the benchmark's by
            default. An id whose derivation differs from the benchmark's gets
            no England value.
        confidence
            Two-sided confidence level of the interval (Fingertips shows 95% and 99.8%).

        Returns
        -------
        pandas.DataFrame
            Long table, one row per area and indicator, in input order:
            ``area_code``, ``indicator``, ``value``, ``numerator``,
            ``denominator``, ``ci_lower``, ``ci_upper`` (in the indicator's units,
            NaN without counts), ``england_value``, ``england_rank``,
            ``england_decile`` (1 = worst 10%), ``n_ranked``, ``direction`` and
            ``vs_england`` (one of :data:`VS_ENGLAND`). ``attrs`` records the
            interval method, confidence, z, comparison and rank rules, level,
            England source folder and how each England value was aggregated.

        Raises
        ------
        SchemaError
            If a frame is not numeric, has duplicated area codes, or only one
            of `numerators` and `denominators` is given.
        DataError
            If an id is not in the catalogue, `confidence` is not in (0, 1), or
            counts are negative, infinite or ``numerator > denominator``.

        Warns
        -----
        UserWarning
            If a value disagrees with its numerator / denominator.
        """
        if not isinstance(level, str) or not level:
            msg = (
                f"level must be a non-empty string such as 'lsoa', 'lad' or 'ward'; got {level!r}."
            )
            raise DataError(msg)
        cat = catalogue if catalogue is not None else self.catalogue
        z = _z(confidence)
        vals = _numeric_frame(values, name="values")
        if (numerators is None) != (denominators is None):
            msg = "Give numerators and denominators together (or neither); got only one of them."
            raise SchemaError(msg)
        nums = dens = None
        if numerators is not None and denominators is not None:
            nums = _numeric_frame(numerators, name="numerators").reindex(vals.index)
            dens = _numeric_frame(denominators, name="denominators").reindex(vals.index)
        ids = [str(c) for c in vals.columns]
        metas = {i: _meta(cat, i) for i in ids}
        comparable = [
            i
            for i in ids
            if i in self.values.columns
            and str(metas[i]["derivation"]) == str(self.catalogue.row(i)["derivation"])
        ]
        reference: pd.DataFrame | None = None
        if level == "lsoa":
            reference = self.values[comparable]
        elif level == "lad":
            reference = self.lad_table(comparable)
        area_codes = vals.index.to_numpy()
        frames = []
        notes: dict[str, str] = {}
        for i in ids:
            meta = metas[i]
            direction = str(meta["direction"])
            v = vals[i].to_numpy()
            nan = np.full(v.shape, np.nan)
            k, n, lo, hi = nan, nan, nan, nan
            scale = _proportion_scale(str(meta["unit"]))
            if (
                nums is not None
                and dens is not None
                and i in nums.columns
                and i in dens.columns
                and scale
            ):
                k, n = nums[i].to_numpy(), dens[i].to_numpy()
                lo, hi = _scaled_interval(
                    i, v, k, n, scale=scale, confidence=confidence, codes=area_codes
                )
            england = self.england_value(i) if i in comparable else math.nan
            notes[i] = self._note(i) if i in comparable else "no England value"
            rank, decile, n_ranked = nan, nan, 0
            if reference is not None and i in comparable:
                ref = reference[i].to_numpy(dtype=float)
                n_ranked = int(np.isfinite(ref).sum())
                rank = _rank_against(v, ref, direction)
                decile = _decile(rank, n_ranked)
            frames.append(
                pd.DataFrame(
                    {
                        "area_code": area_codes,
                        "indicator": i,
                        "value": v,
                        "numerator": k,
                        "denominator": n,
                        "ci_lower": lo,
                        "ci_upper": hi,
                        "england_value": england,
                        "england_rank": rank,
                        "england_decile": decile,
                        "n_ranked": n_ranked,
                        "direction": direction,
                        "vs_england": _vs_england(lo, hi, england, direction),
                    }
                )
            )
        if frames:
            out = pd.concat(frames, ignore_index=True)
            by_indicator = np.repeat(np.arange(len(ids)), len(vals))
            by_area = np.tile(np.arange(len(vals)), len(ids))
            order = np.lexsort((by_indicator, by_area))
            out = out.iloc[order].reset_index(drop=True)
        else:
            out = pd.DataFrame(columns=["area_code", "indicator", "value", "vs_england"])
        out.attrs = {
            "interval": _INTERVAL,
            "interval_method": "wilson",
            "confidence": confidence,
            "z": z,
            "comparison": _RULE,
            "rank": _RANK_RULE if level in RANKED_LEVELS else f"not ranked at level {level!r}",
            "level": level,
            "england_source": str(self.folder),
            "england_code": ENGLAND_CODE,
            "notes": notes,
        }
        return out

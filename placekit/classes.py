"""Class breaks for maps, by :mod:`mapclassify`, with legends in plain words.

Two schemes: quantiles (the default; ties collapse to fewer, distinct classes;
computed as ``mapclassify.Quantiles`` does, by :func:`quantile_bins`, so the first
map does not wait 2.5 s to import mapclassify) and Fisher-Jenks natural breaks
(:class:`mapclassify.FisherJenks`; above
:data:`MAX_JENKS_N` values an even quantile sample of them is classified, so a
national map stays quick without numba). A value belongs to the first class
whose upper bound it does not exceed.

Values hidden by disclosure control are *suppressed* (class -2, "suppressed
(< 5)"), which is not the same as *no data* (class -1): the legend shows both
where they occur. Counts of people are shown as whole numbers.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


def _mapclassify() -> Any:
    """mapclassify, imported on first use (it pulls in scikit-learn and matplotlib: 2.5 s)."""
    with warnings.catch_warnings():  # "Numba not installed": the pure-Python path is fine here
        warnings.simplefilter("ignore")
        import mapclassify

    return mapclassify


def quantile_bins(x: np.ndarray, k: int) -> np.ndarray:
    """
    Upper bounds of ``k`` quantile classes, exactly as ``mapclassify.Quantiles`` computes them.

    The same percentiles (``100/k`` steps, the last clipped to 100), the same
    interpolation (``scipy.stats.scoreatpercentile``'s weighted mean of the two
    neighbours, which differs from ``numpy.percentile`` in the last bits, enough
    to split or merge a bound near zero) and collapsing of repeated bounds,
    without importing mapclassify, so the first map of a session does not wait for it.
    """
    w = 100.0 / k
    p = np.arange(w, 100 + w, w)
    if p[-1] > 100.0:
        p[-1] = 100.0
    s = np.sort(np.asarray(x, dtype=float))
    idx = p / 100.0 * (len(s) - 1)
    i = idx.astype(int)
    j = np.minimum(i + 1, len(s) - 1)
    w_lo, w_hi = (i + 1) - idx, idx - i
    with np.errstate(invalid="ignore", over="ignore"):
        mixed = (s[i] * w_lo + s[j] * w_hi) / (w_lo + w_hi)
    return np.unique(np.where(i == idx, s[i], mixed))


__all__ = [
    "MISSING",
    "NO_DATA",
    "SCHEMES",
    "SEQUENTIAL",
    "SUPPRESSED",
    "Legend",
    "breaks",
    "classify",
    "fmt_value",
    "quantile_bins",
    "suppressed_label",
]

SEQUENTIAL = [(255, 255, 204), (161, 218, 180), (65, 182, 196), (44, 127, 184), (37, 52, 148)]
#: Areas with no data.
MISSING = (200, 200, 200)
#: Areas whose value is hidden by disclosure control (a colour no other layer uses).
SUPPRESSED = (120, 110, 150)
NO_DATA = "no data"
#: Scheme id -> words for the legend.
SCHEMES = {"quantiles": "quantiles", "natural_breaks": "natural breaks (Fisher-Jenks)"}
#: Above this many values, natural breaks are found on an even quantile sample of them.
MAX_JENKS_N = 400


@dataclass(frozen=True)
class Legend:
    """A legend: title, how breaks were chosen, and (label, rgb) entries."""

    title: str
    method: str
    entries: list[tuple[str, tuple[int, int, int]]]


def suppressed_label(min_count: int = 5) -> str:
    """The legend and tooltip words for a value hidden by disclosure control."""
    return f"suppressed (< {min_count})"


def fmt_value(v: float, *, whole: bool = False) -> str:
    """
    A value as shown on a map: whole numbers for counts, else 2 decimals below 100.

    Returns
    -------
    str
        ``"no data"`` for a missing value.
    """
    if not np.isfinite(v):
        return NO_DATA
    if whole or abs(v) >= 100:
        return f"{round(v):,.0f}"
    return f"{v:,.2f}"


def breaks(values: np.ndarray, *, k: int, scheme: str = "quantiles") -> list[float]:
    """
    Upper bounds of up to ``k`` classes of ``values`` (finite), by mapclassify.

    Raises
    ------
    ValueError
        For an unknown scheme.
    """
    if scheme not in SCHEMES:
        msg = f"scheme must be one of {sorted(SCHEMES)}; got {scheme!r}."
        raise ValueError(msg)
    x = np.sort(np.asarray(values, dtype=float))
    uniq = np.unique(x)
    if uniq.size <= k:
        return [float(v) for v in uniq]
    with warnings.catch_warnings():  # ties: mapclassify warns and returns repeated bounds
        warnings.simplefilter("ignore")
        if scheme == "natural_breaks":
            sample = x if x.size <= MAX_JENKS_N else np.quantile(x, np.linspace(0, 1, MAX_JENKS_N))
            bins = _mapclassify().FisherJenks(sample, k=k).bins
        else:
            bins = quantile_bins(x, k)
    out = [float(b) for b in np.unique(np.asarray(bins, dtype=float))]
    out[-1] = max(out[-1], float(x.max()))
    return out


def classify(
    values: pd.Series,
    *,
    k: int = 5,
    scheme: str = "quantiles",
    suppressed: pd.Series | None = None,
    whole: bool = False,
    min_count: int = 5,
) -> tuple[list[float], list[tuple[int, int, int]], pd.Series, Legend]:
    """
    Class breaks, colours and class of every value, with the legend entries.

    Parameters
    ----------
    values
        The values; NaN is no data (or suppressed, where ``suppressed`` says so).
    k, scheme
        Number of classes and ``"quantiles"`` or ``"natural_breaks"``.
    suppressed
        True where a value is hidden by disclosure control (indexed like ``values``).
    whole
        Label the breaks as whole numbers (counts of people).
    min_count
        The smallest count shown, for the "suppressed (< 5)" label.

    Returns
    -------
    (bins, colours, classes, legend)
        Upper bounds, one colour per class, the class per value (-1 no data,
        -2 suppressed) and a Legend whose title is left empty.
    """
    v = values.astype(float)
    hidden = (
        suppressed.reindex(v.index).fillna(False).astype(bool)
        if suppressed is not None
        else pd.Series(False, index=v.index)
    )
    ok = v.notna() & ~hidden
    n_unique = int(v[ok].nunique())
    k_eff = max(1, min(k, n_unique))
    cls = pd.Series(-1, index=v.index)
    cls[hidden] = -2
    bins: list[float] = []
    colours = SEQUENTIAL if k_eff == 5 else [SEQUENTIAL[int(i)] for i in np.linspace(0, 4, k_eff)]
    if ok.any():
        vals = v[ok].to_numpy()
        bins = breaks(vals, k=k_eff, scheme=scheme)
        if len(bins) < k_eff:
            colours = (
                [colours[int(i)] for i in np.linspace(0, len(colours) - 1, len(bins))]
                if len(bins) > 1
                else colours[-1:]
            )
        cls[ok] = np.searchsorted(np.asarray(bins), vals, side="left").clip(0, len(bins) - 1)
    lows = [float(v[ok].min()), *bins[:-1]] if bins else []
    entries = [
        (
            fmt_value(hi, whole=whole)
            if whole and lo == hi
            else f"{fmt_value(lo, whole=whole)} – {fmt_value(hi, whole=whole)}",
            colours[i],
        )
        for i, (lo, hi) in enumerate(zip(lows, bins, strict=True))
    ]
    if hidden.any():
        entries.append((suppressed_label(min_count), SUPPRESSED))
    if (v.isna() & ~hidden).any():
        entries.append((NO_DATA, MISSING))
    return bins, colours, cls, Legend("", f"{len(bins)} classes, {SCHEMES[scheme]}", entries)

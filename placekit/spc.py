"""Statistical process control: XmR charts with the NHS "Making Data Count" rules.

An XmR chart (individuals and moving range) plots each period's value around the
mean, with process limits at ``mean +/- 2.66 x mean moving range`` (3 sigma, with
sigma estimated as ``mean moving range / 1.128``). The rule set is NHS England's
*Making Data Count* as implemented in the NHS-R community's ``NHSRplotthedots``:

1. **Outside limits**: a single point beyond a process limit.
2. **Shift**: ``shift_points`` (7) or more consecutive points on one side of the
   mean (a point exactly on the mean ends the run).
3. **Trend**: ``trend_points`` (7) or more consecutive points each higher than the
   one before, or each lower (an unchanged value ends the trend).
4. **Two of three**: two of three consecutive points beyond 2 sigma on the same
   side of the mean (the third anywhere).

Every point of a rule's run is flagged, as Making Data Count charts colour them.
Moving ranges above ``3.267 x`` their mean are screened out before the mean moving
range is taken (``screen_outliers``, as NHSRplotthedots does by default), so one
wild month does not widen the limits. With ``change_points`` the limits are
recalculated from each stated period on: each segment has its own mean and
limits, and runs do not cross a change point. Special causes are labelled
improvement or concern from ``improvement`` (the direction that is better).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from placekit.errors import DataError

__all__ = [
    "D2",
    "MIN_POINTS",
    "MR_LIMIT",
    "RULES",
    "RULE_SET",
    "spc_chart",
    "spc_summary",
    "xmr",
]

#: Bias constant d2 for moving ranges of two points: sigma = mean moving range / D2.
D2 = 1.128
#: Upper range limit factor (D4 for n = 2): moving ranges above MR_LIMIT x mean are screened.
MR_LIMIT = 3.267
#: Fewest points a segment needs for limits (Making Data Count advises 15 to 20; 12 at least).
MIN_POINTS = 12
#: Rule columns of :func:`xmr`, in order.
RULES = ("outside_limits", "shift", "trend", "two_of_three")
#: The rule set, stated in every result.
RULE_SET = (
    "NHS England Making Data Count (as in NHSRplotthedots): XmR limits mean +/- 2.66 x mean "
    "moving range; special cause if a point is outside the limits, a shift of {shift}+ points "
    "on one side of the mean, a trend of {trend}+ points rising or falling, or two of three "
    "points beyond 2 sigma on one side"
)


def _runs(flag: np.ndarray, length: int) -> np.ndarray:
    """True for every element of a run of at least ``length`` consecutive Trues."""
    out = np.zeros(len(flag), dtype=bool)
    start = None
    for i, f in enumerate([*flag.tolist(), False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            if i - start >= length:
                out[start:i] = True
            start = None
    return out


def _segment_rules(
    y: np.ndarray, mean: float, sigma: float, *, shift_points: int, trend_points: int
) -> dict[str, np.ndarray]:
    upper, lower = mean + 3 * sigma, mean - 3 * sigma
    outside = (y > upper) | (y < lower)
    shift = _runs(y > mean, shift_points) | _runs(y < mean, shift_points)
    d = np.diff(y)
    trend = np.zeros(len(y), dtype=bool)
    rising = np.zeros(len(y), dtype=bool)
    for sign in (1, -1):
        step = sign * d > 0  # step i: from point i to i+1
        run = _runs(step, trend_points - 1)
        trend[:-1] |= run
        trend[1:] |= run
        if sign == 1:
            rising[:-1] |= run
            rising[1:] |= run
    two = np.zeros(len(y), dtype=bool)
    for side in (y > mean + 2 * sigma, y < mean - 2 * sigma):
        for i in range(len(y) - 2):
            window = side[i : i + 3]
            if window.sum() >= 2:
                two[i : i + 3] |= window
    return {
        "outside_limits": outside,
        "shift": shift,
        "trend": trend,
        "two_of_three": two,
        "_rising": rising,
    }


def xmr(
    values: pd.Series,
    *,
    change_points: Sequence[object] = (),
    improvement: Literal["increase", "decrease", "neutral"] = "neutral",
    shift_points: int = 7,
    trend_points: int = 7,
    screen_outliers: bool = True,
    min_points: int = MIN_POINTS,
) -> pd.DataFrame:
    """
    An XmR chart table with the Making Data Count rules.

    Parameters
    ----------
    values
        One value per period, in time order (index: periods or anything ordered).
        Missing values are refused: a hidden or unknown point cannot be charted.
    change_points
        Index labels from which the limits are recalculated (each starts a segment).
    improvement
        Which direction is better: ``"increase"``, ``"decrease"`` (e.g. referrals)
        or ``"neutral"``; labels special causes as improvement or concern.
    shift_points, trend_points
        Run lengths of the shift and trend rules (7, the Making Data Count default).
    screen_outliers
        Leave moving ranges above ``3.267 x`` their mean out of the mean moving range.
    min_points
        Fewest points per segment.

    Returns
    -------
    pd.DataFrame
        Indexed like ``values``: ``value``, ``segment``, ``mean``, ``lower``,
        ``upper`` (process limits), ``lower_2sigma``, ``upper_2sigma``,
        ``moving_range``, one boolean column per rule of :data:`RULES`,
        ``special_cause`` and ``variation`` (``"common cause"``, ``"special cause:
        improvement"``, ``"special cause: concern"`` or ``"special cause: neither"``).
        ``attrs`` records the rule set and every option.

    Raises
    ------
    DataError
        For missing values, a change point not in the index, a segment shorter
        than ``min_points``, or run lengths below 2.
    """
    if not isinstance(values, pd.Series):
        msg = f"values must be a pandas Series; got {type(values).__name__}."
        raise DataError(msg)
    if improvement not in ("increase", "decrease", "neutral"):
        msg = f"improvement must be 'increase', 'decrease' or 'neutral'; got {improvement!r}."
        raise DataError(msg)
    for name, n in (("shift_points", shift_points), ("trend_points", trend_points)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            msg = f"{name} must be a whole number of at least 2; got {n!r}."
            raise DataError(msg)
    y = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(y).all():
        bad = [str(i) for i in values.index[~np.isfinite(y)]][:6]
        msg = (
            f"the series has {int((~np.isfinite(y)).sum())} missing or hidden values ({bad}); "
            "an SPC chart needs every point. Choose a larger area or group (so totals are not "
            "hidden), or a coarser period."
        )
        raise DataError(msg)
    index = list(values.index)
    starts = [0]
    for cp in change_points:
        if cp not in index:
            matches = [i for i, v in enumerate(index) if str(v) == str(cp)]
            if not matches:
                msg = (
                    f"change point {cp!r} is not a period of the series "
                    f"({index[0]} to {index[-1]})."
                )
                raise DataError(msg)
            starts.append(matches[0])
        else:
            starts.append(index.index(cp))
    starts = sorted(set(starts))
    bounds = [*starts, len(y)]
    seg = np.zeros(len(y), dtype=int)
    cols: dict[str, np.ndarray] = {
        k: np.full(len(y), np.nan)
        for k in ("mean", "lower", "upper", "lower_2sigma", "upper_2sigma")
    }
    rules = {r: np.zeros(len(y), dtype=bool) for r in RULES}
    rising = np.zeros(len(y), dtype=bool)
    mr = np.full(len(y), np.nan)
    for k, (a, b) in enumerate(itertools.pairwise(bounds)):
        if b - a < min_points:
            msg = (
                f"segment {k + 1} ({index[a]} to {index[b - 1]}) has {b - a} points; limits need "
                f"at least {min_points}. Move or drop the change point, or wait for more data."
            )
            raise DataError(msg)
        ys = y[a:b]
        seg[a:b] = k + 1
        mrs = np.abs(np.diff(ys))
        mr[a + 1 : b] = mrs
        mr_bar = float(mrs.mean())
        if screen_outliers and mr_bar > 0:
            kept = mrs[mrs <= MR_LIMIT * mr_bar]
            mr_bar = float(kept.mean()) if len(kept) else mr_bar
        sigma = mr_bar / D2
        mean = float(ys.mean())
        cols["mean"][a:b] = mean
        cols["lower"][a:b] = mean - 3 * sigma
        cols["upper"][a:b] = mean + 3 * sigma
        cols["lower_2sigma"][a:b] = mean - 2 * sigma
        cols["upper_2sigma"][a:b] = mean + 2 * sigma
        found = _segment_rules(
            ys, mean, sigma, shift_points=shift_points, trend_points=trend_points
        )
        for r in RULES:
            rules[r][a:b] = found[r]
        rising[a:b] = found["_rising"]
    special = np.logical_or.reduce([rules[r] for r in RULES])
    above = y > cols["mean"]
    if improvement == "neutral":
        label = np.where(special, "special cause: neither", "common cause")
    else:
        # the side of the mean speaks for limits, shifts and two-of-three; a trend speaks by
        # its direction (a rising run of referrals is a concern even below the mean); a point
        # that two rules read opposite ways is a concern
        up_good = improvement == "increase"
        side = rules["outside_limits"] | rules["shift"] | rules["two_of_three"]
        bad_side = side & (above != up_good)
        bad_trend = rules["trend"] & (rising != up_good)
        label = np.where(
            special,
            np.where(bad_side | bad_trend, "special cause: concern", "special cause: improvement"),
            "common cause",
        )
    out = pd.DataFrame(
        {"value": y, "segment": seg, **cols, "moving_range": mr, **rules},
        index=values.index,
    )
    out["special_cause"] = special
    out["variation"] = label
    out.attrs.update(
        {
            "method": RULE_SET.format(shift=shift_points, trend=trend_points),
            "sigma": "mean moving range / 1.128"
            + ("; moving ranges above 3.267 x mean screened out" if screen_outliers else ""),
            "change_points": [str(index[s]) for s in starts[1:]],
            "improvement": improvement,
        }
    )
    return out


def spc_summary(chart: pd.DataFrame) -> str:
    """
    One or two plain sentences about an XmR chart from :func:`xmr`.

    Returns
    -------
    str
        E.g. "Common cause variation only: no Making Data Count rule fired." or the
        rules that fired, the periods and whether they are improvement or concern.
    """
    if not bool(chart["special_cause"].any()):
        return "Common cause variation only: no Making Data Count rule fired."
    parts = []
    for r in RULES:
        hit = chart.index[chart[r].to_numpy(dtype=bool)]
        if len(hit):
            parts.append(f"{r.replace('_', ' ')} at {len(hit)} point(s) ({hit[0]} to {hit[-1]})")
    kinds = sorted(set(chart.loc[chart["special_cause"], "variation"]))
    return "Special cause variation: " + "; ".join(parts) + f". ({', '.join(kinds)})"


def spc_chart(
    chart: pd.DataFrame,
    path: str | Path,
    *,
    title: str = "",
    unit: str = "",
    attribution: str = "",
) -> Path:
    """
    Draw an XmR chart from :func:`xmr` to a PNG or SVG file (matplotlib), atomically.

    Parameters
    ----------
    chart
        From :func:`xmr`.
    path
        ``.png`` or ``.svg``.
    title, unit
        Chart title and the value's unit (y-axis label).
    attribution
        A line printed under the chart.

    Returns
    -------
    Path

    Raises
    ------
    DataError
        For another extension.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from placekit.export import atomic_path

    p = Path(path)
    if p.suffix.lower() not in (".png", ".svg"):
        msg = f"an SPC chart is written as .png or .svg; got {p.name!r}."
        raise DataError(msg)
    x = np.arange(len(chart))
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=110)
    try:
        for s in sorted(set(chart["segment"])):
            m = (chart["segment"] == s).to_numpy()
            xs = x[m]
            ax.plot(xs, chart["mean"].to_numpy()[m], color="#231f20", lw=1)
            for col in ("lower", "upper"):
                ax.plot(xs, chart[col].to_numpy()[m], color="#7b7d7d", lw=1, ls="--")
        ax.plot(x, chart["value"], color="#a6a6a6", lw=1.2, marker="o", ms=4, mfc="#a6a6a6")
        colours = {
            "special cause: improvement": "#289de0",
            "special cause: concern": "#fab428",
            "special cause: neither": "#361475",
        }
        for lab, colour in colours.items():
            m = (chart["variation"] == lab).to_numpy()
            if m.any():
                ax.plot(
                    x[m],
                    chart["value"].to_numpy()[m],
                    ls="",
                    marker="o",
                    ms=6,
                    color=colour,
                    label=lab,
                )
        step = max(1, len(chart) // 12)
        ax.set_xticks(x[::step])
        ax.set_xticklabels([str(i) for i in chart.index[::step]], rotation=45, ha="right")
        ax.set_ylabel(unit)
        ax.set_title(title, loc="left")
        if bool(chart["special_cause"].any()):
            ax.legend(
                loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=3, fontsize=8, frameon=False
            )
        note = "XmR chart, Making Data Count rules; dashed: process limits"
        fig.text(0.01, 0.01, f"{note}. {attribution}".strip(), fontsize=7, color="#555555")
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        with atomic_path(p) as tmp:
            fig.savefig(tmp, format=p.suffix.lower().lstrip("."))
    finally:
        plt.close(fig)
    return p

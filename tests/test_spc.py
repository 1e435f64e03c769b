"""SPC: XmR limits and the Making Data Count rules on hand-made series with known signals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from placekit.errors import DataError
from placekit.spc import RULES, spc_chart, spc_summary, xmr


def _s(values) -> pd.Series:
    v = np.asarray(values, dtype=float)
    return pd.Series(v, index=pd.period_range("2022-01", periods=len(v), freq="M").astype(str))


def _where(chart: pd.DataFrame, col: str) -> list[int]:
    return [int(i) for i in np.flatnonzero(chart[col].to_numpy(dtype=bool))]


BASE = np.tile([9.0, 13.0], 12)  # mean 11, every moving range 4: sigma = 4 / 1.128


def test_limits_by_hand_and_common_cause():
    c = xmr(_s(BASE))
    sigma = 4 / 1.128
    assert c["mean"].iloc[0] == pytest.approx(11.0)
    assert c["upper"].iloc[0] == pytest.approx(11 + 3 * sigma)
    assert c["lower"].iloc[0] == pytest.approx(11 - 3 * sigma)
    assert c["upper_2sigma"].iloc[0] == pytest.approx(11 + 2 * sigma)
    assert not c["special_cause"].any()
    assert set(c["variation"]) == {"common cause"}
    assert "Making Data Count" in c.attrs["method"]
    assert spc_summary(c).startswith("Common cause")


def test_single_point_outside_limits_and_screening():
    y = BASE.copy()
    y[10] = 30.0
    c = xmr(_s(y))
    assert _where(c, "outside_limits") == [10]
    assert _where(c, "special_cause") == [10]
    # the two moving ranges around the outlier are screened out of the mean moving range
    unscreened = xmr(_s(y), screen_outliers=False)
    assert unscreened["upper"].iloc[0] > c["upper"].iloc[0]


def test_shift_of_seven_on_one_side():
    y = BASE.copy()
    y[9:16] = [12.0, 12.5, 12.0, 12.5, 12.0, 12.5, 12.0]  # 7 points above the mean, in limits
    c = xmr(_s(y))
    assert _where(c, "shift") == list(range(9, 16))
    y6 = BASE.copy()
    y6[9:16] = [12.0, 12.5, 12.0, 12.5, 12.0, 12.5, 9.0]  # six are not enough
    assert not xmr(_s(y6))["shift"].any()
    assert _where(xmr(_s(y6), shift_points=6), "shift") == list(range(9, 15))


def test_trend_of_seven_rising_or_falling():
    y = BASE.copy()
    y[8:15] = [8, 9, 10, 11, 12, 13, 14]
    assert _where(xmr(_s(y)), "trend") == list(range(8, 15))
    down = BASE.copy()
    down[8:15] = [14, 13, 12, 11, 10, 9, 8]
    assert _where(xmr(_s(down)), "trend") == list(range(8, 15))
    six = BASE.copy()
    six[8:14] = [8, 9, 10, 11, 12, 13]
    assert not xmr(_s(six))["trend"].any()


def test_two_of_three_beyond_two_sigma():
    y = BASE.copy()
    y[11:13] = 20.0  # by hand: mean 11.75, sigma 4.26 / 1.128, 2 sigma 19.3, 3 sigma 23.1
    c = xmr(_s(y))
    assert c["upper_2sigma"].iloc[0] == pytest.approx(11.75 + 2 * (98 / 23) / 1.128)
    assert c["upper_2sigma"].iloc[0] < 20.0 < c["upper"].iloc[0]
    assert _where(c, "two_of_three") == [11, 12]
    assert not c["outside_limits"].any()
    one = BASE.copy()
    one[11] = 20.0  # one point beyond 2 sigma is not a signal
    assert not xmr(_s(one))["two_of_three"].any()


def test_improvement_direction_labels():
    y = BASE.copy()
    y[10] = 30.0
    worse = xmr(_s(y), improvement="decrease")
    better = xmr(_s(y), improvement="increase")
    assert worse["variation"].iloc[10] == "special cause: concern"
    assert better["variation"].iloc[10] == "special cause: improvement"


def test_change_point_recalculates_limits():
    y = np.r_[np.tile([19.0, 23.0], 7), np.tile([9.0, 13.0], 7)]
    one = xmr(_s(y))
    assert one["shift"].all()  # everything is a shift around the single mean of 16
    idx = _s(y).index
    two = xmr(_s(y), change_points=[idx[14]])
    assert not two["special_cause"].any()
    assert list(two["mean"].unique()) == [21.0, 11.0]
    assert list(two["segment"].unique()) == [1, 2]
    assert two.attrs["change_points"] == [idx[14]]


def test_rules_listed_and_refusals():
    assert RULES == ("outside_limits", "shift", "trend", "two_of_three")
    y = _s(BASE)
    y.iloc[3] = np.nan
    with pytest.raises(DataError, match="missing or hidden"):
        xmr(y)
    with pytest.raises(DataError, match="not a period"):
        xmr(_s(BASE), change_points=["1999-01"])
    with pytest.raises(DataError, match="at least 12"):
        xmr(_s(BASE), change_points=[_s(BASE).index[20]])
    with pytest.raises(DataError, match="improvement"):
        xmr(_s(BASE), improvement="up")  # type: ignore[arg-type]


def test_chart_png(tmp_path):
    pytest.importorskip("matplotlib")
    p = spc_chart(xmr(_s(BASE)), tmp_path / "c.png", title="t", unit="n")
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [f.name for f in tmp_path.iterdir()] == ["c.png"]
    with pytest.raises(DataError, match="png"):
        spc_chart(xmr(_s(BASE)), tmp_path / "c.gif")


def test_a_trend_is_read_by_its_direction_not_its_side():
    """Seven rising points straddling the mean: a concern when lower is better, whichever side."""
    y = pd.Series([60, 40, 60, 40, 60, 40, 60, 40, 60, 40, 40, 42, 44, 46, 48, 50, 52], dtype=float)
    worse_up = xmr(y, improvement="decrease")
    run = worse_up.index[-7:]
    assert worse_up.loc[run, "trend"].all()
    assert not worse_up.loc[run, ["outside_limits", "shift", "two_of_three"]].any().any()
    assert (worse_up.loc[run, "variation"] == "special cause: concern").all()
    better_up = xmr(y, improvement="increase")
    assert (better_up.loc[run, "variation"] == "special cause: improvement").all()

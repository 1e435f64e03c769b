"""Pilots: the file format, planted effects, null coverage, parallel trends, refusals."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from placekit.errors import DataError
from placekit.pilots import (
    _sc_weights,
    did_effect,
    evaluate_pilot,
    list_pilots,
    load_pilot,
    parse_pilot,
    save_pilot,
    synthetic_control_effect,
    validate_pilot,
)
from placekit.timeseries import read_series

N_MONTHS, START = 36, 24  # 2022-01 .. 2024-12, pilot from 2024-01
PRE = np.arange(N_MONTHS) < START
POST = ~PRE


@pytest.fixture(scope="module")
def design(place):
    """Three pilot LSOAs of one locality and 24 comparison LSOAs outside it (real codes)."""
    loc = place.codes(place.locality_level)
    first = sorted(loc.unique())[0]
    pilots = sorted(loc.index[loc == first])[:3]
    outside = sorted(loc.index[loc != first])
    rng = np.random.default_rng(0)
    comps = sorted(rng.choice(outside, 24, replace=False))
    level = 6 + 0.4 * place.indicators["imd2025_score"].fillna(20.0)
    return pilots, comps, level


def _panel(level, pilots, comps, rng, *, effect=0.0, pre_drift=0.0):
    lam_p = np.repeat(level[pilots].to_numpy()[:, None], N_MONTHS, axis=1)
    lam_c = np.repeat(level[comps].to_numpy()[:, None], N_MONTHS, axis=1)
    t = np.arange(N_MONTHS) - START
    lam_p = lam_p + np.where(PRE, pre_drift * t, 0.0) + np.where(POST, effect, 0.0)
    return rng.poisson(np.clip(lam_p, 0.5, None)).astype(float), rng.poisson(lam_c).astype(float)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_planted_effect_recovered_within_interval(design, seed):
    pilots, comps, level = design
    y_p, y_c = _panel(level, pilots, comps, np.random.default_rng(seed), effect=-4.0)
    did = did_effect(y_p, y_c, PRE, POST)
    assert did.lower <= -4.0 <= did.upper
    assert did.upper < 0  # detected
    sc = synthetic_control_effect(y_p, y_c, PRE, POST, n_placebo=40, random_state=seed)
    assert sc.lower <= -4.0 <= sc.upper
    assert sc.extra["weights"].sum() == pytest.approx(1.0)
    assert (sc.extra["weights"] >= 0).all()


def test_null_interval_covers_zero_at_the_stated_rate(design):
    pilots, comps, level = design
    rng = np.random.default_rng(2024)
    covered, parallel = 0, 0
    n = 200
    for _ in range(n):
        y_p, y_c = _panel(level, pilots, comps, rng)
        e = did_effect(y_p, y_c, PRE, POST)
        covered += e.lower <= 0 <= e.upper
        parallel += bool(e.extra["parallel"])
    assert 0.90 <= covered / n <= 0.99, covered
    assert parallel / n >= 0.90, parallel  # the trend check rarely cries wolf


def test_synthetic_control_null_interval_covers_zero_at_the_stated_rate(design):
    """Under no effect the synthetic-control 95 % interval covers zero in about 95 % of runs.

    200 null simulations, 40 kept placebo fits each (placebos with a pre-pilot MSPE over
    5 times the pilot's dropped). Observed when written: 185 of 200 (92.5 %), with about
    4 % of placebo fits dropped; about 7 s. The band 88-99 % allows the binomial spread
    of 200 runs (sd 1.5 points) around a nominal 95 %.
    """
    pilots, comps, level = design
    rng = np.random.default_rng(2024)
    covered, dropped, fitted = 0, 0, 0
    n = 200
    for i in range(n):
        y_p, y_c = _panel(level, pilots, comps, rng)
        e = synthetic_control_effect(y_p, y_c, PRE, POST, n_placebo=40, random_state=i)
        covered += e.lower <= 0 <= e.upper
        dropped += e.extra["placebo_dropped"]
        fitted += e.extra["placebo_fitted"]
        assert e.n_placebo == 40 and e.extra["exclusion_applied"]
    assert 0.88 <= covered / n <= 0.99, covered
    assert 0 < dropped / fitted < 0.25, (dropped, fitted)


def test_placebos_with_poor_pre_fit_are_dropped(design):
    """Donors far above the rest make placebo groups the others cannot reproduce: dropped."""
    pilots, comps, level = design
    rng = np.random.default_rng(5)
    y_p, y_c = _panel(level, pilots, comps, rng)
    y_c[0] += 60.0  # a donor no mix of the others can track
    e = synthetic_control_effect(y_p, y_c, PRE, POST, n_placebo=40, random_state=0)
    assert e.extra["placebo_dropped"] > 0
    assert e.extra["placebo_fitted"] == e.n_placebo + e.extra["placebo_dropped"]
    assert f"{e.extra['placebo_dropped']} of {e.extra['placebo_fitted']}" in e.method
    assert "5 times the pilot's" in e.method
    loose = synthetic_control_effect(
        y_p, y_c, PRE, POST, n_placebo=40, random_state=0, mspe_ratio=1e9
    )
    assert loose.extra["placebo_dropped"] == 0 and loose.extra["placebo_fitted"] == 40
    assert loose.estimate == pytest.approx(e.estimate)  # the estimate itself is unchanged
    with pytest.raises(DataError, match="mspe_ratio must be a number above 1"):
        synthetic_control_effect(y_p, y_c, PRE, POST, mspe_ratio=1.0)


def test_violated_parallel_trends_are_flagged(design):
    pilots, comps, level = design
    flagged = 0
    for seed in range(10):
        y_p, y_c = _panel(level, pilots, comps, np.random.default_rng(seed), pre_drift=0.4)
        e = did_effect(y_p, y_c, PRE, POST)
        flagged += not e.extra["parallel"]
    assert flagged >= 9


def test_refusals(design):
    pilots, comps, level = design
    y_p, y_c = _panel(level, pilots, comps, np.random.default_rng(0))
    short = np.arange(N_MONTHS) < 4
    with pytest.raises(DataError, match="at least 6"):
        did_effect(y_p, y_c, short, ~short)
    with pytest.raises(DataError, match=r"too few areas.*at least 8 comparison"):
        did_effect(y_p, y_c[:5], PRE, POST)
    with pytest.raises(DataError, match="no data in the pilot period"):
        did_effect(y_p, y_c, np.ones(N_MONTHS, bool), np.zeros(N_MONTHS, bool))


def test_sc_weights_match_pysyncon():
    pysyncon = pytest.importorskip("pysyncon")
    rng = np.random.default_rng(7)
    z0 = rng.poisson(15, (24, 20)).astype(float)
    z1 = 0.5 * z0[:, 2] + 0.3 * z0[:, 5] + 0.2 * z0[:, 9]
    x0 = pd.DataFrame(z0, index=[f"t{i}" for i in range(24)], columns=[f"c{i}" for i in range(20)])
    x1 = pd.Series(z1, index=x0.index, name="treated")
    ref = pysyncon.Synth()
    ref.fit(X0=x0, X1=x1, Z0=x0, Z1=x1, custom_V=np.ones(24))
    ours = _sc_weights(z1, z0)
    assert np.abs(ours - np.asarray(ref.W)).max() < 2e-3
    assert ours[[2, 5, 9]] == pytest.approx([0.5, 0.3, 0.2], abs=2e-3)


def test_evaluate_end_to_end_on_sheffield(place, design):
    pilots, _, level = design
    rng = np.random.default_rng(11)
    months = pd.period_range("2022-01", periods=N_MONTHS, freq="M")
    lam = np.repeat(level.to_numpy()[:, None], N_MONTHS, axis=1)
    rows = np.isin(place.lsoa.index, pilots)
    lam[np.ix_(rows, POST)] -= 4.0
    y = rng.poisson(lam)
    df = pd.DataFrame(
        {
            "lsoa_code": np.repeat(place.lsoa.index, N_MONTHS),
            "period": np.tile(months.astype(str), len(place.lsoa)),
            "referrals": y.ravel(),
        }
    )
    series = read_series(place, df.to_csv(index=False).encode(), name="r.csv")
    pilot = {
        "placekit_pilot": 1,
        "name": "t",
        "areas": pilots,
        "start": "2024-01",
        "demand": "referrals",
    }
    cluster = pd.Series(0, index=place.lsoa.index)
    ev = evaluate_pilot(pilot, series, place, cluster=cluster, n_placebo=40)
    s = ev.summary()
    assert s["lower"] <= -4.0 <= s["upper"] and s["estimate"] < 0
    assert {"estimate", "lower", "upper", "method"} <= set(s)
    scs = s["synthetic_control"]
    assert scs["placebo_mspe_ratio"] == 5.0 and scs["placebo_dropped"] >= 0
    assert scs["placebo_fitted"] == scs["n_placebo"] + scs["placebo_dropped"]
    json.dumps(s, allow_nan=False, default=float)
    assert ev.sentences()[0].startswith("About") and "fewer" in ev.sentences()[0]
    loc = place.codes(place.locality_level)
    assert not set(loc[ev.comparisons["comparison"]]) & set(loc[pilots])
    t = ev.per_period
    assert list(t.columns[:3]) == ["phase", "pilot", "comparison"]
    assert (t["phase"] == "pilot").sum() == 12
    mean_pilot = y[rows].mean(axis=0)
    shown = t["pilot"].notna().to_numpy()
    assert shown.sum() >= 24  # most months are published ...
    assert np.allclose(t["pilot"].to_numpy()[shown], mean_pilot[shown])  # ... exactly
    hidden = int((~shown).sum() + t["comparison"].isna().sum())
    assert any(f"({hidden} hidden)" in n for n in ev.notes)  # ... and the rest said
    assert t["estimate"].isna().to_numpy()[~shown].all()
    # bad pilots: outside the pack, a start outside the data, another demand
    with pytest.raises(DataError, match="not LSOAs of"):
        evaluate_pilot({**pilot, "areas": ["E01000001"]}, series, place, cluster=cluster)
    with pytest.raises(DataError, match="outside the data"):
        evaluate_pilot({**pilot, "start": "2026-01"}, series, place, cluster=cluster)
    with pytest.raises(DataError, match="at least 6"):
        evaluate_pilot({**pilot, "start": "2022-03"}, series, place, cluster=cluster)
    with pytest.raises(DataError, match="demand"):
        evaluate_pilot({**pilot, "demand": "visits"}, series, place, cluster=cluster)


GOOD = {
    "placekit_pilot": 1,
    "name": "P",
    "areas": ["E01007863", "E01007864"],
    "start": "2024-01",
    "end": "2024-12",
    "demand": "referrals",
}


def test_file_round_trip_atomic_and_listing(tmp_path, place):
    p = save_pilot(GOOD, tmp_path / "a.json")
    assert load_pilot(p) == validate_pilot(GOOD)
    assert load_pilot(p, place=place)["areas"] == GOOD["areas"]
    (tmp_path / "b.json").write_text("{not json")
    listing = list_pilots(tmp_path)
    assert listing["ok"].tolist() == [True, False]
    assert "not valid JSON" in listing["problem"].iloc[1]
    assert sorted(f.name for f in tmp_path.iterdir()) == ["a.json", "b.json"]  # no temp files
    with pytest.raises(DataError, match=r"end.*before"):
        validate_pilot({**GOOD, "end": "2023-01"})
    with pytest.raises(DataError, match="YYYY-MM"):
        validate_pilot({**GOOD, "start": "Jan 2024"})
    with pytest.raises(DataError, match="2011 codes"):
        validate_pilot({**GOOD, "areas": ["E01033278"]}, place=place)
    with pytest.raises(DataError, match="unknown key"):
        validate_pilot({**GOOD, "extra": 1})


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.text(max_size=12),
    st.lists(st.text(max_size=10), max_size=3),
    st.sampled_from(["2024-01", "2023-13", "E01007863", ["E01007863"], 1]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([*GOOD, "comparisons", "description", "x"]), _values, max_size=8
    )
)
def test_pilot_format_property(doc):
    try:
        clean = validate_pilot(doc)
    except DataError:
        return
    assert validate_pilot(clean) == clean
    assert parse_pilot(json.dumps(clean)) == clean


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_parse_pilot_bytes_never_crash(raw):
    with contextlib.suppress(DataError):
        parse_pilot(raw)

"""Time-series uploads: layouts, periods, bad input, 2011 codes, disclosure control, audit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from placekit.disclosure import audit
from placekit.errors import DataError, SchemaError
from placekit.timeseries import aggregate_periods, parse_periods, protect_series, read_series

MONTHS = pd.period_range("2023-01", "2024-12", freq="M")


def _long(place, *, lam=10.0, seed=0, months=MONTHS, codes=None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    codes = list(place.lsoa.index if codes is None else codes)
    y = rng.poisson(lam, (len(codes), len(months)))
    return pd.DataFrame(
        {
            "lsoa_code": np.repeat(codes, len(months)),
            "period": np.tile(months.astype(str), len(codes)),
            "referrals": y.ravel(),
        }
    )


def _csv(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode()


def test_long_and_wide_give_the_same_series_and_say_which(place):
    df = _long(place)
    s_long = read_series(place, _csv(df), name="r.csv")
    wide = df.pivot(index="lsoa_code", columns="period", values="referrals").reset_index()
    s_wide = read_series(place, _csv(wide), name="w.csv", column="referrals")
    assert s_long.layout == "long" and s_wide.layout == "wide"
    assert s_long.notes[0].startswith("long layout detected")
    assert s_wide.notes[0].startswith("wide layout detected")
    assert s_long.frequency == "month" and s_long.kind == "count"
    pd.testing.assert_frame_equal(s_long.values, s_wide.values)
    assert s_long.values.index.equals(place.lsoa.index)
    assert list(s_long.periods.astype(str)) == list(MONTHS.astype(str))
    # row order does not matter
    shuffled = df.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(
        read_series(place, _csv(shuffled), name="r.csv").values, s_long.values
    )


@pytest.mark.parametrize(
    ("labels", "freq", "first"),
    [
        (["2024-Q1", "2024-Q2", "Q3 2024"], "quarter", "2024Q1"),
        (["2024-W01", "2024-W02"], "week", "2024-01-01/2024-01-07"),
        (["Jan 2024", "February 2024", "2024/03"], "month", "2024-01"),
        (["2024-01-01", "2024-02-01"], "month", "2024-01"),
        (["2024-01-01", "2024-04-01", "2024-07-01"], "quarter", "2024Q1"),
        (["01/01/2024", "08/01/2024"], "week", "2024-01-01/2024-01-07"),
    ],
)
def test_period_labels(labels, freq, first):
    parsed, f = parse_periods(labels)
    assert f == freq
    assert str(parsed[0]) == first


def test_periods_mixing_frequencies_refused():
    with pytest.raises(DataError, match="mix"):
        parse_periods(["2024-01", "2024-Q2"])


def test_bad_input_messages_name_problem_and_fix(place):
    df = _long(place, codes=place.lsoa.index[:5])
    bad = df.copy()
    bad.loc[3, "period"] = "sometime"
    with pytest.raises(DataError, match=r"row 5 .*not periods.*2024-01"):
        read_series(place, _csv(bad), name="b.csv")
    gap = df[df["period"] != "2023-06"]
    with pytest.raises(DataError, match=r"gaps.*2023-06.*Add those periods"):
        read_series(place, _csv(gap), name="g.csv")
    dup = pd.concat([df, df.iloc[[7]]])
    with pytest.raises(DataError, match=r"LSOA and period repeat on rows 9 and 122.*one row per"):
        read_series(place, _csv(dup), name="d.csv")
    two = df.copy()
    two.loc[0, "lsoa_code"] = "E01033278"  # 2011-only (it split in 2021)
    two.loc[two["lsoa_code"] == place.lsoa.index[4], "lsoa_code"] = "E01034845"  # 2021-only
    with pytest.raises(DataError, match=r"mixes 2011-only.*2021-only.*one set of codes"):
        read_series(place, _csv(two), name="v.csv")
    frac = df.copy().astype({"referrals": float})
    frac.loc[2, "referrals"] = 2.5
    with pytest.raises(DataError, match="whole numbers"):
        read_series(place, _csv(frac), name="f.csv")
    several = df.assign(other=1)
    with pytest.raises(SchemaError, match=r"2 value columns .*Choose one with column="):
        read_series(place, _csv(several), name="s.csv")
    assert read_series(place, _csv(several), name="s.csv", column="other").column == "other"
    neither = df.rename(columns={"period": "when"}).assign(when="x")
    with pytest.raises(SchemaError, match="cannot tell the layout"):
        read_series(place, _csv(neither), name="n.csv")


def test_2011_codes_converted_in_whole_counts(place):
    lk = place.lookup11
    codes11 = sorted(lk["LSOA11CD"].unique())
    df = _long(place, codes=codes11, seed=3)
    s = read_series(place, _csv(df), name="r11.csv")
    assert s.vintage == "2011"
    assert any("2011 LSOA codes converted" in n for n in s.notes)
    v = s.values.to_numpy()
    assert np.isfinite(v).all() and (v == np.round(v)).all()
    assert v.sum() == df["referrals"].sum()  # every count kept exactly
    split = lk.loc[lk["LSOA11CD"] == "E01033278", "LSOA21CD"].tolist()
    got = s.values.loc[split].sum()
    want = df[df["lsoa_code"] == "E01033278"].set_index("period")["referrals"]
    assert got.to_numpy().tolist() == want.to_numpy().tolist()


def test_small_counts_aggregated_before_hiding_and_said(place):
    s = read_series(place, _csv(_long(place, lam=1.5, seed=4)), name="small.csv")
    prot = protect_series(s, place)
    assert prot.frequency in ("quarter", "year")
    assert any("months aggregated to quarters" in n for n in prot.notes)
    # nothing of 1 to 4 is ever published, at any level or period
    for table in prot.published.values():
        v = table.to_numpy()
        assert not ((v >= 1) & (v < place.min_count)).any()


def test_disclosure_audit_finds_nothing_to_recover(place):
    s = read_series(place, _csv(_long(place, lam=6.0, seed=5)), name="r.csv")
    pilot = list(place.lsoa.index[:3])
    comps = list(place.lsoa.index[40:60])
    prot = protect_series(
        s, place, groups={"g": {"pilot": pilot, "comparison": comps}}, max_primary_share=1.0
    )
    assert prot.frequency == "month"
    hidden_cells = sum(int(h.to_numpy().sum()) for h in prot.hidden.values())
    assert hidden_cells > 0  # Poisson(6) has plenty of 1 to 4
    groupings = dict(prot.groupings)
    for p in list(prot.published["lsoa"].columns)[:6]:
        pub = {lvl: t[p] for lvl, t in prot.published.items()}
        res = audit(pub, groupings, place.lsoa.index, min_count=place.min_count)
        assert res.ok, res.summary()
        assert res.n_exact == 0


def test_rates_are_not_suppressed(place):
    df = _long(place, codes=place.lsoa.index[:20]).rename(columns={"referrals": "rate per 1000"})
    s = read_series(place, _csv(df), name="rate.csv")
    assert s.kind == "rate"
    prot = protect_series(s, place)
    assert "not disclosure controlled" in prot.notes[-1]


def test_aggregate_periods_keeps_only_complete_quarters():
    v = pd.DataFrame(
        [[1.0, 2.0, 3.0, 4.0]], columns=pd.period_range("2024-01", periods=4, freq="M")
    )
    q = aggregate_periods(v, "quarter")
    assert list(q.columns.astype(str)) == ["2024Q1"]
    assert q.iloc[0, 0] == 6.0


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n_areas=st.integers(1, 6),
    n_months=st.integers(2, 14),
    values=st.lists(st.integers(0, 60), min_size=84, max_size=84),
    dup=st.booleans(),
    drop_period=st.booleans(),
)
def test_loader_property(place, n_areas, n_months, values, dup, drop_period):
    months = pd.period_range("2022-11", periods=n_months, freq="M")
    codes = list(place.lsoa.index[:n_areas])
    df = pd.DataFrame(
        {
            "lsoa_code": np.repeat(codes, n_months),
            "period": np.tile(months.astype(str), n_areas),
            "referrals": values[: n_areas * n_months],
        }
    )
    if dup:
        df = pd.concat([df, df.iloc[[0]]])
        with pytest.raises(DataError, match="repeat"):
            read_series(place, _csv(df), name="p.csv")
        return
    if drop_period and n_months >= 3:
        df = df[df["period"] != str(months[1])]
        with pytest.raises(DataError, match="gaps"):
            read_series(place, _csv(df), name="p.csv")
        return
    s = read_series(place, _csv(df), name="p.csv")
    got = s.values.loc[codes].to_numpy()
    assert got.ravel().tolist() == df["referrals"].astype(float).tolist()
    assert s.values.drop(index=codes).isna().all().all()

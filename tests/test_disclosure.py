"""Disclosure control under differencing: the LP attack, hand-worked cases, properties."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from placekit import disclosure
from placekit.disclosure import audit, audit_upload, protect, suppress_counts
from placekit.errors import DataError

N_UPLOADS = 30
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


# ----------------------------------------------------------------------------- fixtures


def _structure(n: int = 300, sizes: tuple[int, ...] = (25, 90, 6), seed: int = 0):
    """LSOAs in a unit square and Voronoi groupings: overlapping, not nesting."""
    rng = np.random.default_rng(seed)
    pts = rng.random((n, 2))
    index = pd.Index([f"E01{i:06d}" for i in range(n)])
    names = ("ward", "neighbourhood", "lac", "msoa", "extra")
    groupings = {}
    for name, k in zip(names, sizes, strict=False):
        centres = rng.random((k, 2))
        label = ((pts[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
        groupings[name] = pd.Series([f"{name}{v:03d}" for v in label], index=index)
    return index, groupings


def _upload(index: pd.Index, seed: int, mean: float = 3.0) -> pd.Series:
    """Many small counts: Poisson with gamma-distributed low means."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(1.0, mean, len(index))
    return pd.Series(rng.poisson(lam).astype(float), index=index, name="referrals")


def _true_tables(counts: pd.Series, groupings) -> dict[str, pd.Series]:
    out = {"lsoa": counts}
    for name, key in groupings.items():
        out[name] = counts.groupby(key).sum(min_count=1)
    out["all"] = pd.Series([counts.sum(min_count=1)], index=["all"])
    return out


def _naive(counts: pd.Series, hidden: pd.Series, groups: list[pd.Series]) -> pd.Series:
    """The old rule: no group with exactly one hidden cell (the baseline to beat)."""
    hidden = hidden.copy()
    changed = True
    while changed:
        changed = False
        for g in groups:
            n_hidden = hidden.groupby(g).sum()
            for label in n_hidden.index[n_hidden == 1]:
                members = g.index[g == label]
                cand = counts.loc[members][~hidden.loc[members]]
                if cand.empty:
                    continue
                nonzero = cand[cand > 0]
                pick = (nonzero if not nonzero.empty else cand).sort_values(kind="stable")
                hidden.loc[pick.index[0]] = True
                changed = True
    return hidden


def _old_publish(counts: pd.Series, groupings, min_count: int = 5) -> dict[str, pd.Series]:
    """What the old suppress_counts published at each level."""
    small = (counts >= 1) & (counts < min_count)
    city = pd.Series("all", index=counts.index)
    out = {"lsoa": counts.mask(_naive(counts, small, [*groupings.values(), city]))}
    for name, key in groupings.items():
        agg = counts.groupby(key).sum()
        h = _naive(agg, (agg >= 1) & (agg < min_count), [pd.Series("all", index=agg.index)])
        out[name] = agg.mask(h)
    total = counts.sum()
    out["all"] = pd.Series([np.nan if 1 <= total < min_count else total], index=["all"])
    return out


@pytest.fixture(scope="module")
def synthetic():
    return _structure()


@pytest.fixture(scope="module")
def attack_runs(synthetic):
    index, groupings = synthetic
    runs = []
    for seed in range(N_UPLOADS):
        counts = _upload(index, seed)
        t0 = time.perf_counter()
        prot = protect(counts, groupings)
        t1 = time.perf_counter()
        res = audit(prot.published, groupings, index)
        runs.append((counts, prot, res, t1 - t0, time.perf_counter() - t1))
    return runs


# ----------------------------------------------------------------------------- the attack


def test_lp_attack_recovers_no_hidden_cell(attack_runs):
    hidden_total = 0
    for counts, prot, res, _, _ in attack_runs:
        n_hidden = sum(int(prot.hidden[lvl].sum()) for lvl in prot.levels)
        assert len(res.intervals) == n_hidden  # every hidden cell of every level attacked
        assert res.n_exact == 0
        assert res.n_too_tight == 0
        assert res.ok
        assert (res.intervals["width"] >= 5).all()
        # the interval always contains the truth
        truth = _true_tables(counts, _structure()[1])
        for (lvl, code), row in res.intervals.iterrows():
            assert row["lower"] <= truth[lvl][code] <= row["upper"]
        hidden_total += n_hidden
    assert hidden_total > 30 * 150  # the uploads really are full of small counts


def test_lp_attack_breaks_the_old_method(synthetic):
    index, groupings = synthetic
    exact = tight = uploads_broken = 0
    for seed in range(N_UPLOADS):
        counts = _upload(index, seed)
        res = audit(_old_publish(counts, groupings), groupings, index)
        exact += res.n_exact
        tight += res.n_too_tight
        uploads_broken += res.n_exact > 0
        for (lvl, code), row in res.intervals[res.intervals["exact"]].iterrows():
            assert lvl != "lsoa" or row["lower"] == counts[code]  # a real recovery
    assert exact > 0
    assert uploads_broken >= 1
    assert tight > exact


def test_published_cells_are_true_sums_and_timings(attack_runs, synthetic):
    _, groupings = synthetic
    for counts, prot, _, t_protect, t_audit in attack_runs:
        truth = _true_tables(counts, groupings)
        for lvl in prot.levels:
            pub = prot.published[lvl]
            shown = pub.notna()
            np.testing.assert_array_equal(pub[shown], truth[lvl].reindex(pub.index)[shown])
            small = (truth[lvl] >= 1) & (truth[lvl] < 5)
            assert prot.hidden[lvl][small.reindex(pub.index)].all()
        assert t_protect < 10
        assert t_audit < 10


def test_audit_agrees_with_an_independent_attacker():
    index, groupings = _structure(80, sizes=(8, 25, 3), seed=3)
    for seed in range(2):
        counts = _upload(index, seed, mean=4.0)
        prot = protect(counts, groupings)
        res = audit(prot.published, groupings, index)
        mine = _independent_attack(prot.published, groupings, index)
        got = res.intervals[["lower", "upper"]]
        pd.testing.assert_frame_equal(
            got.sort_index(), mine.reindex(got.index).sort_index(), check_dtype=False
        )
        # and the old method: the independent attacker recovers what audit says
        old = _old_publish(counts, groupings)
        a = audit(old, groupings, index).intervals[["lower", "upper"]]
        b = _independent_attack(old, groupings, index).reindex(a.index)
        pd.testing.assert_frame_equal(a, b, check_dtype=False)


def _independent_attack(published, groupings, index) -> pd.DataFrame:
    """One linprog per bound, written from scratch: the attacker's view only."""
    lsoa = published["lsoa"].reindex(index)
    unknown = list(lsoa.index[lsoa.isna()])
    pos = {c: i for i, c in enumerate(unknown)}
    members = {"lsoa": {c: [c] for c in index}, "all": {"all": list(index)}}
    for name, key in groupings.items():
        members[name] = {code: list(key.index[key == code]) for code in key.dropna().unique()}
    a_eq, b_eq, targets = [], [], []
    for lvl, cells in members.items():
        for code, mem in cells.items():
            value = published[lvl].get(code, np.nan)
            row = np.zeros(len(unknown))
            for c in mem:
                if c in pos:
                    row[pos[c]] = 1
            known = sum(lsoa[c] for c in mem if c not in pos)
            if np.isnan(value):
                targets.append((lvl, code, row, known))
            elif row.any():
                a_eq.append(row)
                b_eq.append(value - known)
    out = {}
    eq = {"A_eq": np.array(a_eq), "b_eq": b_eq} if a_eq else {}
    for lvl, code, row, known in targets:
        if not row.any():  # every member shown: the cell is their sum
            out[(lvl, code)] = (known + 0.0, known + 0.0)
            continue
        lo = linprog(row, bounds=(0, None), method="highs", **eq)
        hi = linprog(-row, bounds=(0, None), method="highs", **eq)
        upper = np.inf if hi.status == 3 else np.floor(-hi.fun + known + 1e-6)
        out[(lvl, code)] = (np.ceil(lo.fun + known - 1e-6) + 0.0, upper)
    frame = pd.DataFrame.from_dict(out, orient="index", columns=["lower", "upper"])
    frame.index = pd.MultiIndex.from_tuples(frame.index, names=["level", "code"])
    return frame


def test_linprog_fallback_gives_the_same_intervals(monkeypatch):
    index, groupings = _structure(120, sizes=(10, 36, 4), seed=1)
    counts = _upload(index, 7)
    prot = protect(counts, groupings)
    warm = audit(prot.published, groupings, index)
    monkeypatch.setattr(disclosure, "_HIGHS", None)
    cold = audit(prot.published, groupings, index)
    pd.testing.assert_frame_equal(warm.intervals, cold.intervals)
    again = protect(counts, groupings)
    assert audit(again.published, groupings, index).ok


def test_thousand_lsoas_six_levels_in_seconds():
    index, groupings = _structure(1000, sizes=(30, 100, 7, 70), seed=2)
    counts = _upload(index, 0)
    t0 = time.perf_counter()
    prot = protect(counts, groupings)
    res = audit(prot.published, groupings, index)
    elapsed = time.perf_counter() - t0
    assert res.ok
    assert len(prot.levels) == 6
    assert elapsed < 30  # about 1 s with warm-started HiGHS


# ----------------------------------------------------------------------------- Sheffield


@pytest.fixture(scope="module")
def sheffield():
    gpd = pytest.importorskip("geopandas")
    bnd = DATA / "boundaries"
    if not (bnd / "sheffield_lsoa21.parquet").exists():
        pytest.skip("Sheffield boundaries not available")
    lsoa = gpd.read_parquet(bnd / "sheffield_lsoa21.parquet").to_crs(27700)
    lsoa = lsoa.set_index("LSOA21CD").sort_index()
    points = gpd.GeoDataFrame(geometry=lsoa.representative_point(), crs=lsoa.crs)
    groupings = {}
    for name, file, col in [
        ("ward", "sheffield_wards_2020", "WD20CD"),
        ("neighbourhood", "sheffield_neighbourhoods_100", "nhood_code"),
        ("msoa", "sheffield_msoa11", "MSOA11CD"),
        ("lac", "sheffield_lac_asc_localities_7", "ca_name"),
    ]:
        poly = gpd.read_parquet(bnd / f"{file}.parquet").to_crs(27700)[[col, "geometry"]]
        joined = gpd.sjoin(points, poly, how="left", predicate="within")
        groupings[name] = joined[col][~joined.index.duplicated()].reindex(lsoa.index)
    return lsoa.index, groupings


def test_lp_attack_on_the_sheffield_structure(sheffield):
    index, groupings = sheffield
    assert groupings["ward"].nunique() == 28
    for seed in range(N_UPLOADS):
        counts = _upload(index, seed, mean=(2.0, 8.0, 30.0)[seed % 3])
        prot = protect(counts, groupings)
        res = audit(prot.published, groupings, index)
        assert res.n_exact == 0
        assert res.ok


# ----------------------------------------------------------------------------- by hand


def _one_grouping():
    index = pd.Index(list("abcd"))
    return index, {"ward": pd.Series(["w1", "w1", "w2", "w2"], index=index)}


def test_one_hidden_cell_forces_its_group_partner():
    index, groupings = _one_grouping()
    counts = pd.Series([3, 10, 7, 8], index=index)
    prot = protect(counts, groupings)
    assert prot.hidden["lsoa"].tolist() == [True, True, False, False]
    assert prot.reason["lsoa"].tolist()[:2] == [
        "primary (1 to 4)",
        "secondary (protects a hidden cell)",
    ]
    assert prot.published["ward"].tolist() == [13, 15]
    assert prot.published["all"].tolist() == [28]
    iv = audit(prot.published, groupings, index).intervals
    assert iv.loc[("lsoa", "a")].tolist()[:2] == [0, 13]  # a + b = 13
    assert iv.loc[("lsoa", "b")].tolist()[:2] == [0, 13]


def test_two_by_two_table_needs_the_whole_rectangle():
    index = pd.Index(list("abcd"))
    groupings = {
        "row": pd.Series(["r1", "r1", "r2", "r2"], index=index),
        "col": pd.Series(["k1", "k2", "k1", "k2"], index=index),
    }
    counts = pd.Series([3, 10, 8, 20], index=index)
    prot = protect(counts, groupings)
    # a's only protection with every margin shown: a+t, b-t, c-t, d+t
    assert prot.hidden["lsoa"].all()
    assert not prot.hidden["row"].any()
    assert not prot.hidden["col"].any()
    res = audit(prot.published, groupings, index)
    assert res.intervals.loc[("lsoa", "a")].tolist()[:2] == [0, 11]  # a + c = 11
    assert res.ok
    # hiding only a and its row partner b is what the old rule did: col totals give a away
    naive = {
        "lsoa": counts.mask(index.isin(["a", "b"])),
        "row": pd.Series([13.0, 28.0], index=["r1", "r2"]),
        "col": pd.Series([11.0, 30.0], index=["k1", "k2"]),
        "all": pd.Series([41.0], index=["all"]),
    }
    broken = audit(naive, groupings, index)
    assert broken.n_exact == 2
    assert broken.intervals.loc[("lsoa", "a"), "lower"] == 3


def test_published_zero_next_to_a_small_count():
    index, groupings = _one_grouping()
    counts = pd.Series([0, 3, 7, 8], index=index)
    prot = protect(counts, groupings)
    assert prot.published["lsoa"]["a"] == 0  # zeros are shown
    assert prot.hidden["lsoa"]["b"]
    res = audit(prot.published, groupings, index)
    assert res.ok
    assert res.intervals.loc[("lsoa", "b"), "width"] >= 5
    # the old rule hides the zero as b's partner: w1 = 3 then bounds b to [0, 3]
    old = _old_publish(counts, groupings)
    assert old["lsoa"].isna().tolist() == [True, True, False, False]
    res_old = audit(old, groupings, index)
    assert res_old.intervals.loc[("lsoa", "b"), "upper"] == 3
    assert not res_old.ok
    # and with only b hidden, ward minus the published 0 is b itself
    only_b = dict(old, lsoa=counts.mask(index == "b").astype(float))
    assert audit(only_b, groupings, index).n_exact >= 1


def test_all_hidden_group_is_protected_from_the_grand_total():
    index, groupings = _one_grouping()
    counts = pd.Series([1, 2, 10, 12], index=index)
    prot = protect(counts, groupings)
    assert prot.hidden["lsoa"][["a", "b"]].all()
    assert prot.reason["ward"]["w1"] == "primary (1 to 4)"  # 3 is small itself
    res = audit(prot.published, groupings, index)
    assert res.ok
    assert res.intervals.loc[("ward", "w1"), "width"] >= 5
    # hiding just the small cells leaves w1 = all - w2 = 3
    naive = {
        "lsoa": counts.mask(counts < 5).astype(float),
        "ward": pd.Series([np.nan, 22.0], index=["w1", "w2"]),
        "all": pd.Series([25.0], index=["all"]),
    }
    broken = audit(naive, groupings, index)
    assert broken.intervals.loc[("ward", "w1")].tolist()[:2] == [3, 3]


def test_no_data_and_all_zero():
    index, groupings = _one_grouping()
    counts = pd.Series([np.nan, np.nan, 0, 0], index=index)
    prot = protect(counts, groupings)
    assert prot.reason["ward"]["w1"] == "no data"
    assert np.isnan(prot.published["ward"]["w1"])
    assert prot.published["ward"]["w2"] == 0
    assert not any(prot.hidden[lvl].any() for lvl in prot.levels)
    assert audit(prot.published, groupings, index, no_data=["a", "b"]).ok


def test_audit_rejects_inconsistent_tables():
    index, groupings = _one_grouping()
    tables = {
        "lsoa": pd.Series([np.nan, 5.0, 7.0, 8.0], index=index),
        "ward": pd.Series([3.0, 15.0], index=["w1", "w2"]),
        "all": pd.Series([28.0], index=["all"]),
    }
    with pytest.raises(DataError, match="inconsistent"):
        audit(tables, groupings, index)


def test_audit_upload_summary():
    index, groupings = _structure(60, sizes=(6, 15), seed=4)
    text = audit_upload(_upload(index, 1), groupings)
    assert "recovered exactly: 0" in text
    assert "PASS" in text
    assert "secondary" in text
    assert "referrals" in text


def test_min_count_and_protection_options():
    index, groupings = _structure(60, sizes=(6, 15), seed=5)
    counts = _upload(index, 2, mean=6.0)
    wide = protect(counts, groupings, min_count=5, protection=8)
    res = audit(wide.published, groupings, index, protection=8)
    assert res.ok
    assert (res.intervals["width"] >= 8).all()
    assert wide.protection == 8
    assert protect(counts, groupings, min_count=1).counts().loc["total", "primary"] == 0


# ----------------------------------------------------------------------------- Place glue


class _FakePlace(SimpleNamespace):
    def codes(self, level):
        return self.lsoa[f"{level}_code"].rename(level)


def _fake_place(with_levels: bool):
    index, groupings = _structure(80, sizes=(8, 25, 3), seed=6)
    lsoa = pd.DataFrame({f"{k}_code": v for k, v in groupings.items()})
    ind = pd.DataFrame({"user_x": _upload(index, 3)})
    levels = ("neighbourhood", "ward", "lac")
    levels = ("lsoa", *levels) if with_levels else levels
    return _FakePlace(lsoa=lsoa, indicators=ind, min_count=5, levels=levels), groupings


@pytest.mark.parametrize("with_levels", [True, False])
def test_suppress_counts_uses_one_pattern_for_every_level(with_levels):
    place, groupings = _fake_place(with_levels)
    prot = protect(place.indicators["user_x"], groupings)
    for level in ("lsoa", "ward", "neighbourhood", "lac", "all", "city"):
        got = suppress_counts(place, "user_x", level)
        want = prot.hidden["all" if level == "city" else level]
        pd.testing.assert_series_equal(got, want)
    with pytest.raises(DataError, match="not one of the levels"):
        suppress_counts(place, "user_x", "msoa")


# ----------------------------------------------------------------------------- properties


@st.composite
def _small_uploads(draw):
    n = draw(st.integers(2, 10))
    index = pd.Index([f"E01{i:06d}" for i in range(n)])
    n_levels = draw(st.integers(0, 3))
    groupings = {}
    for j in range(n_levels):
        labels = draw(st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=n, max_size=n))
        groupings[f"level{j}"] = pd.Series(
            [f"g{v}" if v is not None else np.nan for v in labels], index=index, dtype=object
        )
    values = draw(st.lists(st.one_of(st.integers(0, 12), st.just(-1)), min_size=n, max_size=n))
    counts = pd.Series([np.nan if v < 0 else float(v) for v in values], index=index)
    return counts, groupings


_PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPS
@given(_small_uploads())
def test_property_published_are_true_sums_and_nothing_is_recoverable(case):
    counts, groupings = case
    prot = protect(counts, groupings)
    truth = _true_tables(counts, groupings)
    for lvl in prot.levels:
        pub = prot.published[lvl]
        true = truth[lvl].reindex(pub.index)
        shown = pub.notna()
        np.testing.assert_array_equal(pub[shown], true[shown])
        assert (prot.hidden[lvl] == (pub.isna() & true.notna())).all()
        assert prot.hidden[lvl][((true >= 1) & (true < 5))].all()
    no_data = counts.index[counts.isna()]
    res = audit(prot.published, groupings, counts.index, no_data=no_data)
    assert res.ok
    assert res.n_exact == 0


@_PROPS
@given(_small_uploads(), st.randoms(use_true_random=False))
def test_property_protect_is_deterministic_and_order_free(case, rnd):
    counts, groupings = case
    a = protect(counts, groupings, random_state=1)
    b = protect(counts, groupings, random_state=1)
    order = list(counts.index)
    rnd.shuffle(order)
    c = protect(counts.loc[order], {k: v.loc[order] for k, v in groupings.items()}, random_state=1)
    for lvl in a.levels:
        pd.testing.assert_series_equal(a.hidden[lvl], b.hidden[lvl])
        pd.testing.assert_series_equal(a.published[lvl], b.published[lvl])
        pd.testing.assert_series_equal(a.hidden[lvl], c.hidden[lvl].reindex(a.hidden[lvl].index))


_BAD = st.sampled_from(
    [
        (np.inf, "infinite value"),
        (-np.inf, "infinite value"),
        (-3.0, "negative value"),
        (1.5, "non-integer value"),
        (0.1, "non-integer value"),
        (2e9, "value above 1e9"),
    ]
)


@_PROPS
@given(_small_uploads(), _BAD, st.integers(0, 9), st.integers(1, 3))
def test_property_bad_counts_raise_data_error(case, bad, where, how_many):
    counts, groupings = case
    value, what = bad
    counts = counts.copy()
    positions = sorted({(where + k) % len(counts) for k in range(how_many)})
    counts.iloc[positions] = value
    code = counts.index[positions[0]]
    n = len(positions)
    with pytest.raises(DataError, match=rf"count column has {n} {what}s? \(e\.g\. .* in {code}\)"):
        protect(counts, groupings)


def test_bad_inputs_name_the_problem():
    index, groupings = _one_grouping()
    ok = pd.Series([3.0, 10, 7, 8], index=index, name="visits")
    with pytest.raises(
        DataError,
        match=r"count column 'visits' has 1 non-integer value "
        r"\(e\.g\. 1\.5 in b\); counts must be whole numbers",
    ):
        protect(ok.where(ok.index != "b", 1.5), groupings)
    with pytest.raises(DataError, match="non-numeric"):
        protect(pd.Series(["3", "x", "7", "8"], index=index), groupings)
    with pytest.raises(DataError, match="True/False"):
        protect(pd.Series([True, False, True, True], index=index), groupings)
    with pytest.raises(DataError, match="duplicated LSOA code"):
        protect(pd.Series([1.0, 2.0], index=["a", "a"]), {})
    with pytest.raises(DataError, match="reserved"):
        protect(ok, {"all": groupings["ward"]})
    with pytest.raises(DataError, match=r"no entry for 1 LSOA .*e\.g\. d"):
        protect(ok, {"ward": groupings["ward"].drop("d")})
    with pytest.raises(DataError, match="min_count"):
        protect(ok, groupings, min_count=0)
    with pytest.raises(DataError, match="protection"):
        protect(ok, groupings, protection=float("nan"))
    with pytest.raises(DataError, match="protection"):
        protect(ok, groupings, protection=-1)
    with pytest.raises(DataError, match="level must be one of"):
        protect(ok, groupings).table("msoa")


@_PROPS
@given(_small_uploads(), st.integers(0, 2**32 - 1))
def test_property_audit_matches_the_independent_attacker(case, seed):
    counts, groupings = case
    # publish a random pattern (not protect's), so the audit meets weak tables too
    rng = np.random.default_rng(seed)
    tables = {
        lvl: t.mask(rng.random(len(t)) < 0.4)
        for lvl, t in _true_tables(counts.fillna(0), groupings).items()
    }
    res = audit(tables, groupings, counts.index)
    mine = _independent_attack(tables, groupings, counts.index)
    got = res.intervals[["lower", "upper"]]
    assert len(got) == len(mine)
    pd.testing.assert_frame_equal(
        got.sort_index(),
        mine.reindex(got.index).sort_index(),
        check_dtype=False,
        check_index_type=False,
    )

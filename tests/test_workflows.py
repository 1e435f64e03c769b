import numpy as np
import pandas as pd
import pytest

from placekit import workflows as wf
from placekit.cli import main
from placekit.errors import DataError
from placekit.place import city_value


def test_table_filtered_by_locality_sorted_worst_first(place):
    loc = place.locality_level
    name = str(place.localities[loc]["area_name"].iloc[0])
    res = wf.area_table(
        place,
        "lsoa",
        ["imd2025_score", "bad_health_pct"],
        filter_level=loc,
        filter_codes=[name.upper()],  # names match whatever their case
        england=True,
    )
    t = res.table
    expected = set(place.lsoa.index[place.lsoa[f"{loc}_name"] == name])
    assert set(t.index) == expected and len(t) == len(expected) > 0
    assert (t[f"{loc}_name"] == name).all()
    for lv in place.levels:  # every locality column, code and name
        assert {f"{lv}_code", f"{lv}_name"} <= set(t.columns)
    imd = t["imd2025_score"].to_numpy()
    assert (np.diff(imd) <= 0).all()  # higher is worse: worst first
    assert t["imd2025_score_city"].iloc[0] == pytest.approx(city_value(place, "imd2025_score"))
    assert "imd2025_score_england_rank" in t.columns
    assert str(t["population"].dtype) == "Int64"  # whole people
    assert not t["suppressed"].any()
    assert res.units["imd2025_score"] == "score"
    assert "IMD 2025 score (score)" in res.display().columns


def test_table_coarser_level_inside_locality(place):
    loc = place.locality_level
    code = str(place.localities[loc].index[0])
    t = wf.area_table(place, "ward", ["imd2025_score"], filter_level=loc, filter_codes=[code]).table
    assert 0 < len(t) < len(place.localities["ward"])
    assert (t[f"{loc}_code"] == code).all()
    assert "lsoa_code" not in t.columns


def test_table_unknown_area_names_the_choices(place):
    loc = place.locality_level
    some = str(sorted(place.localities[loc]["area_name"].astype(str))[0])
    with pytest.raises(DataError, match=some):
        wf.area_table(place, "lsoa", ["imd2025_score"], filter_level=loc, filter_codes=["Nowhere"])
    with pytest.raises(DataError, match="filter level"):
        wf.area_table(place, "lsoa", ["imd2025_score"], filter_level="lsoa", filter_codes=["x"])


def test_suppressed_flag_is_not_missing(place):
    from placekit.userdata import add_table

    codes = list(place.lsoa.index[:3])
    csv = f"lsoa_code,referrals\n{codes[0]},12\n{codes[1]},3\n{codes[2]},40\n".encode()
    p2 = add_table(place, csv, name="r.csv")
    uid = next(i for i in p2.indicators.columns if i.startswith("user_referrals"))
    t = wf.area_table(p2, "lsoa", [uid], england=False).table
    assert bool(t.loc[codes[1], "suppressed"]) and t.loc[codes[1], "suppressed_indicators"] == uid
    assert not t.loc[codes[0], "suppressed"]
    no_upload = place.lsoa.index[3]
    assert not t.loc[no_upload, "suppressed"]  # no data is not suppressed
    assert t[uid].dropna().eq(t[uid].dropna().round()).all()


def test_access_specs_parse_the_catalogue(place):
    assert wf.access_specs(place, ["gp_walk_min", "imd2025_score"]) == (("walk",), ("gp",))
    assert wf.access_specs(place, ["imd2025_score"]) == ((), ())
    assert "gp_walk_min" in wf.access_ids(place)


def test_facility_ids_follow_the_library(place):
    from placekit.accessibility import facilities_from_layer

    layer = place.layer("gp")
    net = place.network("walk")
    lib = list(dict.fromkeys(facilities_from_layer(net, layer, name="gp").ids))
    assert [i for i, _ in wf.facility_options(place, "gp")] == lib


def test_search_postcode_and_name(place):
    pc = str(place.postcodes().index[len(place.postcodes()) // 2])
    hit = wf.search_place(place, pc.lower())
    assert hit.kind == "postcode" and -3 < hit.lon < 1 and 50 < hit.lat < 56
    loc = place.locality_level
    name = str(place.localities[loc]["area_name"].iloc[-1])
    hit = wf.search_place(place, name.lower())
    assert hit.kind == "area" and hit.name == name
    with pytest.raises(DataError, match="Nothing in"):
        wf.search_place(place, "zzzz-nowhere")


def test_typology_disk_cache(place, tmp_path, monkeypatch):
    monkeypatch.setenv("PLACEKIT_CACHE", str(tmp_path))
    a = wf.typology(place, k=4, n_init=5, n_runs=3)
    b = wf.typology(place, k=4, n_init=5, n_runs=3)
    assert not a.from_cache and b.from_cache
    pd.testing.assert_series_equal(a.labels, b.labels)
    files = list(tmp_path.glob("workflows_*_typology_*.pkl"))
    assert len(files) == 1
    files[0].write_bytes(b"damaged")  # a damaged file is rebuilt, not trusted
    c = wf.typology(place, k=4, n_init=5, n_runs=3)
    assert not c.from_cache
    pd.testing.assert_series_equal(a.labels, c.labels)


def test_cap_threads_limits_blas():
    from threadpoolctl import threadpool_info

    n = wf.cap_threads(1)
    assert n == 1
    assert all(p["num_threads"] == 1 for p in threadpool_info())
    wf.cap_threads(wf.thread_limit())


def test_cli_table_filter(tmp_path):
    out = tmp_path / "ne.csv"
    args = ["table", "--level", "lsoa", "--indicators", "imd2025_score,gp_walk_min"]
    args += ["--filter-level", "lac", "--filter", "North East", "--out", str(out)]
    assert main(args) == 0
    t = pd.read_csv(out)
    assert len(t) > 10 and (t["lac_name"] == "North East").all()
    assert {"ward_code", "ward_name", "lac_code", "suppressed", "gp_walk_min"} <= set(t.columns)
    assert (t["imd2025_score"].diff().dropna() <= 0).all()
    assert main(["table", "--filter", "x", "--out", str(out)]) == 2  # --filter needs its level


def test_prepared_place_cached_on_disk(tmp_path, monkeypatch, place):
    monkeypatch.setenv("PLACEKIT_CACHE", str(tmp_path))
    a = wf.prepared_place()
    files = list(tmp_path.glob("workflows_*_place_*.pkl"))
    assert len(files) == 1
    b = wf.prepared_place()
    pd.testing.assert_frame_equal(a.indicators, b.indicators)
    # what every map draws is in the saved place: a new server reads no pack file for its base
    assert "greenspace" in b.layers and len(b.layers["greenspace"]) == len(
        place.layer("greenspace")
    )
    pd.testing.assert_frame_equal(
        pd.DataFrame(b.lsoa.drop(columns="geometry")),
        pd.DataFrame(place.lsoa.drop(columns="geometry")),
    )
    files[0].write_bytes(b"not a pickle")  # damaged: rebuilt, not trusted
    c = wf.prepared_place()
    assert list(c.lsoa.index) == list(place.lsoa.index)


def test_scenario_effect_fitted_once_per_pack(place, walk_net, tmp_path, monkeypatch):
    """The access effect behind a scenario is saved on disk: a new engine does not refit it."""
    from placekit import effects

    monkeypatch.setenv("PLACEKIT_CACHE", str(tmp_path))
    fits: list[str] = []
    real = effects.estimate_access_effect

    def counting(*args, **kwargs):
        fits.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(effects, "estimate_access_effect", counting)
    first = wf.scenario_engine(place, demand="bad_health_pct").effect("gp")
    again = wf.scenario_engine(place, demand="bad_health_pct").effect("gp")
    assert fits == ["gp_walk_min"]  # fitted by the first engine only
    assert (again.estimate, again.lower, again.upper) == (first.estimate, first.lower, first.upper)
    assert len(list(tmp_path.glob("workflows_*_access_effect_*.pkl"))) == 1
    wf.scenario_engine(place, demand="bad_health_pct", use_cache=False).effect("gp")
    assert fits == ["gp_walk_min", "gp_walk_min"]  # no cache: fitted again
    # an uploaded demand is never written to disk
    assert wf.scenario_engine(place, demand="user_referrals")._effect_store is None

"""Tests of placekit.packbuild: tiny hand-made sources, one real build, the OSM cutter."""

from __future__ import annotations

import argparse
import bz2
import json
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyproj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box
from tiny_sources import (
    DEPRIVATION11,
    LSOAS,
    OUTSIDE11,
    POPULATION,
    POPULATION11,
    make_tiny_sources,
    write_grid_osm,
)

from placekit import packbuild
from placekit.errors import CRSError, DataError, SchemaError, explain
from placekit.pack import MANIFEST_NAME, ROLES, open_pack, validate_manifest

WEST, EAST = "E09999901", "E09999902"
REGION = Path(__file__).resolve().parents[2] / "shared" / "region" / "south-yorkshire"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as mp:
        d = tmp_path_factory.mktemp("cache")
        mp.setenv("PLACEKIT_CACHE", str(d))
        yield d


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("tiny") / "sources"
    make_tiny_sources(d)
    return d


@pytest.fixture
def sources(tiny: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny sources a test may break."""
    d = tmp_path / "sources"
    shutil.copytree(tiny, d)
    return d


@pytest.fixture(scope="module")
def west(tiny: Path, cache: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("packs") / "westerby"
    calls: list[tuple[str, float]] = []
    rep = packbuild.build_pack(tiny, [WEST], out, progress=lambda m, f: calls.append((m, f)))
    return out, rep, calls


# ----------------------------------------------------------------------------- tiny builds
def test_manifest_validates_and_pack_opens(west) -> None:
    out, _rep, _ = west
    raw = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    validate_manifest(raw, where="test")
    pk = open_pack(out)
    assert pk.name == "Westerby"
    assert pk.la_codes == [WEST]
    assert raw["la_names"] == {WEST: "Westerby"}
    for role, spec in raw["roles"].items():
        assert role in ROLES
        assert (out / spec["file"]).is_file(), role
        assert not Path(spec["file"]).is_absolute()
    assert raw["roles"]["census"]["columns"] == {"code": "LSOA21CD"}
    assert raw["roles"]["iod2019"]["columns"] == {
        "code": "lsoa11cd",
        "population": "pop_total_mid2015",
    }
    assert raw["roles"]["lookup11"]["columns"] == {
        "lsoa11": "LSOA11CD",
        "lsoa21": "LSOA21CD",
        "change": "CHGIND",
    }
    assert "OpenStreetMap" in raw["roles"]["network_walk"]["attribution"]
    assert "OS data" in raw["roles"]["lsoa"]["attribution"]
    assert "NHS England ODS" in raw["roles"]["gp"]["attribution"]
    assert (out / "PROVENANCE.md").is_file()
    assert "ODbL" in (out / "PROVENANCE.md").read_text(encoding="utf-8")
    assert not list(out.parent.glob(".westerby.*"))  # no temporary folder left


def test_only_the_chosen_councils_lsoas(west) -> None:
    out, rep, _ = west
    pk = open_pack(out)
    lsoa = pk.read_vector("lsoa")
    want = sorted(c for c, v in LSOAS.items() if v[0] == WEST)
    assert sorted(lsoa["LSOA21CD"]) == want
    assert rep.n_lsoa == 4
    assert rep.population == sum(POPULATION[c] for c in want) == 4600
    assert sorted(pk.read_table("census")["LSOA21CD"]) == want
    assert sorted(pk.read_table("imd2025")["lsoa21_code"]) == want


def test_gp_over_the_border_is_kept_within_the_margin(west) -> None:
    out, rep, _ = west
    assert rep.facilities["gp"] == {"inside": 4, "margin": 1}
    gp = open_pack(out).read_vector("gp")
    assert len(gp) == 5  # the far one (436500) is not kept
    over = gp[~gp["in_city"]]
    assert over.geometry.x.round(0).tolist() == [432300.0]


def test_margin_zero_drops_the_gp_over_the_border(tiny: Path, tmp_path: Path, cache: Path) -> None:
    rep = packbuild.build_pack(tiny, [WEST], tmp_path / "p", margin_km=0, prebuild=())
    assert rep.facilities["gp"] == {"inside": 4, "margin": 0}
    assert len(open_pack(tmp_path / "p").read_vector("gp")) == 4
    # 4 grid nodes inside the 2 km square; each has 4 segments, 4 shared between them
    assert rep.network["walk"] == {
        "ways_in": 170,
        "ways_kept": 12,
        "nodes_in": 96,
        "nodes_kept": 12,
    }


def test_network_is_cut_and_loads(west, cache: Path) -> None:
    out, rep, _ = west
    # 3 km around the square: grid columns 427500 ... 434500 (8) x all 6 rows inside
    assert rep.network["walk"]["ways_kept"] == 94
    assert rep.network["walk"]["nodes_kept"] == 60
    assert rep.network["walk"]["nodes"] == 60
    from placekit.network import load_network

    f = open_pack(out).file("network_walk")
    net = load_network(f, "walk")
    assert "cache" in net.info  # pre-built by the builder
    assert net.n_nodes == 60


def test_origins_are_live_postcodes_with_building_coverage(west) -> None:
    out, rep, _ = west
    o = open_pack(out).origins
    assert o["method"] == "postcodes"
    assert o["where"] == {"status": ["live_2023-05"]}
    assert rep.n_origins == 4
    assert rep.building_coverage == {WEST: 0.5}
    assert "50.0%" in o["why"]
    pc = open_pack(out).read_table("postcodes")
    assert "TS99 1AA" in set(pc["postcode"])  # kept in the margin, not an origin


def test_levels(west) -> None:
    out, rep, _ = west
    levels = {lv["id"]: lv for lv in open_pack(out).levels}
    assert list(levels) == ["msoa", "ward", "lad"]
    assert rep.levels == {"msoa": 1, "ward": 2, "lad": 1}
    w = levels["ward"]
    assert w["assign"] == {
        "method": "lookup",
        "file": "lookups/westerby_lsoa21_ward.csv",
        "lsoa_column": "LSOA21CD",
        "code_column": "WD24CD",
        "name_column": "WD24NM",
    }
    lk = pd.read_csv(out / w["assign"]["file"])
    assert set(lk["WD24NM"]) == {"Westerby North", "Westerby South"}
    assert (out / w["boundaries"]["file"]).is_file()
    assert levels["lad"]["assign"] == {
        "method": "lsoa_column",
        "column": "lad_code",
        "names": {WEST: "Westerby"},
    }
    assert levels["msoa"]["assign"]["code_column"] == "MSOA21CD"
    assert "boundaries" not in levels["msoa"]  # the tiny sources have none


def test_ward_by_point_without_lookup_and_dropped_when_incomplete(
    sources: Path, tmp_path: Path, cache: Path
) -> None:
    f = next((sources / "lookups").glob("*lsoa21*ward*"))
    lk = pd.read_csv(f)
    f.unlink()
    rep = packbuild.build_pack(sources, [WEST], tmp_path / "a", prebuild=())
    ward = next(lv for lv in open_pack(tmp_path / "a").levels if lv["id"] == "ward")
    assert "representative point" in ward["note"]
    got = pd.read_csv(tmp_path / "a" / ward["assign"]["file"]).set_index("LSOA21CD")["WD24CD"]
    assert got.to_dict() == lk[lk.lad_code == WEST].set_index("LSOA21CD")["WD24CD"].to_dict()
    assert rep.levels["ward"] == 2

    lk[lk.LSOA21CD != "E01999904"].to_csv(f, index=False)  # one LSOA without a ward
    rep = packbuild.build_pack(sources, [WEST], tmp_path / "b", prebuild=())
    assert "ward" not in rep.levels
    assert any("level 'ward' left out: 1 LSOAs" in w for w in rep.warnings)
    assert [lv["id"] for lv in open_pack(tmp_path / "b").levels] == ["msoa", "lad"]


def test_progress_and_report(west) -> None:
    _out, rep, calls = west
    fracs = [f for _m, f in calls]
    assert fracs == sorted(fracs)
    assert fracs[-1] == 1.0
    assert rep.timings_s["total"] > 0
    assert "pharmacy" in rep.missing and rep.missing["pharmacy"] == "poi/*pharmac*.parquet"
    assert "Westerby" in rep.summary()


def test_two_councils_together(tiny: Path, tmp_path: Path, cache: Path) -> None:
    rep = packbuild.build_pack(tiny, [f"{EAST},{WEST}"], tmp_path / "both", prebuild=())
    assert rep.name == "Easterby and Westerby"
    assert rep.n_lsoa == 8
    assert rep.population == 11200
    assert rep.population_by_la == {EAST: 6600, WEST: 4600}
    assert rep.building_coverage == {EAST: 0.0, WEST: 0.5}
    assert rep.facilities["gp"] == {"inside": 5, "margin": 1}
    pk = open_pack(tmp_path / "both")
    lad = next(lv for lv in pk.levels if lv["id"] == "lad")
    assert lad["assign"]["names"] == {EAST: "Easterby", WEST: "Westerby"}
    assert rep.levels["ward"] == 4


def test_name_overrides(tiny: Path, tmp_path: Path, cache: Path) -> None:
    rep = packbuild.build_pack(tiny, [WEST], tmp_path / "n", name="West Pilot", prebuild=())
    assert open_pack(tmp_path / "n").name == rep.name == "West Pilot"
    assert (tmp_path / "n" / "boundaries" / "west_pilot_lsoa.parquet").is_file()


def test_no_postcodes_falls_back_to_centroids(sources: Path, tmp_path: Path, cache: Path) -> None:
    next((sources / "lookups").glob("*postcodes*")).unlink()
    rep = packbuild.build_pack(sources, [WEST], tmp_path / "c", prebuild=())
    o = open_pack(tmp_path / "c").origins
    assert o["method"] == "centroids"
    assert "lookups/*postcodes*.csv" in o["why"]
    assert rep.n_origins == 4


def test_postcodes_with_doterm_instead_of_status(
    sources: Path, tmp_path: Path, cache: Path
) -> None:
    f = next((sources / "lookups").glob("*postcodes*"))
    pc = pd.read_csv(f, dtype=str, keep_default_na=False)
    pc["doterm"] = pc.pop("status").map({"live_2023-05": "", "unknown": "202001"})
    pc.to_csv(f, index=False)
    rep = packbuild.build_pack(sources, [WEST], tmp_path / "d", prebuild=())
    o = open_pack(tmp_path / "d").origins
    assert o["where"] == {"live": ["True"]}
    assert "no termination date" in o["why"]
    assert rep.n_origins == 4
    table = open_pack(tmp_path / "d").read_table("postcodes")
    # live: 4 in Westerby, and in the margin Easterby's 4 and the one outside both councils
    assert int(table["live"].astype(str).eq("True").sum()) == 9


# ----------------------------------------------------------------------------- Census 2011
CENSUS11 = "Census 2011 -> 2021 change (household deprivation, population)"


def test_census2011_roles_cut_to_the_councils_lsoa11(west) -> None:
    out, rep, _ = west
    pk = open_pack(out)
    want = sorted(c for c, v in LSOAS.items() if v[0] == WEST)
    dep = pk.read_table("census2011_deprivation")
    assert pk.spec("census2011_deprivation")["columns"] == {
        "code": "lsoa11_code",
        "group": "households_number_deprivation_dimensions",
        "value": "count",
    }
    assert sorted(set(dep["lsoa11_code"])) == want  # not Easterby's, not E01999990
    assert len(dep) == rep.rows["census2011_deprivation"] == 20  # 4 LSOAs x 0 ... 4 dimensions
    got = {
        (r.lsoa11_code, int(r.households_number_deprivation_dimensions)): r["count"]
        for _i, r in dep.iterrows()
    }
    assert got == {(c, d): DEPRIVATION11[c][d] for c in want for d in range(5)}
    assert dep["count"].sum() == 2000  # 500 households in each Westerby LSOA
    pop = pk.read_table("census2011_population")
    assert pk.spec("census2011_population")["columns"] == {
        "code": "LSOA Code",
        "value": "All usual residents",
    }
    assert pop.set_index("LSOA Code")["All usual residents"].to_dict() == {
        "E01999901": 950,
        "E01999902": 1000,
        "E01999903": 1150,
        "E01999904": 1250,
    }
    assert rep.rows["census2011_population"] == 4
    for role in ("census2011_deprivation", "census2011_population"):
        spec = pk.spec(role)
        assert spec["licence"] == "OGL v3"
        assert spec["attribution"].startswith("ONS Census 2011")
        assert "Open Government Licence v3.0" in spec["attribution"]
        assert spec["source"].startswith("census/census2011_")
    assert "ONS Census 2011 usual residents" in pk.attributions
    prov = (out / "PROVENANCE.md").read_text(encoding="utf-8")
    assert "is one of the councils' 4 LSOA 2011 codes (from `lookup11`)" in prov
    assert rep.unavailable == {}
    assert "unavailable" not in rep.summary()


def test_census2011_selected_by_the_lookup_not_the_2011_council_code(
    sources: Path, tmp_path: Path, cache: Path
) -> None:
    # a council formed after 2011: the 2011 table's lad_code is the old district's
    f = next((sources / "census").glob("census2011_household*"))
    dep = pd.read_csv(f)
    dep["lad_code"] = "E07999999"
    dep.to_csv(f, index=False)
    rep = packbuild.build_pack(sources, [EAST], tmp_path / "e", prebuild=(), margin_km=0)
    pk = open_pack(tmp_path / "e")
    got = pk.read_table("census2011_deprivation")
    assert sorted(set(got["lsoa11_code"])) == ["E01999905", "E01999906", "E01999907", "E01999908"]
    assert got["count"].sum() == 2800  # 700 households in each Easterby LSOA
    assert pk.read_table("census2011_population")["All usual residents"].sum() == 6300
    assert rep.unavailable == {}
    assert not [w for w in rep.warnings if "census2011" in w]


def test_census2011_absent_is_a_report_line_and_the_pack_builds(
    sources: Path, tmp_path: Path, cache: Path
) -> None:
    next((sources / "census").glob("census2011_population*")).unlink()
    rep = packbuild.build_pack(sources, [WEST], tmp_path / "p", prebuild=())
    pk = open_pack(tmp_path / "p")
    assert pk.has("census2011_deprivation") and not pk.has("census2011_population")
    assert rep.missing["census2011_population"] == "census/*census2011*population*lsoa11*.csv"
    why = (
        "no census2011_population (nothing matched `census/*census2011*population*lsoa11*.csv` "
        "in the sources)"
    )
    assert rep.unavailable == {CENSUS11: why}
    assert f"  unavailable: {CENSUS11}: {why}" in rep.summary().splitlines()
    assert f"{CENSUS11}: unavailable, {why}" in (tmp_path / "p" / "PROVENANCE.md").read_text()
    from placekit.change import unavailable_changes
    from placekit.place import load_place

    # the household deprivation change stands without the 2011 residents; population does not
    why_not = unavailable_changes(load_place(tmp_path / "p"))
    assert "census_2011_2021" not in why_not
    assert "census2011_population" in why_not["census_population"]

    # neither table, and a council without LSOA 2011 rows in the lookup: still builds
    next((sources / "census").glob("census2011_household*")).unlink()
    lk = next((sources / "lookups").glob("*lsoa11*lsoa21*"))
    t = pd.read_csv(lk)
    t[t["lad_code"] != WEST].to_csv(lk, index=False)
    rep = packbuild.build_pack(sources, [WEST], tmp_path / "q", prebuild=())
    assert not open_pack(tmp_path / "q").has("census2011_deprivation")
    assert rep.unavailable[CENSUS11].startswith(
        "no lookup11 (tinyshire_lsoa11_lsoa21_lad22.csv has no rows for E09999901); no census2011_"
    )


def test_census2011_without_lookup_or_lad_code_is_left_out(
    sources: Path, tmp_path: Path, cache: Path
) -> None:
    next((sources / "lookups").glob("*lsoa11*lsoa21*")).unlink()
    rep = packbuild.build_pack(sources, [WEST], tmp_path / "p", prebuild=())
    pk = open_pack(tmp_path / "p")
    # the regional table has lad_code: its Westerby rows are kept; the ONS one cannot be cut
    assert sorted(set(pk.read_table("census2011_deprivation")["lsoa11_code"])) == [
        "E01999901",
        "E01999902",
        "E01999903",
        "E01999904",
    ]
    assert not pk.has("census2011_population")
    line = (
        "census2011_population: left out: census2011_population_households_density_tinyshire_"
        "lsoa11.csv has no 'lad_code' column and there is no LSOA 2011 lookup (`lookup11`) to "
        "select the councils' rows by"
    )
    assert line in rep.warnings
    assert "no lookup11 (nothing matched" in rep.unavailable[CENSUS11]


def test_census2011_odd_groups_are_a_warning(sources: Path, tmp_path: Path, cache: Path) -> None:
    f = next((sources / "census").glob("census2011_household*"))
    dep = pd.read_csv(f)
    dep.loc[0, "households_number_deprivation_dimensions"] = 7
    dep.to_csv(f, index=False)
    rep = packbuild.build_pack(sources, [WEST], tmp_path / "p", prebuild=())
    assert any("found ['7.0']" in w and "0 to 4" in w for w in rep.warnings)


def test_census2011_change_on_a_built_tiny_pack(sources: Path, tmp_path: Path, cache: Path) -> None:
    # the Census 2021 TS011 counts the change compares with (households by 0 ... 4 dimensions)
    cen = next((sources / "census").glob("*selected_tables*.parquet"))
    df = pd.read_parquet(cen)
    ts011 = {"E01999901": (220, 160, 100, 30, 10), "E01999902": (300, 150, 50, 0, 0)}
    for code, counts in ts011.items():
        m = df["LSOA21CD"] == code
        df.loc[m, "ts0110001"] = sum(counts)
        for i, n in enumerate(counts):
            df.loc[m, f"ts011000{i + 2}"] = n
    df.to_parquet(cen)
    packbuild.build_pack(sources, [WEST], tmp_path / "p", prebuild=())
    from placekit.change import census_change
    from placekit.place import load_place

    c = census_change(load_place(tmp_path / "p"))
    one = c.loc["E01999901"]
    assert one["households_2011"] == 500
    assert one["hh_deprived_1plus_pct_2011"] == pytest.approx(60.0)  # (150+100+40+10)/500
    assert one["hh_deprived_2plus_pct_2011"] == pytest.approx(30.0)  # (100+40+10)/500
    assert one["hh_deprived_1plus_pct_2021"] == pytest.approx(100 * 300 / 520)
    assert one["population_2011"] == POPULATION11["E01999901"] == 950
    assert c.loc["E01999902", "hh_deprived_2plus_pct_2011"] == pytest.approx(20.0)
    assert OUTSIDE11 not in c.index


# ----------------------------------------------------------------------------- errors
def test_unknown_la_code_lists_the_codes_present(tiny: Path, tmp_path: Path) -> None:
    msg = (
        "Local authority code(s) ['E09999999'] are not in the sources "
        "(tinyshire_lsoa21.parquet). Codes present: E09999901 (Westerby), "
        "E09999902 (Easterby)."
    )
    with pytest.raises(DataError, match=re.escape(msg)):
        packbuild.build_pack(tiny, ["E09999999"], tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_missing_required_role_names_role_and_pattern(sources: Path, tmp_path: Path) -> None:
    next((sources / "census").glob("*selected_tables*")).unlink()
    msg = (
        "No source for the required role 'census' (Census 2021 tables by LSOA 2021): the "
        "pattern 'census/*lsoa21*selected_tables*.parquet' found nothing in"
    )
    with pytest.raises(DataError, match=re.escape(msg)):
        packbuild.build_pack(sources, [WEST], tmp_path / "x")


def test_two_files_for_one_pattern(sources: Path, tmp_path: Path) -> None:
    f = next((sources / "poi").glob("*gp_practices*"))
    shutil.copy(f, sources / "poi" / "copy_of_gp_practices.parquet")
    with pytest.raises(
        DataError,
        match=r"2 files in .* match 'poi/\*gp_practices\*\.parquet' "
        r"for GP practices \(role 'gp'\): \['copy_of_gp_practices\.parquet', ",
    ):
        packbuild.build_pack(sources, [WEST], tmp_path / "x")


def test_existing_out_needs_force(west, tiny: Path) -> None:
    out, _rep, _ = west
    msg = f"{out} already exists. Choose another folder to build the pack in."
    with pytest.raises(DataError) as info:
        packbuild.build_pack(tiny, [WEST], out)
    assert str(info.value) == f"{msg} Or pass force=True to replace it."
    assert explain(info.value, "cli") == f"{msg} Or add --force to replace it."


def test_force_will_not_replace_a_folder_that_is_not_a_pack(tiny: Path, tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="is not a place pack"):
        packbuild.build_pack(tiny, [WEST], tmp_path / "mine", force=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_wrong_crs_names_file_and_crs(sources: Path, tmp_path: Path) -> None:
    f = next((sources / "poi").glob("*gp_practices*"))
    gpd.read_parquet(f).to_crs("EPSG:27700").to_parquet(f)
    msg = (
        f"{f} (GP practices) is in EPSG:27700, but sources must be in EPSG:4326 (lon/lat). "
        "Reproject it with .to_crs('EPSG:4326')"
    )
    with pytest.raises(CRSError, match=re.escape(msg)):
        packbuild.build_pack(sources, [WEST], tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_no_crs_names_file(sources: Path, tmp_path: Path) -> None:
    f = next((sources / "boundaries").glob("*lsoa21*"))
    gpd.read_parquet(f).set_crs(None, allow_override=True).to_parquet(f)
    with pytest.raises(CRSError, match=re.escape(f"{f} (LSOA 2021 boundaries) has no CRS.")):
        packbuild.build_pack(sources, [WEST], tmp_path / "x")


def test_missing_column_names_file_column_and_columns_present(
    sources: Path, tmp_path: Path
) -> None:
    f = next((sources / "deprivation").glob("*iod2019*"))
    pd.read_parquet(f).drop(columns="pop_total_mid2015").to_parquet(f)
    msg = (
        f"{f} (IoD 2019 by LSOA 2011 (combined), role 'iod2019') has no column "
        "'pop_total_mid2015'. Columns present: ['imd_decile', 'lad_code', 'lsoa11cd']."
    )
    with pytest.raises(SchemaError, match=re.escape(msg)):
        packbuild.build_pack(sources, [WEST], tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_killed_build_leaves_no_out_and_keeps_the_previous(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("killed mid-build")

    real = packbuild.cut_osm_xml
    monkeypatch.setattr(packbuild, "cut_osm_xml", boom)
    with pytest.raises(RuntimeError, match="killed mid-build"):
        packbuild.build_pack(tiny, [WEST], tmp_path / "new", prebuild=())
    assert not (tmp_path / "new").exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # the temporary folder is gone too

    monkeypatch.setattr(packbuild, "cut_osm_xml", real)
    packbuild.build_pack(tiny, [WEST], tmp_path / "old", prebuild=())
    before = (tmp_path / "old" / MANIFEST_NAME).read_bytes()
    monkeypatch.setattr(packbuild, "cut_osm_xml", boom)
    with pytest.raises(RuntimeError):
        packbuild.build_pack(tiny, [EAST], tmp_path / "old", force=True, prebuild=())
    assert (tmp_path / "old" / MANIFEST_NAME).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]

    monkeypatch.setattr(packbuild, "cut_osm_xml", real)
    packbuild.build_pack(tiny, [EAST], tmp_path / "old", force=True, prebuild=())
    assert open_pack(tmp_path / "old").la_codes == [EAST]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]


# ----------------------------------------------------------------------------- CLI
def _cli(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="placekit")
    packbuild.add_pack_cli(p.add_subparsers(dest="command", required=True))
    return p.parse_args(argv)


def test_cli_builds_and_prints_figures(
    tiny: Path, tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _cli(
        [
            "pack",
            "build",
            "--sources",
            str(tiny),
            "--la",
            WEST,
            "--out",
            str(tmp_path / "cli"),
            "--margin-km",
            "0",
        ]
    )
    assert args.func is packbuild.run_pack_cli
    assert args.func(args) == 0
    out = capsys.readouterr()
    assert "LSOAs: 4" in out.out
    assert "gp: 4 inside, 0 within 0 km outside" in out.out
    assert "Finding sources" in out.err


def test_cli_error_is_one_line_exit_2(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _cli(
        [
            "pack",
            "build",
            "--sources",
            str(tiny),
            "--la",
            "E09999999",
            "--out",
            str(tmp_path / "cli"),
        ]
    )
    assert packbuild.run_pack_cli(args) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("placekit: error: Local authority code(s) ['E09999999']")
    assert "Traceback" not in capsys.readouterr().err


# ----------------------------------------------------------------------------- OSM cutter
def _read_osm(path: Path) -> tuple[dict[int, tuple[float, float]], dict[int, list[int]]]:
    with bz2.open(path, "rb") as f:
        root = ET.parse(f).getroot()
    nodes = {
        int(n.get("id")): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")
    }
    ways = {int(w.get("id")): [int(nd.get("ref")) for nd in w.iter("nd")] for w in root.iter("way")}
    return nodes, ways


@settings(max_examples=25, deadline=None)
@given(
    nx=st.integers(1, 7),
    ny=st.integers(1, 7),
    step=st.sampled_from([100.0, 250.0, 700.0]),
    x0=st.floats(-500, 2000),
    y0=st.floats(-500, 2000),
    w=st.floats(1, 2500),
    h=st.floats(1, 2500),
)
def test_cut_keeps_exactly_the_ways_touching_the_area(
    nx: int, ny: int, step: float, x0: float, y0: float, w: float, h: float
) -> None:
    xs = [430000 + 13.0 + step * i for i in range(nx)]
    ys = [380000 + 7.0 + step * j for j in range(ny)]
    area = box(430000 + x0, 380000 + y0, 430000 + x0 + w, 380000 + y0 + h)
    with tempfile.TemporaryDirectory() as d:
        src, dst = Path(d) / "in.osm.bz2", Path(d) / "out.osm.bz2"
        nodes_bng, ways = write_grid_osm(src, xs, ys)
        cut = packbuild.cut_osm_xml(src, dst, area)
        nodes, kept = _read_osm(dst)
    inside = {k for k, (x, y) in nodes_bng.items() if area.contains(box(x, y, x, y).centroid)}
    want = {wid for wid, ends in ways.items() if set(ends) & inside}
    assert set(kept) == want  # kept iff a node lies inside
    assert cut.ways_kept == len(want) and cut.ways_in == len(ways)
    for refs in kept.values():  # kept whole, every node written
        assert set(refs) <= set(nodes)
    assert set(nodes) == {r for refs in kept.values() for r in refs}
    tr = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    for k, (lon, lat) in nodes.items():  # coordinates written to 1e-7 degree
        x, y = tr.transform(lon, lat)
        assert abs(x - nodes_bng[k][0]) < 0.05 and abs(y - nodes_bng[k][1]) < 0.05


def test_cut_keeps_tags_and_rejects_unsorted(tmp_path: Path) -> None:
    src = tmp_path / "a.osm"
    src.write_text(
        "<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\">\n"
        ' <node id="1" lat="53.0" lon="-1.5"><tag k="highway" v="crossing"/></node>\n'
        ' <node id="2" lat="53.001" lon="-1.5" user="x" uid="9"/>\n'
        ' <way id="7" version="2"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/>'
        '<tag k="name" v="A &amp; B"/></way>\n'
        ' <relation id="3"><member type="way" ref="7" role=""/></relation>\n</osm>\n',
        encoding="utf-8",
    )
    cut = packbuild.cut_osm_xml(
        src, tmp_path / "b.osm", box(-1.6, 52.9, -1.4, 53.0005), crs="EPSG:4326"
    )
    assert cut == packbuild.OsmCut(ways_in=1, ways_kept=1, nodes_in=2, nodes_kept=2)
    root = ET.parse(tmp_path / "b.osm").getroot()
    assert root.find("node[@id='1']/tag").get("v") == "crossing"
    assert root.find("node[@id='2']").get("user") is None
    assert root.find("way/tag[@k='name']").get("v") == "A & B"
    assert root.find("relation") is None
    bad = tmp_path / "c.osm"
    bad.write_text('<osm><way id="1"><nd ref="1"/></way><node id="1" lat="0" lon="0"/></osm>')
    with pytest.raises(DataError, match="lists node 1 after a way"):
        packbuild.cut_osm_xml(bad, tmp_path / "d.osm", box(-1, -1, 1, 1), crs="EPSG:4326")


# ----------------------------------------------------------------------------- real sources
@pytest.mark.skipif(not (REGION / "boundaries").is_dir(), reason="no South Yorkshire sources")
def test_real_rotherham_build(rotherham_build) -> None:
    # the session's Rotherham build (1 km margin, walk network parsed by osmnx and cached, as a
    # user's first build does), shared with the built-pack tests so it is cut once
    out, rep = rotherham_build
    assert rep.n_lsoa == 170
    assert rep.population == 265_821  # PROVENANCE part A, section 4
    assert rep.facilities["gp"]["inside"] == 28  # active, prescribing setting 4
    assert rep.levels["ward"] == 25
    assert rep.network["walk"]["nodes"] > 20_000
    assert rep.network["walk"]["ways_kept"] < rep.network["walk"]["ways_in"] / 3
    assert 0.2 < rep.building_coverage["E08000018"] < 0.6
    pk = open_pack(out)
    assert pk.read_vector("lsoa")["lad_code"].eq("E08000018").all()
    # Census 2011: QS119 for the 167 LSOA 2011 of the lookup, 0 ... 4 dimensions each; the
    # sources have no Census 2011 usual residents (PROVENANCE part A, "Not found"), so the
    # household deprivation change is computed and the population change says why it is not
    lk = pk.read_table("lookup11")
    dep = pk.read_table("census2011_deprivation")
    assert rep.rows["census2011_deprivation"] == len(dep) == 167 * 5
    assert set(dep["lsoa11_code"]) == set(lk["LSOA11CD"])
    assert dep["count"].sum() == 108_293
    assert not pk.has("census2011_population")
    assert "no census2011_population (nothing matched" in rep.unavailable[CENSUS11]
    from placekit.change import census_change_table, unavailable_changes
    from placekit.place import load_place

    rother = load_place(out)
    assert "census2011_population" in unavailable_changes(rother)["census_population"]
    ch = census_change_table(rother, rother.locality_level)
    assert ch["households_2011"].sum() == pytest.approx(108_293)  # every 2011 household
    assert ch["hh_deprived_1plus_pct_2021"].between(0, 100).all()
    assert ch["population_2011"].isna().all()


@pytest.mark.skipif(not (REGION / "boundaries").is_dir(), reason="no South Yorkshire sources")
def test_real_census2011_change_matches_the_shipped_sheffield_pack(
    region_sources: Path, place, tmp_path: Path, cache: Path
) -> None:
    # the regional area sources (linked, not copied) plus the Census 2011 usual residents the
    # Sheffield pack has and the region lacks: a Sheffield pack built from them gives exactly
    # the Census 2011 -> 2021 change of the shipped Sheffield pack
    from placekit.change import census_change
    from placekit.place import load_place

    src = tmp_path / "sources"
    for sub in ("boundaries", "census", "lookups", "deprivation"):
        (src / sub).mkdir(parents=True)
        for f in (region_sources / sub).iterdir():
            (src / sub / f.name).symlink_to(f)
    pop11 = place.pack.file("census2011_population")
    (src / "census" / pop11.name).symlink_to(pop11)
    rep = packbuild.build_pack(src, place.pack.la_codes, tmp_path / "p", margin_km=0, prebuild=())
    assert rep.unavailable == {}
    assert rep.rows["census2011_population"] == 345  # PROVENANCE part A: Sheffield's LSOA 2011
    assert rep.rows["census2011_deprivation"] == 345 * 5
    built = census_change(load_place(tmp_path / "p"))
    shipped = census_change(place)
    assert len(built) == 343
    pd.testing.assert_frame_equal(built, shipped.reindex(built.index), check_exact=True)

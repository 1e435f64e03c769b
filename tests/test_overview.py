"""Tests of placekit.overview on the England folder, read in place (skipped without it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from placekit import overview as ov
from placekit.errors import DataError

ENGLAND = Path(__file__).resolve().parents[2] / "shared" / "region" / "england"


@pytest.fixture(scope="module")
def eng() -> ov.Overview:
    if not (ENGLAND / "imd2025_england_lsoa21.parquet").is_file():
        pytest.skip("no England folder beside the repository")
    return ov.load_overview(ENGLAND)


def test_lsoa_geometry_once_and_values_apart(eng: ov.Overview) -> None:
    gj = json.loads(eng.geometry_geojson("lsoa"))
    feats = gj["features"]
    assert len(feats) == 33_755  # England only, no Welsh LSOAs
    assert [f["properties"]["i"] for f in feats] == list(range(33_755))
    codes = [f["properties"]["code"] for f in feats]
    assert codes == sorted(codes) and all(c.startswith("E01") for c in codes)
    assert set(feats[0]["properties"]) == {"i", "code", "name"}
    # EPSG:4326, 5 decimals
    ring = feats[0]["geometry"]["coordinates"][0][0]
    lon, lat = ring[0]
    assert -6.5 < lon < 2.0 and 49.8 < lat < 56.0
    assert all(len(str(x).split(".")[-1]) <= 5 for x in ring[0])
    v = eng.values("imd2025_score")
    assert v.dtype == np.float32 and v.shape == (33_755,)
    i = codes.index("E01000001")
    assert v[i] == pytest.approx(eng.benchmark.values.loc["E01000001", "imd2025_score"])
    assert eng.geometry_geojson("lsoa") is eng.geometry_geojson("lsoa")  # built once


def test_council_and_msoa_values_aggregate_like_placekit(eng: ov.Overview) -> None:
    lad = eng.areas("lad")
    assert len(lad) == eng.lookup["lad24_code"].nunique()
    v = eng.values("bad_health_pct", "lad")
    table = eng.benchmark.lad_table(["bad_health_pct"])["bad_health_pct"]
    np.testing.assert_allclose(v, table.reindex(lad.index).to_numpy(np.float32), rtol=1e-6)
    m = eng.values("imd2025_score", "msoa")
    assert m.shape == (len(eng.areas("msoa")),) and np.isfinite(m).mean() > 0.99


def test_outlines_are_lines_each_border_once(eng: ov.Overview) -> None:
    import shapely

    for level, n in (("icb", 42), ("lad", 296)):
        gj = json.loads(eng.outlines_geojson(level))
        assert len(gj["features"]) == 1 and gj["features"][0]["properties"] == {"outline": level}
        lines = shapely.from_geojson(json.dumps(gj["features"][0]["geometry"]))
        assert lines.geom_type in ("MultiLineString", "LineString")
        polys = eng._published(level).geometry.to_numpy()
        assert len(polys) == n
        # every border once: the lines are as long as the areas' perimeters with each
        # shared border counted once (half the perimeters plus half the outer boundary)
        perimeters = shapely.length(polys).sum()
        outer = shapely.union_all(polys).boundary.length
        assert lines.length == pytest.approx((perimeters + outer) / 2, rel=1e-3)
        assert lines.length < 0.75 * perimeters


def test_national_simplification_keeps_every_lsoa_and_the_coverage() -> None:
    import shapely

    if not (ENGLAND / "imd2025_england_lsoa21.parquet").is_file():
        pytest.skip("no England folder beside the repository")
    nat = ov.load_overview(ENGLAND, simplify_m=ov.NATIONAL_SIMPLIFY_M)
    full = nat._published("lsoa").geometry.to_numpy()
    simple = nat.areas("lsoa").geometry.to_numpy()
    assert len(simple) == 33_755 and not shapely.is_empty(simple).any()
    assert shapely.is_valid(simple).all()
    # fewer vertices drawn, area kept (no gaps or overlaps made: shared edges stay shared)
    assert shapely.get_num_coordinates(simple).sum() < 0.7 * shapely.get_num_coordinates(full).sum()
    assert shapely.area(simple).sum() == pytest.approx(shapely.area(full).sum(), rel=2e-3)
    union = shapely.union_all(simple)
    assert shapely.area(union) == pytest.approx(shapely.area(simple).sum(), rel=1e-3)


def test_detail_geometry_is_the_published_shapes(eng: ov.Overview) -> None:
    codes = list(eng.lookup.index[eng.lookup["lad24_code"] == "E08000018"])[::-1]
    gj = json.loads(eng.detail_geojson(codes))
    assert [f["properties"]["code"] for f in gj["features"]] == codes
    assert [f["properties"]["i"] for f in gj["features"]] == list(range(len(codes)))
    with pytest.raises(DataError, match=r"1 code\(s\) are not English lsoa areas"):
        eng.detail_geojson([codes[0], "W01000001"])


def test_outlines_and_picking(eng: ov.Overview) -> None:
    sample = eng.lookup.sample(20, random_state=np.random.default_rng(1))
    for code, row in sample.iterrows():
        assert eng.council_for(code) == row["lad24_code"]
        assert eng.council_for(row["msoa21_code"]) == row["lad24_code"]
    assert eng.council_for("e08000018") == "E08000018"
    with pytest.raises(DataError, match="not an English LSOA 2021, MSOA 2021 or local"):
        eng.council_for("W01000001")
    # a point in the middle of Rotherham, and one in the North Sea
    assert eng.council_at(-1.3565, 53.4326) == "E08000018"
    assert eng.council_at(2.5, 54.0) is None


def test_recolour_sends_one_digit_per_area(eng: ov.Overview) -> None:
    v = eng.values("bad_health_pct")
    codes, colours, _legend = ov.class_codes(v, k=5)
    assert len(codes) == v.size and set(codes) <= set("012345")
    counts = np.bincount([int(c) for c in codes], minlength=6)
    assert counts[5] == np.isnan(v).sum()
    assert abs(counts[:5] - v.size / 5).max() < v.size * 0.02  # quintiles
    expr = ov.fill_expression(codes, colours)
    assert len(expr) < v.size + 200
    palette, digits = re.fullmatch(
        r"\((\[.*\])\)\[\('([0-9]+)'\)\[properties\.i\]\]", expr
    ).groups()
    pal = json.loads(palette)
    assert digits == codes and len(pal) == 6 and pal[-1][:3] == [200, 200, 200]
    # the expression's colour of area i is its class's colour
    i = int(np.nanargmax(v))
    assert pal[int(digits[i])][:3] == list(colours[-1])


def test_static_files_and_errors(eng: ov.Overview, tmp_path: Path) -> None:
    names = ov.write_overview_static(eng, tmp_path, levels=("lad", "icb_lines"))
    assert set(names) == {"lad", "icb_lines"}
    assert (tmp_path / names["lad"]).read_bytes() == eng.geometry_geojson("lad")
    assert (tmp_path / names["icb_lines"]).read_bytes() == eng.outlines_geojson("icb")
    # named by the sources and settings: a second server finds the file and builds nothing
    again = ov.Overview(folder=eng.folder, benchmark=eng.benchmark, lookup=eng.lookup)
    assert ov.write_overview_static(again, tmp_path, levels=("lad",))["lad"] == names["lad"]
    assert not again._json and not again._geo  # nothing was built
    other = ov.Overview(
        folder=eng.folder, benchmark=eng.benchmark, lookup=eng.lookup, simplify_m=500.0
    )
    assert ov.write_overview_static(other, tmp_path, levels=("lad",))["lad"] != names["lad"]
    with pytest.raises(DataError, match="levels must be of"):
        ov.write_overview_static(eng, tmp_path, levels=("ward",))
    with pytest.raises(DataError, match="No England value for 'gp_walk_min'"):
        eng.values("gp_walk_min")
    with pytest.raises(DataError, match="k must be a whole number from 2 to 9"):
        ov.class_codes(np.zeros(3), k=12)
    with pytest.raises(DataError, match="No England folder at"):
        ov.load_overview(tmp_path / "nope")
    with pytest.raises(DataError, match="one lsoa boundary file matching"):
        ov.Overview(folder=tmp_path, benchmark=eng.benchmark, lookup=eng.lookup).areas("lsoa")


def test_england_dir_from_a_pack_manifest(tmp_path: Path) -> None:
    pack = tmp_path / "p"
    pack.mkdir()
    (pack / "placekit-pack.json").write_text(
        json.dumps(
            {
                "placekit_pack": 1,
                "name": "X",
                "la_codes": ["E09999901"],
                "england": str(ENGLAND),
                "roles": {
                    "lsoa": {"file": "a.parquet", "columns": {"code": "c", "name": "n"}},
                    "census": {"file": "b.parquet", "columns": {"code": "c"}},
                },
            }
        )
    )
    if ENGLAND.is_dir():
        assert ov.england_dir_for(pack).resolve() == ENGLAND.resolve()
    assert ov.pack_for_council("E09999901", [tmp_path]) == pack
    assert ov.pack_for_council("E09999902", [tmp_path]) is None

"""Any council: a tiny hand-made pack whose answers are worked by hand, and a real built pack.

The tiny sources (``tests/tiny_sources.py``) are two councils of four 1 km square LSOAs on a
1 km street grid whose nodes sit at the LSOA centres. Origins are the live postcodes, 200 m
west of each centre (snap 200 m). Easterby's one GP is 300 m west of the centre of E01999907
(snap 200 m to that centre's node); Westerby's four GPs sit on its LSOA centres (snap 0), and
one more GP lies 2.5 km east of Easterby, halfway between two nodes (snap 500 m).

Walk distances to the nearest GP, worked by hand for Easterby:

==========  ================================  ==========================================
LSOA        own GPs only (no margin)          GPs over the border counted (3 km margin)
==========  ================================  ==========================================
E01999905   200 + 1000 + 200 = 1400 m         200 + 1000 (to Westerby's GP) = 1200 m
E01999906   200 + 2000 + 200 = 2400 m         200 + 2000 = 2200 m (east GP: 200+3000+500)
E01999907   200 + 0 + 200 = 400 m             400 m
E01999908   200 + 1000 + 200 = 1400 m         1400 m (Westerby's: 200 + 2000)
==========  ================================  ==========================================
"""

from __future__ import annotations

import pytest
from tiny_sources import make_tiny_sources

from placekit.accessibility import add_access_indicators
from placekit.packbuild import build_pack
from placekit.place import load_place

EAST = "E09999902"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny_sources")
    make_tiny_sources(folder)
    return folder


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("PLACEKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


def _easterby(tiny, tmp_path_factory, margin_km):
    out = tmp_path_factory.mktemp(f"easterby_{margin_km:g}") / "pack"
    build_pack(tiny, [EAST], out, margin_km=margin_km, prebuild=())
    return load_place(out)


@pytest.fixture(scope="module")
def with_margin(tiny, tmp_path_factory, cache):
    return _easterby(tiny, tmp_path_factory, 3.0)


@pytest.fixture(scope="module")
def no_margin(tiny, tmp_path_factory, cache):
    return _easterby(tiny, tmp_path_factory, 0.0)


def test_tiny_place_areas_and_levels(with_margin):
    p = with_margin
    assert list(p.lsoa.index) == ["E01999905", "E01999906", "E01999907", "E01999908"]
    assert p.weights["population"].sum() == 6600
    assert "lad" in p.levels and "ward" in p.levels
    assert p.table("lad", ["population"])["population"].tolist() == [6600]
    assert p.pack.origins["method"] == "postcodes"
    origins = p.origins("walk")
    assert len(origins.x_m) == 4 and origins.fallback == 0  # the terminated postcodes are left out
    assert origins.offset_m == pytest.approx([200.0] * 4, abs=0.1)  # lon/lat to 6 decimals: cm


def test_tiny_access_counts_the_gp_over_the_border(with_margin, no_margin):
    far = add_access_indicators(with_margin, types=("gp",)).indicators["gp_walk_m"]
    own = add_access_indicators(no_margin, types=("gp",)).indicators["gp_walk_m"]
    assert far.round(1).to_dict() == {
        "E01999905": 1200.0,
        "E01999906": 2200.0,
        "E01999907": 400.0,
        "E01999908": 1400.0,
    }
    assert own.round(1).to_dict() == {
        "E01999905": 1400.0,
        "E01999906": 2400.0,
        "E01999907": 400.0,
        "E01999908": 1400.0,
    }
    assert len(with_margin.layer("gp")) == 6 and len(no_margin.layer("gp")) == 1


def test_tiny_scenario_runs_on_any_pack(with_margin):
    from placekit.scenarios import ScenarioEngine

    place = add_access_indicators(with_margin, types=("gp",))
    eng = ScenarioEngine(place)
    res = eng.apply(
        {
            "placekit_scenario": 1,
            "name": "new GP",
            "mode": "walk",
            "threshold_min": 15,
            "interventions": [{"type": "add_facility", "facility": "gp", "x": 433500, "y": 380500}],
        }
    )
    # the new GP stands on E01999906's centre node: 200 m from its postcode, 2.5 min at 80 m/min
    change = res.areas.loc["E01999906", "gp_min_change"]
    assert change == pytest.approx((200.0 - 2200.0) / 80.0, abs=0.01)
    assert set(res.localities) == set(place.levels)

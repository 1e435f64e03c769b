import json

import numpy as np
import pandas as pd
import pytest

from placekit.accessibility import add_access_indicators
from placekit.drivers import DEFAULT_DRIVERS, fit_demand_ensemble
from placekit.errors import DataError
from placekit.scenarios import (
    ScenarioEngine,
    compare_scenarios,
    list_scenarios,
    load_scenario,
    save_scenario,
    validate_scenario,
)

GP_SITE = {"lon": -1.4917, "lat": 53.3215}  # Beauchief: the LSOA with the longest walk to a GP in its ward


@pytest.fixture(scope="module")
def engine(place):
    p = add_access_indicators(place, types=("gp", "greenspace", "pharmacy", "stop"))
    dm = fit_demand_ensemble(p, "bad_health_pct", drivers=[*DEFAULT_DRIVERS, "gp_walk_min"], kind="ridge")
    return ScenarioEngine(p, demand_model=dm)


def _sc(*items, **kw):
    return {"placekit_scenario": 1, "name": "t", "threshold_min": 15, "interventions": list(items), **kw}


def test_new_gp_shortens_only_where_it_should_and_matches_full(engine):
    res = engine.apply(_sc({"type": "add_facility", "facility": "gp", **GP_SITE}))
    a = res.areas
    assert (a["gp_min_change"] <= 1e-9).all()  # nobody further away
    helped = a.index[a["gp_min_change"] < -0.01]
    assert 0 < len(helped) < 30  # local, not city-wide
    x, y = engine.locate(GP_SITE)
    d_km = np.hypot(engine.place.lsoa.loc[helped].centroid.x - x, engine.place.lsoa.loc[helped].centroid.y - y) / 1000
    assert d_km.max() < 5
    # same answer as a full recompute with the facility in the layer
    base = engine.baseline("gp")
    st = engine.model.add_facility(base, x, y, facility_id="n")
    full = engine.model.solve(st.facilities)
    np.testing.assert_allclose(st.cost, full.cost)
    assert a["gp_people_newly_within"].sum() > 0
    assert a.loc[a["gp_min_change"] == 0, "gp_people_newly_within"].eq(0).all()
    assert res.localities["lac"]["gp_people_newly_within"].sum() == pytest.approx(a["gp_people_newly_within"].sum())
    assert res.by_imd_decile["gp_people_newly_within"].sum() == pytest.approx(a["gp_people_newly_within"].sum())
    assert "demand_change_sd" in a and (a["demand_change_sd"] >= 0).all()
    assert a.loc[a["gp_min_change"] == 0, "demand_change"].abs().max() < 1e-9


def test_close_and_link_and_housing_and_green(engine):
    gp_id = str(engine.baseline("gp").facilities.ids[0])
    res = engine.apply(_sc({"type": "close_facility", "facility": "gp", "id": gp_id}))
    assert (res.areas["gp_min_change"] >= -1e-9).all() and res.areas["gp_min_change"].max() > 0
    res = engine.apply(_sc({"type": "add_link", "from": {"x": 433000, "y": 386000}, "to": {"x": 433800, "y": 386400}}))
    assert (res.areas["gp_min_change"] <= 1e-9).all()
    res = engine.apply(_sc({"type": "add_housing", "postcode": "S1 1AA", "people": 460, "dwellings": 200}))
    assert (res.areas["population_scn"] - res.areas["population_base"]).sum() == 460
    res = engine.apply(_sc({"type": "improve_greenspace", **GP_SITE, "area_m2": 20000}))
    assert (res.areas["greenspace_min_change"] <= 1e-9).all() and res.areas["greenspace_min_change"].min() < 0


def test_errors(engine):
    with pytest.raises(DataError, match="intervention 1 has type 'add_park'"):
        engine.apply(_sc({"type": "add_park"}))
    with pytest.raises(DataError, match="is not in the pack's postcode lookup"):
        engine.apply(_sc({"type": "add_facility", "facility": "gp", "postcode": "ZZ9 9ZZ"}))
    with pytest.raises(DataError, match="No facility 'NOPE'"):
        engine.apply(_sc({"type": "close_facility", "facility": "gp", "id": "NOPE"}))
    with pytest.raises(DataError, match="outside the city"):
        engine.apply(_sc({"type": "add_facility", "facility": "gp", "lon": -0.1, "lat": 51.5}))
    with pytest.raises(DataError, match="'placekit_scenario' must be 1"):
        validate_scenario({"interventions": []})


def test_round_trip_list_compare(engine, tmp_path):
    doc = _sc({"type": "add_facility", "facility": "gp", **GP_SITE}, name="New GP", description="test")
    p = save_scenario(doc, tmp_path / "gp.json")
    back = load_scenario(p)
    assert back["interventions"] == doc["interventions"] and back["name"] == "New GP"
    assert json.loads(p.read_text())["placekit_scenario"] == 1
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    listing = list_scenarios(tmp_path)
    assert listing["file"].tolist() == ["gp.json"]
    with pytest.raises(DataError, match="broken.json is not valid UTF-8 JSON"):
        load_scenario(tmp_path / "broken.json")
    a = engine.apply(back)
    b = engine.apply(_sc({"type": "add_facility", "facility": "gp", "x": 435300, "y": 387200}))
    cmp = compare_scenarios({"beauchief": a, "centre": b})
    assert list(cmp.columns) == ["beauchief", "centre"]
    assert cmp.loc["gp_people_newly_within", "beauchief"] > cmp.loc["gp_people_newly_within", "centre"]


def test_cli_scenario(tmp_path, capsys):
    from placekit.cli import main

    f = save_scenario(_sc({"type": "add_facility", "facility": "gp", **GP_SITE}), tmp_path / "s.json")
    assert main(["scenario", str(f), "--level", "lac", "--out", str(tmp_path / "o.csv")]) == 0
    t = pd.read_csv(tmp_path / "o.csv")
    assert {"area_code", "gp_min_base", "gp_min_scn", "gp_min_change"} <= set(t.columns)
    assert len(t) == 7


def test_isochrones_of_added_facility(engine):
    from shapely.geometry import Point

    iso = engine.isochrones(_sc({"type": "add_facility", "facility": "gp", **GP_SITE}), threshold_min=10)
    assert len(iso) == 1 and iso.crs.to_epsg() == 27700
    x, y = engine.locate(GP_SITE)
    poly = iso.geometry.iloc[0]
    assert poly.contains(Point(x, y))
    radius_m = 10 * 80  # 10 minutes at 4.8 km/h
    assert poly.area < np.pi * (radius_m + 25) ** 2  # never beyond the straight-line reach (plus buffer)

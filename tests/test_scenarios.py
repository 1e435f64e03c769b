import json

import numpy as np
import pandas as pd
import pytest

from placekit.accessibility import add_access_indicators
from placekit.errors import DataError
from placekit.scenarios import (
    ScenarioEngine,
    compare_scenarios,
    list_scenarios,
    load_scenario,
    save_scenario,
    validate_scenario,
)

GP_SITE = {
    "lon": -1.4917,
    "lat": 53.3215,
}  # Beauchief: the LSOA with the longest walk to a GP in its ward


@pytest.fixture(scope="module")
def engine(place):
    p = add_access_indicators(place, types=("gp", "greenspace", "pharmacy", "stop"))
    return ScenarioEngine(p, demand="bad_health_pct")


def _sc(*items, **kw):
    return {
        "placekit_scenario": 1,
        "name": "t",
        "threshold_min": 15,
        "interventions": list(items),
        **kw,
    }


def test_new_gp_shortens_only_where_it_should_and_matches_full(engine):
    res = engine.apply(_sc({"type": "add_facility", "facility": "gp", **GP_SITE}))
    a = res.areas
    assert (a["gp_min_change"] <= 1e-9).all()  # nobody further away
    helped = a.index[a["gp_min_change"] < -0.01]
    assert 0 < len(helped) < 30  # local, not city-wide
    x, y = engine.locate(GP_SITE)
    d_km = (
        np.hypot(
            engine.place.lsoa.loc[helped].centroid.x - x,
            engine.place.lsoa.loc[helped].centroid.y - y,
        )
        / 1000
    )
    assert d_km.max() < 5
    # same answer as a full recompute with the facility in the layer
    base = engine.baseline("gp")
    st = engine.model.add_facility(base, x, y, facility_id="n")
    full = engine.model.solve(st.facilities)
    np.testing.assert_allclose(st.cost, full.cost)
    assert a["gp_people_newly_within"].sum() > 0
    assert a.loc[a["gp_min_change"] == 0, "gp_people_newly_within"].eq(0).all()
    # whole people, and one total everywhere (LSOAs, localities, deciles, comparison)
    people = a["gp_people_newly_within"]
    assert (people == np.rint(people)).all()
    total = people.sum()
    for level in engine.place.levels:
        assert res.localities[level]["gp_people_newly_within"].sum() == total
    assert res.by_imd_decile["gp_people_newly_within"].sum() == total
    assert compare_scenarios({"x": res}).loc["gp_people_newly_within", "x"] == total
    # Sheffield: no detectable effect of GP walk time on bad health (interval spans zero), so
    # no point change is shown, but its interval is, and it is zero where access did not change
    eff = engine.effect("gp")
    assert eff.lower < 0 < eff.upper and not eff.point_prediction_allowed
    assert a["gp_demand_change"].isna().all()
    assert any("No detectable effect" in n or "no detectable effect" in n for n in res.notes)


def test_close_and_link_and_housing_and_green(engine):
    gp_id = str(engine.baseline("gp").facilities.ids[0])
    res = engine.apply(_sc({"type": "close_facility", "facility": "gp", "id": gp_id}))
    assert (res.areas["gp_min_change"] >= -1e-9).all() and res.areas["gp_min_change"].max() > 0
    res = engine.apply(
        _sc(
            {
                "type": "add_link",
                "from": {"x": 433000, "y": 386000},
                "to": {"x": 433800, "y": 386400},
            }
        )
    )
    assert (res.areas["gp_min_change"] <= 1e-9).all()
    res = engine.apply(
        _sc({"type": "add_housing", "postcode": "S1 1AA", "people": 460, "dwellings": 200})
    )
    assert (res.areas["population_scn"] - res.areas["population_base"]).sum() == 460
    res = engine.apply(_sc({"type": "improve_greenspace", **GP_SITE, "area_m2": 20000}))
    assert (res.areas["greenspace_min_change"] <= 1e-9).all() and res.areas[
        "greenspace_min_change"
    ].min() < 0


def test_errors(engine):
    with pytest.raises(DataError, match="intervention 1 has type 'add_park'"):
        engine.apply(_sc({"type": "add_park"}))
    with pytest.raises(DataError, match="is not in the pack's postcode lookup"):
        engine.apply(_sc({"type": "add_facility", "facility": "gp", "postcode": "ZZ9 9ZZ"}))
    with pytest.raises(DataError, match="gp 'NOPE' does not exist"):
        engine.apply(_sc({"type": "close_facility", "facility": "gp", "id": "NOPE"}))
    with pytest.raises(DataError, match="outside the city"):
        engine.apply(_sc({"type": "add_facility", "facility": "gp", "lon": -0.1, "lat": 51.5}))
    with pytest.raises(DataError, match="'placekit_scenario' must be 1"):
        validate_scenario({"interventions": []})


def test_round_trip_list_compare(engine, tmp_path):
    doc = _sc(
        {"type": "add_facility", "facility": "gp", **GP_SITE}, name="New GP", description="test"
    )
    p = save_scenario(doc, tmp_path / "gp.json")
    back = load_scenario(p)
    assert back["interventions"] == doc["interventions"] and back["name"] == "New GP"
    assert json.loads(p.read_text())["placekit_scenario"] == 1
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    listing = list_scenarios(tmp_path)
    assert listing["file"].tolist() == ["broken.json", "gp.json"]  # the broken one is reported
    assert listing["ok"].tolist() == [False, True]
    assert listing["problem"].iloc[0].startswith("broken.json is not valid UTF-8 JSON (line 1")
    with pytest.raises(DataError, match=r"broken\.json is not valid UTF-8 JSON"):
        load_scenario(tmp_path / "broken.json")
    a = engine.apply(back)
    b = engine.apply(_sc({"type": "add_facility", "facility": "gp", "x": 435300, "y": 387200}))
    cmp = compare_scenarios({"beauchief": a, "centre": b})
    assert list(cmp.columns) == ["beauchief", "centre"]
    assert (
        cmp.loc["gp_people_newly_within", "beauchief"] > cmp.loc["gp_people_newly_within", "centre"]
    )


def test_cli_scenario(tmp_path, capsys):
    from placekit.cli import main

    f = save_scenario(
        _sc({"type": "add_facility", "facility": "gp", **GP_SITE}), tmp_path / "s.json"
    )
    assert main(["scenario", str(f), "--level", "lac", "--out", str(tmp_path / "o.csv")]) == 0
    t = pd.read_csv(tmp_path / "o.csv")
    assert {"area_code", "gp_min_base", "gp_min_scn", "gp_min_change"} <= set(t.columns)
    assert len(t) == 7


def test_isochrones_of_added_facility(engine):
    from shapely.geometry import Point

    iso = engine.isochrones(
        _sc({"type": "add_facility", "facility": "gp", **GP_SITE}), threshold_min=10
    )
    assert len(iso) == 1 and iso.crs.to_epsg() == 27700
    x, y = engine.locate(GP_SITE)
    poly = iso.geometry.iloc[0]
    assert poly.contains(Point(x, y))
    radius_m = 10 * 80  # 10 minutes at 4.8 km/h
    assert (
        poly.area < np.pi * (radius_m + 50) ** 2
    )  # never beyond the straight-line reach (plus buffer)


# -- every refusal, word for word ------------------------------------------------------------

GP_ITEM = {"type": "add_facility", "facility": "gp", **GP_SITE}
HOUSING = {"type": "add_housing", "postcode": "S1 1AA"}
PREFIX = "scenario: intervention 1"
REFUSED = {
    "negative people": (
        _sc({**HOUSING, "people": -50_000}),
        f"{PREFIX} (add_housing): people must be a number between 1 and 50,000 new residents; "
        "got -50000. Fix: e.g. 460 for 200 homes.",
    ),
    "huge people": (
        _sc({**HOUSING, "people": 1e9}),
        f"{PREFIX} (add_housing): people must be a number between 1 and 50,000 new residents; "
        "got 1000000000.0. Fix: e.g. 460 for 200 homes.",
    ),
    "people as text": (
        _sc({**HOUSING, "people": "460"}),
        f"{PREFIX} (add_housing): people must be a number between 1 and 50,000 new residents; "
        "got '460' (text). Fix: write it as a plain number without quotes, e.g. 460 for 200 homes.",
    ),
    "people with 400 digits": (
        _sc({**HOUSING, "people": 10**400}),
        f"{PREFIX} (add_housing): people must be a number between 1 and 50,000 new residents; "
        "got a number with about 400 digits. Fix: give an ordinary number, e.g. 460 for 200 homes.",
    ),
    "part of a dwelling": (
        _sc({**HOUSING, "people": 50, "dwellings": 2.5}),
        f"{PREFIX} (add_housing): dwellings must be a whole number between 1 and 20,000 homes; "
        "got 2.5. Fix: e.g. 200.",
    ),
    "housing outside the city": (
        _sc({"type": "add_housing", "lon": -1.30, "lat": 53.38, "people": 50}),
        f"{PREFIX} (add_housing): lon/lat (-1.3, 53.38) is outside Sheffield (by 3.6 km), so the "
        "new residents cannot be counted in any neighbourhood. Fix: give a location inside "
        "Sheffield.",
    ),
    "null area": (
        _sc({"type": "improve_greenspace", **GP_SITE, "area_m2": None}),
        f"{PREFIX} (improve_greenspace): area_m2 must be a number between 100 and 2,000,000 "
        "square metres; got nothing (null). Fix: give a value, e.g. 20000 for a 2-hectare park.",
    ),
    "NaN area": (
        _sc({"type": "improve_greenspace", **GP_SITE, "area_m2": float("nan")}),
        f"{PREFIX} (improve_greenspace): area_m2 must be a number between 100 and 2,000,000 "
        "square metres; got NaN (not a number). Fix: give an ordinary number, e.g. 20000 for a "
        "2-hectare park.",
    ),
    "negative area": (
        _sc({"type": "improve_greenspace", **GP_SITE, "area_m2": -20_000}),
        f"{PREFIX} (improve_greenspace): area_m2 must be a number between 100 and 2,000,000 "
        "square metres; got -20000. Fix: e.g. 20000 for a 2-hectare park.",
    ),
    "infinite lon": (
        _sc({"type": "add_facility", "facility": "gp", "lon": float("inf"), "lat": 53.3}),
        f"{PREFIX} (add_facility): lon must be a number between -6.5 and 2 degrees (England); got "
        "infinity. Fix: give an ordinary number, e.g. -1.47 (lon is east-west, negative in most "
        "of England).",
    ),
    "threshold true": (
        _sc(GP_ITEM, threshold_min=True),
        "scenario: threshold_min must be a number between 1 and 120 minutes; got true (a yes/no "
        "value). Fix: give a value, e.g. 15.",
    ),
    "negative threshold": (
        _sc(GP_ITEM, threshold_min=-5),
        "scenario: threshold_min must be a number between 1 and 120 minutes; got -5. Fix: e.g. 15.",
    ),
    "moved to 0,0": (
        _sc({"type": "move_facility", "facility": "gp", "id": "C81002", "lon": 0, "lat": 0}),
        f"{PREFIX} (move_facility): lat must be a number between 49.8 and 55.9 degrees (England); "
        "got 0. Fix: e.g. 53.38 (lat is north-south).",
    ),
    "moved to x/y 0,0": (
        _sc({"type": "move_facility", "facility": "gp", "id": "C81002", "x": 0, "y": 0}),
        f"{PREFIX} (move_facility): x must be a number between 80,000 and 660,000 metres (British "
        "National Grid); got 0. Fix: e.g. 435300.",
    ),
    "lon and lat swapped": (
        _sc({"type": "add_facility", "facility": "gp", "lon": 53.3215, "lat": -1.4917}),
        f"{PREFIX} (add_facility): lon must be a number between -6.5 and 2 degrees (England); got "
        "53.3215. Fix: e.g. -1.47 (lon is east-west, negative in most of England).",
    ),
    "in London": (
        _sc({"type": "add_facility", "facility": "gp", "lon": -0.1, "lat": 51.5}),
        f"{PREFIX} (add_facility): lon/lat (-0.1, 51.5) is 218.8 km outside the city (Sheffield). "
        "Fix: give a location inside Sheffield or within 2 km of its boundary (check that lon and "
        "lat are not swapped).",
    ),
    "two locations": (
        _sc({**GP_ITEM, "postcode": "S1 1AA"}),
        f"{PREFIX} (add_facility): has more than one location (lon/lat and postcode); it is not "
        "clear which is meant. Fix: keep only one.",
    ),
    "lon without lat": (
        _sc({"type": "add_facility", "facility": "gp", "lon": -1.49}),
        f"{PREFIX} (add_facility): has lon but no lat. Fix: give both.",
    ),
    "unknown postcode": (
        _sc({"type": "add_facility", "facility": "gp", "postcode": "ZZ9 9ZZ"}),
        f"{PREFIX} (add_facility): postcode 'ZZ9 9ZZ' is not in the pack's postcode lookup for "
        "Sheffield. Fix: check it, or give the location as lon/lat.",
    ),
    "closed twice": (
        _sc(
            {"type": "close_facility", "facility": "gp", "id": "C81002"},
            {"type": "close_facility", "facility": "gp", "id": "C81002"},
        ),
        "scenario: intervention 2 (close_facility): gp 'C81002' is already closed by intervention "
        "1, so it cannot be closed again. Fix: remove one of the two.",
    ),
    "moved after closing": (
        _sc(
            {"type": "close_facility", "facility": "gp", "id": "C81002"},
            {"type": "move_facility", "facility": "gp", "id": "C81002", **GP_SITE},
        ),
        "scenario: intervention 2 (move_facility): gp 'C81002' is already closed by intervention "
        "1, so it cannot be moved. Fix: remove one of the two.",
    ),
    "closing one that does not exist": (
        _sc({"type": "close_facility", "facility": "pharmacy", "id": "FA46"}),
        f"{PREFIX} (close_facility): pharmacy 'FA46' does not exist: there is no pharmacy with "
        "that id in Sheffield. Did you mean 'FA460'? The ids are FA460, FA562, FA818, FAE26, "
        "FAP44, FAW84, FC500, FC958, FCQ35, FCX07, FCY53, FD502, FD605, FD617, FD749, FDC82, "
        "FDG48, FDJ40, FDN28, FDP91, … (148 in all).",
    ),
    "unknown facility type": (
        _sc({"type": "add_facility", "facility": "hospital", **GP_SITE}),
        f"{PREFIX} (add_facility): facility 'hospital' is not a facility type in Sheffield; types "
        "are gp, pharmacy, dentist, greenspace, leisure, library, community_centre, "
        "place_of_worship, warm_space, stop, tram_line, fast_food, pub, betting, school, "
        "conservation_area.",
    ),
    "unknown scenario field": (
        _sc(GP_ITEM, colour="red"),
        "scenario: unknown field(s) 'colour'; a scenario has only description, interventions, "
        "mode, name, placekit_scenario, threshold_min. Fix: remove or rename it.",
    ),
    "misspelt field": (
        _sc({**HOUSING, "peple": 460}),
        f"{PREFIX} (add_housing): unknown field(s) 'peple'; this kind of intervention has only "
        "dwellings, lat, lon, name, note, people, postcode, type, x, y. Fix: remove or rename it.",
    ),
    "unknown mode": (
        _sc(GP_ITEM, mode="bike"),
        "scenario: mode must be one of walk, drive; got 'bike' (text).",
    ),
    "201 interventions": (
        _sc(*[GP_ITEM] * 201),
        "scenario: 201 interventions; a scenario holds at most 200. Fix: split it into several "
        "scenarios.",
    ),
    "21 links": (
        _sc(
            *[
                {
                    "type": "add_link",
                    "from": {"x": 433000, "y": 386000},
                    "to": {"x": 433800, "y": 386400},
                }
            ]
            * 21
        ),
        "scenario: intervention 21 (add_link): a scenario can add at most 20 links (each one "
        "re-solves every facility type). Fix: split the scenario.",
    ),
    "link end not a location": (
        _sc({"type": "add_link", "from": 5, "to": {"x": 433800, "y": 386400}}),
        f'{PREFIX} (add_link): from must be a location such as {{"lon": -1.47, "lat": 53.38}}; '
        "got 5.",
    ),
    "link 15 km long": (
        _sc(
            {
                "type": "add_link",
                "from": {"x": 428000, "y": 386000},
                "to": {"x": 443000, "y": 386000},
            }
        ),
        f"{PREFIX} (add_link): the link is 15.0 km long; a new path or bridge can be at most 5 km. "
        "Fix: check the two ends.",
    ),
    "version true": (
        {"placekit_scenario": True, "interventions": [GP_ITEM]},
        "scenario: 'placekit_scenario' must be 1 (the format version); got true (a yes/no value). "
        'Fix: add "placekit_scenario": 1 at the top.',
    ),
    "markdown image as type": (
        _sc({"type": "![x](http://evil.example/x.png)"}),
        "scenario: intervention 1 has type '\\!\\[x\\]\\(http\\://evil.example/x.png\\)'; types "
        "are add_facility, close_facility, move_facility, add_link, add_housing, "
        "improve_greenspace.",
    ),
    "HTML as facility": (
        _sc({"type": "add_facility", "facility": "<img src=x onerror=alert(1)>", **GP_SITE}),
        f"{PREFIX} (add_facility): facility '&lt;img src=x onerror=alert\\(1\\)&gt;' is not a "
        "facility type in Sheffield; types are gp, pharmacy, dentist, greenspace, leisure, "
        "library, community_centre, place_of_worship, warm_space, stop, tram_line, fast_food, "
        "pub, betting, school, conservation_area.",
    ),
    "deep nesting": (
        _sc(
            {
                "type": "add_link",
                "from": {"to": {"to": {"to": {"to": {"to": {"to": {}}}}}}},
                "to": {},
            }
        ),
        "scenario is nested more than 8 levels deep; a scenario needs at most 4 (scenario, "
        "interventions, intervention, link end). Fix: remove the extra brackets.",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_word_for_word(place, case):
    doc, expected = REFUSED[case]
    with pytest.raises(DataError) as err:
        validate_scenario(doc, place=place)
    assert str(err.value) == expected


def test_refused_by_the_engine_too(engine):
    """apply checks against its own place and mode, and names every problem at once."""
    with pytest.raises(DataError) as err:
        engine.apply(_sc({"type": "add_facility", "facility": "gp", **GP_SITE}, mode="drive"))
    assert str(err.value) == (
        "scenario: this scenario is for drive journeys, but this scenario tool is set up for walk "
        "journeys and would give walk results. Fix: set mode to 'walk', or run it with a drive "
        "engine (the placekit scenario command uses the scenario's own mode)."
    )
    with pytest.raises(DataError) as err:
        engine.apply(_sc({**HOUSING, "people": -1}, {"type": "add_park"}, threshold_min="15"))
    assert str(err.value).split("\n") == [
        "scenario: threshold_min must be a number between 1 and 120 minutes; got '15' (text). "
        "Fix: write it as a plain number without quotes, e.g. 15.",
        f"{PREFIX} (add_housing): people must be a number between 1 and 50,000 new residents; "
        "got -1. Fix: e.g. 460 for 200 homes.",
        "scenario: intervention 2 has type 'add_park'; types are add_facility, close_facility, "
        "move_facility, add_link, add_housing, improve_greenspace.",
    ]


def test_without_a_place_only_the_document_is_checked():
    doc = _sc({"type": "close_facility", "facility": "gp", "id": 81002}, name="t")
    out = validate_scenario(doc)
    assert out["interventions"] == [{"type": "close_facility", "facility": "gp", "id": "81002"}]
    assert out["mode"] == "walk" and out["threshold_min"] == 15.0 and out["description"] == ""
    assert doc["interventions"][0]["id"] == 81002  # the input is not modified


def test_messages_render_nothing(place):
    markdown_it = pytest.importorskip("markdown_it")
    md = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])  # raw HTML on
    for bad in [
        "![x](http://evil.example/x.png)",
        "[click](javascript:alert(1))",
        "<img src=x onerror=alert(1)>",
        "<script>alert(1)</script>",
    ]:
        for doc in (
            _sc({"type": bad}),
            _sc({"type": "add_facility", "facility": bad, **GP_SITE}),
            _sc({**HOUSING, "people": bad}),
            _sc(GP_ITEM, mode=bad),
        ):
            with pytest.raises(DataError) as err:
                validate_scenario(doc, place=place, source=bad)
            html = md.render(str(err.value))
            assert "<img" not in html and "<a " not in html and "<script" not in html, html
            assert bad not in str(err.value)


def test_result_columns_in_words():
    from placekit.scenarios import column_label

    assert column_label("gp_min_change") == (
        "change in walk time to the nearest GP practice (minutes; minus = shorter)"
    )
    assert column_label("stop_min_base", mode="drive") == (
        "drive time to the nearest bus or tram stop now (minutes)"
    )
    assert column_label("gp_people_newly_within", threshold_min=12.5) == (
        "people newly within 12.5 min of a GP practice"
    )
    assert column_label(
        "pharmacy_demand_change_upper", demand="people with bad health", demand_unit="people"
    ) == ("people with bad health: estimated change, upper 95% bound (people)")
    assert column_label("population_scn") == "residents with the scenario"
    assert column_label("new_thing_x") == "new thing x"

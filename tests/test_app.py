import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from placekit import layers as pl

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def at():
    for stale in (ROOT / "static").glob("*.geojson"):  # files written by earlier runs
        stale.unlink()
    app = AppTest.from_file("../app.py", default_timeout=240)
    app.run()
    assert not app.exception
    return app


def _go(at, section):
    at.radio(key="section").set_value(section).run()
    assert not at.exception


def _deck(app, i=0):
    return json.loads(app.get("deck_gl_json_chart")[i].proto.json)


def _features(app, layer_id="choropleth"):
    """Features of a map layer, whether its data is inline or a file under static/."""
    layer = next(layer for layer in _deck(app)["layers"] if layer["id"] == layer_id)
    data = layer["data"]
    if isinstance(data, str):
        data = json.loads((ROOT / data.removeprefix("app/")).read_text())
    return data["features"]


def _legend(app):
    return [m.value for m in app.markdown if "pk-legend" in m.value]


def test_map_has_offline_base_and_legend(at):
    spec = _deck(at)
    ids = [layer["id"] for layer in spec["layers"]]
    assert "base-city" in ids and "choropleth" in ids and "top-roads" in ids
    assert "http" not in str(spec.get("mapStyle", ""))  # no remote style or tiles
    assert _legend(at) and "quantiles" in _legend(at)[0]
    assert any("OpenStreetMap contributors" in c.value for c in at.caption)
    assert any("area-level associations" in c.value for c in at.caption)
    # only the chosen section runs: one map on the page
    assert len(at.get("deck_gl_json_chart")) == 1
    # the sidebar says in words where access is measured from, and the map's tooltip too
    side = " ".join(c.value for c in at.sidebar.caption)
    assert "Access measured from homes on the council's residential address grid" in side
    assert "residential_grid" not in side
    tip = json.loads(at.get("deck_gl_json_chart")[0].proto.tooltip)["text"]
    assert "{bad_health_pct__text}" in tip and "{locality}" in tip  # LSOAs: their locality


def test_indicator_change_recolours(at):
    at.selectbox(key="indicator").set_value("imd2025_score").run()
    assert "IMD 2025 score" in _legend(at)[0]
    at.selectbox(key="level").set_value("lac").run()
    assert len(_features(at)) == 7
    layer = next(layer for layer in _deck(at)["layers"] if layer["id"] == "choropleth")
    assert layer["updateTriggers"]["getFillColor"][0] == "imd2025_score"  # recoloured, not re-sent
    at.radio(key="scheme").set_value("natural_breaks").run()
    assert "natural breaks" in _legend(at)[0]


def test_bivariate(at):
    at.selectbox(key="level").set_value("lsoa")
    at.checkbox(key="bivariate").check().run()
    at.selectbox(key="bi_driver").set_value("no_car_pct").run()
    assert not at.exception
    assert "3 x 3 tertiles" in _legend(at)[0]
    at.checkbox(key="bivariate").uncheck().run()


def test_overlays(at):
    at.multiselect(key="overlays").set_value(["gp", "greenspace"]).run()
    ids = [layer["id"] for layer in _deck(at)["layers"]]
    assert "pts-gp" in ids and "poly-greenspace" in ids
    at.multiselect(key="overlays").set_value([]).run()


def test_locality_pick_profile_and_zoom(at):
    _go(at, "Localities")
    at.selectbox(key="loc_level").set_value("ward").run()
    at.selectbox(key="loc_code").set_value("E05010858").run()  # Beighton
    assert any("Beighton" in s.value for s in at.subheader)
    prof = at.dataframe[0].value
    assert prof.loc["IMD 2025 score", "rank among localities (1 = worst)"].endswith("of 28")
    # units beside values, and no 'None' where England has no comparison
    assert prof.loc["Bad or very bad general health", "unit"] == "% of residents"
    assert "None" not in prof.astype(str).to_numpy()
    assert set(prof["vs England"]) <= {"better", "similar", "worse", "not compared"}
    local = next(layer for layer in _deck(at)["layers"] if layer["id"] == "locality")
    assert 5 <= len(local["data"]["features"]) <= 20  # only Beighton's LSOAs
    # the trend in the profile: IoD 2019 -> 2025 for Beighton, as the library computes it
    from placekit.change import change_table

    trend = next(d.value for d in at.dataframe if "against England" in d.value.columns)
    ward = change_table(at.session_state["place"], "ward").loc["E05010858"]
    assert trend.loc["Index of Multiple Deprivation", "change (points)"] == pytest.approx(
        ward["imd_change_pct"], abs=0.05
    )
    assert trend.loc["Index of Multiple Deprivation", "against England"] == ward["imd_status"]
    at.button(key="zoom").click().run()
    assert at.session_state["section"] == "Map explorer"
    assert _deck(at)["initialViewState"]["zoom"] > 11


def test_types_section(at):
    _go(at, "Neighbourhood types")
    at.slider(key="k").set_value(4).run()
    assert not at.exception
    portraits = next(d.value for d in at.dataframe if "n_areas" in d.value.columns)
    assert len(portraits) == 4 and portraits["n_areas"].sum() == 343
    assert any("adjusted Rand index" in c.value for c in at.caption)


def test_upload_good_and_bad_and_markup(at):
    _go(at, "Your data")
    from placekit.errors import DataError
    from placekit.userdata import add_table

    place = at.session_state["place"]
    with pytest.raises(DataError, match="outside this city"):
        add_table(place, b"lsoa_code,referrals\nE01000001,5\n", name="bad.csv")
    # AppTest cannot drive st.file_uploader: put the result of the app's own library call in place
    good = b"lsoa_code,<img src=x onerror=alert(1)>\nE01007823,12\nE01007824,3\n"
    at.session_state["place"] = add_table(place, good, name="x.csv")
    at.run()
    uid = next(i for i in at.session_state["place"].indicators.columns if i.startswith("user_img"))
    _go(at, "Map explorer")
    at.selectbox(key="level").set_value("lsoa")
    at.selectbox(key="indicator").set_value(uid).run()
    layer = next(layer for layer in _deck(at)["layers"] if layer["id"] == "choropleth")
    assert not isinstance(layer["data"], str)  # uploaded data are never written to a served file
    vals = {f["properties"]["code"]: f["properties"]["value"] for f in _features(at)}
    # 3 is suppressed, and 12 too: they share a ward whose total would otherwise reveal the 3
    assert vals["E01007824"] == vals["E01007823"] == "suppressed (< 5)"
    assert "no data" in vals.values()  # areas the file does not cover: not "suppressed"
    assert "suppressed (&lt; 5)" in _legend(at)[0] and "no data" in _legend(at)[0]
    served = " ".join(p.read_text() for p in (ROOT / "static").glob("*.geojson"))
    assert "user_img" not in served
    legend = _legend(at)[0]
    assert "<img" not in legend and ("&lt;img" in legend or "\u2039img" in legend)  # shown as text
    tip = json.loads(at.get("deck_gl_json_chart")[0].proto.tooltip)
    assert "text" in tip and "html" not in tip  # text tooltip, never html


def test_access_indicator_on_demand(at):
    _go(at, "Map explorer")
    at.selectbox(key="level").set_value("lac")
    at.selectbox(key="indicator").set_value("gp_walk_min").run()
    assert not at.exception
    assert "Walk time to nearest GP" in _legend(at)[0]


def test_drivers_section(at):
    _go(at, "Drivers")
    at.button(key="drv_run").click().run()
    assert any("Held-out R²" in m.value for m in at.markdown)
    assert any("not proof of cause" in c.value for c in at.caption)
    # the models and drivers in words, not ids
    r2 = next(m.value for m in at.markdown if "Held-out R²" in m.value)
    assert "ridge regression" in r2 and "gradient boosting" in r2 and "gbm" not in r2
    table = at.dataframe[0].value
    assert list(table.columns) == [
        "driver group",
        "drop in held-out R² when the group is shuffled",
        "drivers in the group",
    ]
    shown = " ".join(table["driver group"]) + " ".join(table["drivers in the group"])
    assert "_pct" not in shown and "Private rented households" in shown
    # the bar charts name their groups whole (Streamlit's bar chart cut them at 15 characters)
    specs = [json.loads(ch.proto.spec) for ch in at.get("vega_lite_chart")]
    axes = [sp["encoding"]["y"].get("axis", {}) for sp in specs if "encoding" in sp]
    assert len(axes) == 2 and all(a.get("labelLimit") == 400 for a in axes)


def test_prevention_section_tiers_and_pack(at):
    _go(at, "Prevention")
    at.button(key="prev_run").click().run()
    at.multiselect(key="pilots").set_value(["E01007878", "E01007879"]).run()
    assert not at.exception
    frames = [d.value for d in at.dataframe]
    assert any("smd" in f.columns for f in frames)
    assert any({"tier", "reason", "rank_in_locality"} <= set(f.columns) for f in frames)
    # on screen every column, and the pilots and indicators, are named in words
    labels = [
        {k: v.get("label") for k, v in json.loads(d.proto.columns).items()} for d in at.dataframe
    ]
    tiers = next(lab for lab in labels if "rank_in_locality" in lab)
    lac = "Local Area Committee / ASC locality"
    assert tiers["rank_in_locality"] == f"rank in the {lac} (1 = first)"
    assert tiers["_index"] == "LSOA 2021 code" and tiers["reason"] == "why this tier"
    matched = next(f for f in frames if "comparison" in f.columns)
    assert matched["pilot"].str.match(r"^Sheffield \d{3}[A-Z] \(E0100787[89]\)$").all()
    balance = next(f for f in frames if "smd" in f.columns)
    assert "IMD 2025 score" in balance.index and "imd2025_score" not in balance.index
    at.button(key="rep_build").click().run()
    assert at.session_state["report_html"].startswith("<!doctype html>")


def test_scenario_section_apply(at):
    _go(at, "Scenarios")
    # the demand is named in words, not by its id
    assert at.selectbox(key="scn_demand").options[0] == (
        "Bad or very bad general health (% of residents)"
    )
    at.radio(key="scn_where").set_value("lon/lat").run()
    at.selectbox(key="scn_kind").set_value("add_facility").run()
    at.button(key="scn_add").click().run()
    at.button(key="scn_apply").click().run()
    assert not at.exception
    res, _secs = at.session_state["scn_result"]
    assert res.areas["gp_people_newly_within"].sum() > 0
    assert any("People newly within" in s.value for s in at.success)
    layers = {layer["id"]: layer for layer in _deck(at)["layers"]}
    assert "scn_change" in layers and "poly-isochrone" in layers
    # the service area is an outline over the change map, whose colours stay readable
    assert layers["poly-isochrone"]["filled"] is False
    # only the areas that changed are drawn on the base
    drawn = {f["properties"]["code"] for f in layers["scn_change"]["data"]["features"]}
    assert drawn == set(res.areas.index[res.areas["gp_min_change"].abs() > 1e-9])
    # the locality table in words, with whole residents and people (no ids, no fractions)
    loc = at.dataframe[0].value
    assert "residents now" in loc.columns and "gp_min_base" not in loc.columns
    assert loc.index.name == "Local Area Committee / ASC locality"  # in words, not "lac"
    assert at.dataframe[1].value.index.name == "IMD 2025 decile"
    newly = "people newly within 15 min of a GP practice"
    assert str(loc[newly].dtype) == "Int64"
    assert int(loc[newly].sum()) == int(res.areas["gp_people_newly_within"].sum())


def test_export_section(at):
    _go(at, "Export")
    labels = [b.label for b in at.get("download_button")]
    assert {
        "Current table (CSV)",
        "Current table (GeoJSON)",
        "Current table (GeoPackage)",
        "Current map (HTML)",
    } <= set(labels)


def test_scenario_location_by_map_click(at):
    _go(at, "Scenarios")
    at.radio(key="scn_where").set_value("click on map").run()
    assert not at.exception
    # the small map to pick on, below the page's map (which shows the change)
    assert len(at.get("deck_gl_json_chart")) == 2
    ids = [layer["id"] for layer in _deck(at, 1)["layers"]]
    assert "pick" in ids
    # AppTest cannot click a canvas; the selection the chart returns is handled like this:
    at.session_state["scn_picked"] = "E01007919"
    at.run()
    assert any("Picked Sheffield 069C" in c.value for c in at.caption)


def _element_paths(node, path=()):
    """(position path, element type) of every element under ``node``, in page order."""
    out = []
    for i, child in getattr(node, "children", {}).items():
        out.append(((*path, i), getattr(child, "type", type(child).__name__)))
        out += _element_paths(child, (*path, i))
    return out


def test_scenario_map_keeps_its_place_on_apply(at):
    """
    The page's map is the same element before and after Apply, so the browser keeps its
    WebGL context and draws only the change (a map at a new position is a new map: 3 s more).
    Streamlit replays what a cached function drew (walk access's progress bar) as an empty
    element wherever its value is used; three of those once pushed the map down by three.
    """
    _go(at, "Scenarios")
    at.button(key="scn_clear").click().run()
    at.radio(key="scn_where").set_value("neighbourhood").run()
    at.selectbox(key="scn_kind").set_value("add_facility").run()
    at.button(key="scn_add").click().run()
    code = at.selectbox(key="scn_lsoa").value  # the neighbourhood it is added in, by name
    name = at.session_state["place"].lsoa.loc[code, "area_name"]
    held = [m.value.replace("\\", "") for m in at.markdown if "In this scenario" in m.value]
    assert held and f"1. add a facility: GP practices (active) in {name}" in held[-1]
    before = _deck_paths(at)
    at.button(key="scn_apply").click().run()
    assert not at.exception and "scn_result" in at.session_state
    assert _deck_paths(at) == before and len(before) == 1
    assert "scn_change" in [layer["id"] for layer in _deck(at)["layers"]]


def _deck_paths(at):
    return [p for p, t in _element_paths(at.main) if t == "deck_gl_json_chart"]


def test_one_map_in_one_place_in_every_section(at):
    """
    Every section but England draws the page's map at one position (a section without a map
    parks it, hidden and 1 px high), so the browser keeps one deck.gl map, its WebGL context
    and its loaded base files from section to section instead of building a new one.
    """
    _go(at, "Map explorer")
    at.checkbox(key="bivariate").check().run()  # one more control above the map
    (home,) = _deck_paths(at)
    at.checkbox(key="bivariate").uncheck().run()
    assert _deck_paths(at) == [home]
    for section in ("Table", "Localities", "Neighbourhood types", "Drivers", "Trends"):
        _go(at, section)
        assert _deck_paths(at)[:1] == [home], section
    _go(at, "Table")
    parked = _deck(at)
    assert parked["layers"] and all(layer["visible"] is False for layer in parked["layers"])
    _go(at, "England")
    assert home not in _deck_paths(at)  # its own map, and no hidden one above it
    _go(at, "Map explorer")


def test_scenario_add_checks_and_load_restores(at):
    _go(at, "Scenarios")
    at.radio(key="scn_where").set_value("postcode").run()
    at.text_input(key="scn_pc").set_value("ZZ9 9ZZ").run()
    before = list(at.session_state["scn_items"])
    at.button(key="scn_add").click().run()
    assert any("ZZ9 9ZZ" in e.value and "postcode" in e.value for e in at.error)
    assert at.session_state["scn_items"] == before  # refused on Add, nothing added
    # what the uploader's handler queues for the next run: the saved name, threshold and list
    item = {"type": "add_facility", "facility": "gp", "lon": -1.47, "lat": 53.38}
    at.session_state["scn_pending"] = {"scn_items": [item], "scn_name": "Loaded one", "scn_t": 20}
    at.run()
    assert at.text_input(key="scn_name").value == "Loaded one"
    assert at.slider(key="scn_t").value == 20
    assert at.session_state["scn_items"] == [item]
    # and what it holds is shown in words, not as JSON
    shown = [m.value.replace("\\", "") for m in at.markdown if "In this scenario" in m.value]
    assert shown and "1. add a facility: GP practices (active) at 53.38000, -1.47000" in shown[0]


def test_table_section_filters_sorts_and_exports(at):
    _go(at, "Table")
    at.selectbox(key="tbl_level").set_value("lsoa").run()
    at.selectbox(key="tbl_in_level").set_value("lac").run()
    ne = next(o for o in at.selectbox(key="tbl_in_code").options if o == "North East")
    at.selectbox(key="tbl_in_code").set_value(ne).run()
    at.multiselect(key="tbl_inds").set_value(["imd2025_score", "gp_walk_min"]).run()
    at.selectbox(key="tbl_sort").set_value("imd2025_score").run()
    assert not at.exception
    frame = at.dataframe[0].value
    assert len(frame) > 10 and (frame["lac_name"] == "North East").all()
    assert frame["imd2025_score"].is_monotonic_decreasing  # worst first
    assert frame["gp_walk_min"].notna().all()
    # on screen, columns are named in words, not by their ids
    shown = json.loads(at.dataframe[0].proto.columns)
    assert shown["lac_name"]["label"] == "Local Area Committee / ASC locality"
    assert shown["ward_name"]["label"] == "Ward"
    assert shown["_index"]["label"] == "LSOA 2021 code"
    # units said once: "IMD 2025 score 27.55", not "27.55 score"; minutes spelt out
    said = " ".join(c_.value.replace("\\", "") for c_ in at.caption)  # markdown unescaped
    assert re.search(r"IMD 2025 score \d+\.\d\d;", said) and " score;" not in said
    assert re.search(r"Walk time to nearest GP practice \d+\.\d\d minutes", said)
    dl = next(b for b in at.get("download_button") if b.label == "Download this table (CSV)")
    assert dl is not None


def test_state_follows_across_sections(at):
    _go(at, "Map explorer")
    at.selectbox(key="indicator").set_value("no_car_pct").run()
    _go(at, "Localities")
    assert at.selectbox(key="loc_indicator").value == "no_car_pct"  # the locality map follows
    _go(at, "Table")
    assert at.multiselect(key="tbl_inds").value[0] in {"imd2025_score", "no_car_pct"}
    _go(at, "Map explorer")
    assert at.selectbox(key="indicator").value == "no_car_pct"  # kept after a round trip
    assert "No car" in _legend(at)[0] or "car" in _legend(at)[0].lower()


def test_open_on_map_shows_the_locality(at):
    _go(at, "Localities")
    at.selectbox(key="loc_level").set_value("ward").run()
    at.selectbox(key="loc_code").set_value("E05010858").run()  # Beighton
    at.button(key="zoom").click().run()
    assert at.session_state["section"] == "Map explorer"
    assert at.selectbox(key="level").value == "lsoa"  # the box says what the map draws
    assert at.selectbox(key="labels_level").value == "ward"
    spec = _deck(at)
    assert spec["initialViewState"]["zoom"] > 11
    texts = next(layer for layer in spec["layers"] if layer["id"] == "labels-ward")
    assert "Beighton" in {d["label"] for d in texts["data"]}
    at.button(key="reset_view").click().run()


def test_search_box_postcode_and_name(at):
    _go(at, "Map explorer")
    place = at.session_state["place"]
    pc = str(place.postcodes().index[100])
    at.text_input(key="search").set_value(pc).run()
    spec = _deck(at)
    assert any(layer["id"] == "search-hit" for layer in spec["layers"])
    whole = pl.view_for(place.lsoa).zoom
    # zoomed in on the postcode's neighbourhood and its neighbours, not onto one street
    assert whole + 1.5 < spec["initialViewState"]["zoom"] <= 13.5
    at.text_input(key="search").set_value("no such place zz").run()
    assert any("Nothing in" in w.value for w in at.warning)
    at.text_input(key="search").set_value("").run()


def test_types_diagnostics_have_titles(at):
    _go(at, "Neighbourhood types")
    charts = at.get("vega_lite_chart")
    specs = " ".join(c.proto.spec for c in charts)
    titles = [json.loads(c.proto.spec).get("title") for c in charts]
    assert {"text": "Silhouette", "subtitle": "higher is better"} in titles
    assert "number of types (k)" in specs

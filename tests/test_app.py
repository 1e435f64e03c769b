import json

import pytest
from streamlit.testing.v1 import AppTest


@pytest.fixture(scope="module")
def at():
    app = AppTest.from_file("../app.py", default_timeout=180)
    app.run()
    assert not app.exception
    return app


def _deck(app, i=0):
    return json.loads(app.get("deck_gl_json_chart")[i].proto.json)


def test_map_has_offline_base_and_legend(at):
    spec = _deck(at)
    ids = [layer["id"] for layer in spec["layers"]]
    assert "base-city" in ids and "choropleth" in ids and "base-roads" in ids
    assert "http" not in str(spec.get("mapStyle", ""))  # no remote style or tiles
    legends = [m.value for m in at.markdown if "pk-legend" in m.value]
    assert legends and "quantiles" in legends[0]
    assert any("OpenStreetMap contributors" in c.value for c in at.caption)
    assert any("area-level associations" in c.value for c in at.caption)


def test_indicator_change_recolours(at):
    at.selectbox(key="indicator").set_value("imd2025_score").run()
    assert not at.exception
    legends = [m.value for m in at.markdown if "pk-legend" in m.value]
    assert "IMD 2025 score" in legends[0]
    at.selectbox(key="level").set_value("lac").run()
    spec = _deck(at)
    layer = next(layer for layer in spec["layers"] if layer["id"] == "choropleth")
    assert len(layer["data"]["features"]) == 7


def test_locality_pick_profile_and_zoom(at):
    at.selectbox(key="loc_level").set_value("ward").run()
    at.selectbox(key="loc_code").set_value("E05010858").run()  # Beighton
    assert any("Beighton" in s.value for s in at.subheader)
    prof = at.dataframe[0].value
    assert "rank among localities (1 = worst)" in prof.columns
    assert prof.loc["IMD 2025 score", "rank among localities (1 = worst)"].endswith("of 28")
    at.button(key="zoom").click().run()
    view = _deck(at)["initialViewState"]
    assert view["zoom"] > 11


def test_types_tab(at):
    at.slider(key="k").set_value(4).run()
    assert not at.exception
    portraits = [d.value for d in at.dataframe if "n_areas" in d.value.columns][0]
    assert len(portraits) == 4 and portraits["n_areas"].sum() == 343


def test_upload_good_and_bad_and_markup(at):
    at.radio(key="upload_kind").set_value("a table by LSOA").run()
    # AppTest has no file_uploader driver: call the same library path the app uses
    from placekit.errors import DataError
    from placekit.userdata import add_table

    place = at.session_state["place"]
    bad = b"lsoa_code,referrals\nE01000001,5\n"
    with pytest.raises(DataError, match="outside this city"):
        add_table(place, bad, name="bad.csv")
    good = b"lsoa_code,<img src=x onerror=alert(1)>\nE01007823,12\nE01007824,3\n"
    at.session_state["place"] = add_table(place, good, name="x.csv")
    at.run()
    assert not at.exception
    ids = list(at.session_state["place"].indicators.columns)
    uid = [i for i in ids if i.startswith("user_img")][0]
    at.selectbox(key="level").set_value("lsoa")
    at.selectbox(key="indicator").set_value(uid).run()
    spec = _deck(at)
    layer = next(layer for layer in spec["layers"] if layer["id"] == "choropleth")
    vals = {f["properties"]["code"]: f["properties"]["value"] for f in layer["data"]["features"]}
    assert vals["E01007824"] == "hidden or missing"  # 3 is suppressed
    legend = [m.value for m in at.markdown if "pk-legend" in m.value][0]
    assert "<img" not in legend and "&lt;img" in legend  # markup escaped, shown as text
    tip = json.loads(at.get("deck_gl_json_chart")[0].proto.tooltip)
    assert "text" in tip and "html" not in tip  # text tooltip, never html


def test_drivers_tab(at):
    at.button(key="drv_run").click().run()
    assert not at.exception
    assert any("Held-out R²" in m.value for m in at.markdown)


def test_access_indicator_on_demand(at):
    at.selectbox(key="level").set_value("lac")
    at.selectbox(key="indicator").set_value("gp_walk_min").run()
    assert not at.exception
    legends = [m.value for m in at.markdown if "pk-legend" in m.value]
    assert "Walk time to nearest GP" in legends[0]


def test_prevention_tab_tiers_and_pack(at):
    at.multiselect(key="pilots").set_value(["E01007878", "E01007879"]).run()
    assert not at.exception
    frames = [d.value for d in at.dataframe]
    assert any("smd" in f.columns for f in frames)  # balance table shown
    assert any({"tier", "reason", "rank_in_locality"} <= set(f.columns) for f in frames)
    at.button(key="rep_build").click().run()
    assert "North" in at.session_state["report_html"] or "<h1>" in at.session_state["report_html"]


def test_scenario_tab_apply(at):
    at.radio(key="scn_where").set_value("lon/lat").run()
    at.selectbox(key="scn_kind").set_value("add_facility").run()
    at.button(key="scn_add").click().run()
    at.button(key="scn_apply").click().run()
    assert not at.exception
    res, secs = at.session_state["scn_result"]
    assert res.areas["gp_people_newly_within"].sum() > 0
    assert any("People newly within" in s.value for s in at.success)

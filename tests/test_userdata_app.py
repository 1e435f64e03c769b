"""The Your data section alone: the tick box its errors name, and errors in the app's words."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from placekit.errors import DataError, explain
from placekit.text import md_escape
from placekit.userdata import add_points, outside_box


def _section() -> None:
    import streamlit as st

    from placekit.place import load_place
    from sections import your_data

    if "place" not in st.session_state:
        place = load_place()
        st.session_state["place"] = place
        st.session_state["place_pack"] = str(place.data_dir)
    your_data.render()


@pytest.fixture
def at() -> AppTest:
    app = AppTest.from_function(_section, default_timeout=120)
    app.run()
    assert not app.exception
    return app


def test_points_refusal_names_the_tick_box_the_section_shows(at, place):
    at.radio(key="upload_kind").set_value("points").run()
    box = at.checkbox(key="upload_drop_outside")
    assert box.label == outside_box(place.name) == "Leave out points outside Sheffield"
    with pytest.raises(DataError) as info:
        add_points(place, b"lon,lat\n-1.47,53.38\n-0.1,51.5\n", name="sites.csv")
    # AppTest cannot drive st.file_uploader: hand the section the refusal its call gave
    at.session_state["upload_msg"] = ("error", info.value)
    at.run()
    shown = [e.value for e in at.error]
    assert shown == [md_escape(explain(info.value, "app"))]
    assert "Leave out points outside Sheffield" in shown[0]
    assert "drop_outside" not in shown[0]
    # a table upload has no such box
    at.radio(key="upload_kind").set_value("a table by LSOA").run()
    assert not [c for c in at.checkbox if c.key == "upload_drop_outside"]
    assert not at.error  # a change of type clears the old message

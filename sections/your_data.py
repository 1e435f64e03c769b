"""Your data: service demand by LSOA, or places, checked on upload and disclosure controlled."""

from __future__ import annotations

import streamlit as st

from placekit import workflows as wf
from placekit.errors import PlacekitError
from placekit.text import md_escape
from sections._common import ctx

NAME = "Your data"
KINDS = ["a table by LSOA", "points"]


def _clear_message() -> None:
    st.session_state.pop("upload_msg", None)
    st.session_state.pop("uploaded", None)


def _summary(before: list[str], place: object, name: str) -> str:
    """What an upload added: indicators, areas with a value, hidden and without data."""
    from placekit.place import Place

    assert isinstance(place, Place)
    new = [i for i in place.indicators.columns if i.startswith("user_") and i not in before]
    if not new:
        layers = [k for k in place.layers if k.startswith("user:")]
        last = place.layers[layers[-1]] if layers else None
        n = len(last) if last is not None else 0
        return f"Loaded {name}: {n:,} places, shown as a layer in the Map explorer."
    t = wf.area_table(place, "lsoa", new, england=False).table
    n = len(t)
    hidden = int(t["suppressed"].sum())
    missing = int((t["missing_indicators"] != "").sum())
    shown = n - hidden - missing
    labels = ", ".join(str(place.catalogue.row(i)["label"]) for i in new)
    return (
        f"Loaded {name}: {labels}. {shown:,} of {n:,} neighbourhoods have a value shown; "
        f"{hidden:,} suppressed (a count of 1 to {place.min_count - 1}); {missing:,} with no data "
        "in the file. Pick it in the Map explorer or the Table."
    )


def render() -> None:
    c = ctx()
    place = c.place
    st.write(
        "Upload service demand by LSOA (CSV/XLSX with 2011 or 2021 codes) or places (CSV with "
        "lon/lat or easting/northing, GeoJSON, GeoPackage, zipped Shapefile). Counts of 1 to "
        f"{place.min_count - 1} are hidden."
    )
    kind = st.radio(
        "This file holds", KINDS, key="upload_kind", horizontal=True, on_change=_clear_message
    )
    up = st.file_uploader(
        "Your data", type=["csv", "xlsx", "geojson", "json", "gpkg", "zip"], key="upload"
    )
    if up is not None and st.session_state.get("uploaded") != (up.file_id, kind):
        try:
            from placekit.userdata import add_points, add_table

            fn = add_table if kind == KINDS[0] else add_points
            before = list(place.indicators.columns)
            new_place = fn(place, up.getvalue(), name=up.name)
            st.session_state["place"] = new_place
            st.session_state["upload_msg"] = ("ok", _summary(before, new_place, up.name))
        except PlacekitError as err:  # the place the user already had is kept
            st.session_state["upload_msg"] = ("error", str(err))
        st.session_state["uploaded"] = (up.file_id, kind)
        st.rerun()
    msg = st.session_state.get("upload_msg")
    if msg:
        (st.success if msg[0] == "ok" else st.error)(md_escape(msg[1]))
    user = [i for i in place.indicators.columns if i.startswith("user_")]
    if user:
        st.write(
            f"Your indicators, by {place.level_label(c.loc, count=False)} "
            f"(suppressed = a count of 1 to {place.min_count - 1}, hidden):"
        )
        res = wf.area_table(place, c.loc, user, england=False)
        st.dataframe(res.display(), width="stretch")

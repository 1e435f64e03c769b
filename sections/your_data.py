"""Your data: service demand by LSOA, or places, checked on upload and disclosure controlled."""

from __future__ import annotations

import streamlit as st

from placekit import workflows as wf
from placekit.errors import PlacekitError
from placekit.text import md_escape
from placekit.userdata import outside_box
from sections._common import ctx, show_error

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
    drop = False
    if kind == KINDS[1]:
        drop = st.checkbox(
            outside_box(place.name),
            key="upload_drop_outside",
            help="Otherwise a file with any point outside is refused, naming its rows.",
        )
    up = st.file_uploader(
        "Your data", type=["csv", "xlsx", "geojson", "json", "gpkg", "zip"], key="upload"
    )
    last = st.session_state.get("uploaded")
    failed = (st.session_state.get("upload_msg") or ("",))[0] == "error"
    # a new file or type is read; a change of the tick box re-reads only a refused file
    if up is not None and (
        last is None
        or last[:2] != (up.file_id, kind)
        or (failed and last != (up.file_id, kind, drop))
    ):
        try:
            from placekit.userdata import add_points, add_table

            before = list(place.indicators.columns)
            if kind == KINDS[0]:
                new_place = add_table(place, up.getvalue(), name=up.name)
            else:
                new_place = add_points(place, up.getvalue(), name=up.name, drop_outside=drop)
            st.session_state["place"] = new_place
            st.session_state["upload_msg"] = ("ok", _summary(before, new_place, up.name))
        except PlacekitError as err:  # the place the user already had is kept
            st.session_state["upload_msg"] = ("error", err)
        st.session_state["uploaded"] = (up.file_id, kind, drop)
        st.rerun()
    msg = st.session_state.get("upload_msg")
    if msg:
        if msg[0] == "ok":
            st.success(md_escape(msg[1]))
        else:
            show_error(msg[1])  # in the app's words: a fix names the app's tick box
    user = [i for i in place.indicators.columns if i.startswith("user_")]
    if user:
        st.write(
            f"Your indicators, by {place.level_label(c.loc, count=False)} "
            f"(suppressed = a count of 1 to {place.min_count - 1}, hidden):"
        )
        res = wf.area_table(place, c.loc, user, england=False)
        st.dataframe(res.display(), width="stretch")

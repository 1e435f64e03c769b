"""Localities: one locality on its own map, its profile, its types and who is least served."""

from __future__ import annotations

import streamlit as st

import placekit
from placekit import layers as pl
from placekit import workflows as wf
from placekit.profile import locality_profile
from placekit.text import md_escape
from sections._common import bind, city_base, ctx, labels, map_with_legend, top_layers, typology

NAME = "Localities"


def render() -> None:
    c = ctx()
    place = c.place
    cat = place.catalogue
    a, b, d = st.columns([1, 1, 2])
    lvl = a.selectbox(
        "Locality level",
        place.levels,
        format_func=place.level_label,
        **bind("loc_level", "pk_loc_level", place.levels, c.loc),
    )
    areas = place.localities[lvl]
    code = b.selectbox(
        "Locality",
        list(areas.index),
        format_func=lambda x: str(areas.loc[x, "area_name"]),
        **bind("loc_code", "pk_loc_code", list(areas.index)),
    )
    choices = [i for i in c.choices.all if i not in c.choices.access or i == wf.LEAST_SERVED]
    indicator = d.selectbox(
        "Indicator",
        choices,
        format_func=c.label,
        **bind("loc_indicator", "pk_indicator", choices, "bad_health_pct"),
    )

    def open_on_map() -> None:
        ss = st.session_state
        ss["view"] = pl.view_for(areas.loc[[code]], width_px=680, height_px=560)  # the main map
        ss["pk_level"] = "lsoa"
        ss["pk_labels"] = lvl if lvl != "lad" else ""
        ss["pk_indicator"] = indicator
        ss["section"] = "Map explorer"

    st.button("Open the map explorer on this locality", key="zoom", on_click=open_on_map)
    st.subheader(md_escape(areas.loc[code, "area_name"]))
    if indicator in c.choices.access:
        place = c.with_access()
    mine = place.lsoa.index[place.codes(lvl) == code]
    table = place.table("lsoa", [indicator]).loc[mine]
    meta = cat.row(indicator)
    layer, lg = pl.choropleth(
        table,
        indicator,
        title=c.label(indicator),
        higher_is_worse=meta["direction"] != "higher_better",
        layer_id="locality",
        whole=meta["kind"] == "count",
    )
    map_with_legend(
        c,
        [*city_base(c.pack), layer, *top_layers(c.pack, lvl), *labels(c.pack, lvl)],
        lg,
        key="loc_map",
        height=380,
        ratio=(3, 1),
        view=pl.view_for(areas.loc[[code]], width_px=780, height_px=380),
    )
    prof = locality_profile(place, lvl, code)
    st.dataframe(prof["indicators"], width="stretch")
    st.write("Best and least served neighbourhoods, by walk time to the nearest GP (minutes):")
    st.dataframe(prof["served"], width="stretch")
    types = typology(c.pack, 6, 0)
    mix = types.labels.reindex(mine).value_counts().rename("neighbourhoods").to_frame()
    st.write("Neighbourhood types here (k = 6):")
    st.dataframe(mix.join(types.portraits[["name"]]), width="stretch")
    st.caption(placekit.AREA_LEVEL_CAVEAT)

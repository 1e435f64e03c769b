"""Localities: one locality on its own map, its profile, its types and who is least served."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import placekit
from placekit import change as ch
from placekit import layers as pl
from placekit import workflows as wf
from placekit.profile import locality_profile
from placekit.text import md_escape
from sections._common import bind, ctx, head, labels, map_with_legend, static_base, typology
from sections.trends import DOMAIN_WORDS, IOD, iod_table, trend_chart, unavailable

NAME = "Localities"


def render() -> None:
    c = ctx()
    place = c.place
    cat = place.catalogue
    with head():  # what comes before the page's map
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
            unit=str(meta["unit"]),
        )
        view = pl.view_for(areas.loc[[code]], width_px=780, height_px=380)
    under, over = static_base(c.pack, lvl)  # the main map's served files: sent once
    map_with_legend(
        c,
        [*under, layer, *over, *labels(c.pack, lvl, round(float(view.zoom), 1))],
        lg,
        key="loc_map",
        height=380,
        ratio=(3, 1),
        view=view,
    )
    prof = locality_profile(place, lvl, code)
    st.dataframe(prof["indicators"].round(1), width="stretch")
    st.write("Best and least served neighbourhoods, by walk time to the nearest GP (minutes):")
    st.dataframe(
        prof["served"].round(1),
        width="stretch",
        column_config={
            "_index": st.column_config.TextColumn("LSOA 2021 code"),
            "name": st.column_config.TextColumn("neighbourhood"),
            "which": st.column_config.TextColumn("best or least served"),
        },
    )
    types = typology(c.pack, 6, 0)
    mix = types.labels.reindex(mine).value_counts().rename("neighbourhoods").to_frame()
    st.write("Neighbourhood types here (k = 6):")
    st.dataframe(
        mix.join(types.portraits[["name"]]),
        width="stretch",
        column_config={
            "_index": st.column_config.TextColumn("type"),
            "name": st.column_config.TextColumn("what the type is like"),
        },
    )
    _trend(c.pack, lvl, code, str(areas.loc[code, "area_name"]))
    st.caption(placekit.AREA_LEVEL_CAVEAT)


def _trend(pack: str, level: str, code: str, name: str) -> None:
    """IoD 2019 -> 2025 for this locality: national percentile by domain, and against England."""
    why = unavailable(pack, IOD)
    if why:
        st.caption(md_escape(f"Trend unavailable: {why}"))
        return
    loc = iod_table(pack, level)
    if code not in loc.index:
        st.caption("Trend unavailable: no IoD change for this locality.")
        return
    row = loc.loc[code]
    domains = [d for d in ch.DOMAINS if f"{d}_pct_2019" in loc.columns]
    st.write(
        md_escape(
            f"Trend, IoD 2019 → 2025: {name}'s national percentile by domain (0 = most "
            "deprived in England; up = less deprived relative to England)"
        )
    )
    chart = pd.DataFrame(
        {DOMAIN_WORDS.get(d, d): [row[f"{d}_pct_2019"], row[f"{d}_pct_2025"]] for d in domains},
        index=["2019", "2025"],
    )
    st.altair_chart(trend_chart(chart, "national percentile (0 = most deprived)"), width="stretch")
    verdict = pd.DataFrame(
        {
            "change (points)": [round(float(row[f"{d}_change_pct"]), 1) for d in domains],
            "against England": [row[f"{d}_status"] for d in domains],
        },
        index=pd.Index([DOMAIN_WORDS.get(d, d) for d in domains], name="domain"),
    )
    st.dataframe(verdict, width="stretch")

"""Export: the current table as CSV, GeoJSON or GeoPackage, and the current map as HTML."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from placekit import layers as pl
from placekit.export import write_table
from placekit.text import md_escape
from sections._common import city_base, ctx, labels, top_layers

NAME = "Export"


def render() -> None:
    c = ctx()
    place = c.place
    table = st.session_state.get("current_table")
    if table is None:
        st.info("Open the Map explorer first: its table and map are what this section exports.")
        return
    st.download_button(
        "Current table (CSV)",
        table.drop(columns="geometry").to_csv().encode(),
        file_name="placekit_table.csv",
        key="dl_csv",
    )
    with tempfile.TemporaryDirectory() as tmp:
        p = write_table(table, Path(tmp) / "placekit_table.geojson")
        st.download_button(
            "Current table (GeoJSON)",
            p.read_bytes(),
            file_name="placekit_table.geojson",
            key="dl_geojson",
        )
        g = write_table(table, Path(tmp) / "placekit_table.gpkg")
        st.download_button(
            "Current table (GeoPackage)",
            g.read_bytes(),
            file_name="placekit_table.gpkg",
            key="dl_gpkg",
        )
    cur = st.session_state.get("current_map")
    if cur is not None and cur["indicator"] in table.columns:
        # the exported map carries its data inline, so it works from a file
        layer, lg = pl.choropleth(
            table,
            cur["indicator"],
            title=cur["title"],
            scheme=cur["scheme"],
            higher_is_worse=cur["higher_is_worse"],
        )
        deck = pl.deck(
            [
                *city_base(c.pack),
                layer,
                *top_layers(c.pack, cur["level"]),
                *labels(c.pack, c.loc),
            ],
            c.view(),
        )
        title = f"{cur['title']} by {place.level_label(cur['level'], count=False)}, {place.name}"
        st.download_button(
            "Current map (HTML)",
            pl.map_html(
                deck,
                attributions=place.attributions,
                title=title,
                legend=lg,
                source=cur.get("source", ""),
            ).encode(),
            file_name="placekit_map.html",
            key="dl_html",
        )
    st.caption(md_escape(" · ".join(place.attributions)))

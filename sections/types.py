"""Neighbourhood types: the typology, k chosen in view of its diagnostics, pen portraits."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

import placekit
from placekit import layers as pl
from sections._common import (
    ctx,
    head,
    k_diagnostics,
    labels,
    map_with_legend,
    static_base,
    typology,
)

NAME = "Neighbourhood types"
#: Each diagnostic chart's title and what reads as better, two lines (one would be cut short
#: in a third of the page).
DIAG_WORDS = {
    "silhouette": ("Silhouette", "higher is better"),
    "davies_bouldin": ("Davies-Bouldin index", "lower is better"),
    "wcss": ("Within-cluster sum of squares", "look for the elbow"),
}
#: The y axis of each diagnostic chart: the measure and its scale (short enough to fit the
#: plot's height, or the browser cuts it).
DIAG_AXES = {
    "silhouette": "mean silhouette (-1 to 1)",
    "davies_bouldin": "Davies-Bouldin (0 or more)",
    "wcss": "sum of squared distances",
}
#: Height (px) of a diagnostic chart, title and axes included (Streamlit fits the whole chart
#: in it: at 200 the title was cut off and the plot squashed).
DIAG_HEIGHT_PX = 280
PORTRAIT_AXIS = "index (city = 100)"


def _diag_chart(diag: pd.DataFrame, col: str, k: int) -> alt.LayerChart:
    d = diag.reset_index().rename(columns={diag.index.name or "index": "k"})
    base = alt.Chart(d).encode(
        x=alt.X("k:O", title="number of types (k)", axis=alt.Axis(labelAngle=0)),
        y=alt.Y(f"{col}:Q", title=DIAG_AXES.get(col, col), scale=alt.Scale(zero=False)),
        tooltip=[alt.Tooltip("k:O", title="k"), alt.Tooltip(f"{col}:Q", format=".3f")],
    )
    line = base.mark_line(point=True)
    now = base.transform_filter(alt.datum.k == k).mark_point(size=120, filled=True, color="red")
    name, note = DIAG_WORDS[col]
    return (line + now).properties(
        title=alt.TitleParams(text=name, subtitle=note), height=DIAG_HEIGHT_PX
    )


def _portrait_chart(bars: pd.DataFrame, title: str) -> alt.Chart:
    """A pen portrait: one bar per variable, its index against the city (100 = city)."""
    base = alt.Chart(bars).encode(
        # labels whole (Vega cuts them at 180 px by default): the bars must be told apart
        y=alt.Y("variable:N", title="indicator", sort="-x", axis=alt.Axis(labelLimit=400)),
        x=alt.X(f"{PORTRAIT_AXIS}:Q", title=f"{PORTRAIT_AXIS}: above 100, more than the city"),
        tooltip=["variable:N", alt.Tooltip(f"{PORTRAIT_AXIS}:Q", format=".0f")],
    )
    city = alt.Chart(pd.DataFrame({"x": [100]})).mark_rule(color="#555").encode(x="x:Q")
    return (base.mark_bar() + city).properties(title=title)


def render() -> None:
    c = ctx()
    place = c.place
    with head():  # what comes before the page's map
        k = st.slider("Number of neighbourhood types (k)", 2, 12, 6, key="k")
        diag = k_diagnostics(c.pack, 0)
        cols = st.columns(3)
        for col, name in zip(cols, ["silhouette", "davies_bouldin", "wcss"], strict=True):
            if name in diag.columns:
                col.altair_chart(_diag_chart(diag, name, k), width="stretch")
        st.caption(f"The red point marks k = {k}.")
        res = typology(c.pack, k, 0)
        ttable = place.table("lsoa", []).join(res.labels.rename("type"))
        colour_by = st.radio(
            "Colour by",
            ["type", "confidence"],
            horizontal=True,
            key="types_colour",
            format_func={"type": "neighbourhood type", "confidence": "confidence"}.__getitem__,
        )
        if colour_by == "type":
            names = res.portraits["name"]
            ttable["type_name"] = [f"{t}: {names[t]}" for t in ttable["type"]]
            layer, lg = pl.categorical(
                ttable, "type_name", title="Neighbourhood type", layer_id="types"
            )
        else:
            ctab = ttable.join(res.confidence.rename("confidence"))
            layer, lg = pl.choropleth(
                ctab,
                "confidence",
                title="Confidence (1 − own / next centre distance)",
                higher_is_worse=False,
                layer_id="types",
            )
    map_with_legend(
        c,
        [
            *static_base(c.pack, c.loc)[0],
            layer,
            *static_base(c.pack, c.loc)[1],
            *labels(c.pack, c.loc),
        ],
        lg,
        key="types_map",
    )
    portraits = res.portraits
    which = st.selectbox(
        "Pen portrait of type",
        list(portraits.index),
        key="portrait",
        format_func=lambda t: f"{t}: {portraits.loc[t, 'name']}",
    )
    index = portraits.drop(columns=["name", "n_areas", "population", "main_locality"]).loc[which]
    cat = place.catalogue
    bars = (
        index.rename(PORTRAIT_AXIS)
        .rename(lambda v: str(cat.row(v)["label"]) if v in cat else v)
        .rename_axis("variable")
        .reset_index()
    )
    st.altair_chart(
        _portrait_chart(bars, f"Type {which}: {portraits.loc[which, 'name']}, against the city"),
        width="stretch",
    )
    variables = [col for col in portraits.columns if col in cat]
    st.dataframe(
        portraits.rename(columns={v: f"{cat.row(v)['label']} (index)" for v in variables}),
        width="stretch",
        column_config={
            "_index": st.column_config.TextColumn("type"),
            "name": st.column_config.TextColumn("what the type is like"),
            "n_areas": st.column_config.NumberColumn("neighbourhoods", format="%d"),
            "population": st.column_config.NumberColumn("residents", format="%d"),
            "main_locality": st.column_config.TextColumn(
                f"main {place.level_label(c.loc, count=False)}"
            ),
        },
    )
    st.caption("Indices: the type's mean against the city's, city = 100.")
    st.caption(
        f"Stability: subsample adjusted Rand index {res.ari.mean():.2f} "
        f"(min {res.ari.min():.2f}) over {len(res.ari)} runs; median per-neighbourhood "
        f"agreement {res.stability.median():.2f}; median confidence "
        f"{res.confidence.median():.2f}. {placekit.AREA_LEVEL_CAVEAT}"
    )

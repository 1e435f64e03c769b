"""Drivers: which features go with demand, held out by locality; flags on a map."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from placekit import layers as pl
from placekit.drivers import (
    IMPORTANCE_WORDS,
    MODEL_WORDS,
    flag_category,
    group_label,
    importance_words,
)
from sections._common import (
    ctx,
    drivers_for,
    head,
    labels,
    map_with_legend,
    static_base,
)

NAME = "Drivers"


def bars(frame: pd.DataFrame, value: str, title: str) -> alt.Chart:
    """Horizontal bars of ``value`` by driver group, largest first, names whole."""
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y(
                "driver group:N", sort="-x", title="driver group", axis=alt.Axis(labelLimit=400)
            ),
            x=alt.X(f"{value}:Q", title=value),
            tooltip=["driver group:N", alt.Tooltip(f"{value}:Q", format=".3f")],
        )
        .properties(title=title)
    )


def render() -> None:
    c = ctx()
    place = c.place
    with head():  # what comes before the page's map
        demand = c.demand_box("drv_demand")
        if not (
            st.button("Explain demand", key="drv_run") or st.session_state.get("drv_done") == demand
        ):
            return
    st.session_state["drv_done"] = demand
    r = drivers_for(c.pack, demand)
    with head():  # what the model found, above the map of its flags
        st.markdown(
            f"Held-out R² (cross-validated, whole {place.level_label(c.loc, count=False)} areas "
            "held out): "
            + ", ".join(f"{MODEL_WORDS.get(k_, k_)} {v:.2f}" for k_, v in r["scores"].items())
        )
        imp = importance_words(r["importance"], place.catalogue)
        st.altair_chart(
            bars(imp, IMPORTANCE_WORDS, "Which drivers go with demand, held out by locality"),
            width="stretch",
        )
        st.dataframe(imp.round(4), width="stretch", hide_index=True)
        st.write(
            f"Moran's I of residuals: {r['morans_i']['I']:.2f} (p = {r['morans_i']['p_sim']:.3f}); "
            "a clear positive value means something spatial is missing from the drivers."
        )
    areas_r = r["areas"]
    pick = st.selectbox(
        "Explain one neighbourhood",
        list(areas_r.index),
        key="drv_area",
        format_func=lambda x: f"{place.lsoa.loc[x, 'area_name']} ({x})",
    )
    contrib = areas_r.loc[pick, [col for col in areas_r.columns if col.startswith("contrib_")]]
    parts = pd.DataFrame(
        {
            "driver group": [
                group_label(place.catalogue, col.removeprefix("contrib_"), short=True)
                for col in contrib.index
            ],
            "contribution to the prediction": contrib.to_numpy(dtype=float),
        }
    )
    st.altair_chart(
        bars(
            parts,
            "contribution to the prediction",
            f"{place.lsoa.loc[pick, 'area_name']}: what its prediction is made of",
        ),
        width="stretch",
    )
    ftable = place.table("lsoa", []).join(flag_category(areas_r).rename("flag"))
    flayer, flg = pl.categorical(
        ftable,
        "flag",
        title="Flags",
        layer_id="flags",
        colours={
            "demand above prediction": (203, 24, 29),
            "high exposure, moderate demand": (253, 141, 60),
            "no flag": (235, 235, 235),
        },
    )
    map_with_legend(
        c,
        [
            *static_base(c.pack, c.loc)[0],
            flayer,
            *static_base(c.pack, c.loc)[1],
            *labels(c.pack, c.loc),
        ],
        flg,
        key="flags_map",
    )
    st.caption(r["caveat"])

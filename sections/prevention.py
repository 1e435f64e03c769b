"""Prevention: tiers with reasons, priorities within localities, pilots and the locality pack."""

from __future__ import annotations

import streamlit as st

from placekit import layers as pl
from placekit import workflows as wf
from placekit.report import locality_report
from placekit.targeting import DEFAULT_CRITERIA, balance_table, match_comparisons
from sections._common import (
    ctx,
    drivers_for,
    head,
    labels,
    map_with_legend,
    sensitivity,
    static_base,
    typology,
)

NAME = "Prevention"
CRITERIA_WORDS = {
    "demand": "demand",
    "predicted": "predicted demand",
    "exposure": "exposure",
    "access": "poor access",
    "assets": "few assets",
}


def render() -> None:
    c = ctx()
    place = c.place
    loc = c.loc
    with head():  # what comes before the page's map
        p_demand = c.demand_box("prev_demand")
        with st.expander("Tier rules (city percentiles) and priority weights"):
            cols = st.columns(4)
            rules = {
                "demand_high": float(cols[0].slider("Tertiary: demand ≥", 50, 99, 80, key="r_dh")),
                "predicted_high": float(
                    cols[1].slider("Secondary: predicted ≥", 50, 99, 70, key="r_ph")
                ),
                "demand_elevated": float(
                    cols[2].slider("Secondary: demand already ≥", 30, 95, 60, key="r_dr")
                ),
                "exposure_high": float(
                    cols[3].slider("Primary: exposure ≥", 30, 95, 60, key="r_eh")
                ),
            }
            wc = st.columns(len(DEFAULT_CRITERIA))
            weights = {
                k_: wc[i].number_input(
                    CRITERIA_WORDS.get(k_, k_.replace("_", " ")),
                    value=float(v),
                    step=0.05,
                    key=f"w_{k_}",
                )
                for i, (k_, v) in enumerate(DEFAULT_CRITERIA.items())
            }
        if not (
            st.button("Build tiers and priorities", key="prev_run")
            or st.session_state.get("prev_done") == p_demand
        ):
            st.info(
                "Tiers use the demand model of the Drivers section (a few seconds the first time)."
            )
            return
    st.session_state["prev_done"] = p_demand
    r = drivers_for(c.pack, p_demand)
    prev = wf.prevention(place, r, rules=rules, weights=weights)
    ptable = place.table("lsoa", []).join(prev[["tier", "reason"]])
    player, plg = pl.categorical(
        ptable, "tier", title="Prevention tier", colours=pl.TIER_RGB, layer_id="tiers"
    )
    map_with_legend(
        c,
        [*static_base(c.pack, loc)[0], player, *static_base(c.pack, loc)[1], *labels(c.pack, loc)],
        plg,
        key="tiers_map",
    )
    st.write(prev["tier"].value_counts().rename("neighbourhoods"))
    lacs = place.localities[loc]
    lac_pick = st.selectbox(
        f"Priorities within ({place.level_label(loc, count=False)})",
        list(lacs.index),
        key="prev_lac",
        format_func=lambda x: str(lacs.loc[x, "area_name"]),
    )
    where = place.level_label(loc, count=False)
    st.dataframe(
        prev[prev["locality"] == lac_pick].sort_values("rank_in_locality")[
            ["area_name", "tier", "reason", "score", "rank_in_locality"]
        ],
        width="stretch",
        column_config={
            "_index": st.column_config.TextColumn("LSOA 2021 code"),
            "area_name": st.column_config.TextColumn("neighbourhood"),
            "tier": st.column_config.TextColumn("prevention tier"),
            "reason": st.column_config.TextColumn("why this tier"),
            "score": st.column_config.NumberColumn("priority score (0-100)", format="%.1f"),
            "rank_in_locality": st.column_config.NumberColumn(
                f"rank in the {where} (1 = first)", format="%d"
            ),
        },
    )
    sens = sensitivity(
        c.pack, p_demand, tuple(sorted(weights.items())), tuple(sorted(rules.items()))
    )
    st.write(
        f"Sensitivity: share of each {place.level_label(loc, count=False)}'s top 5 that stays in "
        "the top 5 when every weight moves by up to ±30 %:"
    )
    st.dataframe(
        sens,
        width="stretch",
        column_config={
            "_index": st.column_config.TextColumn(where),
            "mean_top_overlap": st.column_config.NumberColumn(
                "share of the top 5 kept, on average", format="%.2f"
            ),
            "min_top_overlap": st.column_config.NumberColumn(
                "share of the top 5 kept, at worst", format="%.2f"
            ),
        },
    )
    st.subheader("Pilot and matched comparison")
    pilots = st.multiselect(
        "Pilot neighbourhoods",
        list(place.lsoa.index),
        key="pilots",
        format_func=lambda x: (
            f"{place.lsoa.loc[x, 'area_name']} ({place.lsoa.loc[x, f'{loc}_name']})"
        ),
    )
    if pilots:
        types = typology(c.pack, 6, 0).labels
        cols_m = [
            col
            for col in (
                "imd2025_score",
                p_demand,
                "no_car_pct",
                "age_65plus_pct",
                "overcrowded_bedrooms_pct",
            )
            if col in place.indicators.columns
        ]
        mt = match_comparisons(
            place.indicators[cols_m], pilots, cluster=types, locality=place.codes(loc)
        )
        def named(code: str) -> str:
            return f"{place.lsoa.loc[code, 'area_name']} ({code})"

        st.dataframe(
            mt.assign(pilot=mt["pilot"].map(named), comparison=mt["comparison"].map(named)),
            width="stretch",
            hide_index=True,
            column_config={
                "pilot": st.column_config.TextColumn("pilot neighbourhood"),
                "comparison": st.column_config.TextColumn("matched comparison"),
                "distance": st.column_config.NumberColumn(
                    "distance (standardised indicators)", format="%.2f"
                ),
            },
        )
        bal = balance_table(place.indicators[cols_m], pilots, list(mt["comparison"]))
        st.dataframe(
            bal.rename(index=c.label),
            width="stretch",
            column_config={
                "_index": st.column_config.TextColumn("indicator"),
                "pilots": st.column_config.NumberColumn("pilots (mean)", format="%.2f"),
                "comparisons": st.column_config.NumberColumn("comparisons (mean)", format="%.2f"),
                "city": st.column_config.NumberColumn(f"{place.name} (mean)", format="%.2f"),
                "smd": st.column_config.NumberColumn(
                    "standardised mean difference (|d| < 0.1 balanced)", format="%.3f"
                ),
            },
        )
    rep_lac = st.selectbox(
        "Locality pack (HTML) for",
        list(lacs.index),
        key="rep_lac",
        format_func=lambda x: str(lacs.loc[x, "area_name"]),
    )
    if st.button("Build the locality pack", key="rep_build"):
        t6 = typology(c.pack, 6, 0)
        st.session_state["report_html"] = locality_report(
            c.with_access(),
            loc,
            rep_lac,
            prevention=prev,
            drivers=r,
            types=t6.labels,
            portraits=t6.portraits,
        )
    if st.session_state.get("report_html"):
        st.download_button(
            "Download the locality pack",
            st.session_state["report_html"].encode(),
            file_name=f"placekit_{rep_lac}.html",
            key="rep_dl",
        )
    st.caption(prev.attrs["caveat"])

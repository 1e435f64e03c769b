"""Table: areas at any level inside any locality, indicators side by side, sortable, exportable."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import placekit
from placekit import workflows as wf
from placekit.errors import PlacekitError
from placekit.text import md_escape
from sections._common import bind, bind_many, ctx, show_error

NAME = "Table"
#: Shown side by side by default, where the place has them.
DEFAULT_INDICATORS = ["imd2025_score", wf.LEAST_SERVED, "bad_health_pct"]


def render() -> None:
    c = ctx()
    place = c.place
    choices = c.choices
    st.write(
        "Areas inside a locality, with several indicators side by side. Click a column "
        "heading to sort; the download carries every locality column and a column saying "
        "which values are suppressed (hidden because the count is small)."
    )
    a, b, d = st.columns([1, 1, 2])
    level = a.selectbox(
        "Areas",
        place.all_levels,
        format_func=place.level_label,
        **bind("tbl_level", "pk_level", place.all_levels, "lsoa"),
    )
    within = ["", *place.levels]
    in_level = b.selectbox(
        "Inside",
        within,
        **bind("tbl_in_level", "pk_loc_level", within, c.loc),
        format_func=lambda lv: f"the whole of {place.name}" if not lv else place.level_label(lv),
    )
    codes: list[str] = []
    if in_level:
        areas = place.localities[in_level]
        code = d.selectbox(
            place.level_label(in_level, count=False),
            list(areas.index),
            **bind("tbl_in_code", "pk_loc_code", list(areas.index)),
            format_func=lambda x: str(areas.loc[x, "area_name"]),
        )
        codes = [str(code)]
    first = st.session_state.get("pk_indicator", "imd2025_score")
    default = [i for i in dict.fromkeys([first, *DEFAULT_INDICATORS]) if i in choices.all]
    inds = st.multiselect(
        "Indicators",
        choices.all,
        **bind_many("tbl_inds", "pk_table_inds", choices.all, default),
        format_func=c.label,
    )
    if not inds:
        st.info("Pick at least one indicator.")
        return
    e1, e2 = st.columns([2, 1])
    sort_by = e1.selectbox(
        "Sort by (worst first)",
        inds,
        format_func=c.label,
        **bind("tbl_sort", "pk_table_sort", inds),
    )
    eng = e2.checkbox("Compare with England", value=True, key="tbl_england")
    if any(i in choices.access for i in inds):
        place = c.with_access()
    try:
        res = wf.area_table(
            place,
            level,
            inds,
            filter_level=in_level or None,
            filter_codes=codes,
            england=eng,
            sort_by=sort_by,
        )
    except PlacekitError as err:
        show_error(err)
        return
    t = res.table

    def unit(i: str) -> str:  # " minutes", but not "IMD 2025 score 27.5 score"
        u = str(res.units[i])
        return "" if not u or u in str(res.labels[i]) else f" {u}"

    where = f" in {place.localities[in_level].loc[codes[0], 'area_name']}" if codes else ""
    st.caption(
        md_escape(
            f"{len(t)} {place.level_label(level, count=False)} areas{where}, worst first by "
            f"{res.labels[sort_by]}. {place.name} values: "
            + "; ".join(f"{res.labels[i]} {res.city[i]:,.2f}{unit(i)}" for i in inds)
        )
    )
    if len(t):
        top = t.iloc[0]
        rest = "; ".join(
            f"{res.labels[i]} {top[i]:,.1f}{unit(i)}"
            for i in inds
            if i != sort_by and pd.notna(top[i])
        )
        st.markdown(
            md_escape(
                f"Worst by {res.labels[sort_by]}: {top['area_name']} "
                f"({top[sort_by]:,.1f}{unit(sort_by)})" + (f"; {rest}." if rest else ".")
            ),
            help="The first row of the table below.",
        )
    show = t.drop(
        columns=[
            col
            for col in t.columns
            if col.endswith(("_code", "_england_rank", "_city", "_indicators"))
            or (col.endswith("_name") and col not in ("area_name", f"{c.loc}_name", "ward_name"))
        ]
    )
    cfg = {i: st.column_config.NumberColumn(c.label(i), format="%.1f") for i in inds}
    cfg["population"] = st.column_config.NumberColumn("people", format="%d")
    cfg["area_name"] = st.column_config.TextColumn("neighbourhood" if level == "lsoa" else "area")
    cfg["suppressed"] = st.column_config.CheckboxColumn(f"suppressed (< {place.min_count})")
    cfg["_index"] = st.column_config.TextColumn(
        "LSOA 2021 code" if level == "lsoa" else f"{place.level_label(level, count=False)} code"
    )
    for col in show.columns:  # locality columns named in words, as the filters name them
        lv = str(col).removesuffix("_name")
        if col != "area_name" and str(col).endswith("_name") and lv in place.all_levels:
            cfg[col] = st.column_config.TextColumn(place.level_label(lv, count=False))
    st.dataframe(show, width="stretch", column_config=cfg, key="tbl_frame")
    if t["suppressed"].any():
        st.caption(
            f"Suppressed (< {place.min_count}): a count of 1 to {place.min_count - 1} is hidden by "
            "disclosure control; an empty cell that is not flagged means no data."
        )
    st.download_button(
        "Download this table (CSV)",
        t.to_csv().encode(),
        file_name=f"placekit_{level}{'_' + codes[0] if codes else ''}.csv",
        mime="text/csv",
        key="tbl_csv",
    )
    st.caption(md_escape(f"England: {res.england}. ") + placekit.AREA_LEVEL_CAVEAT)

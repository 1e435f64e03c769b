"""Trends: IoD 2019 -> 2025 and Census 2011 -> 2021 change, mapped and by locality."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pandas as pd
import streamlit as st

import placekit
from placekit import change as ch
from placekit import layers as pl
from placekit.errors import PlacekitError
from placekit.text import md_escape
from sections._common import (
    STATIC_DIR,
    base_place,
    ctx,
    head,
    legend,
    map_columns,
    served_once,
    show_error,
    static_base,
)

NAME = "Trends"
IOD, CENSUS = "IoD 2019 → 2025", "Census 2011 → 2021"
#: What a missing source is, in words (placekit.change's ``unavailable`` keys).
UNAVAILABLE_WORDS = {
    "iod_scores": "IoD 2019 scores",
    "census_population": "Census 2011 population",
    "census_vs_england": "Census change against England",
}
DOMAIN_WORDS = ch.DOMAIN_WORDS
#: Census measures: (change column, status column, words, unit, higher change is worse).
CENSUS_MEASURES = {
    "hh_deprived_1plus": (
        "hh_deprived_1plus_change_pts",
        "hh_deprived_1plus_status",
        "Households deprived in at least one dimension",
        "percentage points",
        True,
    ),
    "hh_deprived_2plus": (
        "hh_deprived_2plus_change_pts",
        "hh_deprived_2plus_status",
        "Households deprived in two or more dimensions",
        "percentage points",
        True,
    ),
    "population": (
        "population_change_pct",
        "population_status",
        "Usual residents",
        "% change",
        False,
    ),
}


def trend_chart(wide: pd.DataFrame, y_title: str) -> Any:
    """
    Lines from the first year to the second, one per column of ``wide`` (index: the years),
    with the measure named on the y axis and every line in a legend below, names whole.
    """
    import altair as alt

    long = wide.rename_axis("year").reset_index().melt("year", var_name="line", value_name="v")
    return (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("year:O", title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("v:Q", title=y_title, scale=alt.Scale(zero=False)),
            color=alt.Color(
                "line:N",
                title=None,
                legend=alt.Legend(orient="bottom", columns=2, labelLimit=320),
            ),
            tooltip=["line:N", "year:O", alt.Tooltip("v:Q", title=y_title, format=".1f")],
        )
        .properties(height=360)
    )


# ----------------------------------------------------------------------------- cached calls
@st.cache_data(show_spinner="IoD 2019 → 2025…")
def iod_table(pack: str, level: str) -> pd.DataFrame:
    """IoD change by area of ``level`` (LSOAs: :func:`placekit.change.iod_change`)."""
    place = base_place(pack)
    if level == "lsoa":
        t = ch.iod_change(place)
        return t.assign(area_name=place.lsoa["area_name"], population=place.weights["population"])
    return ch.change_table(place, level)


@st.cache_data(show_spinner="Census 2011 → 2021…")
def census_table(pack: str, level: str) -> pd.DataFrame:
    """Census change by area of ``level``."""
    place = base_place(pack)
    if level == "lsoa":
        t = ch.census_change(place)
        return t.assign(area_name=place.lsoa["area_name"])
    return ch.census_change_table(place, level)


def unavailable(pack: str, source: str) -> str:
    """Why ``source`` cannot be shown for this pack ('' when it can)."""
    try:
        (iod_table if source == IOD else census_table)(pack, "lsoa")
    except PlacekitError as err:
        return str(err)
    return ""


def _write_change(pack: str, source: str, level: str) -> str:
    place = base_place(pack)
    t = iod_table(pack, level) if source == IOD else census_table(pack, level)
    cols = [
        c
        for c in t.columns
        if c.endswith(("_change_pct", "_change_pts"))
        and c.isidentifier()
        and pd.api.types.is_numeric_dtype(t[c])
    ]
    areas = place.areas(level)
    gdf = gpd.GeoDataFrame(
        areas[["area_name"]].join(t[cols].astype(float)), geometry=areas.geometry, crs=areas.crs
    )
    worse = {c: c.endswith("_change_pts") for c in cols}  # deprived share up: worse
    # deprived shares move in percentage points, IoD ranks in percentile points
    other = "percentile points" if source == IOD else "% change"
    units = {c: "percentage points" if c.endswith("_change_pts") else other for c in cols}
    return pl.write_static_areas(
        gdf,
        STATIC_DIR,
        higher_is_worse=worse,
        units=units,
        locality=place.lsoa[f"{place.locality_level}_name"] if level == "lsoa" else None,
    )


@st.cache_resource(show_spinner=False)
def _change_file(pack: str, source: str, level: str) -> str:
    return served_once(
        base_place(pack), ("change", source, level), lambda: _write_change(pack, source, level)
    )


def change_file(pack: str, source: str, level: str) -> str:
    """The served file with the change columns at ``level`` (written once, again if cleared)."""
    name = _change_file(pack, source, level)
    if not (STATIC_DIR / name).is_file():
        _change_file.clear()
        name = _change_file(pack, source, level)
    return name


def status_counts(statuses: pd.Series) -> str:
    """'3 improved, 1 worsened, 2 no significant change' for a status column."""
    s = statuses[statuses.astype(str) != ""].astype(str)
    order = [*ch.STATUSES, *ch.POPULATION_STATUSES]
    counts = s.value_counts()
    return ", ".join(f"{int(counts[k])} {k}" for k in dict.fromkeys(order) if k in counts)


# ----------------------------------------------------------------------------- drawing
def _map(c: Any, source: str, level: str, column: str, title: str) -> None:
    t = iod_table(c.pack, level) if source == IOD else census_table(c.pack, level)
    url = f"app/static/{change_file(c.pack, source, level)}"
    layer, lg, tooltip = pl.static_choropleth(
        url, t[column], column, title=title, with_locality=level == "lsoa"
    )
    under, over = static_base(c.pack, level)
    m, side = map_columns((4, 1))
    m.pydeck_chart(
        pl.deck([*under, layer, *over], c.view(height_px=460), tooltip=tooltip),
        height=460,
        key="tr_map",
    )
    with side:
        legend(lg)


def _iod(c: Any, map_level: str, table_level: str) -> None:
    place = c.place
    t = iod_table(c.pack, map_level)
    domains = [d for d in ch.DOMAINS if f"{d}_change_pct" in t.columns]
    d = head().selectbox(
        "Domain", domains, key="tr_domain", format_func=lambda k: DOMAIN_WORDS.get(k, k)
    )
    _map(
        c,
        IOD,
        map_level,
        f"{d}_change_pct",
        f"{DOMAIN_WORDS.get(d, d)}: change in national percentile, 2019 → 2025 "
        "(positive = less deprived relative to England)",
    )
    st.caption(md_escape(t.attrs.get("method", "")))
    lsoa = iod_table(c.pack, "lsoa")
    st.markdown(
        md_escape(
            f"LSOAs, against England: {status_counts(lsoa[f'{d}_status'])} "
            f"(a move of {lsoa.attrs.get('tolerance_pct', 10):g}+ percentile points counts)."
        )
    )
    loc = iod_table(c.pack, table_level)
    shown = pd.DataFrame(
        {
            "area": loc["area_name"],
            "population": loc["population"].round(0),
            "percentile 2019": loc[f"{d}_pct_2019"].round(1),
            "percentile 2025": loc[f"{d}_pct_2025"].round(1),
            "change (points)": loc[f"{d}_change_pct"].round(1),
            "against England": loc[f"{d}_status"],
            "in England's most deprived 10% 2019 (%)": (100 * loc[f"{d}_decile1_share_2019"]).round(
                1
            ),
            "in England's most deprived 10% 2025 (%)": (100 * loc[f"{d}_decile1_share_2025"]).round(
                1
            ),
            "LSOAs improved": loc[f"{d}_n_improved"],
            "LSOAs worsened": loc[f"{d}_n_worsened"],
        }
    )
    st.markdown(
        f"**By {md_escape(place.level_label(table_level, count=False))}**: "
        + md_escape(f"{status_counts(loc[f'{d}_status'])} against England.")
    )
    st.dataframe(shown, key="tr_table", hide_index=True)
    st.caption(md_escape(f"Localities: {loc.attrs.get('aggregation', '')}."))
    pick = st.selectbox(
        "Trend for",
        list(loc.index.astype(str)),
        key="tr_pick",
        format_func=lambda k: str(loc.loc[k, "area_name"]),
    )
    row = loc.loc[pick]
    chart = pd.DataFrame(
        {
            DOMAIN_WORDS.get(x, x): [row[f"{x}_pct_2019"], row[f"{x}_pct_2025"]]
            for x in domains
            if f"{x}_pct_2019" in loc.columns
        },
        index=["2019", "2025"],
    )
    st.markdown(
        md_escape(
            f"{row['area_name']}: national percentile by domain (0 = most deprived in England, "
            "50 = England's middle; up = less deprived relative to England)"
        )
    )
    st.altair_chart(trend_chart(chart, "national percentile (0 = most deprived)"), width="stretch")
    unav = t.attrs.get("unavailable", {})
    if unav:
        with st.expander("Not available"):
            for k, why in unav.items():
                what = UNAVAILABLE_WORDS.get(k) or DOMAIN_WORDS.get(k) or k.replace("_", " ")
                st.markdown(md_escape(f"- {what}: {why}"))


def _census(c: Any, map_level: str, table_level: str) -> None:
    place = c.place
    top = head()  # above the page's map
    m = top.selectbox(
        "Measure",
        list(CENSUS_MEASURES),
        key="tr_census_measure",
        format_func=lambda k: CENSUS_MEASURES[k][2],
    )
    col, status, words, unit, _worse = CENSUS_MEASURES[m]
    lsoa = census_table(c.pack, "lsoa")
    missing = lsoa.attrs.get("unavailable", {}).get("census_population")
    if m == "population" and missing:
        top.info(md_escape(f"Population change unavailable: {missing}."))
        return
    _map(c, CENSUS, map_level, col, f"{words}: change 2011 → 2021 ({unit})")
    st.caption(md_escape(lsoa.attrs.get("method", "")))
    st.markdown(md_escape(f"LSOAs: {status_counts(lsoa[status])}."))
    loc = census_table(c.pack, table_level)
    if m == "population":
        shown = pd.DataFrame(
            {
                "area": loc["area_name"],
                "residents 2011": loc["population_2011"].round(0),
                "residents 2021": loc["population_2021"].round(0),
                "change (%)": loc["population_change_pct"].round(1),
                "direction": loc["population_status"],
            }
        )
    else:
        shown = pd.DataFrame(
            {
                "area": loc["area_name"],
                "% 2011": loc[f"{m}_pct_2011"].round(1),
                "% 2021": loc[f"{m}_pct_2021"].round(1),
                "change (points)": loc[f"{m}_change_pts"].round(1),
                "direction": loc[status],
                f"against {place.name}": loc[f"{m}_status_vs_place"],
                "LSOAs improved (1+ dimensions)": loc["n_lsoa_improved"],
                "LSOAs worsened (1+ dimensions)": loc["n_lsoa_worsened"],
            }
        )
    st.markdown(
        f"**By {md_escape(place.level_label(table_level, count=False))}**: "
        + md_escape(f"{status_counts(loc[status])}.")
    )
    st.dataframe(shown, key="tr_table", hide_index=True)
    vs = lsoa.attrs.get("unavailable", {}).get("census_vs_england")
    if vs:
        st.info(md_escape(f"Against England: unavailable: {vs}."))
    pick = st.selectbox(
        "Trend for",
        list(loc.index.astype(str)),
        key="tr_pick",
        format_func=lambda k: str(loc.loc[k, "area_name"]),
    )
    row = loc.loc[pick]
    tot = lsoa.attrs.get("place_totals", {})
    if m == "population":
        chart = pd.DataFrame(
            {str(row["area_name"]): [row["population_2011"], row["population_2021"]]},
            index=["2011", "2021"],
        )
        what = "usual residents"
    else:
        chart = pd.DataFrame(
            {
                str(row["area_name"]): [row[f"{m}_pct_2011"], row[f"{m}_pct_2021"]],
                place.name: [tot.get(f"{m}_pct_2011"), tot.get(f"{m}_pct_2021")],
            },
            index=["2011", "2021"],
        )
        what = f"% of {words.lower()}"
    st.markdown(md_escape(f"{row['area_name']}: {what}, Census 2011 and 2021"))
    st.altair_chart(trend_chart(chart, what), width="stretch")


def render() -> None:
    c = ctx()
    place = c.place
    top = head()  # the controls, above the page's map
    top.write(
        "How deprivation and the population moved between two vintages, on 2021 LSOAs: "
        "IoD 2019 → 2025 (against England: ranks are relative to all of England) and Census "
        "2011 → 2021 where the pack has both censuses."
    )
    a, b, d = top.columns([2, 2, 2])
    source = a.radio("Change", [IOD, CENSUS], key="tr_source", horizontal=True)
    levels = place.all_levels
    if st.session_state.get("tr_level") not in levels:
        st.session_state["tr_level"] = "lsoa"
    map_level = b.selectbox("Map areas", levels, key="tr_level", format_func=place.level_label)
    tlevels = list(place.levels) or ["lsoa"]
    if st.session_state.get("tr_table_level") not in tlevels:
        st.session_state["tr_table_level"] = c.loc if c.loc in tlevels else tlevels[0]
    table_level = d.selectbox(
        "Locality table by", tlevels, key="tr_table_level", format_func=place.level_label
    )
    why = unavailable(c.pack, source)
    if why:
        top.warning(md_escape(why))
        other = CENSUS if source == IOD else IOD
        if not unavailable(c.pack, other):
            top.caption(md_escape(f"{other} is available: choose it above."))
        top.caption(placekit.AREA_LEVEL_CAVEAT)
        return
    try:
        (_iod if source == IOD else _census)(c, map_level, table_level)
    except PlacekitError as err:
        show_error(err)
    st.caption(placekit.AREA_LEVEL_CAVEAT)
    st.caption(md_escape(" · ".join(place.attributions)))

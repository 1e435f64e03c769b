"""placekit explorer: place layers and demand together, by neighbourhood and locality.

Widgets in, library calls, maps and tables out. All computing is in placekit.
"""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st

import placekit
from placekit import layers as pl
from placekit.clustering import DEFAULT_VARIABLES, choose_k, cluster_place
from placekit.drivers import explain_demand
from placekit.errors import PlacekitError
from placekit.export import write_table
from placekit.place import LEVEL_LABELS
from placekit.profile import locality_profile

st.set_page_config(page_title="placekit", layout="wide")


@st.cache_resource(show_spinner="Loading the place data pack…")
def base_place() -> placekit.Place:
    return placekit.load_place()


@st.cache_resource(show_spinner="Drawing the base map from the pack…")
def base_layers(level: str) -> list:
    place = base_place()
    return pl.overlay_layers(place.data_dir, None if level == "lsoa" else place.localities[level])


@st.cache_resource(show_spinner=False)
def city_base() -> list:
    return pl.base_layers(base_place().data_dir)


@st.cache_data(show_spinner="Grouping neighbourhoods…")
def typology(k: int, seed: int) -> dict:
    res = cluster_place(base_place(), k=k, n_init=300, random_state=seed)
    return {key: res[key] for key in ("labels", "confidence", "portraits", "seconds")}


@st.cache_data(show_spinner="Scanning k = 2..12…")
def k_diagnostics(seed: int) -> pd.DataFrame:
    X = base_place().indicators[DEFAULT_VARIABLES]
    return choose_k(X.fillna(X.median()), n_init=50, random_state=seed)


@st.cache_data(show_spinner="Fitting and validating the demand model…")
def drivers_for(demand: str) -> dict:
    r = explain_demand(base_place(), demand, n_repeats=3)
    return dict(r)


def legend(lg: pl.Legend) -> None:
    rows = "".join(
        f"<div><span style='display:inline-block;width:14px;height:14px;background:rgb{c};"
        f"border:1px solid #999;margin-right:6px'></span>{html.escape(label)}</div>"
        for label, c in lg.entries
    )
    st.markdown(f"<div class='pk-legend'><b>{html.escape(lg.title)}</b><br><i>{html.escape(lg.method)}</i>{rows}</div>",
                unsafe_allow_html=True)


if "place" not in st.session_state:
    st.session_state["place"] = base_place()
place: placekit.Place = st.session_state["place"]
cat = place.catalogue

st.title("placekit — where should we act upstream?")
st.caption(placekit.AREA_LEVEL_CAVEAT)

tab_map, tab_loc, tab_types, tab_drivers, tab_data, tab_export = st.tabs(
    ["Map explorer", "Localities", "Neighbourhood types", "Drivers", "Your data", "Export"])

demand_ids = sorted((i for i in place.indicators.columns if cat.row(i)["theme"] == "health and care demand"),
                    key=lambda i: (not i.startswith("user_"), i != "bad_health_pct"))
all_ids = list(place.indicators.columns)

with tab_map:
    c1, c2, c3 = st.columns([2, 2, 1])
    level = c1.selectbox("Areas", list(LEVEL_LABELS), format_func=LEVEL_LABELS.get, key="level")
    indicator = c2.selectbox("Indicator", demand_ids + [i for i in all_ids if i not in demand_ids],
                             format_func=lambda i: f"{cat.row(i)['label']} [{i}]", key="indicator")
    scheme = c3.radio("Class breaks", ["quantiles", "natural_breaks"], key="scheme")
    overlays = st.multiselect("Place layers", ["gp", "pharmacy", "dentist", "greenspace", "leisure", "library",
                                               "community_centre", "warm_space", "stop", "tram_line",
                                               "conservation_area", "fast_food", "pub", "betting"]
                              + [k for k in place.layers if k.startswith("user:")],
                              key="overlays")
    bi = st.checkbox("Bivariate view: demand against one driver (3 x 3)", key="bivariate")
    driver = st.selectbox("Driver", [i for i in all_ids if i != indicator], key="bi_driver",
                          format_func=lambda i: f"{cat.row(i)['label']} [{i}]") if bi else None
    try:
        table = place.table(level, [indicator] + ([driver] if driver else []))
    except PlacekitError as err:
        st.error(str(err))
        st.stop()
    meta = cat.row(indicator)
    loc_names = (place.lsoa["ward_name"] if level == "lsoa" else None)
    if bi and driver:
        layer, lg = pl.bivariate(table, indicator, driver, title=f"{meta['label']} × {cat.row(driver)['label']}")
    else:
        layer, lg = pl.choropleth(table, indicator, title=f"{meta['label']} ({meta['unit']})", scheme=scheme,
                                  locality=loc_names, higher_is_worse=meta["direction"] != "higher_better")
    extra = [pl.point_layer(place.layer(o), o) for o in overlays]
    view = st.session_state.get("view") or pl.view_for(place.lsoa)
    m, side = st.columns([4, 1])
    with m:
        st.pydeck_chart(pl.deck([*city_base(), layer, *base_layers(level), *extra], view), height=560, key="map")
    with side:
        legend(lg)
        for o in overlays:
            st.markdown(f"<span style='color:rgb{pl.POINT_COLOURS.get(o, (0, 0, 0))}'>●</span> "
                        f"{html.escape(place.layer(o).attrs.get('label', o))}", unsafe_allow_html=True)
    st.caption(f"Source: {meta['source']} ({meta['year']}); {meta['licence']}. "
               f"Aggregation: {table.attrs['notes'].get(indicator, '')}.")
    st.caption(" · ".join(place.attributions))
    st.session_state["current_table"] = table

with tab_loc:
    lvl = st.selectbox("Locality level", ["lac", "ward", "neighbourhood"], format_func=LEVEL_LABELS.get,
                       key="loc_level")
    areas = place.localities[lvl]
    code = st.selectbox("Locality", list(areas.index), format_func=lambda c: str(areas.loc[c, "area_name"]),
                        key="loc_code")
    if st.button("Zoom the map to this locality", key="zoom"):
        st.session_state["view"] = pl.view_for(areas.loc[[code]])
        st.rerun()
    prof = locality_profile(place, lvl, code)
    st.subheader(str(areas.loc[code, "area_name"]))
    st.dataframe(prof["indicators"], width="stretch")
    st.write("Most and least served neighbourhoods (walk minutes to a GP, from the IoD road distance where "
             "access is not computed):")
    st.dataframe(prof["served"], width="stretch")
    st.caption(placekit.AREA_LEVEL_CAVEAT)

with tab_types:
    k = st.slider("Number of neighbourhood types (k)", 2, 12, 6, key="k")
    diag = k_diagnostics(0)
    st.line_chart(diag[["silhouette", "davies_bouldin"]])
    res = typology(k, 0)
    ttable = place.table("lsoa", []).join(res["labels"].rename("type"))
    layer, lg = pl.choropleth(ttable.assign(type=ttable["type"].astype(float)), "type", title="Neighbourhood type",
                              k=k, higher_is_worse=True)
    st.pydeck_chart(pl.deck([*city_base(), layer], pl.view_for(place.lsoa)), height=420, key="types_map")
    st.dataframe(res["portraits"], width="stretch")
    st.caption(f"Confidence (1 − distance to own centre / distance to next): median "
               f"{res['confidence'].median():.2f}. {placekit.AREA_LEVEL_CAVEAT}")

with tab_drivers:
    demand = st.selectbox("Demand indicator", demand_ids, format_func=lambda i: cat.row(i)["label"],
                          key="drv_demand")
    if st.button("Explain demand", key="drv_run") or st.session_state.get("drv_done") == demand:
        st.session_state["drv_done"] = demand
        r = drivers_for(demand)
        st.write(f"Held-out R² (cross-validated by LAC): " + ", ".join(f"{k}: {v:.2f}" for k, v in r["scores"].items()))
        st.bar_chart(r["importance"]["importance"])
        st.dataframe(r["importance"], width="stretch")
        st.write(f"Moran's I of residuals: {r['morans_i']['I']:.2f} (p = {r['morans_i']['p_sim']:.3f})")
        flags = r["areas"]
        st.dataframe(flags[flags["flag_above_prediction"] | flags["flag_high_exposure_moderate_demand"]]
                     [["observed", "predicted", "flag_above_prediction", "flag_high_exposure_moderate_demand"]],
                     width="stretch")
        st.caption(r["caveat"])

with tab_data:
    st.write("Upload service demand by LSOA (CSV/XLSX with 2011 or 2021 codes) or places (CSV with lon/lat "
             "or easting/northing, GeoJSON, GeoPackage, zipped Shapefile). Counts of 1 to 4 are hidden.")
    up = st.file_uploader("Your data", type=["csv", "xlsx", "geojson", "json", "gpkg", "zip"], key="upload")
    kind = st.radio("This file holds", ["a table by LSOA", "points"], key="upload_kind")
    if up is not None and st.session_state.get("uploaded") != up.file_id:
        try:
            from placekit.userdata import add_points, add_table

            fn = add_table if kind == "a table by LSOA" else add_points
            st.session_state["place"] = fn(place, up.getvalue(), name=up.name)
            st.session_state["upload_msg"] = ("ok", f"Loaded {up.name}.")
        except PlacekitError as err:  # the place the user already had is kept
            st.session_state["upload_msg"] = ("error", str(err))
        st.session_state["uploaded"] = up.file_id
        st.rerun()
    kind_msg = st.session_state.get("upload_msg")
    if kind_msg:
        (st.success if kind_msg[0] == "ok" else st.error)(kind_msg[1])
    user = [i for i in place.indicators.columns if i not in base_place().indicators.columns]
    if user:
        st.write("Your indicators (pick them in the Map explorer):")
        shown = place.table("ward", user)
        st.dataframe(shown.drop(columns="geometry"), width="stretch")

with tab_export:
    table = st.session_state.get("current_table")
    if table is not None:
        import tempfile
        from pathlib import Path

        st.download_button("Current table (CSV)", table.drop(columns="geometry").to_csv().encode(),
                           file_name="placekit_table.csv", key="dl_csv")
        with tempfile.TemporaryDirectory() as tmp:
            p = write_table(table, Path(tmp) / "placekit_table.geojson")
            st.download_button("Current table (GeoJSON)", p.read_bytes(), file_name="placekit_table.geojson",
                               key="dl_geojson")
        st.caption(" · ".join(place.attributions))

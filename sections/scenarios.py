"""Scenarios: build interventions, apply them on the walk network, see who gains."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import pandas as pd
import streamlit as st

from placekit import layers as pl
from placekit import workflows as wf
from placekit.config import WORKING_CRS
from placekit.errors import PlacekitError
from placekit.scenarios import (
    FACILITY_WORDS,
    INTERVENTIONS,
    SCHEMA_VERSION,
    ScenarioEngine,
    column_label,
    parse_scenario,
    validate_scenario,
)
from placekit.text import md_escape
from sections._common import (
    FACILITY_CHOICES,
    area_choices,
    change_areas,
    ctx,
    head,
    labels,
    map_with_legend,
    place_centre,
    scenario_engine,
    scenario_isochrones,
    show_error,
    static_base,
)

NAME = "Scenarios"
KIND_WORDS = {
    "add_facility": "add a facility",
    "close_facility": "close a facility",
    "move_facility": "move a facility",
    "add_link": "add a walking link",
    "add_housing": "add housing",
    "improve_greenspace": "improve green space",
}
ISO_RGB = pl.POINT_COLOURS["isochrone"]


def describe(item: dict[str, Any], place: Any) -> str:
    """One intervention in words: 'add a facility: GP practices (active) in Sheffield 069A'."""
    kind = str(item.get("type", ""))
    words = KIND_WORDS.get(kind, kind.replace("_", " "))
    fac = item.get("facility")
    if fac:
        try:
            words += f": {place.layer(fac).attrs.get('label', fac)}"
        except PlacekitError:
            words += f": {fac}"
        if "id" in item:
            names = dict(wf.facility_options(place, fac))
            words += f" ({names.get(str(item['id']), item['id'])})"
    if "postcode" in item:
        words += f" at postcode {item['postcode']}"
    elif "x" in item and "y" in item:
        inside = place.lsoa.index[
            place.lsoa.geometry.contains(gpd.points_from_xy([item["x"]], [item["y"]])[0])
        ]
        words += (
            f" in {place.lsoa.loc[inside[0], 'area_name']}"
            if len(inside)
            else f" at ({item['x']:.0f}, {item['y']:.0f}) m"
        )
    elif "lon" in item and "lat" in item:
        words += f" at {float(item['lat']):.5f}, {float(item['lon']):.5f}"
    if kind == "add_link":
        a, b = item.get("from", {}), item.get("to", {})
        words += (
            f" from {float(a.get('lat', 0)):.5f}, {float(a.get('lon', 0)):.5f}"
            f" to {float(b.get('lat', 0)):.5f}, {float(b.get('lon', 0)):.5f}"
        )
    if "dwellings" in item:
        words += f", {int(item['dwellings']):,} dwellings, {int(item.get('people', 0)):,} people"
    if "area_m2" in item:
        words += f", {float(item['area_m2']):,.0f} m²"
    return words
EXTENT_WORDS = {"change": "where it changed", "whole": "whole place"}
WHERE_WORDS = {
    "neighbourhood": "a neighbourhood",
    "postcode": "a postcode",
    "lon/lat": "longitude and latitude",
    "click on map": "a click on the map",
}


def added_sites(engine: ScenarioEngine, scenario: dict[str, Any]) -> gpd.GeoSeries:
    """The sites a scenario adds or moves a facility to (EPSG:27700), for the change map's view."""
    xy = [
        engine.locate(it)
        for it in scenario.get("interventions", [])
        if it.get("type") in ("add_facility", "move_facility")
    ]
    return gpd.GeoSeries.from_xy([x for x, _ in xy], [y for _, y in xy], crs=WORKING_CRS)


def readable(
    frame: pd.DataFrame,
    words: Callable[[str], str],
    *,
    people_demand: bool = False,
    level_label: str = "",
) -> pd.DataFrame:
    """
    A result table to show: people as whole numbers, minutes to 0.1, columns in words, and
    the index named ``level_label`` (the locality level in words, not its id).
    """
    out = frame.copy()
    if level_label:
        out.index.name = level_label
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]):
            continue
        whole = col.startswith("population") or "people" in col
        whole = whole or (people_demand and "demand_change" in col)
        out[col] = out[col].round(0).astype("Int64") if whole else out[col].round(1)
    return out.rename(columns=words)


def render() -> None:
    c = ctx()
    place = c.place
    PACK, LOC = c.pack, c.loc
    CENTRE = place_centre(PACK)
    FACILITY_TYPES = [f for f in FACILITY_CHOICES if f in place.available_layers]
    pending = st.session_state.pop("scn_pending", None)
    if (
        pending
    ):  # a loaded scenario restores its name, threshold and interventions before the widgets draw
        st.session_state.update(pending)
    top = head()  # above the page's map: what the map shows
    top.write(
        "Build a scenario from one or more interventions (below the map), apply it, and see "
        "on the map what changes on the walk network. Locations: a postcode, longitude and "
        "latitude, a neighbourhood from the list, or a neighbourhood clicked on the small map."
    )
    show_at, extent_at = top.columns(2)
    # the builder, then what changed, each the page's width (the map is above them both)
    left, right = st.container(), st.container()
    with left:
        scn_demand = st.selectbox(
            "Demand whose change is estimated",
            ["bad_health_pct", "acute_morbidity_2025", "disability_pct"],
            key="scn_demand",
            format_func=c.label,
        )
        items = st.session_state.setdefault("scn_items", [])
        kind = st.selectbox(
            "Intervention",
            list(INTERVENTIONS),
            key="scn_kind",
            format_func=lambda k: KIND_WORDS.get(k, k.replace("_", " ")),
        )
        where = st.radio(
            "Location by",
            ["neighbourhood", "postcode", "lon/lat", "click on map"],
            horizontal=True,
            key="scn_where",
            format_func=WHERE_WORDS.get,
        )
        loc: dict = {}
        if where == "click on map":
            pick_layer, _ = pl.choropleth(
                place.table("lsoa", ["imd2025_decile"]),
                "imd2025_decile",
                title="IMD 2025 decile",
                higher_is_worse=False,
                layer_id="pick",
            )
            event = st.pydeck_chart(
                pl.deck(
                    [*static_base(PACK, LOC)[0], pick_layer, *static_base(PACK, LOC)[1]],
                    c.view(480, 300),
                ),
                height=300,
                key="scn_pick",
                on_select="rerun",
                selection_mode="single-object",
            )
            picked = (event.selection.get("objects", {}) or {}).get("pick", []) if event else []
            if picked:
                st.session_state["scn_picked"] = (
                    picked[0]["properties"]["code"]
                    if "properties" in picked[0]
                    else picked[0].get("code")
                )
            code = st.session_state.get("scn_picked")
            if code in place.lsoa.index:
                pt = place.lsoa.loc[[code]].geometry.representative_point().iloc[0]
                loc = {"x": float(pt.x), "y": float(pt.y)}
                st.caption(
                    md_escape(
                        f"Picked {place.lsoa.loc[code, 'area_name']} ({code}), "
                        f"{place.lsoa.loc[code, f'{LOC}_name']}"
                    )
                )
            else:
                st.caption(
                    "Click a neighbourhood on the map (coloured by IMD 2025 decile; "
                    "darker = less deprived)."
                )
        elif where == "postcode":
            loc = {"postcode": st.text_input("Postcode", "", key="scn_pc")}
        elif where == "lon/lat":
            a, b = st.columns(2)
            loc = {
                "lon": a.number_input("lon", value=CENTRE[0], format="%.5f", key="scn_lon"),
                "lat": b.number_input("lat", value=CENTRE[1], format="%.5f", key="scn_lat"),
            }
        else:
            names = area_choices(PACK, LOC)
            code = st.selectbox(
                "Neighbourhood", list(names), key="scn_lsoa", format_func=names.__getitem__
            )
            pt = place.lsoa.loc[[code]].geometry.representative_point().iloc[0]
            loc = {"x": float(pt.x), "y": float(pt.y)}
        item: dict = {"type": kind}
        if kind in ("add_facility", "close_facility", "move_facility"):
            item["facility"] = st.selectbox(
                "Facility type",
                FACILITY_TYPES,
                key="scn_fac",
                format_func=lambda f: str(place.layer(f).attrs.get("label", f)),
            )
        if kind in ("close_facility", "move_facility"):
            options = dict(wf.facility_options(place, item["facility"]))
            item["id"] = st.selectbox(
                "Which one", list(options), key="scn_id", format_func=options.__getitem__
            )
        if kind in ("add_facility", "move_facility", "add_housing", "improve_greenspace"):
            item.update(loc)
        if kind == "add_link":
            a, b, c_, d_ = st.columns(4)
            item["from"] = {
                "lon": a.number_input("from lon", value=CENTRE[0], format="%.5f", key="l1x"),
                "lat": b.number_input("from lat", value=CENTRE[1], format="%.5f", key="l1y"),
            }
            item["to"] = {
                "lon": c_.number_input("to lon", value=CENTRE[0] + 0.005, format="%.5f", key="l2x"),
                "lat": d_.number_input("to lat", value=CENTRE[1] + 0.002, format="%.5f", key="l2y"),
            }
        if kind == "add_housing":
            item["dwellings"] = st.number_input("Dwellings", 1, 10000, 200, key="scn_dw")
            item["people"] = st.number_input("People", 1, 30000, 460, key="scn_people")
        if kind == "improve_greenspace":
            item["area_m2"] = st.number_input(
                "Green space area (m²)", 500, 500000, 20000, key="scn_area"
            )
        if st.button("Add to scenario", key="scn_add"):
            try:  # checked against the place as it is added, not only on Apply
                validate_scenario(
                    {
                        "placekit_scenario": SCHEMA_VERSION,
                        "name": "check",
                        "mode": "walk",
                        "threshold_min": 15,
                        "interventions": [*items, item],
                    },
                    source="this intervention",
                    place=place,
                )
                items.append(item)
            except PlacekitError as err:
                show_error(err)
        if items:  # what the scenario holds, in words
            lines = (f"{n}. {md_escape(describe(it, place))}" for n, it in enumerate(items, 1))
            st.markdown(f"**In this scenario ({len(items)})**\n\n" + "\n".join(lines))
        else:
            st.caption("Nothing in this scenario yet: add an intervention above.")
        threshold = st.slider("Threshold (minutes)", 5, 30, 15, key="scn_t")
        with st.expander("An effect from the literature (optional), shown beside the estimate"):
            a_val = st.number_input(
                "Change in demand per minute of access (units of the demand)",
                value=0.0,
                step=0.01,
                format="%.3f",
                key="scn_assumed",
            )
            a_src = st.text_input("Source (required to use it)", "", key="scn_assumed_src")
        assumed = {}
        if a_val and a_src.strip() and items:
            from placekit.effects import assumed_effect

            fac = str(items[-1].get("facility", "gp"))
            assumed = {
                fac: assumed_effect(
                    float(a_val), a_src.strip(), demand=scn_demand, access=f"{fac}_walk_min"
                )
            }
        doc = {
            "placekit_scenario": SCHEMA_VERSION,
            "name": st.text_input("Scenario name", "My scenario", key="scn_name"),
            "mode": "walk",
            "threshold_min": threshold,
            "interventions": items,
        }
        up = st.file_uploader("Load a saved scenario (JSON)", type=["json"], key="scn_upload")
        if up is not None and st.session_state.get("scn_loaded") != up.file_id:
            st.session_state["scn_loaded"] = up.file_id
            try:
                loaded = parse_scenario(up.getvalue(), source=up.name, place=place)
                st.session_state["scn_pending"] = {
                    "scn_items": list(loaded["interventions"]),
                    "scn_name": str(loaded["name"]),
                    "scn_t": int(min(max(round(float(loaded["threshold_min"])), 5), 30)),
                }
                st.session_state["scn_loaded_msg"] = (
                    f"Loaded {loaded['name']!r}: {len(loaded['interventions'])} intervention(s), "
                    f"threshold {loaded['threshold_min']:g} min."
                )
                st.rerun()
            except PlacekitError as err:
                show_error(err)
        if st.session_state.get("scn_loaded_msg"):
            st.success(md_escape(st.session_state.pop("scn_loaded_msg")))
        c1, c2, c3 = st.columns(3)
        if c1.button("Apply", key="scn_apply", disabled=not items):
            try:
                t0 = time.perf_counter()
                eng = scenario_engine(PACK, scn_demand)
                prep_s = time.perf_counter() - t0
                res = eng.apply(doc, assumed=assumed)
                st.session_state["scn_result"] = (res, prep_s)
                st.session_state.setdefault("scn_results", {})[doc["name"]] = res
            except PlacekitError as err:
                show_error(err)
        if c2.button("Clear", key="scn_clear"):
            st.session_state["scn_items"] = []
            st.session_state.pop("scn_result", None)
            st.rerun()
        if items:
            c3.download_button(
                "Save scenario (JSON)",
                json.dumps(doc, indent=2).encode(),
                file_name="scenario.json",
                key="scn_save",
            )
    with right:
        # The same widgets before and after Apply, and the page's map (drawn, its served base
        # files loaded and tessellated, while the scenario is built): Apply only adds the
        # change layer to it instead of creating a new map.
        if "scn_result" not in st.session_state:
            show_at.selectbox(
                "Show change in", ["(apply a scenario first)"], key="scn_show_wait", disabled=True
            )
            extent_at.radio(
                "Map shows",
                list(EXTENT_WORDS),
                horizontal=True,
                key="scn_extent_wait",
                format_func=EXTENT_WORDS.__getitem__,
                disabled=True,
            )
            view = c.view(900, 420)
            map_with_legend(
                c,
                [
                    *static_base(PACK, LOC)[0],
                    *static_base(PACK, LOC)[1],
                    *labels(PACK, LOC, view.zoom),
                ],
                pl.Legend("Change", "Apply the scenario to see what changes here", []),
                key="scn_map",
                view=view,
            )
        else:
            res, prep_s = st.session_state["scn_result"]
            a = res.areas
            change_cols = [
                c
                for c in a.columns
                if c.endswith("_min_change")
                or (c.endswith(("_demand_change", "_demand_change_assumed")) and a[c].notna().any())
            ]
            from placekit.effects import counted_as  # scikit-learn behind it: only once applied

            eng = scenario_engine(PACK, scn_demand)
            effects = [eng.effect(f) for f in {c.split("_", 1)[0] for c in change_cols}]
            counted = next((counted_as(e) for e in effects if e is not None), "")

            def words(col: str) -> str:
                return column_label(col, threshold_min=float(threshold), demand=counted)

            show = show_at.selectbox(
                "Show change in", change_cols, key="scn_show", format_func=words
            )
            ctable = place.table("lsoa", []).join(a[[show]])
            clayer, clg = pl.change_choropleth(
                ctable, show, title=words(show), layer_id="scn_change", display=change_areas(PACK)
            )
            iso = scenario_isochrones(
                PACK, json.dumps(res.scenario, sort_keys=True), scn_demand, float(threshold)
            )
            extent = extent_at.radio(
                "Map shows",
                list(EXTENT_WORDS),
                horizontal=True,
                key="scn_extent",
                format_func=EXTENT_WORDS.__getitem__,
            )
            # fitted to the areas whose value changed and the sites added or moved
            zoom = (
                pl.change_view(
                    place.lsoa,
                    a[show],
                    points=added_sites(scenario_engine(PACK, scn_demand), res.scenario),
                    width_px=900,
                    height_px=420,
                )
                if extent == "change"
                else None
            )
            if zoom is None:  # the whole place, asked for or nothing changed
                zoom = c.view(900, 420)
            map_with_legend(
                c,
                [
                    *static_base(PACK, LOC)[0],
                    clayer,
                    *static_base(PACK, LOC)[1],
                    *iso,
                    *labels(PACK, LOC, zoom.zoom),
                ],
                clg,
                key="scn_map",
                view=zoom,
                extra_legend=(
                    [(f"walk service area ({threshold} min) of the new place", ISO_RGB)]
                    if iso
                    else []
                ),
            )
            newly = {c: int(a[c].sum()) for c in a if c.endswith("_people_newly_within")}
            prep = (
                f" (first use: {prep_s:.1f} s to prepare the network and demand model)"
                if prep_s > 0.5
                else ""
            )
            st.success(
                f"Applied in {res.seconds:.2f} s{prep}. People newly within {threshold} min: "
                + ", ".join(
                    f"{FACILITY_WORDS.get(f := k.removesuffix('_people_newly_within'), f)} {v:,}"
                    for k, v in newly.items()
                )
            )
            st.dataframe(
                readable(
                    res.localities[LOC],
                    words,
                    people_demand=counted.startswith("people"),
                    level_label=place.level_label(LOC, count=False),
                ),
                width="stretch",
            )
            st.write("Who gains, by IMD 2025 decile (1 = most deprived):")
            st.dataframe(
                readable(
                    res.by_imd_decile,
                    words,
                    people_demand=counted.startswith("people"),
                    level_label="IMD 2025 decile",
                ),
                width="stretch",
            )
            for n in res.notes:
                st.info(md_escape(n))
        if len(st.session_state.get("scn_results", {})) > 1:
            from placekit.scenarios import compare_scenarios

            st.write("Scenarios side by side:")
            st.dataframe(compare_scenarios(st.session_state["scn_results"]), width="stretch")

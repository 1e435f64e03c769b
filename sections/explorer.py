"""Map explorer: any indicator as a choropleth at any level, with place names, layers and search."""

from __future__ import annotations

import html

import pydeck as pdk
import streamlit as st

import placekit
from placekit import layers as pl
from placekit import workflows as wf
from placekit.errors import PlacekitError
from placekit.text import md_escape
from sections._common import (
    OVERLAYS,
    SCHEME_WORDS,
    bind,
    ctx,
    head,
    labels,
    legend,
    map_columns,
    on_homes,
    residential_words,
    show_error,
    static_areas,
    static_base,
)

NAME = "Map explorer"


def render() -> None:
    c = ctx()
    place = c.place
    cat = place.catalogue
    choices = c.choices
    with head():  # the controls, above the page's map
        c1, c2, c3 = st.columns([3, 3, 2])
        level = c1.selectbox(
            "Areas",
            place.all_levels,
            format_func=place.level_label,
            **bind("level", "pk_level", place.all_levels, "lsoa"),
        )
        indicator = c2.selectbox(
            "Indicator (health and care demand first)",
            choices.all,
            format_func=c.label,
            **bind("indicator", "pk_indicator", choices.all, "bad_health_pct"),
        )
        scheme = c3.radio(
            "Class breaks", list(SCHEME_WORDS), key="scheme", format_func=SCHEME_WORDS.__getitem__
        )
        s1, s2, s3 = st.columns([3, 3, 2])
        query = s1.text_input(
            "Find a postcode or an area", key="search", placeholder="e.g. S1 2HE, or a ward's name"
        )
        label_levels = ["", *(lv for lv in place.levels if lv != "lad")]
        lab_level = s2.selectbox(
            "Place names on the map",
            label_levels,
            **bind("labels_level", "pk_labels", label_levels, c.loc),
            format_func=lambda lv: "none" if not lv else place.level_label(lv, count=False),
        )
        overlay_names = [
            *(k for k in OVERLAYS if k in place.available_layers),
            *(k for k in place.layers if k.startswith("user:")),
        ]
        overlays = st.multiselect(
            "Place layers, by theme",
            overlay_names,
            key="overlays",
            format_func=lambda k: OVERLAYS.get(k, f"your data · {k.removeprefix('user:')}"),
        )
        bi = s3.checkbox("Bivariate: demand × driver (3 x 3)", key="bivariate")
        homes = s3.checkbox(
            "Colour where people live (residential land only)",
            key="homes_only",
            help="Each area drawn only over its homes, so people, not hectares, carry the colour.",
        )
        driver = (
            st.selectbox(
                "Driver",
                [i for i in choices.all if i != indicator],
                key="bi_driver",
                format_func=c.label,
            )
            if bi
            else None
        )
        chosen = [indicator] + ([driver] if driver else [])
        if any(i in choices.access for i in chosen):
            place = c.with_access()
        try:
            table = place.table(level, chosen)
        except PlacekitError as err:
            show_error(err)
            return
        drawn = table  # the geometry the map draws: the areas, or their residential land
        if homes:
            try:
                drawn = on_homes(table, c.pack, level)
            except PlacekitError as err:
                st.warning(md_escape(f"Drawn over whole areas: {err}"))
                homes = False
        meta = cat.row(indicator)
        title = c.label(indicator)
        tooltip = None
        whole = meta["kind"] == "count"
        if bi and driver:
            layer, lg = pl.bivariate(
                drawn, indicator, driver, title=f"{meta['label']} × {cat.row(driver)['label']}"
            )
        elif indicator.startswith("user_"):
            hidden = wf.area_table(place, level, [indicator], england=False).table["suppressed"]
            layer, lg = pl.choropleth(
                drawn,
                indicator,
                title=title,
                scheme=scheme,
                locality=place.lsoa[f"{c.loc}_name"] if level == "lsoa" else None,
                higher_is_worse=meta["direction"] != "higher_better",
                suppressed=hidden,
                whole=whole,
                min_count=place.min_count,
                unit=str(meta["unit"]),
            )
        else:
            # geometry goes to the browser once (a static file); a rerun sends only the class breaks
            url = f"app/static/{static_areas(place, level, homes=homes)}"
            layer, lg, tooltip = pl.static_choropleth(
                url,
                table[indicator],
                indicator,
                title=title,
                scheme=scheme,
                with_locality=level == "lsoa",
            )
        extra = [pl.point_layer(place.layer(o), o) for o in overlays]
        view = st.session_state.get("view") or c.view()
        found = []
        if query.strip():
            try:
                hit = wf.search_place(place, query)
                view = pl.search_view(place, hit)  # the found area and its neighbours
                found = [
                    pdk.Layer(
                        "ScatterplotLayer",
                        data=[{"lon": hit.lon, "lat": hit.lat, "name": hit.name or hit.query}],
                        id="search-hit",
                        get_position=["lon", "lat"],
                        get_fill_color=[0, 0, 0, 0],
                        get_line_color=[200, 0, 120, 255],
                        stroked=True,
                        filled=False,
                        line_width_min_pixels=3,
                        radius_min_pixels=12,
                        get_radius=120,
                    )
                ]
                where = (
                    f" ({place.lsoa.loc[hit.lsoa, f'{c.loc}_name']})"
                    if hit.lsoa in place.lsoa.index
                    else ""
                )
                what = (
                    "Postcode"
                    if hit.kind == "postcode"
                    else place.level_label(hit.level, count=False)
                )
                s1.caption(md_escape(f"{what}: {hit.name or hit.query}{where}"))
            except PlacekitError as err:
                s1.warning(md_escape(err))
    m, side = map_columns((4, 1))
    with m:
        under, over = static_base(c.pack, level)
        st.pydeck_chart(
            pl.deck(
                [*under, layer, *over, *extra, *labels(c.pack, lab_level, view.zoom), *found],
                view,
                tooltip=tooltip,
            ),
            height=560,
            key="map",
        )
    with side:
        legend(lg)
        for o in overlays:
            st.markdown(
                f"<span style='color:rgb{pl.POINT_COLOURS.get(o, (0, 0, 0))}'>●</span> "
                f"{html.escape(str(place.layer(o).attrs.get('label', o)))}",
                unsafe_allow_html=True,
            )
        if found:
            st.markdown(
                "<span style='color:rgb(200,0,120)'>◯</span> search result", unsafe_allow_html=True
            )
        if st.session_state.get("view") is not None and st.button("Whole place", key="reset_view"):
            st.session_state["view"] = None
            st.rerun()
    st.caption(
        md_escape(
            f"Source: {meta['source']} ({meta['year']}); {meta['licence']}. "
            f"Aggregation: {table.attrs['notes'].get(indicator, '')}. "
        )
        + placekit.AREA_LEVEL_CAVEAT
    )
    if homes:
        st.caption(
            md_escape(
                "Coloured where people live: each area is clipped to the land of its "
                f"residential origins, {residential_words(c.pack, level)}. The values are "
                "unchanged: each area's own value, drawn only over its homes."
            )
        )
    st.caption(md_escape(" · ".join(place.attributions)))
    st.session_state["current_table"] = table
    st.session_state["current_map"] = dict(  # noqa: C408
        level=level,
        indicator=indicator,
        scheme=scheme,
        title=title,
        source=f"{meta['source']} ({meta['year']})",
        higher_is_worse=meta["direction"] != "higher_better",
    )

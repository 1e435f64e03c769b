"""placekit explorer: place layers and demand together, by neighbourhood and locality.

Widgets in, library calls, maps and tables out. All computing is in placekit.
"""

from __future__ import annotations

import html
import json
import tempfile
import time
from pathlib import Path

import pandas as pd
import streamlit as st

import placekit
from placekit import layers as pl
from placekit.accessibility import access_indicators
from placekit.clustering import DEFAULT_VARIABLES, choose_k, cluster_place, stability
from placekit.drivers import explain_demand, flag_category
from placekit.errors import PlacekitError
from placekit.export import write_table
from placekit.profile import locality_profile
from placekit.report import locality_report
from placekit.scenarios import (
    INTERVENTIONS,
    SCHEMA_VERSION,
    ScenarioEngine,
    parse_scenario,
    validate_scenario,
)
from placekit.targeting import (
    DEFAULT_CRITERIA,
    TierRules,
    match_comparisons,
    prevention_table,
    weight_sensitivity,
)
from placekit.text import md_escape

st.set_page_config(page_title="placekit", layout="wide")
FACILITY_CHOICES = ["gp", "pharmacy", "dentist", "leisure", "library", "community_centre", "stop"]
#: Overlay layers grouped by theme, as the map explorer lists them.
OVERLAYS = {
    "conservation_area": "planning · conservation areas",
    "stop": "transport · bus and tram stops",
    "tram_line": "transport · tram lines",
    "greenspace": "leisure and green space · public green space",
    "leisure": "leisure and green space · sports and leisure centres",
    "fast_food": "leisure and green space · fast food (hazard)",
    "library": "community assets · libraries",
    "community_centre": "community assets · community centres",
    "warm_space": "community assets · warm spaces",
    "school": "community assets · secondary schools",
    "pub": "community assets · pubs and bars (hazard)",
    "betting": "community assets · betting shops (hazard)",
    "gp": "health · GP practices",
    "pharmacy": "health · pharmacies",
    "dentist": "health · dentists",
}


# ----------------------------------------------------------------------------- cached library calls
# Every cached call takes the pack folder (PACK) as its first argument, so switching pack
# switches every section and each pack is prepared once per server.
@st.cache_resource(show_spinner=False)
def known_packs(roots: tuple[str, ...]) -> dict[str, str]:
    """Packs found where the PLACEKIT_PACKS setting says (default: the default pack and ~/placekit-packs)."""
    found = {name: str(path) for name, path in placekit.pack.find_packs(roots).items()}
    try:  # the default pack first
        default = str(placekit.open_pack(placekit.config.data_dir()).path)
    except PlacekitError:
        return found
    first = [n for n, p_ in found.items() if p_ == default]
    return {**{n: found[n] for n in first}, **{n: p_ for n, p_ in found.items() if n not in first}}


@st.cache_resource(show_spinner="Loading the place pack…")
def base_place(pack: str) -> placekit.Place:
    return placekit.load_place(pack)


@st.cache_resource(show_spinner=False)
def city_base(pack: str) -> list:
    return pl.base_layers(base_place(pack))


@st.cache_resource(show_spinner=False)
def top_layers(pack: str, level: str) -> list:
    place = base_place(pack)
    return pl.overlay_layers(place, None if level == "lsoa" else place.localities[level])


@st.cache_resource(show_spinner=False)
def walk_access(pack: str) -> tuple[pd.DataFrame, dict]:
    bar = st.progress(0.0, text="Building the walk network from OpenStreetMap (first run only)…")
    out = access_indicators(
        base_place(pack), progress=lambda m, f: bar.progress(min(float(f), 1.0), text=m)
    )
    bar.empty()
    return out


@st.cache_data(show_spinner="Grouping neighbourhoods…")
def typology(pack: str, k: int, seed: int) -> dict:
    res = cluster_place(base_place(pack), k=k, n_init=300, random_state=seed)
    X = base_place(pack).indicators[res["variables"]]
    aris, per_area = stability(X.fillna(X.median()), k, n_runs=20, random_state=seed)
    return {
        **{key: res[key] for key in ("labels", "confidence", "portraits", "seconds")},
        "ari": aris,
        "stability": per_area,
    }


@st.cache_data(show_spinner="Scanning k = 2..12…")
def k_diagnostics(pack: str, seed: int) -> pd.DataFrame:
    ind = base_place(pack).indicators
    X = ind[[v for v in DEFAULT_VARIABLES if v in ind.columns]]
    return choose_k(X.fillna(X.median()), n_init=50, random_state=seed)


@st.cache_data(show_spinner="Fitting and validating the demand model…")
def drivers_for(pack: str, demand: str) -> dict:
    return dict(explain_demand(base_place(pack), demand, n_repeats=3))


@st.cache_resource(show_spinner="Preparing the street network and demand model for scenarios…")
def scenario_engine(pack: str, demand: str) -> ScenarioEngine:
    frame, metas = walk_access(pack)
    place = base_place(pack).with_indicators(frame, metas)
    return ScenarioEngine(place, demand=demand)


@st.cache_data(show_spinner=False)
def sensitivity(pack: str, demand: str, weights: tuple, rules: tuple) -> pd.DataFrame:
    bp = base_place(pack)
    prev = prevention_table(
        bp, drivers_for(pack, demand), rules=TierRules(**dict(rules)), weights=dict(weights)
    )
    return weight_sensitivity(
        prev[list(DEFAULT_CRITERIA)], bp.codes(bp.locality_level), weights=dict(weights), n_runs=100
    )[0]


@st.cache_resource(show_spinner=False)
def scenario_isochrones(pack: str, scenario_json: str, demand: str, threshold_min: float) -> list:
    """Walk isochrones around each added or moved facility, as a map layer."""
    iso = scenario_engine(pack, demand).isochrones(
        json.loads(scenario_json), threshold_min=threshold_min
    )
    return [pl.point_layer(iso, "isochrone")] if len(iso) else []


STATIC_DIR = Path(__file__).resolve().parent / "static"


@st.cache_resource(show_spinner=False)
def static_base(pack: str, level: str) -> tuple[list, list]:
    """The base layers under and over the main map, served as files so the browser keeps them."""
    return pl.to_static(city_base(pack), STATIC_DIR), pl.to_static(
        top_layers(pack, level), STATIC_DIR
    )


@st.cache_resource(show_spinner=False)
def static_area_file(pack: str, level: str, ids: tuple[str, ...], _place: placekit.Place) -> str:
    """The served file of a pack's areas and indicators at ``level``: written once per server, not per session."""
    table = _place.table(level, list(ids))
    worse = {i: _place.catalogue.row(i)["direction"] != "higher_better" for i in ids}
    return pl.write_static_areas(
        table,
        STATIC_DIR,
        higher_is_worse=worse,
        locality=_place.lsoa[f"{_place.locality_level}_name"] if level == "lsoa" else None,
    )


def static_areas(place: placekit.Place, level: str) -> str:
    """File (under static/) with this place's areas and indicators at ``level``."""
    # uploaded (user_) indicators never go into a served file: they stay inline, in this session only
    ids = tuple(i for i in place.indicators.columns if not i.startswith("user_"))
    name = static_area_file(str(place.data_dir), level, ids, place)
    if not (STATIC_DIR / name).is_file():  # the folder was cleared since: write it again
        static_area_file.clear()
        name = static_area_file(str(place.data_dir), level, ids, place)
    return name


def with_access(place: placekit.Place) -> placekit.Place:
    if "gp_walk_min" in place.indicators.columns:
        return place
    frame, metas = walk_access(PACK)
    return place.with_indicators(frame, metas)


@st.cache_resource(show_spinner=False)
def place_view(pack: str, width_px: int = 900, height_px: int = 560) -> object:
    """The whole place's view for a map of the given size (computed once per pack)."""
    return pl.view_for(base_place(pack).lsoa, width_px=width_px, height_px=height_px)


def city_view(width_px: int = 900, height_px: int = 560) -> object:
    return place_view(PACK, width_px, height_px)


def legend(lg: pl.Legend) -> None:
    rows = "".join(
        f"<div><span style='display:inline-block;width:14px;height:14px;background:rgb{c};"
        f"border:1px solid #999;margin-right:6px'></span>{html.escape(label)}</div>"
        for label, c in lg.entries
    )
    st.markdown(
        f"<div class='pk-legend'><b>{html.escape(lg.title)}</b><br><i>{html.escape(lg.method)}</i>"
        f"{rows}</div>",
        unsafe_allow_html=True,
    )


# ----------------------------------------------------------------------------- page
PACKS = known_packs(tuple(str(r) for r in placekit.config.pack_roots()))
if not PACKS:
    st.error(
        "No place pack found. Set PLACEKIT_DATA to a pack folder (e.g. ../shared/data), or build one "
        "with `placekit pack build --sources DIR --la CODE --out ~/placekit-packs/NAME`."
    )
    st.stop()
pack_name = st.sidebar.selectbox(
    "Place pack",
    list(PACKS),
    key="pack",
    help="Packs found where PLACEKIT_PACKS points (default: the default pack "
    "and ~/placekit-packs). Switching pack switches every section.",
)
PACK = PACKS[pack_name]
#: State that belongs to one pack; dropped when the pack changes.
PACK_STATE = (
    "level",
    "indicator",
    "view",
    "overlays",
    "bi_driver",
    "loc_level",
    "loc_code",
    "scn_items",
    "scn_result",
    "scn_results",
    "scn_picked",
    "scn_lsoa",
    "scn_id",
    "current_table",
    "current_map",
    "uploaded",
    "upload_msg",
    "drv_done",
    "prev_done",
    "prev_lac",
    "rep_lac",
    "pilots",
    "report_html",
    "drv_area",
)
if st.session_state.get("place_pack") != PACK:
    for k_ in PACK_STATE:
        st.session_state.pop(k_, None)
    st.session_state["place"] = base_place(PACK)
    st.session_state["place_pack"] = PACK
place: placekit.Place = st.session_state["place"]
cat = place.catalogue
#: The level localities are planned by (Sheffield: LACs; elsewhere wards).
LOC = place.locality_level
FACILITY_TYPES = [f for f in FACILITY_CHOICES if f in place.available_layers]
CENTRE = pl.centre_lonlat(place.lsoa)
st.sidebar.caption(
    f"{place.name}: {len(place.lsoa)} neighbourhoods (LSOA 2021), "
    + ", ".join(place.level_label(lv) for lv in place.levels)
    + f". Origins: {place.pack.origins.get('method', '')}."
)


def map_with_legend(
    layers: list,
    lg: pl.Legend,
    *,
    key: str,
    view: object = None,
    height: int = 420,
    ratio: tuple[int, int] = (4, 1),
) -> None:
    """A map and its legend side by side."""
    m, side = st.columns(list(ratio))
    m.pydeck_chart(pl.deck(layers, view or city_view(height_px=420)), height=height, key=key)
    with side:
        legend(lg)


def label(i: str) -> str:
    return f"{cat.row(i)['label']} [{i}]"


st.title("placekit — where should we act upstream?")
st.caption(placekit.AREA_LEVEL_CAVEAT)
SECTIONS = [
    "Map explorer",
    "Localities",
    "Neighbourhood types",
    "Drivers",
    "Prevention",
    "Scenarios",
    "Your data",
    "Export",
]
# One section runs at a time (a radio, not st.tabs, which would run every section on every rerun)
section = st.radio(
    "Section", SECTIONS, horizontal=True, key="section", label_visibility="collapsed"
)

access_ids = [
    i
    for i in cat.ids
    if cat.row(i)["derivation"].startswith("access:") and ":walk:" in cat.row(i)["derivation"]
]
demand_ids = sorted(
    (i for i in place.indicators.columns if cat.row(i)["theme"] == "health and care demand"),
    key=lambda i: (not i.startswith("user_"), i != "bad_health_pct"),
)
all_ids = demand_ids + [i for i in place.indicators.columns if i not in demand_ids]
all_ids += [i for i in access_ids if i not in all_ids]


@st.fragment
def render_map() -> None:
    place: placekit.Place = st.session_state["place"]
    cat = place.catalogue
    c1, c2, c3 = st.columns([2, 2, 1])
    level = c1.selectbox("Areas", place.all_levels, format_func=place.level_label, key="level")
    indicator = c2.selectbox(
        "Indicator (health and care demand first)", all_ids, format_func=label, key="indicator"
    )
    scheme = c3.radio("Class breaks", ["quantiles", "natural_breaks"], key="scheme")
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
    bi = st.checkbox("Bivariate view: demand against one driver (3 x 3)", key="bivariate")
    driver = (
        st.selectbox(
            "Driver", [i for i in all_ids if i != indicator], key="bi_driver", format_func=label
        )
        if bi
        else None
    )
    chosen = [indicator] + ([driver] if driver else [])
    if any(i in access_ids for i in chosen):
        place = st.session_state["place"] = with_access(place)
    try:
        table = place.table(level, chosen)
    except PlacekitError as err:
        st.error(md_escape(err))
        st.stop()
    meta = cat.row(indicator)
    title = f"{meta['label']} ({meta['unit']})"
    tooltip = None
    if bi and driver:
        layer, lg = pl.bivariate(
            table, indicator, driver, title=f"{meta['label']} × {cat.row(driver)['label']}"
        )
    elif indicator.startswith("user_"):
        layer, lg = pl.choropleth(
            table,
            indicator,
            title=title,
            scheme=scheme,
            locality=place.lsoa[f"{LOC}_name"] if level == "lsoa" else None,
            higher_is_worse=meta["direction"] != "higher_better",
        )
    else:
        # geometry goes to the browser once (a static file); a rerun sends only the class breaks
        url = f"app/static/{static_areas(place, level)}"
        layer, lg, tooltip = pl.static_choropleth(
            url, table[indicator], indicator, title=title, scheme=scheme
        )
    extra = [pl.point_layer(place.layer(o), o) for o in overlays]
    view = st.session_state.get("view") or city_view()
    m, side = st.columns([4, 1])
    with m:
        under, over = static_base(PACK, level)
        st.pydeck_chart(
            pl.deck([*under, layer, *over, *extra], view, tooltip=tooltip), height=560, key="map"
        )
    with side:
        legend(lg)
        for o in overlays:
            st.markdown(
                f"<span style='color:rgb{pl.POINT_COLOURS.get(o, (0, 0, 0))}'>●</span> "
                f"{html.escape(str(place.layer(o).attrs.get('label', o)))}",
                unsafe_allow_html=True,
            )
    st.caption(
        md_escape(
            f"Source: {meta['source']} ({meta['year']}); {meta['licence']}. "
            f"Aggregation: {table.attrs['notes'].get(indicator, '')}. "
        )
        + placekit.AREA_LEVEL_CAVEAT
    )
    st.caption(md_escape(" · ".join(place.attributions)))
    st.session_state["current_table"] = table
    st.session_state["current_map"] = dict(
        level=level,
        indicator=indicator,
        scheme=scheme,
        title=title,
        higher_is_worse=meta["direction"] != "higher_better",
    )


@st.fragment
def render_loc() -> None:
    place: placekit.Place = st.session_state["place"]
    cat = place.catalogue
    lvl = st.selectbox(
        "Locality level",
        place.levels,
        index=place.levels.index(LOC) if LOC in place.levels else 0,
        format_func=place.level_label,
        key="loc_level",
    )
    areas = place.localities[lvl]
    code = st.selectbox(
        "Locality",
        list(areas.index),
        format_func=lambda c: str(areas.loc[c, "area_name"]),
        key="loc_code",
    )

    def open_on_map() -> None:
        st.session_state["view"] = pl.view_for(areas.loc[[code]])
        st.session_state["level"] = lvl
        st.session_state["section"] = "Map explorer"

    st.button("Open the map explorer on this locality", key="zoom", on_click=open_on_map)
    st.subheader(md_escape(areas.loc[code, "area_name"]))
    indicator = st.session_state.get("indicator", "bad_health_pct")
    mine = place.lsoa.index[place.codes(lvl) == code]
    table = place.table("lsoa", [indicator]).loc[mine]
    meta = cat.row(indicator)
    layer, lg = pl.choropleth(
        table,
        indicator,
        title=f"{meta['label']} ({meta['unit']})",
        higher_is_worse=meta["direction"] != "higher_better",
        layer_id="locality",
    )
    map_with_legend(
        [*city_base(PACK), layer, *top_layers(PACK, lvl)],
        lg,
        key="loc_map",
        height=380,
        ratio=(3, 1),
        view=pl.view_for(areas.loc[[code]], width_px=780, height_px=380),
    )
    prof = locality_profile(place, lvl, code)
    st.dataframe(prof["indicators"], width="stretch")
    st.write("Most and least served neighbourhoods:")
    st.dataframe(prof["served"], width="stretch")
    types = typology(PACK, 6, 0)
    mix = types["labels"].reindex(mine).value_counts().rename("neighbourhoods").to_frame()
    st.write("Neighbourhood types here (k = 6):")
    st.dataframe(mix.join(types["portraits"][["name"]]), width="stretch")
    st.caption(placekit.AREA_LEVEL_CAVEAT)


@st.fragment
def render_types() -> None:
    place: placekit.Place = st.session_state["place"]
    k = st.slider("Number of neighbourhood types (k)", 2, 12, 6, key="k")
    diag = k_diagnostics(PACK, 0)
    d1, d2 = st.columns(2)
    d1.line_chart(diag[["silhouette", "davies_bouldin"]])
    d2.line_chart(diag[["wcss"]])
    res = typology(PACK, k, 0)
    ttable = place.table("lsoa", []).join(res["labels"].rename("type"))
    colour_by = st.radio("Colour by", ["type", "confidence"], horizontal=True, key="types_colour")
    if colour_by == "type":
        names = res["portraits"]["name"]
        ttable["type_name"] = [f"{t}: {names[t]}" for t in ttable["type"]]
        layer, lg = pl.categorical(
            ttable, "type_name", title="Neighbourhood type", layer_id="types"
        )
    else:
        ctab = ttable.join(res["confidence"].rename("confidence"))
        layer, lg = pl.choropleth(
            ctab,
            "confidence",
            title="Confidence (1 − own / next centre distance)",
            higher_is_worse=False,
            layer_id="types",
        )
    map_with_legend([*city_base(PACK), layer, *top_layers(PACK, LOC)], lg, key="types_map")
    portraits = res["portraits"]
    which = st.selectbox(
        "Pen portrait of type",
        list(portraits.index),
        key="portrait",
        format_func=lambda t: f"{t}: {portraits.loc[t, 'name']}",
    )
    index = portraits.drop(columns=["name", "n_areas", "population", "main_locality"]).loc[which]
    st.bar_chart(
        index.rename("index (city = 100)").rename_axis("variable").reset_index(),
        x="variable",
        y="index (city = 100)",
        horizontal=True,
        sort="-index (city = 100)",
    )
    st.dataframe(portraits, width="stretch")
    st.caption(
        f"Stability: subsample adjusted Rand index {res['ari'].mean():.2f} "
        f"(min {res['ari'].min():.2f}) over {len(res['ari'])} runs; median per-neighbourhood "
        f"agreement {res['stability'].median():.2f}; median confidence "
        f"{res['confidence'].median():.2f}. {placekit.AREA_LEVEL_CAVEAT}"
    )


@st.fragment
def render_drivers() -> None:
    place: placekit.Place = st.session_state["place"]
    demand = st.selectbox(
        "Demand indicator",
        [i for i in demand_ids if not i.startswith("user_")],
        format_func=label,
        key="drv_demand",
    )
    if st.button("Explain demand", key="drv_run") or st.session_state.get("drv_done") == demand:
        st.session_state["drv_done"] = demand
        r = drivers_for(PACK, demand)
        st.markdown(
            f"Held-out R² (cross-validated, whole {place.level_label(LOC, count=False)} areas held out): "
            + ", ".join(f"{k_}: {v:.2f}" for k_, v in r["scores"].items())
        )
        st.bar_chart(
            r["importance"].reset_index(),
            x="group",
            y="importance",
            horizontal=True,
            sort="-importance",
        )
        st.dataframe(r["importance"], width="stretch")
        st.write(
            f"Moran's I of residuals: {r['morans_i']['I']:.2f} (p = {r['morans_i']['p_sim']:.3f}); "
            "a clear positive value means something spatial is missing from the drivers."
        )
        areas_r = r["areas"]
        pick = st.selectbox(
            "Explain one neighbourhood",
            list(areas_r.index),
            key="drv_area",
            format_func=lambda c: f"{place.lsoa.loc[c, 'area_name']} ({c})",
        )
        contrib = areas_r.loc[pick, [c for c in areas_r.columns if c.startswith("contrib_")]]
        st.bar_chart(contrib.rename(lambda c: c.removeprefix("contrib_")))
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
        map_with_legend([*city_base(PACK), flayer, *top_layers(PACK, LOC)], flg, key="flags_map")
        st.caption(r["caveat"])


@st.fragment
def render_prev() -> None:
    place: placekit.Place = st.session_state["place"]
    p_demand = st.selectbox(
        "Demand indicator",
        [i for i in demand_ids if not i.startswith("user_")],
        format_func=label,
        key="prev_demand",
    )
    with st.expander("Tier rules (city percentiles) and priority weights"):
        c = st.columns(4)
        rules = TierRules(
            c[0].slider("Tertiary: demand ≥", 50, 99, 80, key="r_dh"),
            c[1].slider("Secondary: predicted ≥", 50, 99, 70, key="r_ph"),
            c[2].slider("Secondary: demand ≥", 30, 95, 60, key="r_dr"),
            c[3].slider("Primary: exposure ≥", 30, 95, 60, key="r_eh"),
        )
        wc = st.columns(len(DEFAULT_CRITERIA))
        weights = {
            k_: wc[i].number_input(k_, value=float(v), step=0.05, key=f"w_{k_}")
            for i, (k_, v) in enumerate(DEFAULT_CRITERIA.items())
        }
    if not (
        st.button("Build tiers and priorities", key="prev_run")
        or st.session_state.get("prev_done") == p_demand
    ):
        st.info(
            "Tiers use the demand model of the Drivers tab (about 10 s the first time for each indicator)."
        )
        return
    st.session_state["prev_done"] = p_demand
    r = drivers_for(PACK, p_demand)
    prev = prevention_table(place, r, rules=rules, weights=weights)
    ptable = place.table("lsoa", []).join(prev[["tier", "reason"]])
    player, plg = pl.categorical(
        ptable, "tier", title="Prevention tier", colours=pl.TIER_RGB, layer_id="tiers"
    )
    map_with_legend([*city_base(PACK), player, *top_layers(PACK, LOC)], plg, key="tiers_map")
    st.write(prev["tier"].value_counts().rename("neighbourhoods"))
    lac_pick = st.selectbox(
        f"Priorities within ({place.level_label(LOC, count=False)})",
        list(place.localities[LOC].index),
        key="prev_lac",
        format_func=lambda c: str(place.localities[LOC].loc[c, "area_name"]),
    )
    st.dataframe(
        prev[prev["locality"] == lac_pick].sort_values("rank_in_locality")[
            ["area_name", "tier", "reason", "score", "rank_in_locality"]
        ],
        width="stretch",
    )
    sens = sensitivity(
        PACK, p_demand, tuple(sorted(weights.items())), tuple(sorted(vars(rules).items()))
    )
    st.write(
        f"Sensitivity: share of each {place.level_label(LOC, count=False)}'s top 5 that stays in the top 5 when every weight moves by up to ±30 %:"
    )
    st.dataframe(sens, width="stretch")
    st.subheader("Pilot and matched comparison")
    pilots = st.multiselect(
        "Pilot neighbourhoods",
        list(place.lsoa.index),
        key="pilots",
        format_func=lambda c: (
            f"{place.lsoa.loc[c, 'area_name']} ({place.lsoa.loc[c, f'{LOC}_name']})"
        ),
    )
    if pilots:
        types = typology(PACK, 6, 0)["labels"]
        cols = [
            c
            for c in (
                "imd2025_score",
                p_demand,
                "no_car_pct",
                "age_65plus_pct",
                "overcrowded_bedrooms_pct",
            )
            if c in place.indicators.columns
        ]
        from placekit.targeting import balance_table

        mt = match_comparisons(
            place.indicators[cols], pilots, cluster=types, locality=place.codes(LOC)
        )
        st.dataframe(mt, width="stretch")
        st.dataframe(
            balance_table(place.indicators[cols], pilots, list(mt["comparison"])), width="stretch"
        )
    rep_lac = st.selectbox(
        "Locality pack (HTML) for",
        list(place.localities[LOC].index),
        key="rep_lac",
        format_func=lambda c: str(place.localities[LOC].loc[c, "area_name"]),
    )
    if st.button("Build the locality pack", key="rep_build"):
        t6 = typology(PACK, 6, 0)
        st.session_state["report_html"] = locality_report(
            place,
            LOC,
            rep_lac,
            prevention=prev,
            drivers=r,
            types=t6["labels"],
            portraits=t6["portraits"],
        )
    if st.session_state.get("report_html"):
        st.download_button(
            "Download the locality pack",
            st.session_state["report_html"].encode(),
            file_name=f"placekit_{rep_lac}.html",
            key="rep_dl",
        )
    st.caption(prev.attrs["caveat"])


@st.fragment
def render_scn() -> None:
    place: placekit.Place = st.session_state["place"]
    pending = st.session_state.pop("scn_pending", None)
    if (
        pending
    ):  # a loaded scenario restores its name, threshold and interventions before the widgets draw
        st.session_state.update(pending)
    st.write(
        "Build a scenario from one or more interventions, apply it, and see what changes on the walk "
        "network. Locations: a postcode, lon/lat, a neighbourhood from the list, or a neighbourhood "
        "clicked on the map (a point inside it)."
    )
    left, right = st.columns([2, 3], gap="large")
    with left:
        scn_demand = st.selectbox(
            "Demand whose change is estimated",
            ["bad_health_pct", "acute_morbidity_2025", "disability_pct"],
            key="scn_demand",
        )
        items = st.session_state.setdefault("scn_items", [])
        kind = st.selectbox("Intervention", list(INTERVENTIONS), key="scn_kind")
        where = st.radio(
            "Location by",
            ["neighbourhood", "postcode", "lon/lat", "click on map"],
            horizontal=True,
            key="scn_where",
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
                    [*city_base(PACK), pick_layer, *top_layers(PACK, LOC)], city_view(480, 300)
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
                    "Click a neighbourhood on the map (coloured by IMD 2025 decile; darker = less deprived)."
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
            code = st.selectbox(
                "Neighbourhood",
                list(place.lsoa.index),
                key="scn_lsoa",
                format_func=lambda c: (
                    f"{place.lsoa.loc[c, 'area_name']} ({place.lsoa.loc[c, f'{LOC}_name']})"
                ),
            )
            pt = place.lsoa.loc[[code]].geometry.representative_point().iloc[0]
            loc = {"x": float(pt.x), "y": float(pt.y)}
        item: dict = {"type": kind}
        if kind in ("add_facility", "close_facility", "move_facility"):
            item["facility"] = st.selectbox("Facility type", FACILITY_TYPES, key="scn_fac")
        if kind in ("close_facility", "move_facility"):
            lay = place.layer(item["facility"])
            ids = (
                lay["id"]
                if "id" in lay
                else pd.Series([f"{item['facility']}:{i}" for i in range(len(lay))])
            )
            item["id"] = st.selectbox(
                "Which one",
                list(ids.astype(str)),
                key="scn_id",
                format_func=lambda i: (
                    f"{lay['name'].astype(str).iloc[list(ids.astype(str)).index(i)]} ({i})"
                ),
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
                st.error(md_escape(err))
        st.json(items, expanded=False)
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
                st.error(md_escape(err))
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
                st.error(md_escape(err))
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
        if "scn_result" in st.session_state:
            res, prep_s = st.session_state["scn_result"]
            a = res.areas
            change_cols = [
                c
                for c in a.columns
                if c.endswith("_min_change")
                or (c.endswith(("_demand_change", "_demand_change_assumed")) and a[c].notna().any())
            ]
            show = st.selectbox("Show change in", change_cols, key="scn_show")
            ctable = place.table("lsoa", []).join(a[[show]])
            clayer, clg = pl.change_choropleth(
                ctable, show, title=show.replace("_", " "), layer_id="scn_change"
            )
            iso = scenario_isochrones(
                PACK, json.dumps(res.scenario, sort_keys=True), scn_demand, float(threshold)
            )
            map_with_legend(
                [*city_base(PACK), clayer, *top_layers(PACK, LOC), *iso],
                clg,
                key="scn_map",
                view=city_view(560, 420),
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
                    f"{k.removesuffix('_people_newly_within')}: {v:,}" for k, v in newly.items()
                )
            )
            st.dataframe(res.localities[LOC], width="stretch")
            st.write("Who gains, by IMD 2025 decile (1 = most deprived):")
            st.dataframe(res.by_imd_decile, width="stretch")
            for n in res.notes:
                st.info(md_escape(n))
        if len(st.session_state.get("scn_results", {})) > 1:
            from placekit.scenarios import compare_scenarios

            st.write("Scenarios side by side:")
            st.dataframe(compare_scenarios(st.session_state["scn_results"]), width="stretch")


@st.fragment
def render_data() -> None:
    place: placekit.Place = st.session_state["place"]
    st.write(
        "Upload service demand by LSOA (CSV/XLSX with 2011 or 2021 codes) or places (CSV with lon/lat "
        "or easting/northing, GeoJSON, GeoPackage, zipped Shapefile). Counts of 1 to 4 are hidden."
    )
    up = st.file_uploader(
        "Your data", type=["csv", "xlsx", "geojson", "json", "gpkg", "zip"], key="upload"
    )
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
    msg = st.session_state.get("upload_msg")
    if msg:
        (st.success if msg[0] == "ok" else st.error)(md_escape(msg[1]))
    user = [i for i in place.indicators.columns if i.startswith("user_")]
    if user:
        st.write(
            f"Your indicators (pick them in the Map explorer), by {place.level_label(LOC, count=False)}; "
            "hidden = suppressed:"
        )
        st.dataframe(place.table(LOC, user).drop(columns="geometry"), width="stretch")


@st.fragment
def render_export() -> None:
    place: placekit.Place = st.session_state["place"]
    table = st.session_state.get("current_table")
    if table is not None:
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
        if cur is not None:  # the exported map carries its data inline, so it works from a file
            layer, _lg = pl.choropleth(
                table,
                cur["indicator"],
                title=cur["title"],
                scheme=cur["scheme"],
                higher_is_worse=cur["higher_is_worse"],
            )
            deck = pl.deck([*city_base(PACK), layer, *top_layers(PACK, cur["level"])], city_view())
            st.download_button(
                "Current map (HTML)",
                pl.map_html(deck, attributions=place.attributions).encode(),
                file_name="placekit_map.html",
                key="dl_html",
            )
        st.caption(md_escape(" · ".join(place.attributions)))


RENDER = {
    "Map explorer": render_map,
    "Localities": render_loc,
    "Neighbourhood types": render_types,
    "Drivers": render_drivers,
    "Prevention": render_prev,
    "Scenarios": render_scn,
    "Your data": render_data,
    "Export": render_export,
}
RENDER[section]()

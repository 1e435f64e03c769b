"""England: every English LSOA on one offline map, councils and ICBs outlined; batch tables.

A batch's combined table is shown as a region map of its councils or MSOAs, and, for a
council picked on that map (or chosen below it), the council's LSOAs at the published
resolution, classed over every LSOA of the batch (:func:`placekit.combined.council_detail`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pydeck as pdk
import streamlit as st

import placekit
from placekit import combined as cb
from placekit import layers as pl
from placekit import overview as ov
from placekit.classes import Legend
from placekit.errors import PlacekitError
from placekit.text import md_escape
from sections._common import SCHEME_WORDS, STATIC_DIR, ctx, known_packs, legend

NAME = "England"
#: England's map is its own (national files, a map you pick councils on): no page map here.
OWN_MAP = True
LEVEL_WORDS = {"lsoa": "Neighbourhoods (LSOA 2021, 33,755)", "lad": "Councils (LAD 2024)"}
#: The levels a batch's combined table is summarised by, in words.
BATCH_LEVEL_WORDS = {"council": "Council", "msoa": "MSOA 2021"}
ENGLAND_VIEW = {"longitude": -1.9, "latitude": 52.75, "zoom": 5.35}
#: Where a picked council sends the user once its pack is open.
OPEN_IN = "Map explorer"


# ----------------------------------------------------------------------------- cached calls
@st.cache_resource(show_spinner="Loading England's neighbourhoods (once per server)…")
def england(folder: str) -> ov.Overview:
    """The England overview (shared, read-only), simplified for the national map."""
    return ov.load_overview(folder, simplify_m=ov.NATIONAL_SIMPLIFY_M)


@st.cache_resource(show_spinner="Writing England's map geometry (once per server)…")
def _files(folder: str, levels: tuple[str, ...]) -> dict[str, str]:
    return ov.write_overview_static(england(folder), STATIC_DIR, levels=levels)


def england_files(
    folder: str, levels: tuple[str, ...] = ("lsoa", "lad", "lad_lines", "icb_lines")
) -> dict[str, str]:
    """Served geometry files for ``levels`` (written once; again if the folder was cleared)."""
    files = _files(folder, levels)
    if not all((STATIC_DIR / f).is_file() for f in files.values()):
        _files.clear()
        files = _files(folder, levels)
    return files


@st.cache_data(show_spinner=False, max_entries=64)
def classes(
    folder: str, indicator: str, level: str, k: int, scheme: str
) -> tuple[str, list[tuple[int, int, int]], Legend]:
    """Class digits (one per area), colours and legend of an indicator at ``level``."""
    v = england(folder).values(indicator, level)
    return ov.class_codes(v, k=k, scheme=scheme)


@st.cache_data(show_spinner=False)
def _combined(path: str, mtime: float) -> pd.DataFrame:
    return cb.read_combined(path)


@st.cache_resource(show_spinner=False, max_entries=32)
def _detail_file(folder: str, codes: tuple[str, ...], stem: str) -> str:
    """A served file of some LSOAs at the published resolution (``i`` = position in codes)."""
    return ov.write_static_bytes(england(folder).detail_geojson(list(codes)), STATIC_DIR, stem)


def england_folder(pack: str) -> tuple[str | None, str]:
    """The England folder for a pack (``PLACEKIT_ENGLAND`` first), or ``None`` and why not."""
    try:
        return str(ov.england_dir_for(pack, os.environ.get("PLACEKIT_ENGLAND") or None)), ""
    except PlacekitError as err:
        return None, str(err)


# ----------------------------------------------------------------------------- opening a pack
def open_council(code: str) -> None:
    """
    Open the pack of council ``code``: set the pack selector's value, go to the map.

    Meant for widget callbacks (they run before the script, when the sidebar's
    ``pack`` selector may still be set). When no pack holds the council the
    session gets a message saying how to build one.
    """
    ss = st.session_state
    roots = [str(r) for r in placekit.config.pack_roots()]
    packs = known_packs(tuple(roots))
    current = ss.get("place_pack")
    folder: Path | None = None
    if current:
        try:
            if placekit.open_pack(current).la_codes == [code]:
                folder = Path(current)
        except PlacekitError:
            folder = None
    if folder is None:
        folder = ov.pack_for_council(code, roots=list(roots))
    name = None
    if folder is not None:
        want = Path(folder).resolve()
        name = next((n for n, p in packs.items() if Path(p).resolve() == want), None)
    if name is None:
        ss["eng_msg"] = (
            f"No place pack holds council {code}. Build one with `placekit pack build --sources "
            f"DIR --la {code} --out ~/placekit-packs/NAME`, then reload the app."
        )
        return
    ss.pop("eng_msg", None)
    ss["pack"] = name
    ss["section"] = OPEN_IN


def _on_pick(folder: str) -> None:
    """The map's selection callback: the council of the picked area, then its pack."""
    sel = st.session_state.get("eng_map") or {}
    objects = (sel.get("selection") or {}).get("objects") or {}
    picked = next((objs[0] for objs in objects.values() if objs), None)
    if not picked:
        return
    props = picked.get("properties", picked)
    code = props.get("code")
    if not code:
        return
    try:
        council = england(folder).council_for(str(code))
    except PlacekitError as err:
        st.session_state["eng_msg"] = str(err)
        return
    open_council(council)


def _on_choose() -> None:
    code = st.session_state.get("eng_council")
    if code:
        open_council(str(code))


# ----------------------------------------------------------------------------- drawing
def _outlines(files: dict[str, str], level: str) -> list[pdk.Layer]:
    out = []
    if level != "lad":
        out.append(
            pdk.Layer(
                "GeoJsonLayer",
                data=f"app/static/{files['lad_lines']}",
                id="england-councils",
                pickable=False,
                filled=False,
                stroked=True,
                get_line_color=[70, 70, 70, 150],
                line_width_min_pixels=0.5,
            )
        )
    out.append(
        pdk.Layer(
            "GeoJsonLayer",
            data=f"app/static/{files['icb_lines']}",
            id="england-icbs",
            pickable=False,
            filled=False,
            stroked=True,
            get_line_color=[20, 20, 20, 230],
            line_width_min_pixels=1.4,
        )
    )
    return out


def _national(folder: str) -> None:
    ss = st.session_state
    o = england(folder)
    files = england_files(folder)
    ids = o.indicator_ids

    def label(i: str) -> str:
        m = o.meta(i)
        # a label that already says its unit, in words or in brackets, is not given it twice
        said = not m["unit"] or m["unit"] in m["label"] or m["label"].endswith(")")
        return m["label"] if said else f"{m['label']} ({m['unit']})"

    a, b, cc, d = st.columns([3, 2, 1, 2])
    if ss.get("eng_ind") not in ids:
        ss["eng_ind"] = "imd2025_score" if "imd2025_score" in ids else ids[0]
    ind = a.selectbox("England-wide indicator", ids, key="eng_ind", format_func=label)
    level = b.radio("Areas", list(LEVEL_WORDS), key="eng_level", format_func=LEVEL_WORDS.get)
    k = int(cc.selectbox("Classes", list(range(3, ov.MAX_CLASSES + 1)), index=2, key="eng_k"))
    scheme = d.radio(
        "Class breaks", list(SCHEME_WORDS), key="eng_scheme", format_func=SCHEME_WORDS.get
    )
    codes, colours, lg = classes(folder, ind, level, k, scheme)
    fill = _recoloured(files[level], "england", codes, colours, [ind, level, k, scheme])
    m, side = st.columns([4, 1])
    with m:
        st.pydeck_chart(
            pl.deck(
                [fill, *_outlines(files, level)],
                pdk.ViewState(**ENGLAND_VIEW),
                tooltip={"text": "{name} ({code})"},
            ),
            height=640,
            key="eng_map",
            on_select=lambda: _on_pick(folder),
            selection_mode="single-object",
        )
    with side:
        legend(Legend(label(ind), lg.method, [*lg.entries, ("no data", (200, 200, 200))]))
        st.caption(
            "Thin lines: councils; thick lines: Integrated Care Boards (2022). Drawn from the "
            "published boundaries, no online base map."
        )
        lad = o.names("lad")
        st.selectbox(
            "Open a council's pack",
            [None, *sorted(lad.index, key=lambda x: str(lad[x]))],
            key="eng_council",
            format_func=lambda x: "choose…" if x is None else f"{lad[x]} ({x})",
            on_change=_on_choose,
        )
        st.caption("Or click the map: the council under the pointer opens when a pack holds it.")
    if ss.get("eng_msg"):
        st.warning(md_escape(ss["eng_msg"]))
    v = o.values(ind, level)
    st.caption(
        md_escape(
            f"{len(v):,} areas, {int(np.isfinite(v).sum()):,} with a value. Sources: IoD 2025 "
            "(MHCLG) and Census 2021 (ONS), super-generalised boundaries (ONS); Open "
            "Government Licence v3.0; contains OS data © Crown copyright and database right. "
        )
        + placekit.AREA_LEVEL_CAVEAT
    )


def _batch(folder: str | None) -> None:
    files = cb.find_combined()
    if not files:
        st.caption(
            md_escape(
                f"No batch output under {cb.batch_root()} (set PLACEKIT_BATCH to a folder of "
                "`placekit batch --out` results to compare councils here)."
            )
        )
        return
    st.subheader("Councils in a batch")
    path = st.selectbox(
        "Combined table", [str(p) for p in files], key="eng_batch", format_func=lambda p: p
    )
    try:
        table = _combined(path, Path(path).stat().st_mtime)
        ids = cb.indicator_ids(table)
        if not ids:
            st.info(md_escape(f"{path} holds no indicators."))
            return
        a, b = st.columns(2)
        blevel = a.radio(
            "Summarise by",
            list(cb.LEVELS),
            key="eng_batch_level",
            horizontal=True,
            format_func=lambda lv: BATCH_LEVEL_WORDS.get(lv, lv),
        )
        if st.session_state.get("eng_batch_ind") not in ids:
            st.session_state["eng_batch_ind"] = (
                "imd2025_score" if "imd2025_score" in ids else ids[0]
            )
        ind = b.selectbox(
            "Indicator", ids, key="eng_batch_ind", format_func=ctx().label
        )
        summary = cb.summarise_combined(table, level=blevel, indicators=[ind])
    except PlacekitError as err:
        st.error(md_escape(err))
        return
    cols = [
        c
        for c in (
            "name",
            "council_name",
            "region_name",
            "n_lsoa",
            "population",
            ind,
            f"{ind}_rank",
            f"{ind}_england_worst10_pct",
        )
        if c in summary.columns
    ]
    if folder is not None:
        _batch_map(folder, summary, ind, blevel, cb.councils(table))
    st.dataframe(summary[cols], key="eng_batch_table")
    st.caption(md_escape(summary.attrs["method"]) + ". " + placekit.AREA_LEVEL_CAVEAT)
    _council_detail(folder, table, ind)


def _on_batch_pick(folder: str, known: dict[str, str]) -> None:
    """The region map's selection callback: the picked area's council gets its LSOA detail."""
    sel = st.session_state.get("eng_batch_map") or {}
    objects = (sel.get("selection") or {}).get("objects") or {}
    picked = next((objs[0] for objs in objects.values() if objs), None)
    code = (picked or {}).get("properties", picked or {}).get("code")
    if not code:
        return
    try:
        council = england(folder).council_for(str(code))
    except PlacekitError:
        council = str(code)
    if council in known:
        st.session_state["eng_batch_council"] = council


def _council_detail(folder: str | None, table: pd.DataFrame, ind: str) -> None:
    """One council's LSOAs from the combined table: map (when England is there) and table."""
    ss = st.session_state
    names = cb.councils(table)
    if ss.get("eng_batch_council") not in names:
        ss["eng_batch_council"] = None
    code = st.selectbox(
        "LSOA detail for a council",
        [None, *names],
        key="eng_batch_council",
        format_func=lambda c: (
            "choose, or pick one on the map…" if c is None else f"{names[c]} ({c})"
        ),
    )
    if code is None:
        return
    try:
        detail = cb.council_detail(table, code, ind)
    except PlacekitError as err:
        st.error(md_escape(err))
        return
    colours = detail.attrs["colours"]
    lg = detail.attrs["legend"]
    st.markdown(
        f"**{md_escape(detail.attrs['council_name'])}**: "
        + md_escape(f"{len(detail)} LSOAs, {ind}; {detail.attrs['method']}.")
    )
    if folder is not None:
        try:
            name = _detail_file(folder, tuple(detail.index), f"council_{code}")
        except PlacekitError as err:
            st.info(md_escape(f"No map of these LSOAs: {err}"))
        else:
            c = detail["class"].to_numpy()
            digits = "".join(map(str, np.where(c < 0, len(colours), c).tolist()))
            layer = _recoloured(
                name, "batch-council-lsoas", digits, colours, [ind, code], edge=(160, 0.4)
            )
            files = england_files(folder, ("lad_lines", "icb_lines"))
            m, side = st.columns([4, 1])
            m.pydeck_chart(
                pl.deck(
                    [layer, *_outlines(files, "lsoa")],
                    _view_of(folder, code),
                    tooltip={"text": "{name} ({code})"},
                ),
                height=460,
                key="eng_detail_map",
            )
            with side:
                legend(Legend(ind, lg.method, [*lg.entries]))
    shown = detail.drop(columns=["class"]).assign(
        **{"class (1 = lowest)": (detail["class"] + 1).where(detail["class"] >= 0)}
    )
    shown.attrs = {}  # the legend and bins are not table data (and not serialisable)
    st.dataframe(shown, key="eng_detail_table")


def _recoloured(
    name: str,
    layer_id: str,
    codes: str,
    colours: list[tuple[int, int, int]],
    triggers: list[Any],
    *,
    edge: tuple[int, float] | None = None,
) -> pdk.Layer:
    """
    A layer over a served file (``static/<name>``), coloured by one class digit per feature.

    ``edge`` draws white outlines of that alpha and minimum width in pixels.
    """
    lines: dict[str, Any] = (
        {
            "stroked": True,
            "get_line_color": [255, 255, 255, edge[0]],
            "line_width_min_pixels": edge[1],
        }
        if edge
        else {"stroked": False}
    )
    return pdk.Layer(
        "GeoJsonLayer",
        data=f"app/static/{name}",
        id=layer_id,
        pickable=True,
        filled=True,
        get_fill_color=ov.fill_expression(codes, colours),
        update_triggers={"getFillColor": triggers},
        **lines,
    )


def _view_of(folder: str, council: str) -> pdk.ViewState:
    """A view fitting a council (England's when its code is not an English council)."""
    lad = england(folder).areas("lad")
    if council not in lad.index:
        return pdk.ViewState(**ENGLAND_VIEW)
    return pl.view_for(lad.loc[[council]], height_px=460)


def _batch_map(
    folder: str, summary: pd.DataFrame, ind: str, blevel: str, known: dict[str, str]
) -> None:
    o = england(folder)
    level = "lad" if blevel == "council" else "msoa"
    files = england_files(folder, ("lad", "msoa", "lad_lines", "icb_lines"))
    areas = o.areas(level)
    v = summary[ind].reindex(areas.index).to_numpy(dtype=float)
    if not np.isfinite(v).any():
        st.info("None of the batch's areas match England's boundaries: no map.")
        return
    k = min(5, max(2, int(np.isfinite(v).sum()) - 1))
    codes, colours, lg = ov.class_codes(v, k=k)
    layer = _recoloured(
        files[level], "batch", codes, colours, [ind, blevel, "batch"], edge=(120, 0.3)
    )
    inside = areas.loc[areas.index.isin(summary.index)]
    m, side = st.columns([4, 1])
    m.pydeck_chart(
        pl.deck(
            [layer, *_outlines(files, "lad")],
            pl.view_for(inside, height_px=460),
            tooltip={"text": "{name} ({code})"},
        ),
        height=460,
        key="eng_batch_map",
        on_select=lambda: _on_batch_pick(folder, known),
        selection_mode="single-object",
    )
    with side:
        legend(Legend(ind, lg.method, [*lg.entries, ("not in the batch", (200, 200, 200))]))


def render() -> None:
    c = ctx()
    st.write(
        "Every English neighbourhood on one map, any England-wide indicator (IoD 2025 and "
        "Census 2021), councils and ICBs outlined. Pick a council to open its pack."
    )
    folder, why = england_folder(c.pack)
    if folder is None:
        st.warning(md_escape(f"The England overview is unavailable: {why}"))
    else:
        try:
            _national(folder)
        except PlacekitError as err:
            st.error(md_escape(err))
    _batch(folder)

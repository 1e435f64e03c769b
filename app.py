"""placekit explorer: place layers and demand together, by neighbourhood and locality.

Page config, pack choice, one session state and the section router; each section is a
module under ``sections/`` and all computing is in ``placekit`` (``placekit.workflows``).
"""

from __future__ import annotations

import streamlit as st

from placekit import workflows

workflows.cap_threads()  # one process serves every session: keep BLAS/OpenMP pools small

import placekit  # noqa: E402
import sections  # noqa: E402
from placekit.pack import ORIGIN_WORDS  # noqa: E402
from sections._common import base_place, known_packs  # noqa: E402

st.set_page_config(page_title="placekit", layout="wide")

PACKS = known_packs(tuple(str(r) for r in placekit.config.pack_roots()))
if not PACKS:
    st.error(
        "No place pack found. Set PLACEKIT_DATA to a pack folder (e.g. ../shared/data), or build "
        "one with `placekit pack build --sources DIR --la CODE --out ~/placekit-packs/NAME`."
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
#: What belongs to one pack (everything but the pack and the section); dropped when it changes.
KEEP = {"pack", "section", "place", "place_pack"}
if st.session_state.get("place_pack") != PACK:
    for k_ in [k for k in st.session_state if k not in KEEP]:
        del st.session_state[k_]
    st.session_state["place"] = base_place(PACK)
    st.session_state["place_pack"] = PACK
place: placekit.Place = st.session_state["place"]
st.sidebar.caption(
    f"{place.name}: {len(place.lsoa)} neighbourhoods (LSOA 2021), "
    + ", ".join(place.level_label(lv) for lv in place.levels)
    + ". Access measured from "
    + ORIGIN_WORDS.get(str(place.pack.origins.get("method", "")), "area centroids")
    + "."
)
st.title("placekit — where should we act upstream?")
st.caption(placekit.AREA_LEVEL_CAVEAT)
# One section runs at a time (a radio, not st.tabs, which would run every section every rerun)
section = st.radio(
    "Section", list(sections.SECTIONS), horizontal=True, key="section", label_visibility="collapsed"
)
sections.render(section)  # imports the section on its first visit
sections.preload()  # then the other sections, in the background, while the page is read

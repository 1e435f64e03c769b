"""What every section shares: cached library calls, the session state, legends and maps.

The cache decorators live here (the app's side), never in ``placekit/``; every
cached call takes the pack folder as its first argument, so switching pack
switches every section and each pack is prepared once per server.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

import placekit
from placekit import layers as pl
from placekit import workflows as wf
from placekit.errors import PlacekitError, explain
from placekit.export import atomic_path

ROOT = Path(__file__).resolve().parent.parent
STATIC_DIR = ROOT / "static"
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
#: Scheme ids shown in words.
SCHEME_WORDS = {"quantiles": "Quantiles", "natural_breaks": "Natural breaks (Fisher-Jenks)"}


# ----------------------------------------------------------------------------- cached calls
@st.cache_resource(show_spinner=False)
def known_packs(roots: tuple[str, ...]) -> dict[str, str]:
    """Packs found where PLACEKIT_PACKS says (default: the default pack and ~/placekit-packs)."""
    found = {name: str(path) for name, path in placekit.pack.find_packs(roots).items()}
    try:  # the default pack first
        default = str(placekit.open_pack(placekit.config.data_dir()).path)
    except PlacekitError:
        return found
    first = [n for n, p_ in found.items() if p_ == default]
    return {**{n: found[n] for n in first}, **{n: p_ for n, p_ in found.items() if n not in first}}


@st.cache_resource(show_spinner="Loading the place pack…")
def base_place(pack: str) -> placekit.Place:
    return wf.prepared_place(pack)  # saved on disk once per pack


@st.cache_resource(show_spinner=False)
def city_base(pack: str) -> list[Any]:
    return pl.base_layers(base_place(pack))


@st.cache_resource(show_spinner=False)
def top_layers(pack: str, level: str) -> list[Any]:
    place = base_place(pack)
    return pl.overlay_layers(place, None if level == "lsoa" else place.localities[level])


@st.cache_resource(show_spinner=False)
def labels(pack: str, level: str, zoom: float | None = None) -> list[Any]:
    """
    Names of ``level``'s areas drawn on the base (none for LSOAs: too many to read).

    Names that would overlap at ``zoom`` (the map's opening zoom; by default the whole
    place's) are left out, larger areas named first.
    """
    if level in ("", "lsoa"):
        return []
    z = place_view(pack).zoom if zoom is None else zoom
    return [pl.label_layer(base_place(pack), level, zoom=round(float(z), 2))]


_WALK_ACCESS: dict[str, wf.AccessResult] = {}
_WALK_ACCESS_LOCK = threading.Lock()


def walk_access(pack: str) -> wf.AccessResult:
    """
    The pack's walk access, computed once per server, with a progress bar while it is.

    Not an ``st.cache_resource``: Streamlit records what a cached function draws (this
    progress bar) and replays it, as an empty element, wherever the cached value is used
    again. That element shifts everything after it, so a map below it became a new map on
    the next run, its WebGL context rebuilt (3 s in software rendering).
    """
    with _WALK_ACCESS_LOCK:  # one build per server; other sessions wait for it
        if pack not in _WALK_ACCESS:
            bar = st.progress(
                0.0, text="Walk access: loading the street network (first use only)…"
            )
            _WALK_ACCESS[pack] = wf.walk_access(
                base_place(pack), progress=lambda m, f: bar.progress(min(float(f), 1.0), text=m)
            )
            bar.empty()
        return _WALK_ACCESS[pack]


@st.cache_data(show_spinner="Grouping neighbourhoods…")
def typology(pack: str, k: int, seed: int) -> wf.TypologyResult:
    return wf.typology(base_place(pack), k=k, random_state=seed)


@st.cache_data(show_spinner="Scanning k = 2..12…")
def k_diagnostics(pack: str, seed: int) -> pd.DataFrame:
    return wf.k_diagnostics(base_place(pack), random_state=seed)


@st.cache_data(show_spinner="Fitting and validating the demand model…")
def drivers_for(pack: str, demand: str) -> dict[str, Any]:
    return wf.demand_model(base_place(pack), demand)


def scenario_engine(pack: str, demand: str) -> Any:
    """The pack's scenario engine for ``demand`` (walk access first, with its progress bar)."""
    walk_access(pack)  # drawn here, never inside the cached call below (see walk_access)
    return _scenario_engine(pack, demand)


@st.cache_resource(show_spinner="Preparing the street network and demand model for scenarios…")
def _scenario_engine(pack: str, demand: str) -> Any:
    return wf.scenario_engine(with_access_for(pack), demand=demand)


def with_access_for(pack: str) -> placekit.Place:
    res = walk_access(pack)
    return base_place(pack).with_indicators(res.frame, res.metas)


@st.cache_data(show_spinner=False)
def sensitivity(
    pack: str, demand: str, weights: tuple[Any, ...], rules: tuple[Any, ...]
) -> pd.DataFrame:
    return wf.sensitivity(
        base_place(pack), drivers_for(pack, demand), rules=dict(rules), weights=dict(weights)
    )


@st.cache_resource(show_spinner=False)
def scenario_isochrones(
    pack: str, scenario_json: str, demand: str, threshold_min: float
) -> list[Any]:
    """Walk isochrones around each added or moved facility, as a map layer."""
    iso = scenario_engine(pack, demand).isochrones(
        json.loads(scenario_json), threshold_min=threshold_min
    )
    return [pl.point_layer(iso, "isochrone", filled=False)] if len(iso) else []


@st.cache_resource(show_spinner=False)
def static_base(pack: str, level: str) -> tuple[list[Any], list[Any]]:
    """The base layers under and over the main map, served as files so the browser keeps them."""
    return pl.to_static(city_base(pack), STATIC_DIR), pl.to_static(
        top_layers(pack, level), STATIC_DIR
    )


@st.cache_resource(show_spinner=False)
def static_area_file(
    pack: str, level: str, ids: tuple[str, ...], _place: placekit.Place, homes: bool = False
) -> str:
    """
    The served file of a pack's areas and indicators at ``level``: written once per server.

    With ``homes``, each area's geometry is its residential land (:func:`residential`);
    the values are the same.
    """

    def build() -> str:
        table = _place.table(level, list(ids))
        if homes:
            table = on_homes(table, pack, level)
        worse = {i: _place.catalogue.row(i)["direction"] != "higher_better" for i in ids}
        return pl.write_static_areas(
            table,
            STATIC_DIR,
            higher_is_worse=worse,
            units={i: str(_place.catalogue.row(i)["unit"]) for i in ids},
            locality=_place.lsoa[f"{_place.locality_level}_name"] if level == "lsoa" else None,
        )

    return served_once(_place, ("areas", level, ids, homes), build)


def _sections_key() -> str:
    """A hash of the app's own section modules (their names, sizes and times)."""
    h = hashlib.sha1()
    for f in sorted(Path(__file__).resolve().parent.glob("*.py")):
        st_ = f.stat()
        h.update(f"{f.name}|{st_.st_size}|{st_.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def served_once(place: placekit.Place, parts: tuple[Any, ...], build: Callable[[], str]) -> str:
    """
    ``build()`` (which writes a file under ``static/`` and returns its name), or the file an
    earlier server built from the same pack and code.

    A new server would otherwise rebuild it (0.5-1.5 s): a small pointer file names it,
    keyed by the prepared place's source key (pack files, England tables, placekit's code),
    the app's section modules and ``parts``. Without a source key (a place not from
    :func:`base_place`) it just builds.
    """
    source = place.derived.get("source_key")
    if not source:
        return str(build())
    key = hashlib.sha1(f"{source}|{_sections_key()}|{parts!r}".encode()).hexdigest()[:16]
    pointer = STATIC_DIR / f"served_{key}.name"
    with contextlib.suppress(OSError):
        name = pointer.read_text(encoding="utf-8").strip()
        if name and "/" not in name and (STATIC_DIR / name).is_file():
            return name
    name = str(build())
    with contextlib.suppress(OSError), atomic_path(pointer) as tmp:
        tmp.write_text(name, encoding="utf-8")
    return name


def static_areas(place: placekit.Place, level: str, *, homes: bool = False) -> str:
    """File (under static/) with this place's areas and indicators at ``level``."""
    # uploaded (user_) indicators never go into a served file: they stay inline, in this session
    ids = tuple(i for i in place.indicators.columns if not i.startswith("user_"))
    name = static_area_file(str(place.data_dir), level, ids, place, homes)
    if not (STATIC_DIR / name).is_file():  # the folder was cleared since: write it again
        static_area_file.clear()
        name = static_area_file(str(place.data_dir), level, ids, place, homes)
    return name


@st.cache_resource(show_spinner="Clipping areas to where people live (first use only)…")
def residential(pack: str, level: str) -> wf.ResidentialResult:
    """A pack's areas at ``level`` clipped to their residential land (cached on disk too)."""
    return wf.residential_geometry(base_place(pack), level)


def residential_words(pack: str, level: str) -> str:
    """What :func:`residential` clipped to, in words (the pack's origins method)."""
    from placekit.residential import clip_words

    return clip_words(residential(pack, level).areas)


def on_homes(table: Any, pack: str, level: str) -> Any:
    """``table`` (a level's areas) with each area's geometry replaced by its residential land."""
    geom = residential(pack, level).areas.geometry.reindex(table.index).to_numpy()
    missing = pd.isna(geom)  # an area the clip does not know (none expected): drawn whole
    geom[missing] = table.geometry.to_numpy()[missing]
    out = table.copy()
    out["geometry"] = geom
    return out


@st.cache_resource(show_spinner=False)
def place_centre(pack: str) -> tuple[float, float]:
    """Longitude and latitude of a point inside the place (a union of its areas: once per pack)."""
    return pl.centre_lonlat(base_place(pack).lsoa)


@st.cache_resource(show_spinner=False)
def area_choices(pack: str, level: str) -> dict[str, str]:
    """Each LSOA's code and how a list shows it: its name and its ``level`` area's name."""
    lsoa = base_place(pack).lsoa
    return {
        str(c): f"{name} ({loc})"
        for c, name, loc in zip(lsoa.index, lsoa["area_name"], lsoa[f"{level}_name"], strict=True)
    }


@st.cache_resource(show_spinner=False)
def change_areas(pack: str) -> Any:
    """The LSOAs as change maps draw them (simplified once per pack)."""
    return pl.display_areas(base_place(pack).lsoa)


@st.cache_resource(show_spinner=False)
def place_view(pack: str, width_px: int = 900, height_px: int = 560) -> Any:
    """The whole place's view for a map of the given size (computed once per pack)."""
    return pl.view_for(base_place(pack).lsoa, width_px=width_px, height_px=height_px)


# ----------------------------------------------------------------------------- the session
@dataclass(frozen=True)
class Ctx:
    """What a section needs to know about the session: the pack and its place."""

    pack: str
    place: placekit.Place

    @property
    def loc(self) -> str:
        return self.place.locality_level

    @property
    def choices(self) -> wf.Choices:
        return wf.indicator_choices(self.place)

    def label(self, i: str) -> str:
        """An indicator's label and unit; one the catalogue lacks, its id spelt out."""
        if i not in self.place.catalogue:
            return i.replace("_", " ")
        meta = self.place.catalogue.row(i)
        unit = str(meta["unit"])
        lab = str(meta["label"])
        return lab if not unit or unit in lab else f"{lab} ({unit})"

    def demand_box(self, key: str) -> str:
        """The demand indicator a model is fitted to (uploads excluded), chosen by name."""
        return str(
            st.selectbox(
                "Demand indicator",
                [i for i in self.choices.demand if not i.startswith("user_")],
                format_func=self.label,
                key=key,
            )
        )

    def view(self, width_px: int = 900, height_px: int = 560) -> Any:
        return place_view(self.pack, width_px, height_px)

    def with_access(self) -> placekit.Place:
        """The session's place with walk access added (from the per-pack cache)."""
        place = self.place
        if "gp_walk_min" not in place.indicators.columns:
            res = walk_access(self.pack)
            place = st.session_state["place"] = place.with_indicators(res.frame, res.metas)
        return place


def ctx() -> Ctx:
    return Ctx(st.session_state["place_pack"], st.session_state["place"])


def _copy(widget_key: str, state_key: str) -> None:
    st.session_state[state_key] = st.session_state[widget_key]


def bind(
    widget_key: str, state_key: str, options: Sequence[Any], default: Any = None
) -> dict[str, Any]:
    """
    Keep a widget and the session's own value for it in step, across sections.

    The session's value (``state_key``) is what every section shows: the widget
    starts from it on every run, and a change to the widget is copied back by its
    ``on_change`` callback (which runs before the script). Pass the returned
    ``key`` and ``on_change`` to the widget.
    """
    ss = st.session_state
    opts = list(options)
    if opts and ss.get(state_key) not in opts:
        ss[state_key] = default if default in opts else opts[0]
    if opts:
        ss[widget_key] = ss[state_key]
    return {"key": widget_key, "on_change": _copy, "args": (widget_key, state_key)}


def bind_many(
    widget_key: str, state_key: str, options: Sequence[Any], default: list[Any]
) -> dict[str, Any]:
    """:func:`bind` for a multiselect (a list of values)."""
    ss = st.session_state
    opts = set(options)
    ss[state_key] = [v for v in ss.get(state_key, default) if v in opts]
    ss[widget_key] = list(ss[state_key])
    return {"key": widget_key, "on_change": _copy, "args": (widget_key, state_key)}


# ----------------------------------------------------------------------------- drawing
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


# ----------------------------------------------------------------------------- the page's map
#: This run's head container and map slot (a script run is one thread).
_FRAME = threading.local()
#: Height (px) of the parked map: the page's map kept, hidden, in a section without one.
PARKED_HEIGHT_PX = 1


@contextlib.contextmanager
def page_frame(*, park: bool = True) -> Iterator[None]:
    """
    Lay a section out as a head, the page's one map, then the rest, for one run.

    A section draws its controls with ``with head():``, its map in :func:`map_columns` (or
    :func:`map_with_legend`), and the rest as usual, below the map. The map is always the
    same element at the same place on the page, whatever the section drew before it, so
    the browser keeps one deck.gl map, its WebGL context and the served base files it has
    loaded and tessellated, from section to section: a map at a new place would be a new
    map (2-3 s in software rendering). A section without a map *parks* it: the base
    layers hidden in a map 1 px high. With ``park=False`` (a section whose own map is a
    different kind, e.g. England's) the slot stays empty.
    """
    _FRAME.head, _FRAME.slot, _FRAME.drawn = st.container(), st.container(), False
    try:
        yield
        # Parked only when the section ran to its end: a run cut short (a rerun asked for,
        # st.stop, an error) must not replace the map the browser shows with a hidden one.
        if park and not _FRAME.drawn:
            c = ctx()
            under, over = static_base(c.pack, c.loc)
            map_columns()[0].pydeck_chart(
                pl.deck(pl.hidden([*under, *over]), c.view()),
                height=PARKED_HEIGHT_PX,
                key="page_map",
            )
    finally:
        _FRAME.__dict__.clear()


def head() -> Any:
    """Where a section draws what comes before its map (the page itself outside a frame)."""
    return getattr(_FRAME, "head", None) or st.container()


def map_columns(ratio: tuple[int, int] = (4, 1)) -> Any:
    """
    The page's map slot (see :func:`page_frame`) split into ``(map, side)`` columns: draw the
    map in the first (one ``st.pydeck_chart``) and its legend in the second.
    """
    slot = getattr(_FRAME, "slot", None)
    if slot is None:  # outside a frame: here on the page
        return st.columns(list(ratio))
    _FRAME.drawn = True
    return slot.columns(list(ratio))


def map_with_legend(
    c: Ctx,
    layers: list[Any],
    lg: pl.Legend,
    *,
    key: str,
    view: Any = None,
    height: int = 420,
    ratio: tuple[int, int] = (4, 1),
    extra_legend: list[tuple[str, tuple[int, int, int]]] | None = None,
) -> None:
    """The page's map and its legend side by side (plus entries for the other layers drawn)."""
    m, side = map_columns(ratio)
    m.pydeck_chart(pl.deck(layers, view or c.view(height_px=420)), height=height, key=key)
    with side:
        legend(lg)
        for text, rgb in extra_legend or []:
            st.markdown(
                f"<span style='color:rgb{rgb}'>■</span> {html.escape(text)}",
                unsafe_allow_html=True,
            )


def whole(v: float) -> str:
    """A count of people as a whole number."""
    return f"{round(float(v)):,}"


def show_error(err: BaseException | str) -> None:
    """An error in the app's words (its fix names the app's controls), as ``st.error``."""
    from placekit.text import md_escape

    st.error(md_escape(err if isinstance(err, str) else explain(err, "app")))

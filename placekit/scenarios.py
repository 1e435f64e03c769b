"""Place interventions: test a change, see what it does for access, people and demand.

A scenario is a plain, versioned JSON document::

    {"placekit_scenario": 1, "name": "New GP in Arbourthorne", "mode": "walk",
     "threshold_min": 10,
     "interventions": [
        {"type": "add_facility", "facility": "gp", "lon": -1.44, "lat": 53.36, "name": "New GP"},
        {"type": "close_facility", "facility": "gp", "id": "C88001"},
        {"type": "move_facility", "facility": "pharmacy", "id": "FA123", "postcode": "S2 5AA"},
        {"type": "add_link", "from": {"lon": -1.47, "lat": 53.38},
         "to": {"lon": -1.465, "lat": 53.382}},
        {"type": "add_housing", "postcode": "S5 6AB", "dwellings": 200, "people": 460},
        {"type": "improve_greenspace", "lon": -1.45, "lat": 53.40, "area_m2": 20000}
     ]}

Locations are ``lon``/``lat`` (WGS84), ``x``/``y`` (EPSG:27700) or a ``postcode``
from the pack's postcode lookup. :class:`ScenarioEngine` applies a scenario
incrementally (facilities and links: the exact updates of
:mod:`placekit.accessibility`) and returns baseline, scenario and change per
LSOA, per locality and by IMD decile; given a demand, the change in demand is the
effect of access estimated with adjustment for confounding
(:func:`placekit.effects.estimate_access_effect`) times the change in access, with
its 95 % interval, and no point value where no effect is detectable.

Every document goes through one validation pass, :func:`validate_scenario`,
before any work: shape and size first (nesting depth, number of values, text
length; walked without recursion), then every field's type, finiteness and
range (limits in :mod:`placekit._limits`), unknown fields, and, when a place is
given (as :meth:`ScenarioEngine.apply` always does), that locations lie in or
near the place, facility types and ids exist, no facility is closed twice and
the travel mode is the engine's. Each problem is reported in one
:class:`~placekit.errors.DataError` naming the intervention, the field, the
value and the fix; user-supplied text in messages is quoted and escaped so that
Markdown or HTML never renders it (:func:`_safe`).

Saving is atomic (a temporary file in the same folder, flushed to disk, then
renamed over the old one), so a save killed half-way leaves the previous file
as it was; :func:`list_scenarios` lists every file, saying why the unreadable
ones cannot be opened.
"""

from __future__ import annotations

import contextlib
import difflib
import html
import json
import math
import numbers
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from placekit import _limits as lim
from placekit.accessibility import (
    AccessModel,
    FacilitySet,
    NearestState,
    Origins,
    facilities_from_layer,
)
from placekit.config import WORKING_CRS
from placekit.errors import DataError
from placekit.place import Place

__all__ = [
    "FACILITY_WORDS",
    "INTERVENTIONS",
    "MODES",
    "SCHEMA_VERSION",
    "ScenarioEngine",
    "ScenarioResult",
    "column_label",
    "compare_scenarios",
    "list_scenarios",
    "load_scenario",
    "parse_scenario",
    "save_scenario",
    "validate_scenario",
]

#: Facility types in words (singular), for labels of result columns.
FACILITY_WORDS = {
    "gp": "GP practice",
    "pharmacy": "pharmacy",
    "dentist": "dentist",
    "leisure": "leisure centre",
    "library": "library",
    "community_centre": "community centre",
    "stop": "bus or tram stop",
    "greenspace": "green space",
    "school": "secondary school",
}


def column_label(
    column: str,
    *,
    mode: str = "walk",
    threshold_min: float | None = None,
    demand: str = "",
    demand_unit: str = "",
) -> str:
    """
    A scenario result column in words with its unit (``gp_min_change`` ->
    "change in walk time to the nearest GP practice (minutes; minus = shorter)").

    Parameters
    ----------
    column
        A column of :attr:`ScenarioResult.areas`, ``localities`` or ``by_imd_decile``.
    mode
        The scenario's travel mode ("walk" or "drive").
    threshold_min
        The threshold, for "people newly within" columns.
    demand, demand_unit
        The demand's label and the unit of its change (e.g. "people" for a
        rate per resident, whose change is counted in people), for demand-change columns.

    Returns
    -------
    str
        The words; an unknown column comes back with underscores as spaces.
    """
    fixed = {
        "area_name": "area",
        "population": "residents",
        "population_base": "residents now",
        "population_scn": "residents with the scenario",
    }
    if column in fixed:
        return fixed[column]
    within = f"{threshold_min:g} min" if threshold_min is not None else "the threshold"
    what = demand or "demand"
    for suffix, words in (
        ("_min_base", "{m} time to the nearest {f} now (minutes)"),
        ("_min_scn", "{m} time to the nearest {f} with the scenario (minutes)"),
        ("_min_change", "change in {m} time to the nearest {f} (minutes; minus = shorter)"),
        ("_people_newly_within", "people newly within {w} of a {f}"),
        ("_demand_change_lower_assumed", "{d}: change with the assumed effect, lower bound{u}"),
        ("_demand_change_upper_assumed", "{d}: change with the assumed effect, upper bound{u}"),
        ("_demand_change_assumed", "{d}: change with the assumed effect{u}"),
        ("_demand_change_lower", "{d}: estimated change, lower 95% bound{u}"),
        ("_demand_change_upper", "{d}: estimated change, upper 95% bound{u}"),
        ("_demand_change", "{d}: estimated change{u}"),
    ):
        if column.endswith(suffix):
            fac = column.removesuffix(suffix)
            f = FACILITY_WORDS.get(fac, fac.replace("_", " "))
            u = f" ({demand_unit})" if demand_unit else ""
            return words.format(m=mode, f=f, w=within, d=what, u=u)
    return column.replace("_", " ")


SCHEMA_VERSION = 1
INTERVENTIONS = (
    "add_facility",
    "close_facility",
    "move_facility",
    "add_link",
    "add_housing",
    "improve_greenspace",
)
#: Travel modes a scenario can be run for.
MODES = ("walk", "drive")
_TO_BNG = pyproj.Transformer.from_crs("EPSG:4326", WORKING_CRS, always_xy=True)

_TOP_KEYS = ("placekit_scenario", "name", "description", "mode", "threshold_min", "interventions")
_LOC_KEYS = ("lon", "lat", "x", "y", "postcode")
_ITEM_KEYS: dict[str, tuple[str, ...]] = {
    "add_facility": ("facility", *_LOC_KEYS),
    "close_facility": ("facility", "id"),
    "move_facility": ("facility", "id", *_LOC_KEYS),
    "add_link": ("from", "to"),
    "add_housing": ("people", "dwellings", *_LOC_KEYS),
    "improve_greenspace": ("area_m2", *_LOC_KEYS),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "add_facility": ("facility",),
    "close_facility": ("facility", "id"),
    "move_facility": ("facility", "id"),
    "add_link": ("from", "to"),
    "add_housing": ("people",),
    "improve_greenspace": ("area_m2",),
}
_EVERY_ITEM_KEYS = ("type", "name", "note")
_LINK_TYPES = ("gp", "greenspace", "pharmacy", "stop")
_POSTCODE = re.compile(r"[A-Za-z0-9 ]{2,10}")
_MAX_PROBLEMS = 10


# ----------------------------------------------------------------------------- safe text

_MD_ACTIVE = re.compile(r"([\\`*\[\](){}!$~|^])")
_MD_DIRECTIVE = re.compile(r":(?=[A-Za-z/\[])")
_MD_LINE_START = re.compile(r"^([#>+=-])")


def _safe(text: object, *, quote: bool = True, limit: int = 60) -> str:
    """
    User-supplied text made safe to put in a message shown as Markdown or HTML.

    The value is quoted with :func:`repr` (so a planner sees exactly what was
    typed, including spaces and odd characters), cut to ``limit`` characters,
    and every character Markdown or HTML could act on is neutralised: ``<``,
    ``>`` and ``&`` become HTML entities; ``\\ ` * [ ] ( ) { } ! $ ~ | ^`` get
    a backslash, as do a ``:`` that could open an emoji or colour directive and
    a heading or quote mark at the start. ``![x](http://...)`` therefore never
    appears verbatim and no image, link, tag or formula is rendered.

    Parameters
    ----------
    text
        The untrusted value.
    quote
        Quote with :func:`repr` (values); ``False`` for names shown bare, such
        as a file name, whose non-printable characters become spaces.
    limit
        Longest text kept, characters; longer text ends with ``…``.

    Returns
    -------
    str
        Plain text, safe in Markdown and HTML.
    """
    if isinstance(text, str) and len(text) > limit:
        text = text[:limit] + "…"
    s = repr(text) if quote else "".join(c if c.isprintable() else " " for c in str(text))
    if len(s) > limit + 3:
        s = s[:limit] + "…"
    s = _MD_ACTIVE.sub(r"\\\1", s)
    s = _MD_DIRECTIVE.sub(r"\\:", s)
    s = _MD_LINE_START.sub(r"\\\1", s)
    return html.escape(s, quote=False)


def _describe(value: object) -> str:
    """What arrived, in words, safe for a message."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool | np.bool_):
        return f"{str(bool(value)).lower()} (a yes/no value)"
    if isinstance(value, str):
        return f"{_safe(value)} (text)" if value.strip() else "empty text"
    if isinstance(value, dict):
        return f"an object with {len(value)} field(s)"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, numbers.Integral):
        big = int(value)
        return (
            f"a number with about {int(big.bit_length() * 0.30103)} digits"
            if big.bit_length() > 64
            else str(big)
        )
    if isinstance(value, numbers.Real):
        f = float(value)
        if math.isnan(f):
            return "NaN (not a number)"
        if math.isinf(f):
            return "infinity" if f > 0 else "minus infinity"
        return repr(f)
    return f"a value of kind {_safe(type(value).__name__, quote=False)}"


def _listing(names: Iterable[str], *, most: int = 20) -> str:
    """Comma-separated names (escaped), at most ``most`` then a count."""
    items = [_safe(n, quote=False, limit=40) for n in names]
    if len(items) <= most:
        return ", ".join(items)
    return ", ".join(items[:most]) + f", … ({len(items):,} in all)"


# ----------------------------------------------------------------------------- checks


class _FieldError(Exception):
    """One problem with a field; collected, then raised as one DataError."""


def _fmt(v: float) -> str:
    """A limit as a planner writes it: 50,000 or 49.8."""
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:g}"


def _number(
    value: object, name: str, *, lo: float, hi: float, unit: str, example: str, whole: bool = False
) -> float:
    """A real, finite number in ``[lo, hi]``, else :class:`_FieldError` with the fix."""
    span = f"between {_fmt(lo)} and {_fmt(hi)}{' ' + unit if unit else ''}"
    kind = "a whole number" if whole else "a number"
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        fix = (
            "write it as a plain number without quotes"
            if isinstance(value, str)
            else "give a value"
        )
        msg = f"{name} must be {kind} {span}; got {_describe(value)}. Fix: {fix}, e.g. {example}."
        raise _FieldError(msg)
    try:
        f = float(value)
    except (OverflowError, ValueError, TypeError):
        f = math.inf
    if not math.isfinite(f):
        msg = (
            f"{name} must be {kind} {span}; got {_describe(value)}. "
            f"Fix: give an ordinary number, e.g. {example}."
        )
        raise _FieldError(msg)
    if not lo <= f <= hi or (whole and not f.is_integer()):
        msg = f"{name} must be {kind} {span}; got {_describe(value)}. Fix: e.g. {example}."
        raise _FieldError(msg)
    return f


def _text(value: object, name: str, *, most: int, example: str) -> str:
    """Printable text of at most ``most`` characters."""
    if not isinstance(value, str):
        msg = f"{name} must be text; got {_describe(value)}. Fix: e.g. {example}."
        raise _FieldError(msg)
    if len(value) > most:
        msg = (
            f"{name} is {len(value):,} characters long; at most {most:,} are allowed. "
            "Fix: shorten it."
        )
        raise _FieldError(msg)
    if any(not (c.isprintable() or c in "\n\t") for c in value):
        msg = f"{name} holds control characters. Fix: retype it as plain text."
        raise _FieldError(msg)
    return value


def _ident(value: object, name: str, *, example: str, allow_int: bool = False) -> str:
    """A facility id or type: non-empty text (or, with ``allow_int``, a whole number)."""
    if (
        allow_int
        and isinstance(value, numbers.Integral)
        and not isinstance(value, bool | np.bool_)
        and abs(int(value)) < 10**30
    ):
        return str(int(value))
    text = _text(value, name, most=lim.MAX_ID_CHARS, example=example)
    if not text.strip():
        msg = f"{name} is empty. Fix: e.g. {example}."
        raise _FieldError(msg)
    return text


def _shape(doc: object, source: str) -> None:
    """
    Refuse documents too deep, too big or holding non-JSON values, without recursing.

    Walks the document with an explicit stack, stopping at the first limit hit,
    so a million-deep nesting is refused at once (and an object that contains
    itself, from Python, is refused as too deep).
    """
    stack: list[tuple[object, int]] = [(doc, 1)]
    nodes = chars = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > lim.MAX_JSON_NODES:
            msg = (
                f"{source} holds more than {lim.MAX_JSON_NODES:,} values; a scenario is far "
                f"smaller (at most {lim.MAX_INTERVENTIONS} interventions). Fix: split it."
            )
            raise DataError(msg)
        if isinstance(value, dict | list | tuple):
            if depth > lim.MAX_JSON_DEPTH:
                msg = (
                    f"{source} is nested more than {lim.MAX_JSON_DEPTH} levels deep; a scenario "
                    "needs at most 4 (scenario, interventions, intervention, link end). "
                    "Fix: remove the extra brackets."
                )
                raise DataError(msg)
            if isinstance(value, dict):
                for k, v in value.items():
                    if not isinstance(k, str):
                        msg = (
                            f"{source} has a field named {_describe(k)}; field names must be "
                            "text. Fix: save it as a plain scenario document."
                        )
                        raise DataError(msg)
                    chars += len(k)
                    stack.append((v, depth + 1))
            else:
                stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str):
            chars += len(value)
        elif value is not None and not isinstance(value, bool | np.bool_ | numbers.Real):
            msg = (
                f"{source} holds {_describe(value)}, which a scenario document cannot hold. "
                "Fix: use only text, numbers, true/false, null, lists and objects."
            )
            raise DataError(msg)
        if chars > lim.MAX_TEXT_CHARS:
            msg = (
                f"{source} holds more than {lim.MAX_TEXT_CHARS:,} characters of text. "
                "Fix: shorten the names and descriptions."
            )
            raise DataError(msg)


class _PlaceChecks:
    """What validation needs to know about a place, looked up once and kept."""

    def __init__(self, place: Place):
        self.place = place
        self.name = _safe(place.name, quote=False)
        self._types: list[str] | None = None
        self._ids: dict[str, tuple[list[str], set[str]]] = {}
        self._outline: Any = None
        self._postcodes: dict[str, tuple[float, float] | None] = {}

    def types(self) -> list[str]:
        if self._types is None:
            self._types = list(self.place.available_layers)
        return self._types

    def ids(self, facility: str) -> tuple[list[str], set[str]]:
        """Facility ids of one type, as :func:`facilities_from_layer` names them."""
        if facility not in self._ids:
            layer = self.place.layer(facility)
            ids = (
                layer["id"].astype(str).tolist()
                if "id" in layer.columns
                else [f"{facility}:{i}" for i in range(len(layer))]
            )
            self._ids[facility] = (ids, set(ids))
        return self._ids[facility]

    def distance_m(self, x: float, y: float) -> float:
        """Metres from the place's outline (0 inside)."""
        if self._outline is None:
            self._outline = self.place.boundary().geometry.union_all()
            shapely.prepare(self._outline)
        pt = shapely.Point(x, y)
        return 0.0 if self._outline.covers(pt) else float(self._outline.distance(pt))

    def in_lsoa(self, x: float, y: float) -> bool:
        return bool(len(self.place.lsoa.sindex.query(shapely.Point(x, y), predicate="intersects")))

    def postcode_xy(self, postcode: str) -> tuple[float, float] | None:
        key = postcode.replace(" ", "").upper()
        if key not in self._postcodes:
            if len(self._postcodes) > 10_000:
                self._postcodes.clear()
            try:
                self._postcodes[key] = self.place.postcode_xy(postcode)
            except DataError:
                self._postcodes[key] = None
        return self._postcodes[key]


def _location(
    item: dict[str, Any], checks: _PlaceChecks | None, *, prefix: str = ""
) -> tuple[dict[str, Any], tuple[float, float] | None, str]:
    """
    One location (lon/lat, x/y or postcode) checked: normalised fields, BNG x/y, a label.

    The x/y is ``None`` for a postcode when no place is given to look it up in.
    """
    lo_lon, lo_lat, hi_lon, hi_lat = lim.ENGLAND_LONLAT_BOUNDS
    lo_x, lo_y, hi_x, hi_y = lim.ENGLAND_BNG_BOUNDS_M
    given = [k for k in ("lon/lat", "x/y", "postcode") if any(p in item for p in k.split("/"))]
    if not given:
        msg = (
            f"{prefix}needs a location: lon and lat, x and y (British National Grid metres) "
            'or a postcode. Fix: e.g. "lon": -1.47, "lat": 53.38.'
        )
        raise _FieldError(msg)
    if len(given) > 1:
        msg = (
            f"{prefix}has more than one location ({' and '.join(given)}); it is not clear "
            "which is meant. Fix: keep only one."
        )
        raise _FieldError(msg)
    kind = given[0]
    if kind == "postcode":
        pc = item["postcode"]
        if not isinstance(pc, str) or not _POSTCODE.fullmatch(pc.strip()):
            msg = (
                f"{prefix}postcode must be a UK postcode such as 'S1 2HH'; got "
                f"{_describe(pc)}. Fix: check it, or give lon/lat instead."
            )
            raise _FieldError(msg)
        xy = None
        if checks is not None:
            xy = checks.postcode_xy(pc)
            if xy is None:
                msg = (
                    f"{prefix}postcode {_safe(pc)} is not in the pack's postcode lookup for "
                    f"{checks.name}. Fix: check it, or give the location as lon/lat."
                )
                raise _FieldError(msg)
        return {"postcode": pc.strip()}, xy, f"postcode {_safe(pc.strip())}"
    a, b = kind.split("/")
    missing = [k for k in (a, b) if k not in item]
    if missing:
        msg = f"{prefix}has {a if b in missing else b} but no {missing[0]}. Fix: give both."
        raise _FieldError(msg)
    if kind == "lon/lat":
        lon = _number(
            item["lon"],
            f"{prefix}lon",
            lo=lo_lon,
            hi=hi_lon,
            unit="degrees (England)",
            example="-1.47 (lon is east-west, negative in most of England)",
        )
        lat = _number(
            item["lat"],
            f"{prefix}lat",
            lo=lo_lat,
            hi=hi_lat,
            unit="degrees (England)",
            example="53.38 (lat is north-south)",
        )
        x, y = _TO_BNG.transform(lon, lat)
        return {"lon": lon, "lat": lat}, (float(x), float(y)), f"lon/lat ({lon!r}, {lat!r})"
    x = _number(
        item["x"],
        f"{prefix}x",
        lo=lo_x,
        hi=hi_x,
        unit="metres (British National Grid)",
        example="435300",
    )
    y = _number(
        item["y"],
        f"{prefix}y",
        lo=lo_y,
        hi=hi_y,
        unit="metres (British National Grid)",
        example="387200",
    )
    return {"x": x, "y": y}, (x, y), f"x/y ({x:.0f}, {y:.0f})"


def _near(
    checks: _PlaceChecks | None, xy: tuple[float, float] | None, label: str, *, inside: bool = False
) -> None:
    """Refuse a location far from the place (or, with ``inside``, outside its neighbourhoods)."""
    if checks is None or xy is None:
        return
    d = checks.distance_m(*xy)
    far = f"{d:,.0f} m" if d < 1000 else f"{d / 1000:,.1f} km"
    if inside and (d > 0 or not checks.in_lsoa(*xy)):
        msg = (
            f"{label} is outside {checks.name}"
            + (f" (by {far})" if d > 0 else "")
            + ", so the new residents cannot be counted in any neighbourhood. "
            f"Fix: give a location inside {checks.name}."
        )
        raise _FieldError(msg)
    if d > lim.NEAR_PLACE_M:
        msg = (
            f"{label} is {far} outside the city ({checks.name}). Fix: give a "
            f"location inside {checks.name} or within {lim.NEAR_PLACE_M / 1000:g} km of its "
            "boundary (check that lon and lat are not swapped)."
        )
        raise _FieldError(msg)


class _Ledger:
    """What earlier interventions did, for the checks that span several of them."""

    def __init__(self) -> None:
        self.closed: dict[tuple[str, str], int] = {}
        self.added: dict[str, set[str]] = {}
        self.links = 0


def _item(
    it: object, n: int, checks: _PlaceChecks | None, ledger: _Ledger, source: str
) -> dict[str, Any]:
    """Check one intervention; return it normalised."""
    if not isinstance(it, dict):
        msg = (
            f"{source}: intervention {n} must be an object such as "
            f'{{"type": "add_facility", ...}}; got {_describe(it)}.'
        )
        raise _FieldError(msg)
    kind = it.get("type")
    if kind not in INTERVENTIONS:
        msg = (
            f"{source}: intervention {n} has type {_safe(kind)}; types are "
            f"{', '.join(INTERVENTIONS)}."
        )
        raise _FieldError(msg)
    where = f"{source}: intervention {n} ({kind}): "
    allowed = (*_EVERY_ITEM_KEYS, *_ITEM_KEYS[kind])
    unknown = [k for k in it if k not in allowed]
    if unknown:
        msg = (
            f"{where}unknown field(s) {_listing(map(repr, unknown), most=5)}; this kind of "
            f"intervention has only {', '.join(sorted(allowed))}. Fix: remove or rename it."
        )
        raise _FieldError(msg)
    missing = [k for k in _REQUIRED[kind] if k not in it]
    if missing:
        msg = f"{where}is missing {', '.join(missing)}. Fix: add it."
        raise _FieldError(msg)
    out: dict[str, Any] = {"type": kind}
    for k in ("name", "note"):
        if k in it:
            out[k] = _text(
                it[k],
                f"{where}{k}",
                most=lim.MAX_NAME_CHARS if k == "name" else lim.MAX_TEXT_CHARS // 10,
                example='"New GP surgery"',
            )
    fac = None
    if "facility" in it:
        fac = _ident(it["facility"], f"{where}facility", example='"gp"')
        if checks is not None and fac not in checks.types():
            msg = (
                f"{where}facility {_safe(fac)} is not a facility type in {checks.name}; "
                f"types are {_listing(checks.types())}."
            )
            raise _FieldError(msg)
        out["facility"] = fac
    if kind == "improve_greenspace" and checks is not None and "greenspace" not in checks.types():
        msg = f"{where}{checks.name} has no green space layer to improve."
        raise _FieldError(msg)
    if "id" in it:
        fid = _ident(it["id"], f"{where}id", example='"C81002"', allow_int=True)
        out["id"] = fid
        fac = fac or ""
        label = f"{where}{_safe(fac, quote=False)} {_safe(fid)}"
        if (fac, fid) in ledger.closed:
            msg = (
                f"{label} is already closed by intervention {ledger.closed[fac, fid]}, so it "
                f"cannot be {'closed again' if kind == 'close_facility' else 'moved'}. "
                "Fix: remove one of the two."
            )
            raise _FieldError(msg)
        if checks is not None:
            ids, known = checks.ids(fac)
            added = ledger.added.get(fac, set())
            if fid not in known and fid not in added:
                every = sorted(added) + ids
                near = (
                    difflib.get_close_matches(fid, every, n=1, cutoff=0.75) if len(fid) < 40 else []
                )
                hint = f" Did you mean {_safe(near[0])}?" if near else ""
                msg = (
                    f"{label} does not exist: there is no {_safe(fac, quote=False)} with that "
                    f"id in {checks.name}.{hint} The ids are {_listing(every)}."
                )
                raise _FieldError(msg)
        if kind == "close_facility":
            ledger.closed[fac, fid] = n
    if kind in ("add_facility", "move_facility", "add_housing", "improve_greenspace"):
        loc, xy, label = _location(it, checks, prefix=where)
        _near(checks, xy, f"{where}{label}", inside=kind == "add_housing")
        out.update(loc)
    if kind == "add_facility" and fac is not None:
        ledger.added.setdefault(fac, set()).add(str(out.get("name", f"new {fac}")))
    elif kind == "add_link":
        ends = []
        for end in ("from", "to"):
            v = it[end]
            if not isinstance(v, dict):
                msg = (
                    f'{where}{end} must be a location such as {{"lon": -1.47, "lat": 53.38}}; '
                    f"got {_describe(v)}."
                )
                raise _FieldError(msg)
            bad = [k for k in v if k not in _LOC_KEYS]
            if bad:
                msg = (
                    f"{where}{end} has unknown field(s) {_listing(map(repr, bad), most=5)}; a "
                    f"location has only {', '.join(_LOC_KEYS)}. Fix: remove or rename it."
                )
                raise _FieldError(msg)
            loc, xy, label = _location(v, checks, prefix=f"{where}{end} ")
            _near(checks, xy, f"{where}{end} {label}")
            out[end] = loc
            ends.append(xy)
        if ends[0] is not None and ends[1] is not None:
            length_m = math.hypot(ends[1][0] - ends[0][0], ends[1][1] - ends[0][1])
            if length_m > lim.MAX_LINK_M:
                msg = (
                    f"{where}the link is {length_m / 1000:,.1f} km long; a new path or bridge "
                    f"can be at most {lim.MAX_LINK_M / 1000:g} km. Fix: check the two ends."
                )
                raise _FieldError(msg)
        ledger.links += 1
        if ledger.links > lim.MAX_LINKS:
            msg = (
                f"{where}a scenario can add at most {lim.MAX_LINKS} links (each one re-solves "
                "every facility type). Fix: split the scenario."
            )
            raise _FieldError(msg)
    elif kind == "add_housing":
        out["people"] = _number(
            it["people"],
            f"{where}people",
            lo=1,
            hi=lim.MAX_PEOPLE,
            unit="new residents",
            example="460 for 200 homes",
        )
        if "dwellings" in it:
            out["dwellings"] = int(
                _number(
                    it["dwellings"],
                    f"{where}dwellings",
                    lo=1,
                    hi=lim.MAX_DWELLINGS,
                    unit="homes",
                    whole=True,
                    example="200",
                )
            )
    elif kind == "improve_greenspace":
        out["area_m2"] = _number(
            it["area_m2"],
            f"{where}area_m2",
            lo=lim.MIN_GREENSPACE_M2,
            hi=lim.MAX_GREENSPACE_M2,
            unit="square metres",
            example="20000 for a 2-hectare park",
        )
    return out


def _validate(
    doc: object, *, source: str, checks: _PlaceChecks | None, run_mode: str | None
) -> dict[str, Any]:
    """The single validation pass behind :func:`validate_scenario` and the engine."""
    src = _safe(source, quote=False, limit=80)
    if not isinstance(doc, dict):
        msg = (
            f"{src} must be a scenario: an object with placekit_scenario, interventions and "
            f"so on; got {_describe(doc)}."
        )
        raise DataError(msg)
    _shape(doc, src)
    unknown = [k for k in doc if k not in _TOP_KEYS]
    if unknown:
        msg = (
            f"{src}: unknown field(s) {_listing(map(repr, unknown), most=5)}; a scenario has "
            f"only {', '.join(sorted(_TOP_KEYS))}. Fix: remove or rename it."
        )
        raise DataError(msg)
    version = doc.get("placekit_scenario")
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        msg = (
            f"{src}: 'placekit_scenario' must be {SCHEMA_VERSION} (the format version); got "
            f'{_describe(version)}. Fix: add "placekit_scenario": {SCHEMA_VERSION} at the top.'
        )
        raise DataError(msg)
    problems: list[str] = []
    out: dict[str, Any] = {"placekit_scenario": SCHEMA_VERSION}
    try:
        out["name"] = _text(
            doc.get("name", "unnamed scenario"),
            f"{src}: name",
            most=lim.MAX_NAME_CHARS,
            example='"New GP in Arbourthorne"',
        )
    except _FieldError as err:
        problems.append(str(err))
    try:
        out["description"] = _text(
            doc.get("description", ""),
            f"{src}: description",
            most=lim.MAX_TEXT_CHARS // 10,
            example='"What it tests"',
        )
    except _FieldError as err:
        problems.append(str(err))
    mode = doc.get("mode", "walk")
    if mode not in MODES:
        problems.append(f"{src}: mode must be one of {', '.join(MODES)}; got {_describe(mode)}.")
    elif run_mode is not None and mode != run_mode:
        problems.append(
            f"{src}: this scenario is for {mode} journeys, but this scenario tool is set up for "
            f"{run_mode} journeys and would give {run_mode} results. Fix: set mode to "
            f"'{run_mode}', or run it with a {mode} engine (the placekit scenario command uses "
            "the scenario's own mode)."
        )
    out["mode"] = mode
    try:
        out["threshold_min"] = _number(
            doc.get("threshold_min", 10.0),
            f"{src}: threshold_min",
            lo=lim.MIN_THRESHOLD_MIN,
            hi=lim.MAX_THRESHOLD_MIN,
            unit="minutes",
            example="15",
        )
    except _FieldError as err:
        problems.append(str(err))
    items = doc.get("interventions")
    if not isinstance(items, list) or not items:
        problems.append(
            f"{src}: 'interventions' must be a non-empty list of changes; got "
            f"{_describe(items)}. Fix: add at least one intervention."
        )
        items = []
    elif len(items) > lim.MAX_INTERVENTIONS:
        problems.append(
            f"{src}: {len(items):,} interventions; a scenario holds at most "
            f"{lim.MAX_INTERVENTIONS}. Fix: split it into several scenarios."
        )
        items = []
    ledger = _Ledger()
    out["interventions"] = []
    for n, it in enumerate(items, start=1):
        try:
            out["interventions"].append(_item(it, n, checks, ledger, src))
        except _FieldError as err:
            problems.append(str(err))
        if len(problems) > _MAX_PROBLEMS:
            break
    if problems:
        more = len(problems) - _MAX_PROBLEMS
        text = "\n".join(problems[:_MAX_PROBLEMS])
        msg = text + (f"\n… and more problems after these {_MAX_PROBLEMS}." if more > 0 else "")
        raise DataError(msg)
    return out


# ----------------------------------------------------------------------------- files


def validate_scenario(
    doc: object, *, source: str = "scenario", place: Place | None = None, mode: str | None = None
) -> dict[str, Any]:
    """
    Check a scenario document in one pass; return a clean copy with defaults filled in.

    Parameters
    ----------
    doc
        The parsed document (a dict, as from :func:`json.loads`). It is not modified.
    source
        What to call the document in messages (a file name, say).
    place
        If given, also check that locations lie in or near the place, that
        postcodes are in its lookup, that facility types and ids exist, and
        that no facility is closed twice or moved after it is closed.
    mode
        If given, the travel mode the caller can run; a scenario for another
        mode is refused rather than silently run for this one.

    Returns
    -------
    dict
        The scenario with ``name``, ``description``, ``mode`` and
        ``threshold_min`` filled in, numbers as floats (``dwellings`` an int)
        and ids as text. Safe to :func:`json.dumps`.

    Raises
    ------
    DataError
        Listing every problem (up to ten), each naming the intervention, the
        field, what arrived and the fix; user text in it is quoted and escaped.
    """
    checks = _PlaceChecks(place) if place is not None else None
    return _validate(doc, source=source, checks=checks, run_mode=mode)


def _json_depth(text: str) -> int:
    """Deepest bracket nesting of JSON text, without parsing it (strings skipped)."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    raw = np.frombuffer(bare.encode("utf-8", "replace"), dtype=np.uint8)
    step = np.isin(raw, (ord("["), ord("{"))).astype(np.int64) - np.isin(raw, (ord("]"), ord("}")))
    return int(np.cumsum(step).max()) if step.size else 0


def parse_scenario(
    data: str | bytes,
    *,
    source: str = "scenario",
    place: Place | None = None,
    mode: str | None = None,
) -> dict[str, Any]:
    """
    Parse scenario JSON (text or bytes, as uploaded) and validate it.

    Size and nesting are checked before parsing, so a huge or deeply nested
    file is refused at once instead of exhausting memory or recursion.

    Parameters
    ----------
    data
        The JSON, as text or UTF-8 bytes.
    source, place, mode
        As for :func:`validate_scenario`.

    Returns
    -------
    dict
        As :func:`validate_scenario`.

    Raises
    ------
    DataError
        If the file is too large, not UTF-8 JSON, too deeply nested, or fails validation.
    """
    src = _safe(source, quote=False, limit=80)
    size = len(data)
    if size > lim.MAX_SCENARIO_BYTES:
        msg = (
            f"{src} is {size / 1e6:,.1f} MB; a scenario file is at most "
            f"{lim.MAX_SCENARIO_BYTES / 1e6:g} MB. Fix: check it is the right file."
        )
        raise DataError(msg)
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            msg = f"{src} is not valid UTF-8 JSON text. Fix: save it again as UTF-8."
            raise DataError(msg) from None
    if _json_depth(data) > lim.MAX_JSON_DEPTH:
        msg = (
            f"{src} is nested more than {lim.MAX_JSON_DEPTH} levels deep; a scenario needs at "
            "most 4. Fix: check it is a scenario file."
        )
        raise DataError(msg)
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as err:
        where = (
            f" (line {err.lineno}, column {err.colno})"
            if isinstance(err, json.JSONDecodeError)
            else ""
        )
        msg = (
            f"{src} is not valid UTF-8 JSON{where}. "
            "Fix: check it is a scenario file saved by placekit."
        )
        raise DataError(msg) from None
    return _validate(
        doc, source=source, checks=_PlaceChecks(place) if place is not None else None, run_mode=mode
    )


def save_scenario(doc: dict[str, Any], path: str | Path) -> Path:
    """
    Validate a scenario and write it as pretty JSON, atomically.

    The JSON goes to a temporary file in the same folder, is flushed to disk,
    and then replaces ``path`` in one step, so a save that is interrupted (the
    process killed, the disk full) leaves the previous file as it was.

    Parameters
    ----------
    doc
        The scenario.
    path
        Where to write it.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    DataError
        If the scenario is invalid, or the folder is missing or cannot be written.
    """
    p = Path(path)
    text = (
        json.dumps(validate_scenario(doc, source=p.name), indent=2, sort_keys=True, allow_nan=False)
        + "\n"
    )
    folder = p.parent
    if not folder.is_dir():
        msg = f"No folder at {_safe(folder, quote=False, limit=200)} to save the scenario in."
        raise DataError(msg)
    if p.is_dir():
        msg = f"{_safe(p, quote=False, limit=200)} is a folder; give a file name ending .json."
        raise DataError(msg)
    try:
        mode = p.stat().st_mode & 0o777 if p.exists() else 0o644
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=folder)
    except OSError as err:
        msg = (
            f"Could not save {_safe(p.name, quote=False)} in "
            f"{_safe(folder, quote=False, limit=200)}: {_safe(err.strerror, quote=False)}."
        )
        raise DataError(msg) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, p)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            msg = (
                f"Could not save {_safe(p.name, quote=False)}: "
                f"{_safe(err.strerror, quote=False)}; the previous file, if any, is unchanged."
            )
            raise DataError(msg) from None
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return p


def load_scenario(path: str | Path) -> dict[str, Any]:
    """
    Read and validate a scenario JSON file.

    Raises
    ------
    DataError
        If there is no such file, it is too large or unreadable, or it fails
        :func:`parse_scenario`.
    """
    p = Path(path)
    name = _safe(p.name, quote=False)
    if not p.is_file():
        msg = f"No scenario file at {_safe(p, quote=False, limit=200)}."
        raise DataError(msg)
    try:
        size = p.stat().st_size
        if size > lim.MAX_SCENARIO_BYTES:
            msg = (
                f"{name} is {size / 1e6:,.1f} MB; a scenario file is at most "
                f"{lim.MAX_SCENARIO_BYTES / 1e6:g} MB. Fix: check it is the right file."
            )
            raise DataError(msg)
        data = p.read_bytes()
    except OSError as err:
        msg = f"{name} could not be read: {_safe(err.strerror, quote=False)}."
        raise DataError(msg) from None
    return parse_scenario(data, source=p.name)


def list_scenarios(folder: str | Path) -> pd.DataFrame:
    """
    Every scenario file in ``folder``, the unreadable ones with the reason.

    Returns
    -------
    pd.DataFrame
        One row per ``*.json`` file, sorted by name: ``file``, ``name``,
        ``description``, ``interventions`` (0 for a file that cannot be used),
        ``ok`` and ``problem`` (why it cannot be used, else ``""``). Keep
        ``listing[listing.ok]`` for the usable ones.

    Raises
    ------
    DataError
        If ``folder`` is not a folder.
    """
    d = Path(folder)
    if not d.is_dir():
        msg = f"No folder at {_safe(d, quote=False, limit=200)}."
        raise DataError(msg)
    rows = []
    for p in sorted(q for q in d.glob("*.json") if not q.name.startswith(".")):
        try:
            sc = load_scenario(p)
        except DataError as err:
            rows.append(
                {
                    "file": p.name,
                    "name": "",
                    "description": "",
                    "interventions": 0,
                    "ok": False,
                    "problem": str(err),
                }
            )
            continue
        rows.append(
            {
                "file": p.name,
                "name": sc["name"],
                "description": sc["description"],
                "interventions": len(sc["interventions"]),
                "ok": True,
                "problem": "",
            }
        )
    return pd.DataFrame(
        rows, columns=["file", "name", "description", "interventions", "ok", "problem"]
    )


# ----------------------------------------------------------------------------- engine


@dataclass
class ScenarioResult:
    """
    Baseline against scenario.

    Attributes
    ----------
    scenario
        The validated scenario (as :func:`validate_scenario` returns it).
    areas
        Per LSOA: for each facility type touched, ``<type>_min_base``,
        ``<type>_min_scn``, ``<type>_min_change`` and ``<type>_people_newly_within``
        (an estimate in whole people per LSOA; every total sums these);
        ``population_base``/``population_scn``; and, with a demand, per facility type
        ``<type>_demand_change`` with ``_lower``/``_upper`` (95 % interval from the
        estimated effect; NaN where no effect is detectable) and, for an assumed
        effect, the same with ``_assumed``.
    localities
        ``{level: frame}`` of the same, aggregated (people summed, minutes
        population-weighted).
    by_imd_decile
        People newly within the threshold, per IMD 2025 decile.
    seconds
        Time to apply the scenario.
    notes
        Plain-text notes on what was done (people added, the demand model's caveat).
    """

    scenario: dict[str, Any]
    areas: pd.DataFrame
    localities: dict[str, pd.DataFrame]
    by_imd_decile: pd.DataFrame
    seconds: float
    notes: list[str] = field(default_factory=list)


def _nan0(v: np.ndarray) -> np.ndarray:
    """NaN as 0 (how a pandas group sum skips missing values); infinities kept."""
    return np.where(np.isnan(v), 0.0, v)


class ScenarioEngine:
    """
    Holds the network, origins and baseline access for a place, ready to apply scenarios.

    Parameters
    ----------
    place
        The place.
    mode
        ``"walk"`` or ``"drive"``; scenarios for the other mode are refused.
    demand
        Optional demand indicator id (e.g. ``"bad_health_pct"``) or Series by LSOA.
        For every facility type a scenario changes, the effect of access on it is
        estimated with adjustment for confounding (:func:`placekit.effects.estimate_access_effect`,
        double machine learning with locality folds) and the change in demand is that
        effect times the change in access, with its interval. Where the effect is not
        distinguishable from zero, no point change is given (NaN) and a note says so.
    progress
        Passed to the network build.
    effect_store
        Optional ``store(key, build)`` that returns a saved effect for ``key`` or
        calls ``build()`` and saves its result (e.g. a per-pack disk cache, so the
        first Apply of a server does not refit the effect model). ``key`` names the
        demand and the access column.
    """

    def __init__(
        self,
        place: Place,
        *,
        mode: str = "walk",
        demand: str | pd.Series | None = None,
        progress: object | None = None,
        effect_store: Callable[[str, Callable[[], Any]], Any] | None = None,
    ):
        if mode not in MODES:
            msg = f"mode must be one of {', '.join(MODES)}; got {_describe(mode)}."
            raise DataError(msg)
        self.place = place
        self.mode = mode
        self.net = place.network(mode, progress=progress)
        self.model = AccessModel(self.net, metric="length" if mode == "walk" else "time")
        self.model.reverse_matrix()
        self.origins: Origins = place.origins(mode)
        self.demand = demand
        self._effects: dict[str, Any] = {}
        self._effect_store = effect_store
        self._fac: dict[str, FacilitySet] = {}
        self._base: dict[str, NearestState] = {}
        self._base_min: dict[str, np.ndarray] = {}
        self._checks = _PlaceChecks(place)
        lsoa = place.lsoa.index
        self._opos = np.asarray(lsoa.get_indexer(self.origins.area_code), dtype=np.int64)
        self._oin = self._opos >= 0
        self._ocount = np.bincount(self._opos[self._oin], minlength=len(lsoa))
        cells = pd.Series(1.0, index=self.origins.area_code).groupby(level=0).transform("size")
        pop = place.weights["population"].reindex(self.origins.area_code).to_numpy()
        self.people_per_origin = pop / cells.to_numpy()
        self._levels: dict[str, tuple[pd.Index, np.ndarray]] = {}

    # -- helpers ---------------------------------------------------------------------------
    def baseline(self, facility: str) -> NearestState:
        """Baseline nearest-facility state for one type (computed once)."""
        if facility not in self._base:
            if not isinstance(facility, str) or facility not in self._checks.types():
                msg = (
                    f"Unknown facility type {_safe(facility)} for {self._checks.name}; types "
                    f"are {_listing(self._checks.types())}."
                )
                raise DataError(msg)
            self._fac[facility] = facilities_from_layer(
                self.net, self.place.layer(facility), name=facility
            )
            self._base[facility] = self.model.solve(self._fac[facility])
        return self._base[facility]

    def locate(self, item: dict[str, Any]) -> tuple[float, float]:
        """
        EPSG:27700 coordinates of a location (lon/lat, x/y or postcode), checked.

        Raises
        ------
        DataError
            If the location is malformed, outside England, or a postcode not in the pack.
        """
        if not isinstance(item, dict):
            msg = (
                'A location must be an object such as {"lon": -1.47, "lat": 53.38}; '
                f"got {_describe(item)}."
            )
            raise DataError(msg)
        try:
            _, xy, _ = _location({k: v for k, v in item.items() if k in _LOC_KEYS}, self._checks)
        except _FieldError as err:
            raise DataError(str(err)) from None
        assert xy is not None  # with a place, postcodes are looked up
        return xy

    def isochrones(
        self, scenario: dict[str, Any], *, threshold_min: float | None = None
    ) -> gpd.GeoDataFrame:
        """
        The area within ``threshold_min`` of each added or moved facility, as polygons (EPSG:27700).

        ``threshold_min`` defaults to the scenario's own threshold.

        Parameters
        ----------
        scenario
            A scenario document (see :func:`validate_scenario`).
        threshold_min
            Minutes of travel; the scenario's threshold by default.

        Raises
        ------
        DataError
            For an invalid scenario or threshold.
        """
        from placekit.accessibility import isochrone

        sc = _validate(scenario, source="scenario", checks=self._checks, run_mode=self.mode)
        try:
            minutes = (
                sc["threshold_min"]
                if threshold_min is None
                else _number(
                    threshold_min,
                    "threshold_min",
                    lo=lim.MIN_THRESHOLD_MIN,
                    hi=lim.MAX_THRESHOLD_MIN,
                    unit="minutes",
                    example="15",
                )
            )
        except _FieldError as err:
            raise DataError(str(err)) from None
        cost = (
            minutes * self.model.walk_speed_kmh * 1000 / 60
            if self.model.metric == "length"
            else minutes
        )
        rows = []
        for it in sc["interventions"]:
            if it["type"] in ("add_facility", "move_facility"):
                x, y = self.locate(it)
                label = _safe(it.get("name", it["facility"]), quote=False)
                rows.append(
                    {
                        "name": f"{minutes:g}-minute {self.mode} from {label}",
                        "geometry": isochrone(self.model, x, y, max_cost=cost),
                    }
                )
        rows = [r for r in rows if not r["geometry"].is_empty]  # a site too far from any street
        out = (
            gpd.GeoDataFrame(rows, geometry="geometry", crs=WORKING_CRS)
            if rows
            else gpd.GeoDataFrame({"name": []}, geometry=[], crs=WORKING_CRS)
        )
        out.attrs.update(
            label=f"{minutes:g}-minute {self.mode} service area",
            method="service_area: reached streets buffered 50 m, blocks filled",
            max_cost=cost,
        )
        return out

    def _minutes(self, cost: np.ndarray) -> np.ndarray:
        return (
            cost / (self.model.walk_speed_kmh * 1000.0 / 60.0)
            if self.model.metric == "length"
            else cost
        )

    def _origin_minutes(self, state: NearestState) -> np.ndarray:
        return self._minutes(
            state.cost[self.origins.node] + self.model.offset_cost(self.origins.offset_m)
        )

    def _lsoa_of(self, x: float, y: float) -> str:
        hit = self.place.lsoa.index[self.place.lsoa.contains(shapely.Point(x, y))]
        if len(hit) == 0:
            msg = f"The point ({x:.0f}, {y:.0f}) is outside the city."
            raise DataError(msg)
        return str(hit[0])

    # -- apply -----------------------------------------------------------------------------
    def apply(
        self, scenario: dict[str, Any], *, assumed: Mapping[str, Any] | None = None
    ) -> ScenarioResult:
        """
        Apply a scenario and compare it with the baseline.

        The scenario is validated against this place and mode first
        (:func:`validate_scenario` with ``place`` and ``mode``), so nothing is
        computed for a scenario that cannot be run.

        Parameters
        ----------
        scenario
            A scenario document.
        assumed
            ``{facility type: EffectResult}`` from :func:`placekit.effects.assumed_effect`
            (an effect stated from the literature, with its source), shown beside the
            estimated one as ``<type>_demand_change_assumed`` (and ``_lower``/``_upper``).

        Raises
        ------
        DataError
            For an invalid scenario: a malformed or out-of-range field, an
            unknown facility type or id, a facility closed twice, a postcode
            not in the pack, a location outside the city, or another mode.
        """
        t0 = time.perf_counter()
        sc = _validate(scenario, source="scenario", checks=self._checks, run_mode=self.mode)
        threshold = float(sc["threshold_min"])
        model = self.model
        states: dict[str, NearestState] = {}
        pop_add = pd.Series(0.0, index=self.place.lsoa.index)
        notes: list[str] = []
        green_polys: list[shapely.Geometry] = []
        for it in sc["interventions"]:
            kind = it["type"]
            if kind in ("add_facility", "close_facility", "move_facility"):
                f = str(it["facility"])
                st = states.get(f) or self.baseline(f)
                if kind == "add_facility":
                    x, y = self.locate(it)
                    st = model.add_facility(st, x, y, facility_id=str(it.get("name", f"new {f}")))
                elif kind == "close_facility":
                    st = model.close_facility(st, str(it["id"]))
                else:
                    x, y = self.locate(it)
                    st = model.move_facility(st, str(it["id"]), x, y)
                states[f] = st
            elif kind == "add_link":
                a, b = self.locate(it["from"]), self.locate(it["to"])
                for f in _LINK_TYPES:
                    if f not in states and f in self._checks.types():
                        states[f] = self.baseline(f)
                model, states = model.add_link(a[0], a[1], b[0], b[1], states)
            elif kind == "add_housing":
                x, y = self.locate(it)
                code = self._lsoa_of(x, y)
                pop_add[code] += it["people"]
                homes = (
                    f"{it['dwellings']:,} dwellings" if "dwellings" in it else "dwellings not given"
                )
                notes.append(f"{it['people']:,.0f} people ({homes}) added to {code}")
            elif kind == "improve_greenspace":
                x, y = self.locate(it)
                r = float(np.sqrt(it["area_m2"] / np.pi))
                green_polys.append(shapely.Point(x, y).buffer(r))
        if green_polys:
            base = self.baseline("greenspace")
            extra = gpd.GeoDataFrame(geometry=green_polys, crs=WORKING_CRS)
            fs_new = facilities_from_layer(self.net, extra, name="new_greenspace")
            st = states.get("greenspace", base)
            merged = FacilitySet(
                "greenspace",
                np.append(st.facilities.ids, fs_new.ids),
                np.append(st.facilities.fac, fs_new.fac + st.facilities.ids.size),
                np.append(st.facilities.node, fs_new.node),
                np.append(st.facilities.offset_m, fs_new.offset_m),
            )
            states["greenspace"] = model.solve(merged)
        return self._compare(sc, states, pop_add, threshold, notes, t0, assumed)

    def _per_lsoa(self, v: np.ndarray, *, mean: bool) -> np.ndarray:
        """Origin values summed (or averaged) per LSOA, in ``place.lsoa`` order; NaN where none."""
        cnt = self._ocount
        s = np.bincount(self._opos[self._oin], weights=v[self._oin], minlength=cnt.size)
        return np.divide(s, cnt if mean else 1.0, out=np.full(cnt.size, np.nan), where=cnt > 0)

    def _compare(
        self,
        sc: dict[str, Any],
        states: dict[str, NearestState],
        pop_add: pd.Series,
        threshold: float,
        notes: list[str],
        t0: float,
        assumed: Mapping[str, Any] | None,
    ) -> ScenarioResult:
        people = _nan0(np.asarray(self.people_per_origin, dtype=float))
        index = self.place.lsoa.index
        pop = self.place.weights["population"]
        cols: dict[str, Any] = {
            "population_base": pop.reindex(index),
            "population_scn": (pop + pop_add).reindex(index),
        }
        with np.errstate(invalid="ignore"):
            for f, st in states.items():
                if f not in self._base_min:
                    self._base_min[f] = self._origin_minutes(self._base[f])
                before, after = self._base_min[f], self._origin_minutes(st)
                cols[f"{f}_min_base"] = self._per_lsoa(before, mean=True)
                cols[f"{f}_min_scn"] = self._per_lsoa(after, mean=True)
                cols[f"{f}_min_change"] = cols[f"{f}_min_scn"] - cols[f"{f}_min_base"]
                newly = (after <= threshold) & (before > threshold)
                # residents are estimated per home cell; shown as whole people per LSOA, and every
                # total (localities, deciles, comparisons, app and CLI) sums these same numbers
                cols[f"{f}_people_newly_within"] = np.rint(
                    self._per_lsoa(people * newly, mean=False)
                )
        areas = pd.DataFrame(cols, index=index)
        if self.demand is not None or assumed:
            self._demand_changes(areas, states, pop.reindex(index), notes, assumed or {})
        localities = {lvl: self._aggregate(areas, lvl) for lvl in self.place.levels}
        newly_cols = [c for c in areas if c.endswith("_people_newly_within")]
        if "imd2025_decile" in self.place.indicators:
            dec = self.place.indicators["imd2025_decile"]
            by_dec = areas[newly_cols].groupby(dec).sum()
            by_dec["population"] = pop.groupby(dec).sum()
        else:  # the pack has no IoD 2025: say so rather than fail
            by_dec = pd.DataFrame(columns=[*newly_cols, "population"])
            notes.append(
                f"No IMD 2025 deciles for {self.place.name}: "
                f"{self.place.unavailable.get('imd2025_decile', 'not in the pack')}."
            )
        by_dec.index.name = "imd2025_decile"
        return ScenarioResult(sc, areas, localities, by_dec, time.perf_counter() - t0, notes)

    def effect(self, facility: str) -> Any:
        """
        The estimated effect of access to ``facility`` on the engine's demand (computed once).

        Returns ``None`` when the engine has no demand or the place has no access
        column for the facility.
        """
        if self.demand is None:
            return None
        if facility not in self._effects:
            from placekit.effects import estimate_access_effect

            col = f"{facility}_{self.mode}_min"
            if col not in self.place.indicators.columns:
                self._effects[facility] = None
                return None
            demand = self.demand

            def build() -> Any:
                return estimate_access_effect(self.place, demand, col, random_state=0)

            store = self._effect_store if isinstance(demand, str) else None  # ids only
            self._effects[facility] = store(f"{demand}|{col}", build) if store else build()
        return self._effects[facility]

    def _demand_changes(
        self,
        areas: pd.DataFrame,
        states: Mapping[str, NearestState],
        pop: pd.Series,
        notes: list[str],
        assumed: Mapping[str, Any],
    ) -> None:
        """Demand change per facility type: effect x access change (estimated, and assumed)."""
        from placekit.effects import predicted_change

        for f in states:
            delta = areas[f"{f}_min_change"].fillna(0.0)
            for suffix, eff in (("", self.effect(f)), ("_assumed", assumed.get(f))):
                if eff is None:
                    continue
                pc = predicted_change(eff, delta, pop)
                for c in ("demand_change", "demand_change_lower", "demand_change_upper"):
                    areas[f"{f}_{c}{suffix}"] = pc[c]
                notes.append(str(pc.attrs.get("message", eff.sentence)))

    def _level(self, level: str) -> tuple[pd.Index, np.ndarray]:
        """The localities of ``level`` (sorted codes) and each LSOA's position among them."""
        if level not in self._levels:
            key = self.place.codes(level).reindex(self.place.lsoa.index)
            uniq = pd.Index(sorted(key.dropna().unique()), name=key.name)
            self._levels[level] = (uniq, np.asarray(uniq.get_indexer(key), dtype=np.int64))
        return self._levels[level]

    def _aggregate(self, areas: pd.DataFrame, level: str) -> pd.DataFrame:
        uniq, pos = self._level(level)
        ok = pos >= 0
        k, m = pos[ok], len(uniq)

        def total(v: np.ndarray) -> np.ndarray:
            return np.bincount(k, weights=_nan0(v[ok]), minlength=m)

        w = areas["population_base"].to_numpy(dtype=float)
        w_sum = total(w)
        out = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            share = w / np.where(ok, w_sum[np.where(ok, pos, 0)], np.nan)
            for c in areas.columns:
                v = areas[c].to_numpy(dtype=float)
                if c.endswith("_people_newly_within") or c.startswith("population_"):
                    out[c] = total(v)
                elif c.endswith("_sd"):
                    out[c] = np.sqrt(total(v**2 * share**2))
                else:
                    out[c] = total(v * w) / w_sum
        res = pd.DataFrame(out, index=uniq)
        res.insert(0, "area_name", self.place.localities[level]["area_name"].reindex(res.index))
        return res


def compare_scenarios(results: dict[str, ScenarioResult]) -> pd.DataFrame:
    """Side-by-side headline figures of several scenario results, one column per scenario."""
    rows = {}
    for name, r in results.items():
        a = r.areas
        d: dict[str, float] = {}
        for c in a.columns:
            if c.endswith("_people_newly_within"):
                d[c] = float(a[c].sum())
            elif c.endswith("_min_change"):
                d[c.replace("_change", "_mean_change")] = float(
                    (a[c] * a["population_base"]).sum() / a["population_base"].sum()
                )
        for c in a.columns:
            if c.endswith("_demand_change"):
                d[f"{c}_mean"] = float(
                    (a[c] * a["population_base"]).sum() / a["population_base"].sum()
                )
        d["people_added"] = float((a["population_scn"] - a["population_base"]).sum())
        rows[name] = d
    return pd.DataFrame(rows)

"""A self-contained HTML locality pack: map, indicators against the city, types, drivers, tiers.

The map is inline SVG drawn from the boundaries (no scripts, no tiles, no
outside requests), so the file opens anywhere, offline. Every piece of text is
HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from placekit.errors import DataError
from placekit.layers import TIER_RGB
from placekit.place import Place
from placekit.profile import locality_profile

__all__ = ["TIER_COLOURS", "locality_report", "svg_map", "trends_html"]

TIER_COLOURS = {tier: "#{:02x}{:02x}{:02x}".format(*rgb) for tier, rgb in TIER_RGB.items()}


def svg_map(
    areas: gpd.GeoDataFrame,
    colours: pd.Series,
    *,
    width_px: int = 520,
    outline: gpd.GeoDataFrame | None = None,
) -> str:
    """An inline SVG of ``areas`` (EPSG:27700) filled with ``colours`` (CSS colours by index)."""
    minx, miny, maxx, maxy = areas.total_bounds
    scale = width_px / max(maxx - minx, 1.0)
    height = int((maxy - miny) * scale) + 2
    paths = []
    for code, geom in areas.geometry.simplify(10).items():
        polys = getattr(geom, "geoms", [geom])
        d = []
        for poly in polys:
            for ring in [poly.exterior, *poly.interiors]:
                xy = np.asarray(ring.coords)
                pts = " ".join(f"{(x - minx) * scale:.1f},{(maxy - y) * scale:.1f}" for x, y in xy)
                d.append(f"M{pts}Z")
        fill = html.escape(str(colours.get(code, "#ffffff")))
        title = html.escape(
            str(areas.loc[code, "area_name"]) if "area_name" in areas else str(code)
        )
        paths.append(
            f'<path d="{" ".join(d)}" fill="{fill}" stroke="#fff" stroke-width="0.6" '
            f'fill-rule="evenodd"><title>{title} ({html.escape(str(code))})</title></path>'
        )
    if outline is not None:
        for geom in outline.geometry.simplify(10):
            for poly in getattr(geom, "geoms", [geom]):
                xy = np.asarray(poly.exterior.coords)
                pts = " ".join(f"{(x - minx) * scale:.1f},{(maxy - y) * scale:.1f}" for x, y in xy)
                paths.append(f'<path d="M{pts}Z" fill="none" stroke="#222" stroke-width="1.5"/>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_px}" height="{height}" '
        f'viewBox="0 0 {width_px} {height}" role="img">{"".join(paths)}</svg>'
    )


def _table(df: pd.DataFrame, *, digits: int = 2) -> str:
    return df.to_html(
        escape=True, float_format=lambda v: f"{v:,.{digits}f}", border=0, classes="t", na_rep="–"
    )


def trends_html(place: Place, level: str, area: str) -> str:
    """
    The trends part of a locality pack: IoD 2019 -> 2025 against England, Census 2011 -> 2021.

    Each part that the pack cannot supply says so, with the reason
    (:mod:`placekit.change`).

    Parameters
    ----------
    place
        The place.
    level
        One of ``place.levels``.
    area
        The locality's code at ``level``.

    Returns
    -------
    str
        An HTML fragment (headings, tables, notes; no scripts).
    """
    from placekit import change as ch

    esc = html.escape
    out = ["<h2>Trends</h2>"]
    try:
        iod = ch.change_table(place, level)
    except DataError as err:
        out.append(f"<p class='small'>IoD 2019 → 2025: unavailable. {esc(str(err))}</p>")
    else:
        row = iod.loc[area]
        doms = [d for d in ch.DOMAINS if f"{d}_change_pct" in iod.columns]
        t = pd.DataFrame(
            {
                "national percentile 2019": [row[f"{d}_pct_2019"] for d in doms],
                "2025": [row[f"{d}_pct_2025"] for d in doms],
                "change (points)": [row[f"{d}_change_pct"] for d in doms],
                "against England": [row[f"{d}_status"] for d in doms],
                "% residents in England's most deprived 10%, 2019": [
                    100 * row[f"{d}_decile1_share_2019"] for d in doms
                ],
                "2025 ": [100 * row[f"{d}_decile1_share_2025"] for d in doms],
                "LSOAs improved": [int(row[f"{d}_n_improved"]) for d in doms],
                "LSOAs worsened": [int(row[f"{d}_n_worsened"]) for d in doms],
            },
            index=pd.Index([ch.DOMAIN_WORDS.get(d, d) for d in doms], name="IoD 2019 → 2025"),
        )
        imd = "imd" if "imd" in doms else doms[0]
        out.append(
            f"<p>Deprivation relative to England, IoD 2019 → 2025: the "
            f"{esc(ch.DOMAIN_WORDS.get(imd, imd))} percentile moved from "
            f"{row[f'{imd}_pct_2019']:.1f} to {row[f'{imd}_pct_2025']:.1f} "
            f"({esc(str(row[f'{imd}_status']) or 'no data')}; 0 = most deprived in England, "
            "England's middle is 50 and England's share in its most deprived 10% is 10%).</p>"
        )
        out.append(_table(t, digits=1))
        out.append(
            f"<p class='small'>{esc(str(iod.attrs.get('method', '')))}. Localities: "
            f"{esc(str(iod.attrs.get('aggregation', '')))}.</p>"
        )
    try:
        cen = ch.census_change_table(place, level)
    except DataError as err:
        out.append(f"<p class='small'>Census 2011 → 2021: unavailable. {esc(str(err))}</p>")
    else:
        row = cen.loc[area]
        tot = cen.attrs.get("place_totals", {})
        rows = {}
        for m, words in (
            ("hh_deprived_1plus", "households deprived in 1+ dimensions (%)"),
            ("hh_deprived_2plus", "households deprived in 2+ dimensions (%)"),
        ):
            rows[words] = [
                row[f"{m}_pct_2011"],
                row[f"{m}_pct_2021"],
                row[f"{m}_change_pts"],
                row[f"{m}_status"],
                row[f"{m}_status_vs_place"],
                tot.get(f"{m}_pct_2011", np.nan),
                tot.get(f"{m}_pct_2021", np.nan),
            ]
        rows["usual residents"] = [
            row["population_2011"],
            row["population_2021"],
            row["population_change"],
            row["population_status"],
            "",
            tot.get("population_2011", np.nan),
            tot.get("population_2021", np.nan),
        ]
        t = pd.DataFrame.from_dict(
            rows,
            orient="index",
            columns=[
                "2011",
                "2021",
                "change",
                "tested change",
                f"against {place.name}'s change",
                f"{place.name} 2011",
                f"{place.name} 2021",
            ],
        )
        t.index.name = "Census 2011 → 2021"
        out.append(_table(t, digits=1))
        vs = cen.attrs.get("unavailable", {}).get("census_vs_england", "")
        out.append(
            f"<p class='small'>{esc(str(cen.attrs.get('method', '')))}. Against England: "
            f"unavailable ({esc(str(vs))}).</p>"
        )
    return "".join(out)


def locality_report(
    place: Place,
    level: str,
    area: str,
    *,
    prevention: pd.DataFrame | None = None,
    drivers: dict[str, object] | None = None,
    types: pd.Series | None = None,
    portraits: pd.DataFrame | None = None,
) -> str:
    """
    Build one locality's HTML pack.

    Parameters
    ----------
    place
        The place.
    level
        One of ``place.levels`` (e.g. ``"ward"``, ``"lad"`` or a council's own level).
    area
        The locality's code or name.
    prevention
        Output of :func:`placekit.targeting.prevention_table` (tiers and priorities).
    drivers
        Output of :func:`placekit.drivers.explain_demand`.
    types, portraits
        Cluster labels per LSOA and their pen portraits.

    Returns
    -------
    str
        A complete HTML document.
    """
    locs = place.localities.get(level)
    if locs is None:
        msg = f"level must be one of {place.levels} for {place.name}; got {level!r}."
        raise DataError(msg)
    if area not in locs.index:
        by_name = locs.index[locs["area_name"].str.lower() == str(area).lower()]
        if len(by_name) == 0:
            msg = (
                f"No {level} called {area!r}. Choose one of: "
                f"{', '.join(sorted(locs['area_name'].astype(str))[:12])}"
                f"{' …' if len(locs) > 12 else ''}."
            )
            raise DataError(msg)
        area = str(by_name[0])
    name = str(locs.loc[area, "area_name"])
    mine = place.lsoa.index[place.codes(level) == area]
    lsoa = place.lsoa.loc[mine]
    prof = locality_profile(place, level, area)
    parts = [
        f"<h1>{html.escape(name)}</h1>",
        f"<p class='sub'>{html.escape(place.level_label(level, count=False))} · "
        f"{len(mine)} neighbourhoods (LSOA 2021) · "
        f"population {place.weights['population'][mine].sum():,.0f} (Census 2021) · "
        f"made {dt.date.today().isoformat()} with placekit</p>",
        "<p class='caveat'>Everything here describes areas, not people: area-level associations, "
        "never an individual's risk, and not proof of cause.</p>",
    ]
    if prevention is not None:
        tiers = prevention["tier"].reindex(mine)
        parts.append("<h2>Prevention tiers</h2>")
        parts.append(
            svg_map(lsoa, tiers.map(TIER_COLOURS).fillna("#ffffff"), outline=locs.loc[[area]])
        )
        parts.append(
            "<p>"
            + " ".join(
                f"<span class='sw' style='background:{c}'></span>{t}"
                for t, c in TIER_COLOURS.items()
            )
            + "</p>"
        )
        rules = prevention.attrs.get("rules", {})
        parts.append(
            f"<p class='small'>Rules (percentiles across {html.escape(place.name)}): "
            "tertiary if demand ≥ "
            f"{rules.get('demand_high')}; secondary if predicted demand ≥ "
            f"{rules.get('predicted_high')} "
            f"or demand already ≥ {rules.get('demand_elevated')}; primary if driver exposure ≥ "
            f"{rules.get('exposure_high')}; otherwise universal.</p>"
        )
        ranked_here = level == place.locality_level
        top = prevention.loc[mine].sort_values(
            "rank_in_locality" if ranked_here else "score", ascending=ranked_here
        )
        parts.append("<h2>Priorities (highest first)</h2>")
        parts.append(
            _table(top[["area_name", "tier", "reason", "score", "demand", "deprivation"]].head(15))
        )
    parts.append(f"<h2>Indicators against {html.escape(place.name)}</h2>")
    parts.append(_table(prof["indicators"]))
    parts.append("<h2>Most and least served neighbourhoods</h2>")
    parts.append(_table(prof["served"]))
    if types is not None:
        mix = types.reindex(mine).value_counts().rename("neighbourhoods").to_frame()
        if portraits is not None:
            mix = mix.join(portraits[["name"]])
        parts.append("<h2>Neighbourhood types</h2>" + _table(mix))
    if drivers is not None:
        from placekit.drivers import driver_label, importance_words

        imp = drivers["importance"]
        assert isinstance(imp, pd.DataFrame)
        demand = driver_label(place.catalogue, str(drivers.get("demand", "demand")))
        parts.append(f"<h2>Top drivers of {html.escape(demand)}</h2>")
        parts.append(
            "<p class='small'>Permutation importance on held-out localities (drop in R²); "
            f"held-out R² {float(np.nanmax(np.asarray(drivers['scores'], dtype=float))):.2f}.</p>"
        )
        words = importance_words(imp.head(8), place.catalogue).set_index("driver group")
        parts.append(_table(words, digits=3))
    parts.append(trends_html(place, level, area))
    parts.append(
        "<h2>Sources and attributions</h2><ul>"
        + "".join(f"<li>{html.escape(a)}</li>" for a in place.attributions)
        + "</ul>"
    )
    css = (
        "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}"
        ".t{border-collapse:collapse;font-size:13px}"
        ".t td,.t th{padding:3px 8px;border-bottom:1px solid #ddd}"
        ".caveat{background:#fff4e5;padding:8px;border-left:4px solid #f0a030}"
        ".sub,.small{color:#555}"
        ".sw{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;border:1px solid #999}"
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(name)} locality pack</title><style>{css}</style></head><body>"
        + "".join(parts)
        + "</body></html>"
    )


def write_report(html_text: str, path: str | Path) -> Path:
    """Write a report to ``path`` (UTF-8)."""
    p = Path(path)
    p.write_text(html_text, encoding="utf-8")
    return p

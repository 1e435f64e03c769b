"""Pilots: upload service data over time, define a pilot, evaluate it, chart it, export it."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

import placekit
from placekit.classes import suppressed_label
from placekit.errors import PlacekitError, explain
from placekit.pilots import SCHEMA_VERSION, evaluate_pilot, parse_pilot, validate_pilot
from placekit.spc import RULES, spc_chart, spc_summary, xmr
from placekit.text import md_escape
from placekit.timeseries import SeriesProtection, ServiceSeries, protect_series, read_series
from sections._common import base_place, ctx

NAME = "Pilots"
#: The Making Data Count rules in words (as :mod:`placekit.spc` applies them).
RULE_WORDS = {
    "outside_limits": "a point outside the process limits (mean ± 3 sigma)",
    "shift": "a shift: 7 or more points in a row on one side of the mean",
    "trend": "a trend: 7 or more points in a row each rising, or each falling",
    "two_of_three": "two of three points in a row beyond 2 sigma on the same side of the mean",
}
RUNNING = "(still running)"
PILOT_GROUP = "pilot_group"


# ----------------------------------------------------------------------------- cached calls
@st.cache_data(show_spinner="Reading the time series…", max_entries=8)
def _read(pack: str, data: bytes, name: str) -> ServiceSeries:
    return read_series(base_place(pack), data, name=name)


@st.cache_data(show_spinner="Disclosure control, period by period…", max_entries=8)
def _protect(pack: str, key: str, _series: ServiceSeries) -> SeriesProtection:
    return protect_series(_series, base_place(pack))


@st.cache_data(show_spinner="Matching comparisons and evaluating the pilot…", max_entries=8)
def _evaluate(pack: str, key: str, pilot_json: str, _series: ServiceSeries) -> Any:
    return evaluate_pilot(json.loads(pilot_json), _series, base_place(pack))


# ----------------------------------------------------------------------------- state helpers
def take_upload(data: bytes, name: str) -> None:
    """
    Read an uploaded series into the session; on a refusal keep what was there.

    The result (or the refusal, in the app's words) is left in the session for
    :func:`render` to show.
    """
    ss = st.session_state
    c = ctx()
    try:
        series = _read(c.pack, data, name)
    except PlacekitError as err:
        kept = (
            f" The series already loaded ({ss['pil_series'].source}) is kept."
            if "pil_series" in ss
            else " Nothing was loaded."
        )
        ss["pil_upload_error"] = f"{name} could not be used: {explain(err, 'app')}{kept}"
        return
    ss.pop("pil_upload_error", None)
    ss["pil_series"] = series
    ss["pil_series_key"] = hashlib.sha1(data).hexdigest()[:16] + name
    ss.pop("pil_eval", None)  # an evaluation belongs to the data it was made on
    if not ss.get("pil_demand"):
        ss["pil_demand"] = series.column


def take_pilot(data: bytes, name: str) -> None:
    """Validate a pilot file against the place; on success queue it to restore every widget."""
    ss = st.session_state
    c = ctx()
    try:
        doc = parse_pilot(data, source=name, place=c.place)
    except PlacekitError as err:
        ss["pil_load_error"] = f"{err} The pilot being defined is kept."
        return
    ss.pop("pil_load_error", None)
    level = c.loc
    codes = c.place.codes(level)
    ss["pil_pending"] = {
        "pil_name": doc["name"],
        "pil_level": level,
        "pil_locs": sorted(set(codes.reindex(doc["areas"]).dropna().astype(str))),
        "pil_areas": list(doc["areas"]),
        "pil_start": doc["start"],
        "pil_end": doc["end"] or RUNNING,
        "pil_demand": doc["demand"],
        "pil_comparisons": list(doc["comparisons"]),
    }
    n = len(doc["areas"])
    ss["pil_loaded_msg"] = (
        f"Loaded pilot {doc['name']!r}: {n} area{'' if n == 1 else 's'}, from {doc['start']}"
        + (f" to {doc['end']}" if doc["end"] else ", still running")
        + f", demand {doc['demand']!r}"
        + (f", {len(doc['comparisons'])} comparison(s) of its own" if doc["comparisons"] else "")
        + "."
    )


def _months(series: ServiceSeries) -> list[str]:
    p = series.periods
    first, last = p.min().start_time, p.max().end_time
    return [str(m) for m in pd.period_range(first, last, freq="M")]


def per_period_table(ev: Any, min_count: int) -> pd.DataFrame:
    """
    The per-period table of an evaluation as text: hidden cells say "suppressed (< 5)".

    Values are per area per period, to 3 decimals; a period whose pilot or comparison
    total is hidden shows the label there and in its estimate; unknown is blank.
    """
    t = ev.per_period
    label = suppressed_label(min_count)
    cols = ["pilot", "comparison", "synthetic", "estimate", "synthetic_estimate"]
    out = pd.DataFrame({"phase": t["phase"].astype(str)}, index=t.index)
    for col in cols:
        out[col] = [("" if pd.isna(v) else f"{float(v):.3f}") for v in t[col]]
    hid = ev.protection.hidden.get(PILOT_GROUP) if ev.protection is not None else None
    if hid is not None:
        h = hid.copy()
        h.columns = [str(p) for p in h.columns]
        for col in ("pilot", "comparison"):
            if col not in h.index:
                continue
            mask = h.loc[col].reindex(t.index).fillna(False).astype(bool).to_numpy()
            out.loc[mask, col] = label
            out.loc[mask, ["estimate", "synthetic_estimate"]] = label
    return out


# ----------------------------------------------------------------------------- drawing
def _upload_part(series: ServiceSeries | None) -> None:
    ss = st.session_state
    st.subheader("1. Service data over time")
    st.caption(
        "A table by LSOA (2011 or 2021 codes) and period: long (lsoa_code, period, "
        "referrals) or wide (one column per period, e.g. 2024-01, Jan 2024, 2024-Q1, "
        "2024-W05). Counts of 1 to 4 are never shown."
    )
    up = st.file_uploader("Upload a time series (CSV or XLSX)", type=["csv", "xlsx"], key="pil_up")
    if up is not None and ss.get("pil_up_id") != up.file_id:
        ss["pil_up_id"] = up.file_id
        take_upload(up.getvalue(), up.name)
        st.rerun()
    if ss.get("pil_upload_error"):
        st.error(md_escape(ss["pil_upload_error"]))


def _detected(c: Any, series: ServiceSeries, prot: SeriesProtection) -> None:
    place = c.place
    matched = int(series.values.notna().any(axis=1).sum())
    p = series.periods
    st.success(
        md_escape(
            f"{series.source}: {series.column!r} ({series.kind}), {series.layout} layout, "
            f"{len(p)} {series.frequency}s from {p.min()} to {p.max()}, {series.vintage} LSOA "
            f"codes; {matched} of the place's {len(place.lsoa)} LSOAs matched."
        )
    )
    with st.expander("What was detected and what disclosure control did", expanded=False):
        for n in series.notes:
            st.markdown(md_escape(f"- Upload: {n}"))
        for n in prot.notes:
            st.markdown(md_escape(f"- Disclosure control: {n}"))
        st.markdown(
            md_escape(
                f"- Published by {prot.frequency}; hidden cells show as "
                f"'{suppressed_label(prot.min_count)}'."
            )
        )


def _define_part(c: Any, series: ServiceSeries) -> dict[str, Any] | None:
    ss = st.session_state
    place = c.place
    st.subheader("2. Define the pilot")
    months = _months(series)
    levels = list(place.levels)
    if ss.get("pil_level") not in levels:
        ss["pil_level"] = c.loc
    a, b = st.columns(2)
    ss.setdefault("pil_name", "My pilot")
    name = a.text_input("Pilot name", key="pil_name")
    level = b.selectbox("Pick areas within", levels, key="pil_level", format_func=place.level_label)
    codes = place.codes(level)
    names = place.areas(level)["area_name"].astype(str)
    locs = st.multiselect(
        f"{place.level_label(level, count=False)}(s)",
        list(names.index.astype(str)),
        key="pil_locs",
        format_func=lambda k: str(names.get(k, k)),
    )
    lsoa_names = place.lsoa["area_name"].astype(str)
    chosen = [a_ for a_ in ss.get("pil_areas", []) if a_ in place.lsoa.index]
    options = sorted(set(codes.index[codes.astype(str).isin(locs)]) | set(chosen))
    ss["pil_areas"] = [a_ for a_ in chosen if a_ in options]
    areas = st.multiselect(
        "Pilot neighbourhoods (LSOA 2021)",
        options,
        key="pil_areas",
        format_func=lambda k: f"{lsoa_names.get(k, k)} ({k}) · {names.get(codes.get(k), '')}",
    )
    d1, d2, d3 = st.columns(3)
    if ss.get("pil_start") not in months:
        ss["pil_start"] = months[min(len(months) - 1, len(months) * 2 // 3)]
    start = d1.selectbox("Start (month)", months, key="pil_start")
    ends = [RUNNING, *[m for m in months if m >= start]]
    if ss.get("pil_end") not in ends:
        ss["pil_end"] = RUNNING
    end = d2.selectbox("End (optional)", ends, key="pil_end")
    if not ss.get("pil_demand"):
        ss["pil_demand"] = series.column
    demand = d3.text_input("Demand column", key="pil_demand")
    own = [x for x in ss.get("pil_comparisons", []) if x in place.lsoa.index]
    if own:
        st.caption(md_escape(f"Comparisons from the loaded file: {len(own)} LSOAs."))
    if not areas:
        st.info("Choose one or more localities, then the pilot's neighbourhoods in them.")
        return None
    doc = {
        "placekit_pilot": SCHEMA_VERSION,
        "name": name,
        "areas": list(areas),
        "start": start,
        "end": None if end == RUNNING else end,
        "demand": demand,
    }
    if own:
        doc["comparisons"] = own
    return doc


def _save_load_part(c: Any, doc: dict[str, Any] | None) -> None:
    ss = st.session_state
    a, b = st.columns(2)
    up = a.file_uploader("Load a saved pilot (JSON)", type=["json"], key="pil_file")
    if up is not None and ss.get("pil_file_id") != up.file_id:
        ss["pil_file_id"] = up.file_id
        take_pilot(up.getvalue(), up.name)
        st.rerun()
    if ss.get("pil_load_error"):
        a.error(md_escape(ss["pil_load_error"]))
    if ss.get("pil_loaded_msg"):
        a.success(md_escape(ss.pop("pil_loaded_msg")))
    if doc is not None:
        try:
            clean = validate_pilot(doc, source="this pilot", place=c.place)
        except PlacekitError as err:
            b.warning(md_escape(err))
            return
        b.download_button(
            "Save pilot (JSON)",
            json.dumps(clean, indent=2, sort_keys=True).encode(),
            file_name="pilot.json",
            mime="application/json",
            key="pil_save",
        )


def _evaluate_part(c: Any, series: ServiceSeries, doc: dict[str, Any]) -> Any:
    ss = st.session_state
    st.subheader("3. Evaluate")
    st.caption(
        "Difference-in-differences with a placebo-in-space interval and a pre-pilot trend "
        "check, and synthetic control beside it; comparison areas matched by placekit (same "
        "neighbourhood type, outside the pilot's locality, nearest on deprivation and pre-pilot "
        "demand) unless the pilot file lists its own."
    )
    pilot_json = json.dumps(doc, sort_keys=True)
    if st.button("Evaluate", key="pil_evaluate", type="primary"):
        try:
            ev = _evaluate(c.pack, ss["pil_series_key"], pilot_json, series)
            ss["pil_eval"] = (pilot_json, ss["pil_series_key"], ev)
            ss.pop("pil_eval_error", None)
        except PlacekitError as err:
            ss["pil_eval_error"] = f"This pilot cannot be evaluated: {explain(err, 'app')}"
            ss.pop("pil_eval", None)
    if ss.get("pil_eval_error"):
        st.error(md_escape(ss["pil_eval_error"]))
    held = ss.get("pil_eval")
    if not held:
        return None
    made_for, key, ev = held
    if made_for != pilot_json or key != ss.get("pil_series_key"):
        st.info("The pilot or its data changed since it was evaluated: press Evaluate again.")
        return None
    for s in ev.sentences():
        st.markdown(f"**{md_escape(s)}**" if "NOT parallel" in s else md_escape(s))
    rows = []
    for what, e in (("Difference-in-differences", ev.did), ("Synthetic control", ev.synthetic)):
        rows.append(
            {
                "method": what,
                f"estimate ({ev.unit})": round(e.estimate, 2),
                "lower": round(e.lower, 2),
                "upper": round(e.upper, 2),
                "interval": f"{e.confidence:.0%}",
                "placebo groups": e.n_placebo,
                "detectable": "yes" if e.detectable else "no (interval includes zero)",
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="pil_effects")
    verdict = "parallel" if ev.did.extra["parallel"] else "NOT parallel: read the synthetic control"
    st.caption(
        md_escape(
            f"Pre-pilot trends: {verdict} (p = {ev.did.extra['pretrend_p']:.2f}). Synthetic "
            f"control pre-pilot RMSE {ev.synthetic.extra['pre_rmse']:.2f}; placebos dropped for "
            f"a pre-pilot MSPE over {ev.synthetic.extra['mspe_ratio']:g}x the pilot's: "
            f"{ev.synthetic.extra['placebo_dropped']} of {ev.synthetic.extra['placebo_fitted']}."
        )
    )
    with st.expander(f"Comparison areas ({ev.comparisons['comparison'].nunique()})"):
        names = c.place.lsoa["area_name"].astype(str)
        comp = ev.comparisons.assign(
            comparison_name=ev.comparisons["comparison"].map(names),
            pilot_name=ev.comparisons["pilot"].map(names),
        )
        st.dataframe(comp, hide_index=True)
        for n in ev.notes:
            st.markdown(md_escape(f"- {n}"))
    st.caption(md_escape(ev.summary()["caveat"]) + " " + placekit.AREA_LEVEL_CAVEAT)
    return ev


def _chart_part(c: Any, series: ServiceSeries, prot: SeriesProtection, ev: Any) -> bytes | None:
    ss = st.session_state
    place = c.place
    st.subheader("4. Charts")
    label = suppressed_label(place.min_count)
    if ev is not None:
        t = ev.per_period
        st.markdown(md_escape(f"Pilot against comparison areas, {ev.unit} (mean per area)"))
        st.line_chart(t[["pilot", "comparison", "synthetic"]])
        n_hidden = int(t[["pilot", "comparison"]].isna().to_numpy().sum())
        st.caption(
            md_escape(
                f"From {ev.pilot['start']} the pilot runs ('phase' in the table). "
                + (f"{n_hidden} value(s) {label} are gaps in the lines." if n_hidden else "")
            )
        )
        st.dataframe(per_period_table(ev, place.min_count), key="pil_table")
    st.markdown("**Statistical process control (XmR, Making Data Count rules)**")
    published = ev.protection if ev is not None and ev.protection is not None else prot
    levels = [lv for lv in published.published if lv != "lsoa"]
    if ss.get("pil_spc_level") not in levels:  # localities: totals large enough to chart
        ss["pil_spc_level"] = c.loc if c.loc in levels else levels[0]
    a, b, cc, d = st.columns(4)
    level = a.selectbox(
        "Chart for",
        levels,
        key="pil_spc_level",
        format_func=lambda lv: (
            "pilot or comparison group"
            if lv == PILOT_GROUP
            else "the whole place"
            if lv == "all"
            else place.level_label(lv, count=False)
        ),
    )
    table = published.published[level]
    names = (
        place.areas(level)["area_name"].astype(str)
        if level in place.levels
        else pd.Series({k: str(k) for k in table.index})
    )
    if ss.get("pil_spc_area") not in list(map(str, table.index)):
        ss["pil_spc_area"] = str(table.index[0])
    area = b.selectbox(
        "Area or group",
        list(map(str, table.index)),
        key="pil_spc_area",
        format_func=lambda k: str(names.get(k, k)),
    )
    improvement = cc.selectbox(
        "Better is", ["decrease", "increase", "neutral"], key="pil_spc_better"
    )
    periods = [str(p) for p in table.columns]
    if ss.get("pil_spc_cp") not in ["(none)", *periods]:
        ss["pil_spc_cp"] = "(none)"
    cp = d.selectbox("Recalculate limits from", ["(none)", *periods], key="pil_spc_cp")
    values = table.loc[area].copy()
    values.index = periods
    try:
        chart = xmr(values, change_points=[] if cp == "(none)" else [cp], improvement=improvement)
    except PlacekitError as err:
        hidden = int(published.hidden[level].loc[area].sum()) if level in published.hidden else 0
        st.error(
            md_escape(
                f"No SPC chart for {names.get(area, area)}: {err}"
                + (f" ({hidden} of its periods are {label}.)" if hidden else "")
            )
        )
        return None
    st.markdown(md_escape(spc_summary(chart)))
    with tempfile.TemporaryDirectory() as tmp:
        png = spc_chart(
            chart,
            Path(tmp) / "spc.png",
            title=f"{series.column}: {names.get(area, area)}, by {published.frequency}",
            unit=f"{series.column} per {published.frequency}",
            attribution=place.attributions[0] if place.attributions else "",
        ).read_bytes()
    st.image(png)
    fired = {r: int(chart[r].sum()) for r in RULES}
    st.markdown(
        "\n".join(
            md_escape(f"- {RULE_WORDS[r]}: {'fired at ' + str(n) + ' point(s)' if n else 'no'}")
            for r, n in fired.items()
        )
    )
    st.caption(md_escape(f"{chart.attrs['method']}; sigma = {chart.attrs['sigma']}."))
    ss["pil_spc_png"] = png
    return png


def _export_part(c: Any, ev: Any, png: bytes | None) -> None:
    st.subheader("5. Export")
    a, b, cc = st.columns(3)
    if ev is not None:
        a.download_button(
            "Per-period table (CSV)",
            per_period_table(ev, c.place.min_count).to_csv().encode(),
            file_name="pilot_per_period.csv",
            mime="text/csv",
            key="pil_dl_csv",
        )
        b.download_button(
            "Summary (JSON)",
            json.dumps(ev.summary(), indent=2, default=float).encode(),
            file_name="pilot_summary.json",
            mime="application/json",
            key="pil_dl_json",
        )
    else:
        a.caption("Evaluate the pilot to export its table and summary.")
    if png is not None:
        cc.download_button(
            "SPC chart (PNG)", png, file_name="pilot_spc.png", mime="image/png", key="pil_dl_png"
        )


def render() -> None:
    ss = st.session_state
    c = ctx()
    pending = ss.pop("pil_pending", None)
    if pending:  # a loaded pilot restores every widget before they draw
        ss.update(pending)
    queued = ss.pop("pil_pending_upload", None)
    if queued:  # (bytes, file name), as the uploader hands them over
        take_upload(*queued)
    queued = ss.pop("pil_pending_pilot", None)
    if queued:
        take_pilot(*queued)
        pending = ss.pop("pil_pending", None)
        if pending:
            ss.update(pending)
    series: ServiceSeries | None = ss.get("pil_series")
    _upload_part(series)
    if series is None:
        st.info("Upload service data over time to define and evaluate a pilot.")
        _save_load_part(c, None)
        st.caption(placekit.AREA_LEVEL_CAVEAT)
        return
    prot = _protect(c.pack, ss["pil_series_key"], series)
    _detected(c, series, prot)
    doc = _define_part(c, series)
    _save_load_part(c, doc)
    ev = _evaluate_part(c, series, doc) if doc is not None else None
    png = _chart_part(c, series, prot, ev)
    _export_part(c, ev, png)
    st.caption(placekit.AREA_LEVEL_CAVEAT)

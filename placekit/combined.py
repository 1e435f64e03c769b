"""Reading a batch's combined table: find it, check it, summarise it by council or MSOA.

:mod:`placekit.batch` writes ``OUT/combined.parquet``: one row per LSOA of every
council done, with each indicator's value and its council, batch, region and
England ranks. This module is what reads it back, for the app's England section and
``placekit overview --batch DIR``: :func:`summarise_combined` gives one row per
council or MSOA (the region map), :func:`council_detail` the LSOAs of one council
(the detail when the map is zoomed into it), classed on every LSOA of the batch so a
colour means the same value in every council.

Summaries aggregate the LSOA rows of a council (or an MSOA) as the catalogue says:
counts are summed; every other indicator is the **population-weighted mean of its
LSOA values** (the combined table carries no numerators or denominators, so a rate
is weighted by residents, not by its own denominator; the summary's ``attrs`` say
so). Where the table has England deciles, the share of residents living in LSOAs
among England's worst 10 % is given too (England's own share is 10 %).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from placekit.errors import DataError

__all__ = [
    "LEVELS",
    "REQUIRED",
    "batch_root",
    "council_detail",
    "councils",
    "find_combined",
    "indicator_ids",
    "read_combined",
    "summarise_combined",
]

#: Summary levels: ``{level: (code column, name column)}``.
LEVELS = {"council": ("council_code", "council_name"), "msoa": ("msoa_code", "msoa_name")}
#: Columns every combined table has.
REQUIRED = ("council_code", "council_name", "population")
_KNOWN_SUFFIXES = (
    "_council_rank",
    "_batch_rank",
    "_region_rank",
    "_england",
    "_england_rank",
    "_england_decile",
    "_vs_england",
)


def batch_root() -> Path:
    """Where batch outputs are looked for: ``PLACEKIT_BATCH``, else ``~/placekit-batch``."""
    env = os.environ.get("PLACEKIT_BATCH")
    return Path(env).expanduser() if env else Path.home() / "placekit-batch"


def find_combined(root: str | Path | None = None) -> list[Path]:
    """
    Combined tables under ``root``: ``root/combined.parquet`` and one level of sub-folders.

    Returns
    -------
    list of Path
        Sorted; empty when ``root`` does not exist or holds none.
    """
    base = Path(root).expanduser() if root is not None else batch_root()
    if not base.is_dir():
        return []
    hits = [base / "combined.parquet", *sorted(base.glob("*/combined.parquet"))]
    return [p for p in hits if p.is_file()]


def read_combined(path: str | Path) -> pd.DataFrame:
    """
    Read a combined table (a ``combined.parquet`` file or the batch folder holding it).

    Raises
    ------
    DataError
        If there is no such file, it cannot be read, or it lacks :data:`REQUIRED`.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "combined.parquet"
    if not p.is_file():
        msg = (
            f"No combined table at {str(p)[:200]}. Run `placekit batch ... --out DIR` first; "
            "it writes DIR/combined.parquet."
        )
        raise DataError(msg)
    try:
        table = pd.read_parquet(p)
    except (OSError, ValueError) as err:
        msg = f"{p.name} could not be read as Parquet ({str(err)[:120]}); is it a batch output?"
        raise DataError(msg) from None
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        msg = (
            f"{p} is not a placekit batch table: it lacks column(s) {missing}. "
            f"Columns present: {sorted(map(str, table.columns))[:12]}."
        )
        raise DataError(msg)
    return table


def indicator_ids(table: pd.DataFrame) -> list[str]:
    """The indicators of a combined table (each has a ``<id>_council_rank`` column)."""
    return [
        str(c)
        for c in table.columns
        if f"{c}_council_rank" in table.columns and not str(c).endswith(_KNOWN_SUFFIXES)
    ]


def summarise_combined(
    table: pd.DataFrame, *, level: str = "council", indicators: list[str] | None = None
) -> pd.DataFrame:
    """
    One row per council (or MSOA) of a combined table.

    Parameters
    ----------
    table
        From :func:`read_combined`.
    level
        ``"council"`` or ``"msoa"``.
    indicators
        Indicator ids to summarise (default: every one in the table).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``code``: ``name``, ``council_code``, ``council_name``,
        ``region_name`` (when present), ``n_lsoa``, ``population``, then per
        indicator its value (counts summed, else population-weighted mean of the
        LSOA values), ``<id>_rank`` among the summary's rows (1 = worst, by the
        catalogue's direction) and, where England deciles are in the table,
        ``<id>_england_worst10_pct`` (% of residents in LSOAs among England's worst
        10 %). ``attrs`` record the method.

    Raises
    ------
    DataError
        For an unknown level or indicator, or a table without that level's columns.
    """
    from placekit.catalogue import load_catalogue

    if level not in LEVELS:
        msg = f"level must be one of {list(LEVELS)}; got {level!r}."
        raise DataError(msg)
    code_col, name_col = LEVELS[level]
    if code_col not in table.columns or table[code_col].isna().all():
        msg = (
            f"The combined table has no {code_col!r} values, so it cannot be summarised by "
            f"{level}; summarise it by council instead."
        )
        raise DataError(msg, fixes={"cli": "Use --level council."})
    have = indicator_ids(table)
    wanted = have if indicators is None else list(indicators)
    bad = [i for i in wanted if i not in have]
    if bad:
        msg = f"indicator(s) {bad[:5]} are not in the combined table; it has {have[:10]}."
        raise DataError(msg)
    cat = load_catalogue()
    t = table[table[code_col].notna()]
    key = t[code_col].astype(str).rename("_key")  # not a column name: first() keeps them all
    pop = pd.to_numeric(t["population"], errors="coerce").astype(float)
    g = t.groupby(key, sort=True)
    first = g.first()
    out = pd.DataFrame(index=pd.Index(sorted(key.unique()), name="code"))
    out["name"] = first[name_col].astype(str) if name_col in first else out.index
    out["council_code"] = first["council_code"].astype(str)
    out["council_name"] = first["council_name"].astype(str)
    if "region_name" in first:
        out["region_name"] = first["region_name"].astype(str)
    out["n_lsoa"] = g.size()
    out["population"] = pop.groupby(key).sum()
    notes = {}
    for i in wanted:
        v = pd.to_numeric(t[i], errors="coerce").astype(float)
        row = cat.row(i) if i in cat else None
        kind = str(row["kind"]) if row is not None else "rate"
        direction = str(row["direction"]) if row is not None else "higher_worse"
        if kind == "count":
            out[i] = v.groupby(key).sum(min_count=1)
            notes[i] = "sum of LSOA counts"
        else:
            ok = v.notna() & pop.notna()
            out[i] = (v * pop).where(ok).groupby(key).sum(min_count=1) / pop.where(ok).groupby(
                key
            ).sum().replace(0.0, np.nan)
            notes[i] = "population-weighted mean of LSOA values"
        worse_high = direction != "higher_better"
        out[f"{i}_rank"] = out[i].rank(ascending=not worse_high, method="min")
        dec = f"{i}_england_decile"
        if dec in t.columns:
            d = pd.to_numeric(t[dec], errors="coerce")
            in_worst = (d == 1).astype(float).where(d.notna())  # decile 1 = worst (batch.py)
            out[f"{i}_england_worst10_pct"] = (
                100
                * (in_worst * pop).groupby(key).sum(min_count=1)
                / pop.where(d.notna()).groupby(key).sum().replace(0.0, np.nan)
            )
    out.attrs.update(
        {
            "level": level,
            "aggregation": notes,
            "method": (
                "counts summed; other indicators are the population-weighted mean of LSOA "
                "values (the combined table holds no denominators); ranks among the rows, "
                "1 = worst; england_worst10_pct: % of residents in LSOAs in England's worst "
                "decile (England: 10 %)"
            ),
        }
    )
    return out


def councils(table: pd.DataFrame) -> dict[str, str]:
    """The councils of a combined table, ``{code: name}`` in name order."""
    first = table.groupby(table["council_code"].astype(str))["council_name"].first().astype(str)
    return dict(sorted(first.items(), key=lambda kv: (kv[1], kv[0])))


def council_detail(
    table: pd.DataFrame,
    council: str,
    indicator: str,
    *,
    k: int = 5,
    scheme: str = "quantiles",
) -> pd.DataFrame:
    """
    The LSOAs of one council in a combined table, classed on every LSOA of the batch.

    The class breaks are computed over all the table's LSOAs (every council of the
    batch), not over the council alone, so one colour means one range of values
    whichever council is shown, and a council's LSOAs compare with its neighbours'.

    Parameters
    ----------
    table
        From :func:`read_combined`.
    council
        The council's code (``council_code``; case and spaces ignored).
    indicator
        An indicator of the table (:func:`indicator_ids`).
    k, scheme
        Number of classes and ``"quantiles"`` or ``"natural_breaks"``
        (:func:`placekit.classes.classify`).

    Returns
    -------
    pandas.DataFrame
        The council's rows, indexed by LSOA code in code order: ``lsoa_name``,
        ``msoa_code``, ``msoa_name``, ``council_code``, ``council_name`` (those the
        table has), ``population``, ``value`` (the indicator), its
        ``<id>_council_rank`` and ``<id>_batch_rank`` when present, and ``class``
        (0 = lowest values .. k-1; -1 = no value). ``attrs``: ``council``,
        ``council_name``, ``indicator``, ``bins`` (upper bounds over the batch),
        ``colours`` (one per class), ``legend`` (a :class:`placekit.classes.Legend`
        without title), ``k``, ``scheme`` and ``n_batch_lsoa``.

    Raises
    ------
    DataError
        For a council or indicator not in the table, or a bad ``k`` or ``scheme``.
    """
    from placekit.classes import SCHEMES, classify

    have = indicator_ids(table)
    if indicator not in have:
        msg = f"indicator {indicator!r} is not in the combined table; it has {have[:10]}."
        raise DataError(msg)
    if not (isinstance(k, int) and 2 <= k <= 9):
        msg = f"k must be a whole number from 2 to 9; got {k!r}."
        raise DataError(msg)
    if scheme not in SCHEMES:
        msg = f"scheme must be one of {sorted(SCHEMES)}; got {scheme!r}."
        raise DataError(msg)
    code = str(council).strip().upper()
    names = councils(table)
    if code not in names:
        listed = ", ".join(f"{c} ({n})" for c, n in list(names.items())[:10])
        msg = f"Council {str(council)[:40]!r} is not in the combined table; it has {listed}."
        raise DataError(msg)
    values = pd.to_numeric(table[indicator], errors="coerce").astype(float)
    bins, colours, cls, legend = classify(values, k=k, scheme=scheme)
    mine = (table["council_code"].astype(str) == code).to_numpy()
    rows = table.loc[mine]
    keep = [
        c
        for c in ("lsoa_name", "msoa_code", "msoa_name", "council_code", "council_name")
        if c in rows.columns
    ]
    out = rows[keep].copy()
    out["population"] = pd.to_numeric(rows["population"], errors="coerce")
    out["value"] = values.loc[mine].to_numpy()
    for rank in (f"{indicator}_council_rank", f"{indicator}_batch_rank"):
        if rank in rows.columns:
            out[rank] = rows[rank].to_numpy()
    out["class"] = cls.loc[mine].to_numpy().astype(int)
    out.index = pd.Index(rows.index.astype(str), name=table.index.name or "lsoa21_code")
    out = out.sort_index()
    out.attrs.update(
        {
            "council": code,
            "council_name": names[code],
            "indicator": indicator,
            "bins": list(bins),
            "colours": list(colours),
            "legend": legend,
            "k": k,
            "scheme": scheme,
            "n_batch_lsoa": len(table),
            "method": (
                f"class breaks ({scheme}, {k} classes) over all {len(table):,} LSOAs of the "
                "batch, so a colour means the same values in every council"
            ),
        }
    )
    return out

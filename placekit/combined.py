"""Reading a batch's combined table: find it, check it, summarise it by council or MSOA.

:mod:`placekit.batch` writes ``OUT/combined.parquet``: one row per LSOA of every
council done, with each indicator's value and its council, batch, region and
England ranks. This module is what reads it back, for the app's England section and
``placekit overview --batch DIR``.

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

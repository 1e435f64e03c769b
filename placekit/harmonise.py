"""Convert LSOA 2011 tables to LSOA 2021 with the ONS best-fit lookup.

Rules, by what the value is:

- unchanged codes (``U``) are copied;
- merges (``M``: several 2011 LSOAs form one 2021 LSOA): counts are summed,
  rates, scores and ranks are averaged weighted by the 2011 population;
- splits (``S``: one 2011 LSOA becomes several): rates, scores and ranks are
  inherited by every part; counts are shared out in proportion to the 2021
  population of the parts.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from placekit.errors import DataError

__all__ = ["lsoa11_to_lsoa21"]


def lsoa11_to_lsoa21(
    table: pd.DataFrame,
    lookup: pd.DataFrame,
    *,
    weight11: pd.Series,
    population21: pd.Series,
    count_columns: Sequence[str] = (),
) -> pd.DataFrame:
    """
    Harmonise a table indexed by LSOA 2011 codes to LSOA 2021 codes.

    Parameters
    ----------
    table
        Numeric columns indexed by ``LSOA11CD``.
    lookup
        The ONS lookup with ``LSOA11CD``, ``LSOA21CD`` and ``CHGIND``.
    weight11
        Population per 2011 LSOA, used to weight merges of non-count columns.
    population21
        Population per 2021 LSOA, used to share counts out over splits.
    count_columns
        Columns holding counts (summed over merges, shared out over splits);
        every other column is treated as a rate, score or rank.

    Returns
    -------
    pd.DataFrame
        Indexed by ``LSOA21CD``, sorted.
    """
    unknown = sorted(set(table.index) - set(lookup["LSOA11CD"]))
    if unknown:
        msg = f"{len(unknown)} LSOA 2011 code(s) are not in the ONS lookup: {unknown[:5]}."
        raise DataError(msg)
    lk = lookup.loc[lookup["LSOA11CD"].isin(table.index), ["LSOA11CD", "LSOA21CD"]]
    long = lk.join(table, on="LSOA11CD")
    # split shares: each 2011 code's parts, shared by 2021 population
    pop = lk["LSOA21CD"].map(population21).astype(float)
    parts_pop = pop.groupby(lk["LSOA11CD"]).transform("sum")
    share = (pop / parts_pop).where(
        parts_pop > 0, 1.0 / lk.groupby("LSOA11CD")["LSOA21CD"].transform("size")
    )
    w = lk["LSOA11CD"].map(weight11).astype(float)
    out = {}
    for col in table.columns:
        if col in count_columns:
            out[col] = (long[col] * share).groupby(lk["LSOA21CD"]).sum(min_count=1)
        else:
            ok = long[col].notna()
            num = (long[col] * w).where(ok).groupby(lk["LSOA21CD"]).sum(min_count=1)
            den = w.where(ok).groupby(lk["LSOA21CD"]).sum(min_count=1)
            out[col] = num / den
    res = pd.DataFrame(out)
    res.index.name = "LSOA21CD"
    return res.sort_index()

"""Disclosure control for counts from uploaded service data.

Primary suppression hides every count from 1 to ``min_count - 1`` (1 to 4 by
default). Secondary suppression then makes sure no hidden count can be backed
out from a total: within every group whose total can be seen (the parent
localities of the level shown, and the whole city), if exactly one member is
hidden, the smallest other member is hidden too. This repeats until no group
has a single hidden member.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from placekit.place import Place

__all__ = ["PARENTS", "secondary_suppress", "suppress_counts"]

#: The groups whose totals are visible for each level.
PARENTS = {
    "lsoa": ("ward", "neighbourhood", "lac", "city"),
    "neighbourhood": ("city",),
    "ward": ("lac", "city"),
    "lac": ("city",),
}


def secondary_suppress(counts: pd.Series, hidden: pd.Series, groups: list[pd.Series]) -> pd.Series:
    """
    Add secondary suppression so that no group has exactly one hidden member.

    Parameters
    ----------
    counts
        The true counts.
    hidden
        Boolean mask of primary suppression, indexed like ``counts``.
    groups
        Group labels (one Series per grouping), indexed like ``counts``.

    Returns
    -------
    pd.Series
        The final boolean mask.
    """
    hidden = hidden.copy()
    changed = True
    while changed:
        changed = False
        for g in groups:
            n_hidden = hidden.groupby(g).sum()
            for label in n_hidden.index[n_hidden == 1]:
                members = g.index[g == label]
                cand = counts.loc[members][~hidden.loc[members]]
                if cand.empty:
                    continue
                nonzero = cand[cand > 0]
                pick = (nonzero if not nonzero.empty else cand).sort_values(kind="stable").index[0]
                hidden.loc[pick] = True
                changed = True
    return hidden


def suppress_counts(place: Place, count_id: str, level: str) -> pd.Series:
    """
    Which areas of ``level`` must hide the uploaded count ``count_id``.

    Returns
    -------
    pd.Series
        Boolean, indexed by the codes of ``level``; True means hidden.
    """
    raw = place.indicators[count_id].astype(float)
    key = place.codes(level)
    counts = raw if level == "lsoa" else raw.groupby(key).sum(min_count=1)
    hidden = (counts >= 1) & (counts < place.min_count)
    if level == "lsoa":
        frame = place.lsoa
    else:
        first = key.groupby(key).head(1)
        frame = place.lsoa.loc[first.index].set_index(key.loc[first.index])
    groups = []
    for parent in PARENTS[level]:
        if parent == "city":
            groups.append(pd.Series("city", index=counts.index))
        else:
            groups.append(frame[f"{parent}_code"].reindex(counts.index))
    return secondary_suppress(counts.fillna(0), hidden.fillna(False).astype(bool), groups)

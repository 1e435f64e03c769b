"""Audit an upload the way an attacker would: everything placekit publishes, attacked at once.

:func:`published_tables` collects what a user can see or export for an uploaded count:
the table at every level of the place (LSOA and every locality level of the pack) and the
whole place's total, exactly as :meth:`placekit.place.Place.table` and
:func:`placekit.place.city_value` give them. :func:`audit_place` runs the linear programme
of :func:`placekit.disclosure.audit` over all of it and reports, for every hidden cell, the
tightest interval an attacker can prove. ``placekit audit FILE`` prints the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from placekit.disclosure import AuditResult, audit
from placekit.errors import DataError
from placekit.place import ALL_AREA, Place, city_value

__all__ = ["PlaceAudit", "audit_file", "audit_place", "published_tables"]


def published_tables(place: Place, count_id: str) -> dict[str, pd.Series]:
    """
    Every published value of an uploaded count: ``{level: Series}`` plus ``"all"``.

    Parameters
    ----------
    place
        The place holding the upload.
    count_id
        The indicator id of the uploaded count.

    Returns
    -------
    dict
        NaN where a cell is hidden.
    """
    tables = {lvl: place.table(lvl, [count_id])[count_id] for lvl in place.all_levels}
    tables[ALL_AREA] = pd.Series({ALL_AREA: city_value(place, count_id)})
    return tables


@dataclass(frozen=True)
class PlaceAudit:
    """The audit of one uploaded count: the LP result and the cells published per level."""

    count_id: str
    result: AuditResult
    shown: dict[str, int]
    hidden: dict[str, int]

    def summary(self) -> str:
        """A few lines for a person: what was published, what was hidden, and the verdict."""
        levels = ", ".join(
            f"{lvl} {self.shown[lvl]} shown / {self.hidden[lvl]} hidden" for lvl in self.shown
        )
        return f"{self.count_id}: {levels}.\n{self.result.summary()}"


def audit_place(place: Place, count_id: str) -> PlaceAudit:
    """
    Attack every published table of ``count_id`` with the linear programme.

    Raises
    ------
    DataError
        If ``count_id`` is not an uploaded count under disclosure control.
    """
    if place.suppress.get(count_id) != count_id:
        counts = sorted(set(place.suppress.values()))
        msg = f"{count_id!r} is not an uploaded count; uploaded counts here: {counts or 'none'}."
        raise DataError(msg)
    pub = published_tables(place, count_id)
    groupings = {lvl: place.codes(lvl) for lvl in place.levels}
    res = audit(pub, groupings, place.lsoa.index, min_count=place.min_count)
    shown = {lvl: int(s.notna().sum()) for lvl, s in pub.items()}
    hidden = {lvl: int(s.isna().sum()) for lvl, s in pub.items()}
    return PlaceAudit(count_id, res, shown, hidden)


def audit_file(place: Place, path: str | Path) -> list[PlaceAudit]:
    """
    Load a table of counts by LSOA as the app would, then audit every count in it.

    Parameters
    ----------
    place
        The place to load it into (unchanged).
    path
        A CSV or XLSX file with an LSOA code column and count columns.

    Returns
    -------
    list of PlaceAudit
        One per uploaded count column.
    """
    from placekit.userdata import add_table

    new = add_table(place, Path(path))
    counts = [c for c, base in new.suppress.items() if c == base and c not in place.suppress]
    return [audit_place(new, c) for c in counts]

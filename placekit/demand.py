"""A demand measure from the user's own file, ready for the drivers model and scenarios.

Service data (referrals, attendances, caseloads) comes as a table by LSOA. It is
read by :func:`placekit.userdata.add_table`, with every check that makes, so
2011 codes are converted to 2021, small counts stay under the project's
disclosure control and hostile files are refused with a clear message. A count
is modelled as its rate per 1,000 residents (a count by itself mostly measures
how many people live there); a rate is modelled as given.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from placekit.errors import DataError

if TYPE_CHECKING:
    from placekit.place import Place

__all__ = ["DEMAND_PREFIX", "with_demand_file"]

#: Start of the indicator ids made from a demand file.
DEMAND_PREFIX = "demand"


def with_demand_file(place: Place, path: str | Path, column: str) -> tuple[Place, str]:
    """
    Add one column of a demand file to a place and say which indicator to model.

    Parameters
    ----------
    place
        The place (unchanged).
    path
        A CSV or XLSX table by LSOA (2011 or 2021 codes) with the demand column.
    column
        The heading of the demand column in the file.

    Returns
    -------
    (Place, str)
        The place with the new indicators, and the id of the one to model:
        ``demand_<column>_per_1000`` for a count (hidden wherever its count is),
        ``demand_<column>`` for a rate.

    Raises
    ------
    DataError
        No file at ``path``; an empty column name; everything
        :func:`placekit.userdata.add_table` refuses (no LSOA code column, no
        such column, values that are not numbers, codes outside the place...).

    Examples
    --------
    >>> new, demand = with_demand_file(place, "referrals.csv", "referrals")  # doctest: +SKIP
    >>> demand  # doctest: +SKIP
    'demand_referrals_per_1000'
    """
    from placekit.userdata import MissingColumnsError, add_table

    src = Path(path)
    if not src.is_file():
        msg = f"No demand file at {src}; give a CSV or XLSX table by LSOA code."
        raise DataError(msg)
    if not str(column).strip():
        msg = "The demand column name is empty; give the heading of a column of the file."
        raise DataError(msg, fixes={"cli": "Give it with --demand COLUMN."})
    try:
        new = add_table(place, src, name=src.name, prefix=DEMAND_PREFIX, value_columns=[column])
    except MissingColumnsError as err:  # the column was named by the caller: say how to rename
        err.fixes.update(
            cli="Give --demand one of those headings.",
            library="Give column one of those headings.",
        )
        raise
    added = [c for c in new.catalogue.ids if c not in place.catalogue]
    rates = [c for c in added if c.endswith("_per_1000")]
    chosen = rates[0] if rates else (added[0] if added else None)
    if chosen is None:  # pragma: no cover - add_table always adds the column it read
        msg = f"{src.name}: column {column!r} gave no indicator."
        raise DataError(msg)
    return new, chosen

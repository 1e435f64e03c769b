"""The indicator catalogue: what each indicator means and how it aggregates.

The catalogue is data kept in the repository (``data/indicators.csv``). Each row
has a stable snake_case ``id`` and says how the value is derived from the pack
(``derivation``), how it aggregates to localities (``aggregation`` and
``weight``), which way is worse (``direction``) and which prevention tier it
informs (``tier``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from placekit.errors import DataError, SchemaError

__all__ = [
    "AGGREGATIONS",
    "COLUMNS",
    "DIRECTIONS",
    "THEMES",
    "TIERS",
    "Catalogue",
    "load_catalogue",
]


COLUMNS = (
    "id",
    "label",
    "theme",
    "unit",
    "direction",
    "kind",
    "aggregation",
    "weight",
    "tier",
    "source",
    "year",
    "geography",
    "licence",
    "derivation",
)
THEMES = (
    "planning",
    "housing",
    "transport",
    "leisure and green space",
    "community assets",
    "health and care demand",
    "deprivation context",
)
DIRECTIONS = ("higher_worse", "higher_better", "neutral")
#: sum: counts are added; weighted_mean: rates and scores are averaged with the
#: named weight (its denominator, so the result equals sum(numerator)/sum(denominator));
#: weighted_mean_rank: a population-weighted mean of national ranks or deciles,
#: labelled as such because it is not itself a rank.
AGGREGATIONS = ("sum", "weighted_mean", "weighted_mean_rank")
TIERS = ("primary", "secondary", "tertiary", "context")
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Catalogue:
    """
    The indicator catalogue as a validated table.

    Attributes
    ----------
    table
        One row per indicator, indexed by ``id``, with the columns of
        :data:`COLUMNS` (less ``id``).
    """

    table: pd.DataFrame
    #: Rows already looked up (``table.loc`` costs ~50 us; the app asks for labels thousands of
    #: times a run). Filled on demand; the catalogue is immutable, so it never goes stale.
    _rows: dict[str, pd.Series] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __contains__(self, indicator_id: object) -> bool:
        """Whether ``indicator_id`` is in the catalogue."""
        return indicator_id in self.table.index

    def __len__(self) -> int:
        """Number of indicators."""
        return len(self.table)

    @property
    def ids(self) -> list[str]:
        """All indicator ids, in catalogue order."""
        return [str(i) for i in self.table.index]

    def row(self, indicator_id: str) -> pd.Series:
        """
        Metadata of one indicator (the same object on every call: read it, do not change it).

        Raises
        ------
        DataError
            If the id is unknown; the message lists close matches.
        """
        if indicator_id not in self.table.index:
            close = [i for i in self.ids if indicator_id.split("_")[0] in i][:8]
            msg = (
                f"Unknown indicator id {indicator_id!r}. "
                f"Close ids: {close or self.ids[:8]}. "
                "Run `placekit indicators` to list them all."
            )
            raise DataError(msg)
        hit = self._rows.get(indicator_id)
        if hit is None:
            hit = self._rows[indicator_id] = self.table.loc[indicator_id]
        return hit

    def by_theme(self, themes: str | list[str]) -> list[str]:
        """
        Ids of every indicator in the given theme(s).

        Raises
        ------
        DataError
            If a theme is not one of :data:`THEMES`.
        """
        wanted = [themes] if isinstance(themes, str) else list(themes)
        bad = [t for t in wanted if t not in THEMES]
        if bad:
            msg = f"Unknown theme(s) {bad}; themes are {list(THEMES)}."
            raise DataError(msg)
        return [str(i) for i in self.table.index[self.table["theme"].isin(wanted)]]

    def with_indicator(self, indicator_id: str, **meta: str) -> Catalogue:
        """Return a new catalogue with one more (or a replaced) indicator."""
        return self.with_indicators({indicator_id: meta})

    def with_indicators(self, metas: Mapping[str, Mapping[str, object]]) -> Catalogue:
        """
        Return a new catalogue with several more (or replaced) indicators, checked once.

        Parameters
        ----------
        metas
            ``{id: {column: value}}`` for the columns of :data:`COLUMNS` (missing ones empty).
        """
        if not metas:
            return self
        rows = []
        for meta in metas.values():
            row = dict.fromkeys(COLUMNS[1:], "")
            row.update({k: str(v) for k, v in meta.items()})
            rows.append(row)
        extra = pd.DataFrame(
            rows, index=pd.Index(list(metas), name="id"), columns=list(COLUMNS[1:])
        )
        table = pd.concat([self.table.drop(index=list(metas), errors="ignore"), extra])
        return Catalogue(_check(table, source="user indicator"))


def _check(table: pd.DataFrame, *, source: str) -> pd.DataFrame:
    missing = [c for c in COLUMNS[1:] if c not in table.columns]
    if missing:
        msg = f"{source} is missing catalogue column(s) {missing}."
        raise SchemaError(msg)
    dup = table.index[table.index.duplicated()].tolist()
    if dup:
        msg = f"{source} has duplicate indicator id(s) {dup}; ids must be unique."
        raise SchemaError(msg)
    bad_ids = [i for i in table.index if not _ID_RE.match(str(i))]
    if bad_ids:
        msg = f"{source}: ids must be snake_case; got {bad_ids}."
        raise SchemaError(msg)
    for col, allowed in (
        ("theme", THEMES),
        ("direction", DIRECTIONS),
        ("aggregation", AGGREGATIONS),
        ("tier", TIERS),
    ):
        bad = table.index[~table[col].isin(allowed)].tolist()
        if bad:
            msg = f"{source}: column {col!r} must be one of {list(allowed)}; rows {bad} are not."
            raise SchemaError(msg)
    return table


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """
    Read and validate the indicator catalogue.

    Parameters
    ----------
    path
        A catalogue CSV; placekit's own (shipped as package data) by default.

    Returns
    -------
    Catalogue

    Raises
    ------
    SchemaError
        If a column is missing, an id is duplicated or not snake_case, or a
        theme, direction, aggregation or tier is not one of the allowed values.
    """
    if path is None:
        from importlib import resources

        shipped = resources.files("placekit.data").joinpath("indicators.csv")
        with shipped.open("r", encoding="utf-8") as fh:
            table = pd.read_csv(fh, dtype=str, keep_default_na=False).set_index("id")
        return Catalogue(
            _check(table, source="placekit's indicator catalogue (data/indicators.csv)")
        )
    p = Path(path)
    if not p.is_file():
        msg = f"No indicator catalogue at {p}."
        raise DataError(msg)
    try:
        table = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        msg = f"{p} is not a readable catalogue CSV ({type(exc).__name__}: {exc})."
        raise SchemaError(msg) from exc
    if "id" not in table.columns:
        msg = f"{p} has no 'id' column; the catalogue's columns are {list(COLUMNS)}."
        raise SchemaError(msg)
    return Catalogue(_check(table.set_index("id"), source=str(p)))

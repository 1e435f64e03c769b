"""Disclosure control for uploaded counts published at several overlapping levels.

Uploaded service counts per LSOA are shown at the LSOA level and summed to every
locality level the pack publishes (wards, MSOAs, council neighbourhoods, LACs, the
local authority, ...) and to the whole pack. These levels overlap without nesting,
so totals can be differenced against each other: (ward total - its visible cells)
- (neighbourhood total - its visible cells) can be exactly one hidden cell. The old
rule here ("hide 1 to 4, then make sure no group has exactly one hidden cell")
does not stop that; a linear programme over the published tables recovered 100
hidden cells of 6,033 across 30 uploads.

Method: hidden-cell protection audited by linear programming
-----------------------------------------------------------
This is the cell-suppression approach of tau-Argus and sdcTable (primary
suppression, secondary suppression, and an attacker's linear programme as the
audit), applied to all published levels at once as one system of linear
constraints. We chose it over ONS-style cell-key perturbation because every
published number stays exact (the app's tables, maps and exports add up and
agree with the council's own figures), the guarantee can be checked by anyone
from the published tables alone (:func:`audit`), and it needs no secret key
that must be kept identical across every export and release.

1. **Primary suppression.** Every cell of every published level (each LSOA,
   each locality, the whole pack ``"all"``) whose count is ``1`` to
   ``min_count - 1`` is hidden. Zeros are published: a 0 tells an attacker
   nothing about a person.
2. **Attacker model.** The attacker sees every published cell of every level,
   knows which LSOAs belong to which locality, knows which LSOAs have no data,
   and knows that counts are non-negative whole numbers. For a hidden cell,
   the attacker's interval ``[lower, upper]`` is the minimum and maximum of the
   cell's value over all non-negative LSOA counts that reproduce every
   published cell exactly (a linear programme, solved with HiGHS), with
   ``lower`` rounded up and ``upper`` rounded down to whole numbers.
3. **Protection rule.** Every hidden cell (primary or secondary, at every
   level) must satisfy ``upper - lower >= protection`` (``protection`` defaults
   to ``min_count``). Because ``lower >= 0`` this also gives
   ``upper >= min_count``: the published tables never prove that a hidden cell
   is a small count, and no hidden cell is recovered exactly.
4. **Secondary suppression.** For each hidden cell that fails the rule, a
   deviation linear programme (the incremental approach of Fischetti and
   Salazar, as in tau-Argus' LP heuristics) finds the cheapest change to the
   table that raises the cell by the missing amount while keeping every count
   non-negative and every published total unchanged; the published cells that
   change are suppressed. The changed table then is a feasible table for the
   attacker, which proves the cell's new upper bound. Suppression costs grow
   with the level (an LSOA is cheaper to hide than a ward total, and the whole
   pack total is a last resort). Hiding more cells only widens intervals, so
   this repeats until every hidden cell is proven safe.

The integer rounding of the LP bounds is exact for what an attacker can prove
with the LP relaxation; an integer programme could in rare cases tighten a bound
further, which the margin ``protection >= min_count`` absorbs in practice.

The result is one suppression pattern for the whole upload, used at every level
and in every export, so that no two outputs can be combined into a tighter
interval. Protection is deterministic: the same counts and localities always give
the same pattern (two different patterns of the same data, published twice, could
be intersected), which is why ``random_state=None`` means a fixed seed here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from placekit.errors import DataError

if TYPE_CHECKING:
    from scipy import sparse

    from placekit.place import Place

__all__ = [
    "ALL",
    "LSOA",
    "METHOD",
    "AuditResult",
    "Protection",
    "audit",
    "audit_upload",
    "place_protection",
    "protect",
    "suppress_counts",
]

#: Name of the base level (one cell per LSOA).
LSOA = "lsoa"
#: Name of the whole-pack level (one cell, code ``"all"``), always published.
ALL = "all"
#: The method recorded in every :class:`Protection`.
METHOD = (
    "hidden-cell protection audited by linear programming: primary suppression of 1 to "
    "min_count - 1 at every level, LP-deviation secondary suppression until every hidden "
    "cell's attacker interval (LP over all published cells, counts >= 0) spans at least "
    "the protection interval"
)
_REASON_SECONDARY = "secondary (protects a hidden cell)"
_REASON_NO_DATA = "no data"
_MAX_COUNT = 1e9
_TOL = 1e-6
_DEFAULT_SEED = 0


def _reason_primary(min_count: int) -> str:
    return f"primary (1 to {min_count - 1})"


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Protection:
    """
    The disclosure-controlled tables of one upload, at every published level.

    Attributes
    ----------
    published
        ``{level: Series}`` of the values that may be shown, NaN where hidden or
        where there is no data. Levels are ``"lsoa"``, every grouping, and
        ``"all"`` (one cell, code ``"all"``).
    hidden
        ``{level: Series}``, True where a cell with data is hidden.
    reason
        ``{level: Series}``: ``"primary (1 to 4)"``, ``"secondary (protects a
        hidden cell)"``, ``"no data"`` or ``""`` (published).
    method
        What was done (:data:`METHOD`).
    min_count
        The smallest count that may be shown.
    protection
        The width every hidden cell's attacker interval is guaranteed to reach.
    levels
        The level names in publication order, finest first.
    rounds
        Rounds of secondary suppression that were needed.
    n_lp
        Linear programmes solved.
    elapsed_s
        Wall time of :func:`protect` in seconds.
    """

    published: Mapping[str, pd.Series]
    hidden: Mapping[str, pd.Series]
    reason: Mapping[str, pd.Series]
    method: str
    min_count: int
    protection: float
    levels: tuple[str, ...]
    rounds: int = 0
    n_lp: int = 0
    elapsed_s: float = 0.0

    def table(self, level: str) -> pd.DataFrame:
        """
        One level as a frame with ``value``, ``hidden`` and ``reason``.

        Raises
        ------
        DataError
            If ``level`` is not one of :attr:`levels`.
        """
        _check_level_name(level, self.levels)
        return pd.DataFrame(
            {
                "value": self.published[level],
                "hidden": self.hidden[level],
                "reason": self.reason[level],
            }
        )

    def counts(self) -> pd.DataFrame:
        """Cells, primary and secondary suppressions per level (one row per level)."""
        rows = {}
        for lvl in self.levels:
            r = self.reason[lvl]
            rows[lvl] = {
                "cells": int((r != _REASON_NO_DATA).sum()),
                "primary": int(r.str.startswith("primary").sum()),
                "secondary": int((r == _REASON_SECONDARY).sum()),
            }
        out = pd.DataFrame.from_dict(rows, orient="index")
        out.loc["total"] = out.sum()
        out["hidden_share"] = (out["primary"] + out["secondary"]) / out["cells"].where(
            out["cells"] > 0
        )
        return out


@dataclass(frozen=True)
class AuditResult:
    """
    What an attacker can learn about each hidden cell from the published tables.

    Attributes
    ----------
    intervals
        One row per hidden cell (MultiIndex ``level``, ``code``) with ``lower``
        and ``upper`` (the attacker's whole-number bounds; ``upper`` may be
        ``inf``), ``width``, ``exact`` (lower == upper: the value is recovered)
        and ``too_tight`` (width below :attr:`protection`).
    protection
        The interval width required.
    min_count
        The smallest count that may be shown.
    n_lp
        Linear programmes solved.
    elapsed_s
        Wall time in seconds.
    """

    intervals: pd.DataFrame
    protection: float
    min_count: int
    n_lp: int = 0
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no hidden cell is bounded more tightly than :attr:`protection`."""
        return not bool(self.intervals["too_tight"].any())

    @property
    def n_exact(self) -> int:
        """Hidden cells whose value the published tables determine exactly."""
        return int(self.intervals["exact"].sum())

    @property
    def n_too_tight(self) -> int:
        """Hidden cells bounded more tightly than the protection interval."""
        return int(self.intervals["too_tight"].sum())

    def summary(self) -> str:
        """A few lines for a terminal: cells audited, recovered, too tight, examples."""
        iv = self.intervals
        lines = [
            f"audit: {len(iv)} hidden cells, LP over every published cell at every level "
            f"(counts >= 0, whole numbers), protection interval {self.protection:g}",
            f"  recovered exactly: {self.n_exact}",
            f"  bounded tighter than {self.protection:g}: {self.n_too_tight}",
        ]
        if len(iv):
            finite = iv["width"][np.isfinite(iv["width"])]
            narrowest = f"{finite.min():g}" if len(finite) else "unbounded"
            lines.append(f"  narrowest interval width: {narrowest}")
        bad = iv[iv["too_tight"]]
        for (lvl, code), row in bad.head(10).iterrows():
            lines.append(f"  {lvl} {code}: between {row['lower']:g} and {row['upper']:g}")
        lines.append(f"  result: {'PASS' if self.ok else 'FAIL'} ({self.n_lp} LPs, "
                     f"{self.elapsed_s:.2f} s)")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- validation


def _check_level_name(level: str, levels: Sequence[str]) -> None:
    if level not in levels:
        msg = f"level must be one of {list(levels)}; got {level!r}."
        raise DataError(msg)


def _examples(values: pd.Series, mask: np.ndarray) -> tuple[int, str]:
    bad = values[mask]
    v = bad.iloc[0]
    shown = f"{float(v):g}" if isinstance(v, (int, float, np.number)) else repr(str(v))
    return len(bad), f"e.g. {shown} in {bad.index[0]}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _validate_counts(counts: pd.Series) -> pd.Series:
    """Return the counts as floats (NaN = no data), sorted by code; raise on bad values."""
    if not isinstance(counts, pd.Series):
        msg = f"counts must be a pandas Series indexed by LSOA code; got {type(counts).__name__}."
        raise DataError(msg)
    name = f"count column {counts.name!r}" if counts.name is not None else "count column"
    dup = counts.index.duplicated()
    if dup.any():
        msg = (f"{name} has {_plural(int(dup.sum()), 'duplicated LSOA code')} "
               f"(e.g. {counts.index[dup][0]}); give one count per LSOA.")
        raise DataError(msg)
    if counts.index.hasnans:
        msg = f"{name} has a missing LSOA code in its index; every count needs an LSOA code."
        raise DataError(msg)
    if pd.api.types.is_bool_dtype(counts.dtype):
        msg = f"{name} holds True/False values; counts must be whole numbers."
        raise DataError(msg)
    values = counts
    if not pd.api.types.is_numeric_dtype(counts.dtype):
        values = pd.to_numeric(counts, errors="coerce")
        bad = values.isna().to_numpy() & counts.notna().to_numpy()
        if bad.any():
            n, eg = _examples(counts, bad)
            msg = (f"{name} has {_plural(n, 'non-numeric value')} ({eg}); "
                   "counts must be whole numbers (leave a cell empty for no data).")
            raise DataError(msg)
    x = values.astype(float)
    arr = x.to_numpy()
    checks = [
        (np.isinf(arr), "infinite value", "counts must be finite whole numbers"),
        (arr < 0, "negative value", "counts cannot be below zero"),
        (np.isfinite(arr) & (arr != np.round(arr)), "non-integer value",
         "counts must be whole numbers"),
        (np.isfinite(arr) & (arr > _MAX_COUNT), "value above 1e9",
         "that is too large to be a count of people or events per small area"),
    ]
    for mask, what, fix in checks:
        if mask.any():
            n, eg = _examples(counts, mask)
            msg = f"{name} has {_plural(n, what)} ({eg}); {fix}."
            raise DataError(msg)
    return x.sort_index(key=lambda i: i.astype(str))


def _validate_groupings(
    groupings: Mapping[str, pd.Series], index: pd.Index
) -> dict[str, pd.Series]:
    if not isinstance(groupings, Mapping):
        msg = ("groupings must be a mapping {level name: Series of locality codes indexed by "
               f"LSOA code}}; got {type(groupings).__name__}.")
        raise DataError(msg)
    out: dict[str, pd.Series] = {}
    for level, codes in groupings.items():
        if not isinstance(level, str) or not level:
            msg = f"grouping names must be non-empty strings; got {level!r}."
            raise DataError(msg)
        if level in (LSOA, ALL):
            msg = (f"grouping name {level!r} is reserved: the LSOA level and the whole-pack "
                   f"total {ALL!r} are always published; remove it from groupings.")
            raise DataError(msg)
        if not isinstance(codes, pd.Series):
            msg = (f"grouping {level!r} must be a pandas Series of locality codes indexed by "
                   f"LSOA code; got {type(codes).__name__}.")
            raise DataError(msg)
        if codes.index.duplicated().any():
            d = codes.index[codes.index.duplicated()][0]
            msg = f"grouping {level!r} lists LSOA {d} more than once; give one code per LSOA."
            raise DataError(msg)
        missing = index.difference(codes.index)
        if len(missing):
            msg = (f"grouping {level!r} has no entry for {_plural(len(missing), 'LSOA')} "
                   f"of the counts (e.g. {missing[0]}); index it like the counts "
                   "(use NaN for an LSOA outside every locality of the level).")
            raise DataError(msg)
        out[level] = codes.reindex(index)
    return out


def _resolve_protection(min_count: int, protection: float | None) -> tuple[int, float]:
    if isinstance(min_count, bool) or not isinstance(min_count, (int, np.integer)) or (
        min_count < 1
    ):
        msg = f"min_count must be a whole number of at least 1; got {min_count!r}."
        raise DataError(msg)
    p = float(min_count) if protection is None else protection
    if isinstance(p, bool) or not isinstance(p, (int, float, np.number)) or not (
        math.isfinite(float(p)) and float(p) > 0
    ):
        msg = f"protection must be a positive finite number (an interval width); got {p!r}."
        raise DataError(msg)
    return int(min_count), float(p)


# ----------------------------------------------------------------------------- structure


@dataclass
class _Structure:
    """Every published cell as a row of a sparse LSOA-incidence matrix."""

    lsoa: pd.Index  # LSOA codes, sorted
    levels: tuple[str, ...]
    cell_level: np.ndarray  # level name of each cell
    cell_code: list[Hashable]  # code of each cell within its level
    level_slices: dict[str, slice]
    member: sparse.csr_matrix  # cells x LSOAs, 1 where the LSOA is in the cell
    cost: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def n(self) -> int:
        return len(self.lsoa)


def _sorted_codes(values: Iterable[Hashable]) -> list[Hashable]:
    return sorted(values, key=lambda v: (str(type(v).__name__), str(v)))


def _build(index: pd.Index, groupings: Mapping[str, pd.Series]) -> _Structure:
    from scipy import sparse
    n = len(index)
    rows: list[np.ndarray] = [np.arange(n)]
    cols: list[np.ndarray] = [np.arange(n)]
    levels = [LSOA]
    cell_level = [np.full(n, LSOA, dtype=object)]
    codes: list[Hashable] = list(index)
    slices = {LSOA: slice(0, n)}
    start = n
    sizes = [np.ones(n)]
    # finest level first, then by name: the pattern must not depend on dict order
    order = sorted(groupings, key=lambda lvl: (-groupings[lvl].nunique(), lvl))
    for level in order:
        key = groupings[level]
        ok = key.notna().to_numpy()
        uniq = _sorted_codes(pd.unique(key[ok]))
        pos = {c: k for k, c in enumerate(uniq)}
        g = np.array([pos[c] for c in key[ok]], dtype=int)
        rows.append(start + g)
        cols.append(np.flatnonzero(ok))
        levels.append(level)
        cell_level.append(np.full(len(uniq), level, dtype=object))
        codes.extend(uniq)
        slices[level] = slice(start, start + len(uniq))
        sizes.append(np.bincount(g, minlength=len(uniq)).astype(float))
        start += len(uniq)
    rows.append(np.full(n, start))
    cols.append(np.arange(n))
    levels.append(ALL)
    cell_level.append(np.array([ALL], dtype=object))
    codes.append(ALL)
    slices[ALL] = slice(start, start + 1)
    sizes.append(np.array([float(n)]))
    m = start + 1
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    member = sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(m, n))
    size = np.concatenate(sizes)
    # suppression cost: hiding a coarse total loses more than hiding a small area,
    # and the whole-pack total is a last resort
    cost = 1.0 + np.log2(np.maximum(size, 1.0))
    cost[slices[ALL]] = 100.0 * (1.0 + math.log2(max(n, 1)))
    return _Structure(index, tuple(levels), np.concatenate(cell_level), codes, slices,
                      member, cost)


# ----------------------------------------------------------------------------- the LPs


def _load_highs() -> Any:
    """SciPy's bundled HiGHS bindings (for warm starts), or None to use ``linprog``."""
    try:
        from scipy.optimize._highspy import _core as core
    except ImportError:  # pragma: no cover - depends on the SciPy build
        return None
    needed = ("_Highs", "HighsLp", "MatrixFormat", "HighsModelStatus")
    return core if all(hasattr(core, a) for a in needed) else None


_UNLOADED: Any = object()
#: HiGHS bindings used for warm-started solves, loaded on the first solve (importing SciPy's
#: optimisers costs 0.3 s, which a map without uploaded counts need not wait for); ``None``
#: falls back to :func:`scipy.optimize.linprog` (same solver, a fresh solve each time).
_HIGHS: Any = _UNLOADED


def _highs() -> Any:
    """The HiGHS bindings (see ``_HIGHS``), loaded once."""
    global _HIGHS
    if _HIGHS is _UNLOADED:
        _HIGHS = _load_highs()
    return _HIGHS


class _LP:
    """
    ``min c.x`` s.t. ``row_lo <= A x <= row_hi``, ``col_lo <= x <= col_hi``.

    Costs and bounds change between solves and HiGHS starts from the last basis,
    which makes the hundreds of small solves of an audit cheap. Without the
    bindings every solve is a fresh :func:`scipy.optimize.linprog` call.
    """

    def __init__(self, a: sparse.spmatrix, row_lo: np.ndarray, row_hi: np.ndarray,
                 col_lo: np.ndarray, col_hi: np.ndarray, *, primal: bool) -> None:
        from scipy import sparse
        self.a = sparse.csc_matrix(a, dtype=float)
        self.row_lo, self.row_hi = np.array(row_lo, float), np.array(row_hi, float)
        self.col_lo, self.col_hi = np.array(col_lo, float), np.array(col_hi, float)
        self.cost = np.zeros(self.a.shape[1])
        self.n_solved = 0
        self._cols = np.arange(self.a.shape[1], dtype=np.int32)
        self._h: Any = None
        if _highs() is not None and self.a.shape[1]:
            try:
                self._h = self._highs(primal=primal)
            except Exception:  # pragma: no cover - incompatible bindings
                self._h = None

    def _highs(self, *, primal: bool) -> Any:
        core = _highs()
        h = core._Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("presolve", "off")
        if primal:  # only costs change between solves: stay primal feasible
            h.setOptionValue("simplex_strategy", 4)
        m, n = self.a.shape
        lp = core.HighsLp()
        lp.num_col_, lp.num_row_ = n, m
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, m
        lp.a_matrix_.format_ = core.MatrixFormat.kColwise
        lp.a_matrix_.start_ = self.a.indptr.astype(np.int32)
        lp.a_matrix_.index_ = self.a.indices.astype(np.int32)
        lp.a_matrix_.value_ = self.a.data
        lp.col_cost_ = self.cost
        lp.col_lower_, lp.col_upper_ = self.col_lo, self.col_hi
        lp.row_lower_, lp.row_upper_ = self.row_lo, self.row_hi
        h.passModel(lp)
        return h

    def set_cost(self, c: np.ndarray) -> None:
        self.cost = np.asarray(c, dtype=float)
        if self._h is not None:
            self._h.changeColsCost(len(self._cols), self._cols, self.cost)

    def set_cols(self, idx: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        idx = np.asarray(idx, dtype=np.int32)
        if not len(idx):
            return
        self.col_lo[idx], self.col_hi[idx] = lo, hi
        if self._h is not None:
            self._h.changeColsBounds(len(idx), idx, self.col_lo[idx], self.col_hi[idx])

    def set_rows(self, idx: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        idx = np.asarray(idx, dtype=np.int32)
        self.row_lo[idx], self.row_hi[idx] = lo, hi
        if self._h is not None:
            for i in idx:
                self._h.changeRowBounds(int(i), self.row_lo[i], self.row_hi[i])

    def solve(self) -> tuple[str, float, np.ndarray | None]:
        """``("optimal", value, x)``, ``("unbounded", -inf, None)`` or ``("infeasible", ...)``."""
        self.n_solved += 1
        if self._h is not None:
            h, status = self._h, _highs().HighsModelStatus
            h.run()
            st = h.getModelStatus()
            if st == status.kOptimal:
                x = np.asarray(h.getSolution().col_value, dtype=float)
                return "optimal", float(self.cost @ x), x
            if st == status.kUnbounded:
                return "unbounded", -math.inf, None
            if st == status.kInfeasible:
                return "infeasible", math.nan, None
            h.clearSolver()  # anything else: start afresh, and ask linprog this once
        return self._linprog()

    def _linprog(self) -> tuple[str, float, np.ndarray | None]:
        from scipy import sparse
        from scipy.optimize import linprog
        a = self.a.tocsr()
        eq = np.isfinite(self.row_lo) & (self.row_lo == self.row_hi)
        up = np.isfinite(self.row_hi) & ~eq
        lo = np.isfinite(self.row_lo) & ~eq
        a_ub = sparse.vstack([a[up], -a[lo]], format="csr")
        b_ub = np.concatenate([self.row_hi[up], -self.row_lo[lo]])
        res = linprog(
            self.cost,
            A_ub=a_ub if a_ub.shape[0] else None, b_ub=b_ub if a_ub.shape[0] else None,
            A_eq=a[eq] if eq.any() else None, b_eq=self.row_lo[eq] if eq.any() else None,
            bounds=np.column_stack([self.col_lo, self.col_hi]), method="highs",
        )
        if res.status == 0:
            return "optimal", float(res.fun), np.asarray(res.x)
        if res.status == 3:
            return "unbounded", -math.inf, None
        if res.status == 2:
            return "infeasible", math.nan, None
        msg = f"the linear programme failed: {res.message}"  # pragma: no cover
        raise DataError(msg)  # pragma: no cover


_INCONSISTENT = ("the published tables are inconsistent: no non-negative LSOA counts "
                 "reproduce every published total (were they produced from one upload with "
                 "these groupings?).")


class _Attacker:
    """
    The attacker's LP: one variable per LSOA, one row per locality cell.

    Published LSOAs are fixed at their values (no-data LSOAs at 0), hidden ones
    range over ``[0, inf)``; published locality cells are equality rows, hidden
    ones are free rows. Hiding more cells only relaxes bounds, so the solver
    keeps its basis.
    """

    def __init__(self, member: sparse.csr_matrix, n: int, known_x: np.ndarray,
                 unknown: np.ndarray, cell_vals: np.ndarray, shown: np.ndarray) -> None:
        self.member, self.n = member, n
        self.known_x = np.where(unknown, 0.0, known_x)
        self.unknown = unknown.copy()
        rows = member[n:]
        row_lo = np.where(shown[n:], cell_vals[n:], -np.inf)
        row_hi = np.where(shown[n:], cell_vals[n:], np.inf)
        col_lo = np.where(unknown, 0.0, self.known_x)
        col_hi = np.where(unknown, np.inf, self.known_x)
        self.lp = _LP(rows, row_lo, row_hi, col_lo, col_hi, primal=True)
        self.floor = np.asarray(member @ self.known_x)

    def hide(self, lsoa: np.ndarray, agg: np.ndarray) -> None:
        """Make LSOAs ``lsoa`` unknown and locality cells ``agg`` (cell ids) unpublished."""
        lsoa = np.asarray(lsoa, dtype=int)
        agg = np.asarray(agg, dtype=int)
        self.unknown[lsoa] = True
        self.known_x[lsoa] = 0.0
        self.lp.set_cols(lsoa, np.zeros(len(lsoa)), np.full(len(lsoa), np.inf))
        if len(agg):
            self.lp.set_rows(agg - self.n, np.full(len(agg), -np.inf), np.full(len(agg), np.inf))
        self.floor = np.asarray(self.member @ self.known_x)

    def extreme(self, cell: int, sense: int) -> tuple[float, np.ndarray | None]:
        """Min (``sense=+1``) or max (``-1``) of ``cell``, and every cell at that point."""
        row = self.member[cell]
        if not self.unknown[row.indices].any():
            return float(self.floor[cell]), None
        c = np.zeros(self.n)
        c[row.indices] = sense * row.data
        self.lp.set_cost(c)
        status, fun, x = self.lp.solve()
        if status == "unbounded":
            return (math.inf if sense < 0 else -math.inf), None
        if status != "optimal" or x is None:
            raise DataError(_INCONSISTENT)
        return sense * fun, np.asarray(self.member @ x)

    def sum_point(self, cells: np.ndarray, sense: int) -> np.ndarray | None:
        """Every cell's value where the sum of ``cells`` is smallest (or largest)."""
        c = sense * np.asarray(self.member[cells].sum(axis=0)).ravel()
        if not len(cells) or not (c[self.unknown] != 0).any():
            return None
        self.lp.set_cost(c)
        status, _, x = self.lp.solve()
        if status == "infeasible":
            raise DataError(_INCONSISTENT)
        return None if x is None else np.asarray(self.member @ x)


class _Deviation:
    """
    The cheapest change of the table that raises one cell (Fischetti-Salazar).

    Variables: per LSOA with data an increase ``u >= 0`` and a decrease
    ``0 <= v <= x``; per locality cell a positive and a negative slack. Every
    locality cell's total changes only through its slacks, which cost that
    cell's suppression cost while it is published and nothing once hidden
    (likewise ``u`` and ``v`` of LSOAs). The published cells the change
    touches must be suppressed; the changed table is then a non-negative table
    that reproduces every published cell, i.e. a point the attacker cannot rule
    out.
    """

    def __init__(self, st: _Structure, x: np.ndarray, data: np.ndarray,
                 cost: np.ndarray) -> None:
        from scipy import sparse
        n, m = st.n, st.member.shape[0]
        self.n, self.k, self.r = n, n, m - n
        self.cost = cost
        rows = st.member[n:]
        eye = sparse.identity(self.r, format="csr")
        a = sparse.hstack([rows, -rows, -eye, eye], format="csc")
        ncol = 2 * n + 2 * self.r
        col_hi = np.full(ncol, np.inf)
        col_hi[:n] = np.where(data, np.inf, 0.0)
        col_hi[n:2 * n] = np.where(data, x, 0.0)
        self.lp = _LP(a, np.zeros(self.r), np.zeros(self.r), np.zeros(ncol), col_hi,
                      primal=False)
        self.member = st.member

    def raise_cell(self, target: int, delta: float,
                   hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The LSOA change raising ``target`` by ``delta``, and the cells it must hide."""
        n, r = self.n, self.r
        c_cell = np.where(hidden, 0.0, self.cost)
        self.lp.set_cost(np.concatenate([c_cell[:n], c_cell[:n], c_cell[n:], c_cell[n:]]))
        # the target's net change must reach delta: its increase is at least delta
        # and its decrease (or negative slack) is switched off
        up, down = (target, n + target) if target < n else (
            2 * n + (target - n), 2 * n + r + (target - n))
        cols = np.array([up, down])
        saved = self.lp.col_lo[cols].copy(), self.lp.col_hi[cols].copy()
        self.lp.set_cols(cols, np.array([delta, 0.0]), np.array([np.inf, 0.0]))
        try:
            status, _, sol = self.lp.solve()
        finally:
            self.lp.set_cols(cols, *saved)
        if status != "optimal" or sol is None:  # pragma: no cover - hiding all always works
            msg = f"secondary suppression found no way to protect cell {target}: {status}"
            raise DataError(msg)
        change = sol[:n] - sol[n:2 * n]
        newly = np.zeros(len(hidden), dtype=bool)
        newly[:n] = (sol[:n] + sol[n:2 * n]) > _TOL
        newly[n:] = (sol[2 * n:2 * n + r] + sol[2 * n + r:]) > _TOL
        newly[n:] |= np.abs(self.member[n:] @ change) > _TOL  # every total it moves
        return change, newly


def _round_bounds(lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo = np.ceil(np.asarray(lower, float) - _TOL) + 0.0  # no -0.0
    hi = np.where(np.isfinite(upper), np.floor(np.asarray(upper, float) + _TOL), np.inf)
    return lo, hi


def _secure(st: _Structure, x: np.ndarray, data: np.ndarray, hidden: np.ndarray,
            has: np.ndarray, protection: float, cost: np.ndarray,
            max_rounds: int) -> tuple[np.ndarray, int, int]:
    """Add secondary suppressions until every hidden cell is proven safe."""
    n = st.n
    values = np.asarray(st.member @ x)
    best_lo, best_hi = values.copy(), values.copy()  # bounds proven by feasible tables
    safe = np.zeros(len(values), dtype=bool)
    need = math.ceil(protection - _TOL)
    att = _Attacker(st.member, n, x, hidden[:n] & data, values, ~hidden & has)
    dev = _Deviation(st, x, data, cost)

    def take(point: np.ndarray | None) -> None:
        nonlocal best_lo, best_hi
        if point is not None:
            best_lo = np.minimum(best_lo, point)
            best_hi = np.maximum(best_hi, point)

    def width(c: int) -> float:
        lo_r, hi_r = _round_bounds(best_lo[c:c + 1], best_hi[c:c + 1])
        return float(hi_r[0] - lo_r[0])

    rounds = 0
    while True:
        todo = np.flatnonzero(hidden & has & ~safe)
        if not len(todo):
            break
        rounds += 1
        if rounds > max_rounds:
            msg = (f"secondary suppression did not settle in {max_rounds} rounds; "
                   "raise max_rounds.")
            raise DataError(msg)
        for c in map(int, todo):  # LSOAs first, then each level in code order
            if width(c) >= need:
                safe[c] = True
                continue
            if best_lo[c] > att.floor[c] + _TOL:
                lo, point = att.extreme(c, +1)
                take(point)
                best_lo[c] = min(best_lo[c], lo)
            if width(c) < need:
                hi, point = att.extreme(c, -1)
                take(point)
                best_hi[c] = max(best_hi[c], hi)
            if width(c) >= need:
                safe[c] = True
                continue
            lo_r, _ = _round_bounds(best_lo[c:c + 1], best_hi[c:c + 1])
            change, newly = dev.raise_cell(c, lo_r[0] + need - values[c], hidden)
            newly &= has & ~hidden
            if newly.any():
                hidden |= newly
                ids = np.flatnonzero(newly)
                att.hide(ids[ids < n], ids[ids >= n])
            take(np.asarray(st.member @ (x + change)))
            safe[c] = True
    return hidden, rounds, att.lp.n_solved + dev.lp.n_solved


# ----------------------------------------------------------------------------- protect


def protect(
    counts: pd.Series,
    groupings: Mapping[str, pd.Series],
    *,
    min_count: int = 5,
    protection: float | None = None,
    random_state: int | np.random.Generator | None = None,
    max_rounds: int = 100,
) -> Protection:
    """
    Suppress an upload's counts consistently at every published level.

    Parameters
    ----------
    counts
        True count per LSOA: index = LSOA codes, non-negative whole numbers, NaN
        where there is no data.
    groupings
        ``{level name: Series}`` giving each LSOA's code at that level (e.g.
        ``"ward"``, ``"msoa"``, ``"lac"``), indexed like `counts`; NaN for an LSOA
        in no locality of the level. The LSOA level and the whole-pack total
        ``"all"`` are always published and must not be listed.
    min_count
        The smallest count that may be shown; 1 to ``min_count - 1`` are hidden.
    protection
        The width every hidden cell's attacker interval must reach (whole-number
        bounds, ``upper - lower``). Defaults to `min_count`.
    random_state
        Seeds the small random tie-break between equally costly suppressions.
        ``None`` means a fixed seed, so the same data always get the same pattern.
    max_rounds
        Give up (``DataError``) after this many rounds of secondary suppression.

    Returns
    -------
    Protection
        Published values, hidden masks and reasons per level.

    Raises
    ------
    DataError
        If counts are not finite non-negative whole numbers (NaN aside), the
        groupings do not cover the counts' LSOAs, or the options are invalid.

    Examples
    --------
    >>> c = pd.Series([3, 10, 7, 8], index=["a", "b", "c", "d"])
    >>> g = {"ward": pd.Series(["w1", "w1", "w2", "w2"], index=c.index)}
    >>> p = protect(c, g)
    >>> p.published["lsoa"].tolist(), p.published["ward"].tolist()
    ([nan, nan, 7.0, 8.0], [13.0, 15.0])
    >>> p.reason["lsoa"]["b"]
    'secondary (protects a hidden cell)'
    """
    t0 = time.perf_counter()
    min_count, prot = _resolve_protection(min_count, protection)
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, (int, np.integer)) or (
        max_rounds < 1
    ):
        msg = f"max_rounds must be a positive whole number; got {max_rounds!r}."
        raise DataError(msg)
    original_index = counts.index if isinstance(counts, pd.Series) else None
    x_s = _validate_counts(counts)
    groups = _validate_groupings(groupings, x_s.index)
    st = _build(x_s.index, groups)
    data = x_s.notna().to_numpy()
    x = np.where(data, x_s.to_numpy(), 0.0)
    values = np.asarray(st.member @ x)
    has = np.asarray(st.member @ data.astype(float)) > 0
    primary = has & (values >= 1) & (values < min_count)
    rng = (random_state if isinstance(random_state, np.random.Generator)
           else np.random.default_rng(_DEFAULT_SEED if random_state is None else random_state))
    cost = st.cost * (1.0 + 0.01 * rng.random(len(st.cost)))
    hidden, rounds, n_lp = _secure(st, x, data, primary.copy(), has, prot, cost, max_rounds)

    published: dict[str, pd.Series] = {}
    hid: dict[str, pd.Series] = {}
    reason: dict[str, pd.Series] = {}
    name = counts.name
    for lvl in st.levels:
        sl = st.level_slices[lvl]
        idx = x_s.index if lvl == LSOA else pd.Index(st.cell_code[sl], name=lvl)
        v = np.where(has[sl] & ~hidden[sl], values[sl], np.nan)
        r = np.full(len(idx), "", dtype=object)
        r[~has[sl]] = _REASON_NO_DATA
        r[hidden[sl] & has[sl]] = _REASON_SECONDARY
        r[primary[sl]] = _reason_primary(min_count)
        pub = pd.Series(v, index=idx, name=name, dtype=float)
        h = pd.Series(hidden[sl] & has[sl], index=idx, name=name)
        rs = pd.Series(r, index=idx, name=name)
        if lvl == LSOA and original_index is not None:
            pub, h, rs = (s.reindex(original_index) for s in (pub, h, rs))
        published[lvl], hid[lvl], reason[lvl] = pub, h, rs
    return Protection(
        published=MappingProxyType(published),
        hidden=MappingProxyType(hid),
        reason=MappingProxyType(reason),
        method=METHOD,
        min_count=min_count,
        protection=prot,
        levels=st.levels,
        rounds=rounds,
        n_lp=n_lp,
        elapsed_s=time.perf_counter() - t0,
    )


# ----------------------------------------------------------------------------- audit


def audit(
    published: Mapping[str, pd.Series],
    groupings: Mapping[str, pd.Series],
    counts_index: Sequence[Hashable] | pd.Index,
    *,
    min_count: int = 5,
    protection: float | None = None,
    no_data: Iterable[Hashable] | None = None,
) -> AuditResult:
    """
    Attack the published tables: bound every hidden cell by linear programming.

    Uses only what an attacker sees: the published value of every cell at every
    level (NaN = not shown) and which LSOAs make up each locality. One variable
    per LSOA; published LSOAs are fixed at their values, the rest are
    non-negative; every published locality and the whole-pack total is an
    equality constraint. For each hidden cell at every level, HiGHS finds the
    smallest and largest value consistent with all of it.

    Parameters
    ----------
    published
        ``{level: Series}`` as in :attr:`Protection.published`: ``"lsoa"``, each
        grouping's level and ``"all"``. A level that is absent counts as
        unpublished.
    groupings
        ``{level name: Series}`` of locality codes indexed by LSOA code.
    counts_index
        Every LSOA code of the upload.
    min_count
        The smallest count that may be shown.
    protection
        The interval width a hidden cell needs (``upper - lower`` in whole
        numbers). Defaults to `min_count`.
    no_data
        LSOAs the attacker knows have no data (they count as zero in every
        total). Without it, every LSOA shown as NaN is treated as unknown.

    Returns
    -------
    AuditResult
        One interval per hidden cell and whether it is exact or too tight.

    Raises
    ------
    DataError
        If the tables are inconsistent (no non-negative counts reproduce them) or
        the inputs are malformed.
    """
    t0 = time.perf_counter()
    min_count, prot = _resolve_protection(min_count, protection)
    index = pd.Index(counts_index)
    if index.duplicated().any():
        msg = f"counts_index lists LSOA {index[index.duplicated()][0]} more than once."
        raise DataError(msg)
    index = index.sort_values(key=lambda i: i.astype(str)) if len(index) else index
    groups = _validate_groupings(groupings, index)
    st = _build(index, groups)
    nod = np.zeros(st.n, dtype=bool)
    if no_data is not None:
        nod = index.isin(list(no_data))
    pub_vals = np.full(len(st.cell_code), np.nan)
    for lvl in st.levels:
        if lvl not in published:
            continue
        s = published[lvl]
        sl = st.level_slices[lvl]
        codes = index if lvl == LSOA else pd.Index(st.cell_code[sl])
        vals = pd.to_numeric(s, errors="coerce").astype(float)
        if vals.index.duplicated().any():
            msg = f"published level {lvl!r} lists a code more than once."
            raise DataError(msg)
        pub_vals[sl] = vals.reindex(codes).to_numpy()
    shown = np.isfinite(pub_vals)
    lsoa_shown = shown[: st.n] & ~nod
    known_x = np.where(lsoa_shown, pub_vals[: st.n], 0.0)
    unknown = ~lsoa_shown & ~nod
    has = np.asarray(st.member @ (~nod).astype(float)) > 0
    att = _Attacker(st.member, st.n, known_x, unknown, np.nan_to_num(pub_vals), shown & has)
    targets = np.flatnonzero(~shown & has)

    lower = np.full(len(pub_vals), np.inf)  # smallest value seen at a feasible point
    upper = np.full(len(pub_vals), -np.inf)  # largest value seen at a feasible point

    def take(point: np.ndarray | None) -> None:
        nonlocal lower, upper
        if point is not None:
            lower, upper = np.minimum(lower, point), np.maximum(upper, point)

    # two points that settle most minima (a cell at its floor) without an LP of its own
    take(att.sum_point(targets, +1))
    take(att.sum_point(targets, -1))
    # an unknown LSOA is at most the smallest remainder of a published total it is in
    rows = st.member[st.n:].tocsc()
    resid = np.where(shown[st.n:] & has[st.n:], np.nan_to_num(pub_vals[st.n:]) - att.floor[st.n:],
                     np.inf)
    cap = np.full(st.n, np.inf)
    for i in np.flatnonzero(unknown):
        g = rows.indices[rows.indptr[i]:rows.indptr[i + 1]]
        if len(g):
            cap[i] = resid[g].min()
    lo_out = np.zeros(len(pub_vals))
    hi_out = np.zeros(len(pub_vals))
    for c in map(int, targets):
        if lower[c] > att.floor[c] + _TOL:
            lo, point = att.extreme(c, +1)
            take(point)
            lo_out[c] = lo
        else:
            lo_out[c] = att.floor[c]
        if c < st.n and (math.isinf(cap[c]) or upper[c] >= cap[c] - _TOL):
            hi_out[c] = cap[c]  # unbounded, or a feasible point reaches the cap
            continue
        hi, point = att.extreme(c, -1)
        take(point)
        hi_out[c] = hi
    lower, upper = lo_out, hi_out
    lo_r, hi_r = _round_bounds(lower[targets], upper[targets])
    width = hi_r - lo_r
    mi = pd.MultiIndex.from_arrays(
        [st.cell_level[targets], pd.Index([st.cell_code[c] for c in targets], dtype=object)],
        names=["level", "code"],
    )
    iv = pd.DataFrame(
        {"lower": lo_r, "upper": hi_r, "width": width, "exact": width < 0.5,
         "too_tight": width < prot - _TOL},
        index=mi,
    )
    return AuditResult(iv, prot, min_count, n_lp=att.lp.n_solved,
                       elapsed_s=time.perf_counter() - t0)


def audit_upload(
    counts: pd.Series,
    groupings: Mapping[str, pd.Series],
    *,
    min_count: int = 5,
    protection: float | None = None,
    random_state: int | np.random.Generator | None = None,
) -> str:
    """
    Protect an upload, attack the result, and describe both for a terminal.

    This is what ``placekit audit FILE`` prints.

    Parameters
    ----------
    counts, groupings, min_count, protection, random_state
        As for :func:`protect`.

    Returns
    -------
    str
        Cells and suppressions per level, the method, and the audit verdict.

    Raises
    ------
    DataError
        As for :func:`protect`.
    """
    prot = protect(counts, groupings, min_count=min_count, protection=protection,
                   random_state=random_state)
    no_data = prot.reason[LSOA].index[prot.reason[LSOA] == _REASON_NO_DATA]
    res = audit(prot.published, groupings, prot.published[LSOA].index, min_count=min_count,
                protection=prot.protection, no_data=no_data)
    table = prot.counts()
    table["hidden_share"] = table["hidden_share"].map(
        lambda v: "" if pd.isna(v) else f"{v:.1%}")
    lines = [
        f"disclosure control of {counts.name or 'the count'}: {len(prot.levels)} published "
        f"levels ({', '.join(prot.levels)})",
        f"method: {prot.method}",
        f"min_count {prot.min_count} (1 to {prot.min_count - 1} hidden), protection interval "
        f"{prot.protection:g}; {prot.rounds} rounds, {prot.n_lp} LPs, {prot.elapsed_s:.2f} s",
        table.to_string(),
        res.summary(),
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- Place glue


def _place_groupings(place: Any) -> dict[str, pd.Series]:
    """Every published locality level of ``place`` (``place.levels``), as codes per LSOA."""
    return {str(lvl): place.codes(lvl) for lvl in place.levels if lvl not in (LSOA, ALL)}


_CACHE: dict[tuple[Any, ...], tuple[pd.Series, dict[str, pd.Series], Protection]] = {}
_CACHE_SIZE = 32


def _cache_key(counts: pd.Series, groupings: Mapping[str, pd.Series],
               min_count: int) -> tuple[Any, ...]:
    parts: list[Any] = [min_count, int(pd.util.hash_pandas_object(counts).sum())]
    for k in sorted(groupings):
        parts += [k, int(pd.util.hash_pandas_object(groupings[k].astype(str)).sum())]
    return tuple(parts)


def place_protection(place: Place, count_id: str) -> Protection:
    """
    The :class:`Protection` of the uploaded count ``count_id`` of ``place``.

    Every level of the place is protected at once: ``place.levels`` (its
    locality levels), each read with ``place.codes(level)``, plus the LSOAs
    and the whole pack (``"all"``). The result is cached on the content of
    the counts and the groupings, so the tables, maps and exports of every
    level share one pattern.

    Parameters
    ----------
    place
        Anything with ``indicators`` (a frame indexed by LSOA), ``codes(level)``
        and optionally ``levels`` and ``min_count`` (default 5).
    count_id
        The column of ``place.indicators`` holding the uploaded count.

    Returns
    -------
    Protection
        As from :func:`protect`.

    Raises
    ------
    DataError
        If the count is not a valid count column (see :func:`protect`).
    """
    counts = place.indicators[count_id]
    groupings = {k: v.reindex(counts.index) for k, v in _place_groupings(place).items()}
    min_count = int(getattr(place, "min_count", 5))
    key = _cache_key(counts, groupings, min_count)
    hit = _CACHE.get(key)
    if hit is not None and hit[0].equals(counts) and hit[1].keys() == groupings.keys() and all(
        hit[1][k].equals(v) for k, v in groupings.items()
    ):
        return hit[2]
    prot = protect(counts, groupings, min_count=min_count)
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = (counts.copy(), {k: v.copy() for k, v in groupings.items()}, prot)
    return prot


def suppress_counts(place: Place, count_id: str, level: str) -> pd.Series:
    """
    Which areas of ``level`` must hide the uploaded count ``count_id``.

    All levels of the place are protected together by :func:`protect`, so the
    pattern returned for one level is consistent with every other level.

    Parameters
    ----------
    place
        The place holding ``indicators[count_id]``.
    count_id
        The uploaded count.
    level
        ``"lsoa"``, one of the place's levels, or ``"all"`` / ``"city"``.

    Returns
    -------
    pd.Series
        Boolean, indexed by the codes of ``level``; True means hidden.
    """
    prot = place_protection(place, count_id)
    lvl = ALL if level == "city" else level
    if lvl not in prot.levels:
        msg = (f"level {level!r} is not one of the levels protected together "
               f"{list(prot.levels)}; every level that is shown must be in place.levels so "
               "that one suppression pattern covers them all.")
        raise DataError(msg)
    return prot.hidden[lvl].copy()

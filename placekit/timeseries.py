"""Service data over time: uploads by LSOA and period, under disclosure control.

:func:`read_series` reads a council's table of counts (or rates) by LSOA (2011 or
2021 codes) and period (week, month or quarter) in either layout, detected and
stated in the result:

- **long**: one row per LSOA and period, e.g. ``lsoa_code, period, referrals``;
- **wide**: one row per LSOA and one column per period, headed by the period
  (``2024-01``, ``Jan 2024``, ``2024-Q1``, ``2024-W05``).

The file goes through the same checks as every upload (:mod:`placekit.userdata`:
size, zip and XML bombs, headings, LSOA codes, numbers), then the time checks here:
periods that are not dates, a mix of weeks, months and quarters, whole periods
missing between the first and the last (gaps), and repeated LSOA-period rows are
refused with a message that names the rows and the fix. A load never changes the
file or the place, so nothing the user had is lost. Counts on 2011 codes are
converted to 2021 codes as single-period uploads are (whole counts, shared over
splits by population).

Disclosure control (:func:`protect_series`): each period is one table published at
every level of the place (LSOAs, every locality level, the whole place) and at
any groups an output shows (a pilot and its comparisons, a group of areas on a
chart); every period is protected by :func:`placekit.disclosure.protect` with all
of them at once, so one pattern serves every output of the call. Small counts are
common month by month, so *before* hiding, periods are aggregated (weeks to
months, months to quarters, quarters to years) while more than
``max_primary_share`` of the LSOA cells would be 1 to 4, or while a group's
total would be hidden; the result says what was done (:attr:`SeriesProtection.notes`).
Areas are aggregated by asking for a locality or a group: its totals are what an
output shows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from placekit.disclosure import ALL, LSOA, Protection, protect
from placekit.errors import DataError, SchemaError
from placekit.place import Place
from placekit.userdata import (
    MAX_BYTES,
    Source,
    _find_code_column,
    _Grid,
    _grid,
    _is_rate_heading,
    _lsoa_codes,
    _numbers,
    _q,
    _read_bytes,
    _rows,
    safe_text,
)

__all__ = [
    "COARSER",
    "FREQUENCIES",
    "PERIOD_HEADINGS",
    "SeriesProtection",
    "ServiceSeries",
    "aggregate_periods",
    "parse_periods",
    "protect_series",
    "read_series",
]

#: Frequencies an upload may have, finest first.
FREQUENCIES = ("week", "month", "quarter")
#: The next coarser frequency, used to aggregate small counts before hiding.
COARSER = {"week": "month", "month": "quarter", "quarter": "year"}
#: Headings read as the period column of a long table.
PERIOD_HEADINGS = frozenset(
    {"period", "month", "week", "quarter", "date", "month_start", "week_start", "year_month"}
)
_PANDAS_FREQ = {"week": "W-SUN", "month": "M", "quarter": "Q-DEC", "year": "Y-DEC"}
_MAX_COUNT = 1e9
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
_QUARTER = re.compile(r"^(\d{4})[- ]?Q([1-4])$", re.IGNORECASE)
_QUARTER2 = re.compile(r"^Q([1-4])[- /]?(\d{4})$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})[-/](\d{1,2})$")
_MONTH_NAME = re.compile(r"^([A-Za-z]{3,9})[- ]?(\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ]00:00(?::00)?)?$")
_UK_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}
_EXAMPLES = "2024-01 (a month), 2024-Q1 (a quarter) or 2024-W05 (an ISO week)"


# ----------------------------------------------------------------------------- periods


def _one_period(text: str) -> tuple[str, object] | None:
    """(frequency, value) for one cell: a Period, or a ``date`` for full dates; None if not."""
    s = text.strip()
    if m := _WEEK.match(s):
        y, w = int(m.group(1)), int(m.group(2))
        try:
            monday = date.fromisocalendar(y, w, 1)
        except ValueError:
            return None
        return "week", pd.Period(monday, freq=_PANDAS_FREQ["week"])
    if m := _QUARTER.match(s):
        return "quarter", pd.Period(year=int(m.group(1)), quarter=int(m.group(2)), freq="Q-DEC")
    if m := _QUARTER2.match(s):
        return "quarter", pd.Period(year=int(m.group(2)), quarter=int(m.group(1)), freq="Q-DEC")
    if m := _MONTH.match(s):
        y, mo = int(m.group(1)), int(m.group(2))
        return ("month", pd.Period(year=y, month=mo, freq="M")) if 1 <= mo <= 12 else None
    if (m := _MONTH_NAME.match(s)) and m.group(1).lower() in _MONTHS:
        return "month", pd.Period(year=int(m.group(2)), month=_MONTHS[m.group(1).lower()], freq="M")
    for rx, order in ((_ISO_DATE, (0, 1, 2)), (_UK_DATE, (2, 1, 0))):
        if m := rx.match(s):
            parts = [int(m.group(i + 1)) for i in range(3)]
            y, mo, d = (parts[i] for i in order)
            try:
                return "date", date(y, mo, d)
            except ValueError:
                return None
    return None


def parse_periods(
    texts: Sequence[str], *, frequency: str | None = None
) -> tuple[list[pd.Period | None], str]:
    """
    Read period labels; full dates are read as the week, month or quarter they start.

    Parameters
    ----------
    texts
        Period labels: ``2024-01``, ``Jan 2024``, ``2024-Q1``, ``Q1 2024``,
        ``2024-W05`` (ISO week), or dates (``2024-01-01``, ``01/01/2024``,
        day first) at the start of each period.
    frequency
        ``"week"``, ``"month"`` or ``"quarter"`` to read dates as; by default
        inferred from the dates (all on the 1st: months, or quarters if every
        date starts a quarter three months apart; all on one weekday: weeks).

    Returns
    -------
    (list, str)
        A :class:`pandas.Period` per label (``None`` where the label is not a
        period) and the frequency.

    Raises
    ------
    DataError
        If labels mix frequencies, or dates fit no frequency.
    """
    if frequency is not None and frequency not in FREQUENCIES:
        msg = f"frequency must be one of {list(FREQUENCIES)}; got {frequency!r}."
        raise DataError(msg)
    uniq = {t: _one_period(str(t)) for t in dict.fromkeys(texts)}
    kinds = {v[0] for v in uniq.values() if v is not None}
    if "date" in kinds:
        dates: list[date] = sorted(
            {v[1] for v in uniq.values() if v is not None and isinstance(v[1], date)}
        )
        freq = frequency or _date_frequency(dates)
        kinds = (kinds - {"date"}) | {freq}
        uniq = {
            t: ((freq, pd.Period(v[1], freq=_PANDAS_FREQ[freq])) if v and v[0] == "date" else v)
            for t, v in uniq.items()
        }
    if len(kinds) > 1:
        msg = (
            f"the periods mix {' and '.join(sorted(k + 's' for k in kinds))}. Use one kind of "
            f"period throughout, e.g. {_EXAMPLES}."
        )
        raise DataError(msg)
    if not kinds:
        return [None] * len(texts), frequency or "month"
    freq = kinds.pop()
    if frequency is not None and freq != frequency:
        msg = f"the periods are {freq}s, not {frequency}s as asked."
        raise DataError(msg)
    return [None if uniq[t] is None else uniq[t][1] for t in texts], freq  # type: ignore[index,misc]


def _date_frequency(dates: list[date]) -> str:
    if all(d.day == 1 for d in dates):
        months = [d.year * 12 + d.month for d in dates]
        steps = np.diff(months)
        if (
            len(dates) > 1
            and all(d.month in (1, 4, 7, 10) for d in dates)
            and (steps % 3 == 0).all()
        ):
            return "quarter"
        return "month"
    if len({d.weekday() for d in dates}) == 1:
        return "week"
    msg = (
        "the dates are not the starts of weeks (all one weekday), months (all on the 1st) or "
        f"quarters. Give each period as {_EXAMPLES}, or as the date its period starts."
    )
    raise DataError(msg)


def aggregate_periods(values: pd.DataFrame, frequency: str, *, kind: str = "count") -> pd.DataFrame:
    """
    Aggregate columns of periods to a coarser frequency.

    Counts are summed (NaN if any part is unknown, never a partial sum); rates are
    averaged. A coarser period is kept only when every finer period in it is in the
    data, so no quarter is made of one month.

    Parameters
    ----------
    values
        Columns are :class:`pandas.Period` of one frequency.
    frequency
        The target frequency (``"month"``, ``"quarter"`` or ``"year"``).
    kind
        ``"count"`` or ``"rate"``.

    Returns
    -------
    pd.DataFrame
        Columns are the coarser periods.
    """
    target = _PANDAS_FREQ[frequency]
    cols = pd.PeriodIndex(values.columns)
    if cols.freqstr.startswith("W"):  # a week belongs to the month/quarter of its Thursday
        groups = pd.PeriodIndex(
            [(p.start_time + pd.Timedelta(days=3)).to_period(target) for p in cols]
        )
    else:
        groups = cols.asfreq(target)
    keep = []
    out = {}
    for g in dict.fromkeys(groups):
        members = values.loc[:, np.asarray(groups == g)]
        expected = _n_parts(g, cols.freqstr)
        if members.shape[1] < expected:
            continue
        keep.append(g)
        out[g] = (
            members.sum(axis=1, min_count=members.shape[1]).where(members.notna().all(axis=1))
            if kind == "count"
            else members.mean(axis=1)
        )
    res = pd.DataFrame(out, index=values.index)
    res.columns = pd.PeriodIndex(keep, freq=target)
    return res


def _n_parts(coarse: pd.Period, fine_freq: str) -> int:
    if fine_freq.startswith("W"):
        days = pd.period_range(coarse.start_time, coarse.end_time, freq="D")
        return int(sum(1 for d in days if d.dayofweek == 3))  # Thursdays: ISO-week rule
    fine = pd.period_range(coarse.start_time, coarse.end_time, freq=fine_freq)
    return len(fine)


# ----------------------------------------------------------------------------- the series


@dataclass(frozen=True)
class ServiceSeries:
    """
    An uploaded measure by LSOA 2021 and period.

    Attributes
    ----------
    values
        One row per LSOA of the place (index ``area_code``), one column per period
        (:class:`pandas.Period`, consecutive); NaN where unknown.
    column
        The measure's heading in the file.
    kind
        ``"count"`` (summed, disclosure controlled) or ``"rate"``.
    frequency
        ``"week"``, ``"month"`` or ``"quarter"``.
    layout
        ``"long"`` or ``"wide"``, as detected.
    vintage
        ``"2011"`` or ``"2021"``: the codes in the file.
    source
        The file's name, made safe to show.
    notes
        What was detected and done, in sentences.
    """

    values: pd.DataFrame
    column: str
    kind: str
    frequency: str
    layout: str
    vintage: str
    source: str
    notes: tuple[str, ...] = ()

    @property
    def periods(self) -> pd.PeriodIndex:
        """The periods, in order."""
        return pd.PeriodIndex(self.values.columns)

    def long(self) -> pd.DataFrame:
        """The series as a long table: ``area_code``, ``period`` (text), the measure."""
        out = self.values.stack(future_stack=True).rename(self.column).reset_index()
        out.columns = ["area_code", "period", self.column]
        out["period"] = out["period"].astype(str)
        return out


def _heading_periods(grid: _Grid, cj: int) -> tuple[list[int], list[pd.Period | None], str]:
    cols = [j for j in range(len(grid.headings)) if j != cj]
    try:
        parsed, freq = parse_periods([grid.headings[j] for j in cols])
    except DataError:
        return cols, [None] * len(cols), "month"
    return cols, parsed, freq


def _period_column(grid: _Grid, cj: int, period_column: str | None) -> int | None:
    if period_column is not None:
        for j, h in enumerate(grid.headings):
            if h.casefold() == period_column.strip().casefold():
                return j
        msg = f"{grid.label} has no column headed {_q(period_column)}."
        raise SchemaError(msg)
    named = [
        j
        for j, h in enumerate(grid.headings)
        if j != cj and h.strip().casefold() in PERIOD_HEADINGS
    ]
    if named:
        return named[0]
    for j in range(len(grid.headings)):
        if j == cj:
            continue
        sample = grid.cells[j].iloc[:500].astype(str).str.strip()
        sample = sample[sample.ne("")]
        if len(sample) and sum(_one_period(s) is not None for s in sample) >= 0.9 * len(sample):
            return j
    return None


def _check_gaps(periods: pd.PeriodIndex, label: str, freq: str) -> None:
    full = pd.period_range(periods.min(), periods.max(), freq=periods.freq)
    missing = full.difference(periods)
    if len(missing):
        shown = ", ".join(str(p) for p in missing[:6]) + (" ..." if len(missing) > 6 else "")
        msg = (
            f"{label} has gaps: no data at all for {len(missing)} {freq}(s) between "
            f"{periods.min()} and {periods.max()} ({shown}). Add those periods (0 where nothing "
            "happened; leave cells empty where the number is unknown), or upload only the "
            "unbroken run of periods."
        )
        raise DataError(msg)


def read_series(
    place: Place,
    source: Source,
    *,
    name: str | None = None,
    column: str | None = None,
    code_column: str | None = None,
    period_column: str | None = None,
    frequency: str | None = None,
    kind: Literal["auto", "count", "rate"] = "auto",
    encoding: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> ServiceSeries:
    """
    Read and check a table of one measure by LSOA and period, long or wide.

    Parameters
    ----------
    place
        The place whose LSOAs the codes must belong to (never changed).
    source
        A path, bytes or a binary file object (CSV or XLSX).
    name
        The file name, for messages and to tell XLSX from CSV.
    column
        The measure: in a long table the heading of its column (needed when there
        are several); in a wide table its name (default ``"count"``).
    code_column, period_column
        Headings of the LSOA code and period columns; found automatically.
    frequency
        ``"week"``, ``"month"`` or ``"quarter"`` for full dates; inferred otherwise.
    kind
        ``"auto"`` (a count unless the heading names a rate), ``"count"`` or ``"rate"``.
    encoding, max_bytes
        As for :func:`placekit.userdata.read_table`.

    Returns
    -------
    ServiceSeries
        Values on the place's 2021 LSOAs, consecutive periods; ``notes`` states the
        layout detected, the code vintage and any conversion.

    Raises
    ------
    DataError, SchemaError
        Everything :func:`placekit.userdata.read_table` refuses; no period column
        or period headings; periods that are not dates or that mix frequencies;
        gaps; repeated LSOA-period rows; a measure that cannot be told; counts that
        are not whole numbers.
    """
    from placekit.harmonise import lsoa11_to_lsoa21
    from placekit.userdata import _apportion_counts

    if kind not in ("auto", "count", "rate"):
        msg = f"kind must be one of ['auto', 'count', 'rate']; got {kind!r}."
        raise DataError(msg)
    raw, label, fname = _read_bytes(source, name, max_bytes=max_bytes)
    grid = _grid(raw, label, fname, encoding)
    cj = _find_code_column(grid, code_column)
    codes, vintage = _lsoa_codes(place, grid, cj, one_row_per_area=False)
    rows = grid.row_no
    head_cols, head_periods, head_freq = _heading_periods(grid, cj)
    n_head = sum(p is not None for p in head_periods)
    pj = (
        None if (n_head >= 2 and period_column is None) else _period_column(grid, cj, period_column)
    )
    notes: list[str] = []
    if pj is None and n_head >= 2:
        layout = "wide"
        bad = [grid.col(j) for j, p in zip(head_cols, head_periods, strict=True) if p is None]
        if bad:
            msg = (
                f"{label} looks wide (one column per period), but {', '.join(bad[:4])} "
                f"{'is' if len(bad) == 1 else 'are'} not headed by a period. Head every period "
                f"column like {_EXAMPLES}, or delete the other columns."
            )
            raise DataError(msg)
        if frequency is not None and frequency != head_freq:
            msg = f"{label}: the period headings are {head_freq}s, not {frequency}s as asked."
            raise DataError(msg)
        dup_codes = codes.duplicated(keep=False).to_numpy()
        if dup_codes.any():
            msg = (
                f"{label}, {grid.col(cj)}: codes repeat on {_rows(rows[dup_codes])} (e.g. "
                f"{codes[dup_codes].iloc[0]}). A wide table has one row per LSOA: add the "
                "repeats up first."
            )
            raise DataError(msg)
        per = pd.PeriodIndex(head_periods)
        if per.duplicated().any():
            msg = f"{label}: two columns are headed by the same period {per[per.duplicated()][0]}."
            raise DataError(msg)
        table = pd.DataFrame(
            {p: _numbers(grid, j) for j, p in zip(head_cols, per, strict=True)},
            index=pd.Index(codes.to_numpy(dtype=str)),
        )
        # where each value is in the file: its spreadsheet row, and its column
        row_at = pd.DataFrame(dict.fromkeys(per, rows), index=table.index)
        col_at = {p: grid.col(j) for j, p in zip(head_cols, per, strict=True)}
        measure = column or "count"
        freq = head_freq
        notes.append(
            f"wide layout detected: one row per LSOA ({grid.col(cj)}) and one column per "
            f"{freq} ({len(per)} columns, {per.min()} to {per.max()})"
        )
    elif pj is not None:
        layout = "long"
        texts = grid.cells[pj].astype(str).str.strip()
        blank = texts.eq("").to_numpy()
        if blank.any():
            msg = (
                f"{label}, {grid.col(pj)}: the period is missing on {_rows(rows[blank])}. Fill "
                "it in or remove the row."
            )
            raise DataError(msg)
        try:
            parsed, freq = parse_periods(list(texts), frequency=frequency)
        except DataError as err:
            msg = f"{label}, {grid.col(pj)}: {err}"
            raise DataError(msg) from None
        notp = np.array([p is None for p in parsed])
        if notp.any():
            eg = texts.to_numpy()[notp][0]
            msg = (
                f"{label}, {grid.col(pj)}: the cells on {_rows(rows[notp])} are not periods "
                f"(e.g. {_q(eg, 30)}). Write each period as {_EXAMPLES}, or as the date it "
                "starts (2024-01-01)."
            )
            raise DataError(msg)
        others = [j for j in range(len(grid.headings)) if j not in (cj, pj)]
        if column is not None:
            pick = [j for j in others if grid.headings[j].casefold() == column.strip().casefold()]
            if not pick:
                msg = (
                    f"{label} has no column headed {_q(column)}. Columns present: "
                    f"{', '.join(_q(grid.headings[j], 30) for j in others[:12])}."
                )
                raise SchemaError(
                    msg,
                    fixes={
                        "cli": "Give --demand one of those headings.",
                        "library": "Give column one of those headings.",
                    },
                )
            vj = pick[0]
        elif len(others) == 1:
            vj = others[0]
        elif not others:
            msg = f"{label} has LSOA codes and periods but no column of values."
            raise SchemaError(msg)
        else:
            eg = _q(grid.headings[others[0]], 30)
            msg = (
                f"{label} has {len(others)} value columns "
                f"({', '.join(_q(grid.headings[j], 30) for j in others[:6])}) besides the LSOA "
                "code and the period."
            )
            raise SchemaError(
                msg,
                fixes={
                    "app": "Keep one of them (delete the other columns) and upload the file again.",
                    "cli": f"Choose one with --demand, e.g. --demand {eg}.",
                    "library": f"Choose one with column=, e.g. column={eg}.",
                },
            )
        per_rows = pd.PeriodIndex(parsed)
        key = pd.DataFrame({"c": codes.to_numpy(dtype=str), "p": per_rows.astype(str)})
        dup = key.duplicated(keep=False).to_numpy()
        if dup.any():
            msg = (
                f"{label}: LSOA and period repeat on {_rows(rows[dup])} (e.g. "
                f"{key['c'][dup].iloc[0]} in {key['p'][dup].iloc[0]}). Give one row per LSOA and "
                "period: add the repeats up (or keep the right one) first."
            )
            raise DataError(msg)
        v = _numbers(grid, vj)
        measure = grid.headings[vj]
        long = pd.DataFrame({"code": codes.to_numpy(dtype=str), "period": per_rows, "v": v})
        table = long.pivot(index="code", columns="period", values="v")
        row_at = long.assign(v=rows).pivot(index="code", columns="period", values="v")
        col_at = dict.fromkeys(table.columns, grid.col(vj))
        notes.append(
            f"long layout detected: one row per LSOA and period ({grid.col(cj)}, "
            f"{grid.col(pj)}, {grid.col(vj)}), {len(table.columns)} {freq}s from "
            f"{table.columns.min()} to {table.columns.max()}"
        )
        missing_cells = int(table.isna().to_numpy().sum() - np.isnan(v).sum())
        if missing_cells:
            notes.append(
                f"{missing_cells} LSOA-period rows are absent from the file; they are unknown "
                "(not zero)"
            )
    else:
        msg = (
            f"{label}: cannot tell the layout. Give either a period column (long layout: "
            "lsoa_code, period, referrals) or one column per period headed like "
            f"{_EXAMPLES} (wide layout)."
        )
        raise SchemaError(msg)
    table = table.reindex(columns=sorted(table.columns))
    row_at = row_at.reindex(index=table.index, columns=table.columns)

    def cells(mask: np.ndarray) -> str:
        """Where the cells under ``mask`` are: ``rows 3 and 5 (column C '2024-01')``."""
        where = _rows(sorted({int(r) for r in row_at.to_numpy()[mask]}))
        used = list(dict.fromkeys(col_at[c] for c in table.columns[mask.any(axis=0)]))
        return f"{where} ({', '.join(used[:3])}{' and others' if len(used) > 3 else ''})"

    periods = pd.PeriodIndex(table.columns)
    _check_gaps(periods, label, freq)
    vals = table.to_numpy(dtype=float)
    if (vals < 0).any():
        eg = vals[vals < 0][0]
        msg = (
            f"{label}: the values on {cells(vals < 0)} are negative (e.g. {eg:g}). Counts and "
            "rates must be 0 or more."
        )
        raise DataError(msg)
    if kind == "auto":
        kind_, why = (
            ("rate", "its heading names a rate")
            if _is_rate_heading(measure)
            else ("count", "its heading does not name a rate")
        )
    else:
        kind_, why = kind, "as asked"
    if kind_ == "count":
        fin = np.isfinite(vals)
        frac = fin & (vals != np.round(vals))
        if frac.any():
            eg = vals[frac][0]
            msg = (
                f"{label}: {_q(measure)} was read as a count ({why}), and counts must be whole "
                f"numbers, but the values on {cells(frac)} are not (e.g. {eg:g}). Correct them; "
                "or, if it is a rate, put 'rate', 'per 1000' or '%' in its heading."
            )
            raise DataError(msg)
        big = fin & (np.nan_to_num(vals) > _MAX_COUNT)
        if big.any():
            msg = (
                f"{label}: the values on {cells(big)} are above 1e9, too large to be counts in "
                "one LSOA and period."
            )
            raise DataError(msg)
    notes.append(f"{_q(measure)} read as a {kind_} ({why})")
    pop = place.weights["population"]
    table.columns = pd.Index([str(p) for p in periods])
    if vintage == "2011":
        if place.lookup11 is None:
            msg = f"{label} uses 2011 LSOA codes, but this place's pack has no 2011-2021 lookup."
            raise DataError(msg)
        if kind_ == "count":
            table = _apportion_counts(table, place.lookup11, pop)
        else:
            w11 = (
                place.population11
                if place.population11 is not None
                else (place.lookup11.groupby("LSOA11CD")["LSOA21CD"].first().map(pop))
            )
            table = lsoa11_to_lsoa21(table, place.lookup11, weight11=w11, population21=pop)
        notes.append(
            "2011 LSOA codes converted to 2021 (merges summed, split counts shared by "
            "population in whole numbers)"
        )
    table = table.reindex(place.lsoa.index)
    table.columns = pd.PeriodIndex(periods, name="period")
    table.index.name = "area_code"
    absent = int(table.isna().all(axis=1).sum())
    if absent:
        notes.append(f"{absent} of the place's {len(table)} LSOAs have no data in the file")
    return ServiceSeries(
        values=table.astype(float),
        column=safe_text(measure),
        kind=kind_,
        frequency=freq,
        layout=layout,
        vintage=vintage,
        source=safe_text(fname),
        notes=tuple(notes),
    )


# ----------------------------------------------------------------------------- protection


@dataclass(frozen=True)
class SeriesProtection:
    """
    A series' published values at every level and group, period by period.

    Attributes
    ----------
    frequency
        The frequency published (the upload's, or coarser if small counts needed it).
    published
        ``{level or group: DataFrame}`` (areas x periods), NaN where hidden or unknown.
        Levels are ``"lsoa"``, the place's levels, ``"all"``, and the groups asked for.
    hidden
        ``{level or group: DataFrame}`` of booleans, True where a cell with data is hidden.
    notes
        What was done: aggregation of periods and why, suppression counts, method.
    groupings
        The groupings protected together (place levels and groups), per LSOA.
    min_count
        The smallest count shown.
    """

    frequency: str
    published: Mapping[str, pd.DataFrame]
    hidden: Mapping[str, pd.DataFrame]
    notes: tuple[str, ...]
    groupings: Mapping[str, pd.Series] = field(default_factory=dict)
    min_count: int = 5

    def series(self, level: str, area: str) -> pd.Series:
        """The published values of one area (or group) of ``level`` over the periods."""
        if level not in self.published:
            msg = f"level must be one of {list(self.published)}; got {level!r}."
            raise DataError(msg)
        table = self.published[level]
        if area not in table.index:
            msg = (
                f"{area!r} is not an area of {level}; areas: {sorted(map(str, table.index))[:12]}."
            )
            raise DataError(msg)
        return table.loc[area]


def _group_codes(
    place: Place, groups: Mapping[str, Mapping[str, Sequence[str]]]
) -> dict[str, pd.Series]:
    out: dict[str, pd.Series] = {}
    for gname, members in groups.items():
        s = pd.Series(np.nan, index=place.lsoa.index, dtype=object)
        for code, areas in members.items():
            bad = [a for a in areas if a not in s.index]
            if bad:
                msg = f"group {gname!r}, {code!r}: {bad[:5]} are not LSOAs of {place.name}."
                raise DataError(msg)
            if s[list(areas)].notna().any():
                msg = f"group {gname!r}: an LSOA is in two of its groups; groups must not overlap."
                raise DataError(msg)
            s[list(areas)] = code
        out[gname] = s
    return out


def _protect_all(
    values: pd.DataFrame, groupings: Mapping[str, pd.Series], min_count: int
) -> dict[pd.Period, Protection]:
    return {
        p: protect(values[p].rename(str(p)), groupings, min_count=min_count) for p in values.columns
    }


def protect_series(
    series: ServiceSeries,
    place: Place,
    *,
    groups: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    max_primary_share: float = 0.25,
    frequency: str | None = None,
) -> SeriesProtection:
    """
    Protect every period of a series at every level and group, aggregating periods first.

    Parameters
    ----------
    series
        From :func:`read_series`.
    place
        The place (its levels are all published).
    groups
        ``{name: {group code: [LSOA codes]}}``: groups an output will show (e.g.
        ``{"pilot": {"pilot": [...], "comparison": [...]}}``), protected together
        with the levels. Groups of one name must not overlap.
    max_primary_share
        Periods are aggregated while more than this share of the LSOA cells with
        data would be 1 to ``min_count - 1``, or while any group total is hidden.
    frequency
        Publish at this frequency (no coarser search); the upload's by default.

    Returns
    -------
    SeriesProtection

    Raises
    ------
    DataError
        If a group names LSOAs outside the place, or ``frequency`` is finer than the data.
    """
    if not 0 <= max_primary_share <= 1:
        msg = f"max_primary_share must be from 0 to 1; got {max_primary_share!r}."
        raise DataError(msg)
    groupings = {str(lvl): place.codes(lvl) for lvl in place.levels}
    extra = _group_codes(place, groups or {})
    overlap = set(extra) & (set(groupings) | {LSOA, ALL})
    if overlap:
        msg = f"group names {sorted(overlap)} are level names of the place; choose others."
        raise DataError(msg)
    groupings.update(extra)
    min_count = int(place.min_count)
    freq = series.frequency
    values = series.values
    notes: list[str] = []
    order = [*FREQUENCIES, "year"]
    if frequency is not None:
        if frequency not in order or order.index(frequency) < order.index(freq):
            msg = (
                f"frequency must be {freq} or coarser ({order[order.index(freq) :]}); "
                f"got {frequency!r}."
            )
            raise DataError(msg)
        while freq != frequency:
            freq = COARSER[freq]
            values = aggregate_periods(values, freq, kind=series.kind)
        notes.append(f"published by {freq}, as asked")
    if series.kind != "count":
        published = {LSOA: values}
        for lvl, key in groupings.items():
            w = place.weights["population"]
            ok = values.notna()
            published[lvl] = (
                values.mul(w, axis=0).where(ok).groupby(key).sum(min_count=1)
                / ok.mul(w, axis=0).groupby(key).sum()
            )
        published[ALL] = pd.DataFrame(
            [
                values.mul(place.weights["population"], axis=0).sum()
                / place.weights["population"].sum()
            ],
            index=[ALL],
        )
        hidden = {k: v.isna() & False for k, v in published.items()}
        notes.append(f"{series.column} is a rate: not disclosure controlled (no counts shown)")
        return SeriesProtection(freq, published, hidden, tuple(notes), groupings, min_count)
    while True:
        data = values.notna()
        primary = data & (values >= 1) & (values < min_count)
        share = float(primary.to_numpy().sum() / max(int(data.to_numpy().sum()), 1))
        coarser = COARSER.get(freq) if frequency is None else None
        nxt = aggregate_periods(values, coarser, kind="count") if coarser else None
        can_coarsen = nxt is not None and nxt.shape[1] >= 1
        if can_coarsen and share > max_primary_share:  # no need to protect this resolution
            notes.append(
                f"{share:.0%} of LSOA-{freq} cells were 1 to {min_count - 1}: {freq}s "
                f"aggregated to {coarser}s before hiding"
            )
            values, freq = nxt, str(coarser)
            continue
        prots = _protect_all(values, groupings, min_count)
        group_hidden = any(bool(pr.hidden[g].any()) for pr in prots.values() for g in extra)
        if can_coarsen and group_hidden:
            notes.append(
                f"a group's total for a {freq} was 1 to {min_count - 1} or had to be hidden: "
                f"{freq}s aggregated to {coarser}s before hiding"
            )
            values, freq = nxt, str(coarser)
            continue
        break
    published_d: dict[str, pd.DataFrame] = {}
    hidden_d: dict[str, pd.DataFrame] = {}
    levels = next(iter(prots.values())).levels if prots else (LSOA, *groupings, ALL)
    for lvl in levels:
        published_d[lvl] = pd.DataFrame({p: pr.published[lvl] for p, pr in prots.items()})
        hidden_d[lvl] = pd.DataFrame({p: pr.hidden[lvl] for p, pr in prots.items()})
        published_d[lvl].columns = pd.PeriodIndex(list(prots), freq=_PANDAS_FREQ[freq])
        hidden_d[lvl].columns = published_d[lvl].columns
    n_hidden = sum(int(h.to_numpy().sum()) for h in hidden_d.values())
    n_cells = sum(
        int(published_d[k].notna().to_numpy().sum() + hidden_d[k].to_numpy().sum())
        for k in published_d
    )
    notes.append(
        f"{len(prots)} {freq}s, each protected at {len(levels)} levels and groups together "
        f"({', '.join(levels)}): {n_hidden} of {n_cells} cells hidden (counts of 1 to "
        f"{min_count - 1}, and cells that would give them away)"
    )
    return SeriesProtection(freq, published_d, hidden_d, tuple(notes), groupings, min_count)

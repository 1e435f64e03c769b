"""Errors in the words of the place where they are shown: the app, the CLI, Python.

Each error's message says what is wrong and what to change in the file; a fix
that names one audience's control (a tick box, a ``--flag``, a keyword argument)
is kept in ``fixes`` and shown only to that audience. Rows are numbered as a
spreadsheet shows them: the heading is row 1, the first row of data row 2.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest

from placekit import _cli_more
from placekit import _cli_time as cli_time
from placekit.cli import main
from placekit.errors import AUDIENCES, DataError, PlacekitError, SchemaError, explain
from placekit.pilots import evaluate_pilot
from placekit.text import md_escape
from placekit.timeseries import read_series
from placekit.userdata import add_points, add_table, outside_box

PY_ADVICE = re.compile(r"\b[a-z_]+=|\bpass [a-z_]+\b|\bkeyword\b|\bargument\b", re.IGNORECASE)
CLI_FLAG = re.compile(r"(?<![\w-])--[a-z]")


def _raised(fn, *args, **kwargs) -> PlacekitError:
    with pytest.raises(PlacekitError) as info:
        fn(*args, **kwargs)
    return info.value


# ----------------------------------------------------------------------------- the mechanism
def test_str_is_the_library_text_and_explain_picks_the_audience():
    err = DataError(
        "Two columns of codes.",
        fixes={"app": "Delete one.", "cli": "Add --x.", "library": "Pass x=1."},
    )
    assert str(err) == "Two columns of codes. Pass x=1." == explain(err, "library")
    assert explain(err, "app") == "Two columns of codes. Delete one."
    assert explain(err, "cli") == "Two columns of codes. Add --x."
    assert err.message == "Two columns of codes."
    assert isinstance(err, ValueError)


def test_an_audience_without_a_fix_never_gets_another_audiences_fix():
    err = SchemaError("No codes.", fixes={"library": "Pass code_column=."})
    assert explain(err, "app") == explain(err, "cli") == "No codes."
    assert explain(DataError("Plain."), "app") == "Plain." == str(DataError("Plain."))
    assert explain(KeyError("k"), "app") == str(KeyError("k"))


def test_fixes_are_checked_and_survive_pickling():
    with pytest.raises(ValueError, match="keyed by audience"):
        DataError("x", fixes={"web": "y"})
    with pytest.raises(ValueError, match="audience must be one of"):
        explain(DataError("x"), "gui")
    err = DataError("Bad.", fixes={"app": "Tick it.", "library": "Pass a=1."})
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is DataError
    assert [explain(back, a) for a in AUDIENCES] == [explain(err, a) for a in AUDIENCES]


def test_show_error_uses_the_app_audience(monkeypatch):
    import streamlit as st

    from sections import _common

    shown: list[str] = []
    monkeypatch.setattr(st, "error", shown.append)
    _common.show_error(DataError("Points outside.", fixes={"app": "Tick the box.", "cli": "x"}))
    _common.show_error("A plain <b>message</b>.")
    assert shown == [
        md_escape("Points outside. Tick the box."),
        md_escape("A plain <b>message</b>."),
    ]
    assert "&lt;b&gt;" in shown[1]


# ----------------------------------------------------------------------------- uploads
OUTSIDE = b"lon,lat\n-1.47,53.38\n-0.1,51.5\n-0.12,51.51\n"


def test_points_outside_the_city_in_each_audiences_words(place):
    err = _raised(add_points, place, OUTSIDE, name="sites.csv")
    base = (
        "'sites.csv': the points from rows 3 and 4 lie outside the city (Sheffield). Remove "
        "them from the file and upload it again."
    )
    assert explain(err, "app") == (
        f"{base} Or tick 'Leave out points outside Sheffield' to load the other points."
    )
    assert outside_box(place.name) == "Leave out points outside Sheffield"
    assert explain(err, "cli") == base  # no CLI command reads points: only the file fix
    assert str(err) == f"{base} Or pass drop_outside=True to leave them out."
    assert not PY_ADVICE.search(explain(err, "app"))


def test_code_column_advice_only_for_python(place):
    err = _raised(add_table, place, b"area,referrals\nSheffield,3\n", name="r.csv")
    base = (
        "'r.csv' has no column of LSOA codes (codes like E01007823). Columns present: 'area', "
        "'referrals'. Add a column of 2011 or 2021 LSOA codes."
    )
    assert explain(err, "app") == explain(err, "cli") == base
    assert str(err) == f"{base} If the file has one, name its heading with code_column=."
    two = b"lsoa_code,lsoa21,n\nE01007823,E01007823,3\n"
    err = _raised(add_table, place, two, name="two.csv")
    assert "code_column=" not in explain(err, "app") and "code_column=" in str(err)


def test_upload_rows_count_the_heading_as_row_1(place):
    # row 1 the heading, rows 2-4 the data: the bad cell is on the spreadsheet's row 4
    body = b"lsoa_code,referrals\nE01007823,3\nE01007824,4\nE01007825,abc\n"
    err = _raised(add_table, place, body, name="r.csv")
    assert explain(err, "app") == (
        "'r.csv', column B 'referrals': the cells on row 4 are not numbers (e.g. 'abc'). Use "
        "plain numbers such as 12 or 4.5 for the values; leave a cell empty if unknown."
    )
    # blank lines are not rows of data, but they keep the spreadsheet's numbering
    body = b"lsoa_code,referrals\nE01007823,3\n\nE01007825,-1\n"
    err = _raised(add_table, place, body, name="r.csv")
    assert "the values on row 4 are negative" in explain(err, "app")


def test_upload_columns_are_lettered_as_the_spreadsheet_shows_them(place):
    # empty unnamed columns A and C are dropped, but 'n' is still column D of the file
    err = _raised(add_table, place, b",lsoa_code,,n\n,E01007823,,abc\n", name="c.csv")
    assert explain(err, "app").startswith(
        "'c.csv', column D 'n': the cells on row 2 are not numbers (e.g. 'abc')."
    )


def test_every_upload_refusal_shown_in_the_app_has_no_python_advice(place):
    bad = {
        "a.csv": b"area,referrals\nx,1\n",
        "b.csv": b"lsoa_code,lsoa21,n\nE01007823,E01007823,3\n",
        "c.csv": b"lsoa_code,referrals\nE01007823,1.5\n",
        "d.csv": b"lsoa_code,referrals\nE01000001,5\n",
        "e.csv": b"lsoa_code,n\nE01007823,<5\n",
        "f.csv": b"lsoa_code\nE01007823\n",
    }
    for name, body in bad.items():
        err = _raised(add_table, place, body, name=name)
        assert not PY_ADVICE.search(explain(err, "app")), explain(err, "app")
        assert not CLI_FLAG.search(explain(err, "app")), explain(err, "app")
    for body in (OUTSIDE, b"a,b\n1,2\n", b"lon,lat\n53.38,-1.47\n"):
        err = _raised(add_points, place, body, name="p.csv")
        assert not PY_ADVICE.search(explain(err, "app")), explain(err, "app")


# ----------------------------------------------------------------------------- time series
TWO_MEASURES = b"lsoa_code,period,referrals,visits\nE01007823,2024-01,3,4\nE01007823,2024-02,3,4\n"


def test_series_with_two_measures_in_each_audiences_words(place):
    err = _raised(read_series, place, TWO_MEASURES, name="two.csv")
    base = (
        "'two.csv' has 2 value columns ('referrals', 'visits') besides the LSOA code and the "
        "period."
    )
    assert explain(err, "app") == (
        f"{base} Keep one of them (delete the other columns) and upload the file again."
    )
    assert explain(err, "cli") == f"{base} Choose one with --demand, e.g. --demand 'referrals'."
    assert str(err) == f"{base} Choose one with column=, e.g. column='referrals'."


def test_series_rows_and_columns_as_a_spreadsheet_shows_them(place):
    long = b"lsoa_code,period,n\nE01007823,2024-01,3\nE01007823,2024-02,-2\n"
    err = _raised(read_series, place, long, name="long.csv")
    assert explain(err, "app") == (
        "'long.csv': the values on row 3 (column C 'n') are negative (e.g. -2). Counts and "
        "rates must be 0 or more."
    )
    wide = b"lsoa_code,2024-01,2024-02\nE01007823,1,2\nE01007824,1,2.5\n"
    err = _raised(read_series, place, wide, name="wide.csv")
    assert explain(err, "app") == (
        "'wide.csv': 'count' was read as a count (its heading does not name a rate), and counts "
        "must be whole numbers, but the values on row 3 (column C '2024-02') are not (e.g. "
        "2.5). Correct them; or, if it is a rate, put 'rate', 'per 1000' or '%' in its heading."
    )


def test_pilot_demand_mismatch_names_the_app_box_or_the_flag(place):
    series = read_series(
        place, b"lsoa_code,period,visits\nE01007823,2024-01,3\n", name="visits.csv"
    )
    pilot = {
        "placekit_pilot": 1,
        "name": "p",
        "areas": ["E01007823"],
        "start": "2024-01",
        "demand": "referrals",
    }
    err = _raised(evaluate_pilot, pilot, series, place)
    base = "the pilot's demand is 'referrals', but the demand file's measure is 'visits'."
    assert explain(err, "app") == (
        f"{base} Write 'visits' in the 'Demand column' box, or upload the file that holds "
        "'referrals'."
    )
    assert (
        explain(err, "cli")
        == f"{base} Give --demand 'visits', or change 'demand' in the pilot file."
    )
    assert "column='referrals'" in str(err)


# ----------------------------------------------------------------------------- the CLI
def test_cli_prints_the_cli_fix(capsys, monkeypatch, place, tmp_path: Path):
    monkeypatch.setattr(cli_time, "_place", lambda args: place)
    f = tmp_path / "two.csv"
    f.write_bytes(TWO_MEASURES)
    code = main(
        ["spc", "--demand-file", str(f), "--areas", "E01007823", "--out", str(tmp_path / "c.csv")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        "placekit: error: 'two.csv' has 2 value columns ('referrals', 'visits') besides the "
        "LSOA code and the period. Choose one with --demand, e.g. --demand 'referrals'.\n"
    )


def test_cli_demand_file_without_the_column(capsys, monkeypatch, place, tmp_path: Path):
    monkeypatch.setattr(_cli_more, "_place", lambda args: place)
    f = tmp_path / "r.csv"
    f.write_bytes(b"lsoa_code,referrals\nE01007823,3\n")
    out = tmp_path / "d.csv"
    code = main(["drivers", "--demand-file", str(f), "--demand", "visits", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        "placekit: error: 'r.csv' has no column(s) 'visits'. Columns present: 'lsoa_code', "
        "'referrals'. Give --demand one of those headings.\n"
    )
    assert not out.exists()

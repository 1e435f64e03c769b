"""Property-based test of the ``placekit`` command line on the real Sheffield pack.

Over a thousand generated argument lists, valid and hostile (negative, NaN,
infinite and huge numbers, text where numbers belong, unknown levels, ids and
facility types, output paths to nowhere, unknown extensions, markup), go through
:func:`placekit.cli.main`. The only exit codes allowed are 0 and 2, with no
traceback and no "unexpected error" on standard error, a ``placekit ...: error:``
line whenever the code is 2, and the output file present whenever it is 0.

To stay fast the place is loaded once (``load_place`` returns the session's
place), access indicators are computed once per combination, and the commands
that do real work (``cluster``, ``drivers``, ``scenario``, ``report``) are only
given argument lists with at least one bad value, which must be refused before
any work starts.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import placekit.accessibility as pa
import placekit.place as pp
from placekit.cli import main
from placekit.config import data_dir

N_CASES = 1000
FUZZ = settings(
    max_examples=N_CASES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
COMMANDS = {"table", "indicators", "access", "cluster", "drivers", "scenario", "report"}
ERROR_LINE = re.compile(r"^placekit( [\w-]+)?: error: ", re.MULTILINE)


def _mostly(
    good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], n_good: int = 4
) -> st.SearchStrategy[Any]:
    """``good`` n_good times in n_good + 1, else ``bad``."""
    return st.sampled_from([True] * n_good + [False]).flatmap(lambda ok: good if ok else bad)


# -- placeholders replaced at run time: a writable folder and a plain file ----------------
DIR, FILE = "@DIR@", "@FILE@"

MARKUP = [
    "<script>alert(1)</script>",
    "![x](http://example.com/x.png)",
    "[a](javascript:x)",
    "**b**",
    "a\nb",
    "'; DROP TABLE x; --",
    "${HOME}",
    "ünïcödé",
    " ",
]
names = st.one_of(
    st.sampled_from(["out", "t", "a b", "ünï", "<b>x</b>", "![i](http://e)", "-x", ".hidden"]),
    st.text(
        st.characters(whitelist_categories=("Lu", "Ll", "Nd"), whitelist_characters="-_ ."),
        min_size=1,
        max_size=12,
    ),
)
SPATIAL = [".csv", ".CSV", ".gpkg", ".parquet", ".geojson", ".geoparquet"]
#: What valid names end with: mostly CSV, the cheapest to write
GOOD_SPATIAL = [".csv"] * 6 + SPATIAL
BAD_EXT = [".xyz", "", ".html", ".txt", ".csv.bak", ".", ".gz", ".json", ".shp"]


def _paths(good_ext: list[str]) -> st.SearchStrategy[str]:
    good = st.builds(lambda n, e: f"{DIR}/{n}{e}", names, st.sampled_from(good_ext))
    bad = st.one_of(
        st.builds(lambda n, e: f"{DIR}/{n}{e}", names, st.sampled_from(BAD_EXT)),
        st.builds(lambda n: f"{DIR}/nowhere/deeper/{n}.csv", names),
        st.builds(lambda n: f"{FILE}/{n}.csv", names),
        st.sampled_from(
            ["/sys/x.csv", "/proc/placekit/x.csv", "", " ", DIR, f"{DIR}/", "/", "x\x00y.csv"]
        ),
    )
    return _mostly(good, bad, 5)


LEVELS_OK = ["lsoa", "neighbourhood", "msoa", "ward", "lac", "lad"]
levels = _mostly(
    st.sampled_from(LEVELS_OK),
    st.one_of(
        st.sampled_from(["", "LSOA", "county", "lsoa ", "oa", "region", *MARKUP]),
        st.text(max_size=8),
    ),
)
IDS_OK = [
    "imd2025_score",
    "bad_health_pct",
    "population",
    "no_car_pct",
    "imd2025_decile",
    "library_walk_min",
    "library_walk_m",
]
IDS_BAD = ["nope", "", " ", "imd2025", "IMD2025_SCORE", "gp_bike_min", *MARKUP]
id_lists = _mostly(
    st.lists(st.sampled_from(IDS_OK), min_size=1, max_size=3).map(",".join),
    st.one_of(
        st.lists(
            st.one_of(st.sampled_from(IDS_OK), st.sampled_from(IDS_BAD)), min_size=1, max_size=4
        ).map(",".join),
        st.sampled_from([",", ",,,", " , "]),
    ),
)
numbers_bad = [
    "-5",
    "0",
    "-0",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e400",
    "-1e400",
    "1e9",
    "181",
    "ten",
    "",
    "1,5",
    "0x10",
    "1_0",
    "<b>",
    "15min",
    " ",
    "--5",
]
minutes = _mostly(
    st.sampled_from(["5", "10", "15", "30", "0.5", "180"]),
    st.one_of(
        st.sampled_from(numbers_bad),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
    ),
    3,
)
k_values_bad = [
    "0",
    "1",
    "-3",
    "1000",
    "343",
    "342",
    "21",
    "1e3",
    "four",
    "",
    "2.5",
    "nan",
    str(2**70),
]
seeds_bad = ["-1", str(2**32), str(2**40), "x", "1.5", ""]
facilities = _mostly(
    st.sampled_from(["library", "library,library", " library "]),
    st.sampled_from(["hospital", "", ",,", "LIBRARY", "library,hospital", "gp;rm -rf /", *MARKUP]),
)
data_opts = _mostly(
    st.just([]),
    st.sampled_from(
        [["--data", f"{DIR}/nopack"], ["--data", FILE], ["--data", ""], ["--data", DIR]]
    ),
)
junk = st.sampled_from(["--bogus", "-x", "--out", "--k", "extra", "--level=", "--", "-h"])


def _flatten(pairs: list[list[str]], extra: list[str]) -> list[str]:
    return [tok for pair in pairs for tok in pair] + extra


def _command(
    name: str,
    options: list[st.SearchStrategy[list[str]]],
    *,
    positional: st.SearchStrategy[list[str]] | None = None,
) -> st.SearchStrategy[list[str]]:
    """``[--data ..] name [positional] options...`` with options shuffled and sometimes dropped."""
    return st.builds(
        lambda data, pos, pairs, drop, extra: [
            *data,
            name,
            *pos,
            *_flatten(pairs[: len(pairs) - drop], extra),
        ],
        data_opts,
        positional if positional is not None else st.just([]),
        st.tuples(*options).map(list).flatmap(st.permutations),
        _mostly(st.just(0), st.just(1), 8),
        _mostly(st.just([]), st.lists(junk, min_size=1, max_size=1), 8),
    )


def _opt(flag: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    return values.map(lambda v: [flag, v])


def _maybe(flag: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    return st.one_of(st.just([]), _opt(flag, values))


table_args = _command(
    "table",
    [
        _opt("--out", _paths(GOOD_SPATIAL)),
        _maybe("--level", levels),
        _maybe("--indicators", id_lists),
        _mostly(st.just([]), st.just(["--england"]), 24),
    ],
)
indicators_args = _command("indicators", [_maybe("--out", _paths([".csv"]))])
access_args = _command(
    "access",
    [
        _opt("--facility", facilities),
        _opt("--out", _paths(GOOD_SPATIAL)),
        _maybe("--mode", st.sampled_from(["walk", "bike", "", "WALK", "<b>"])),
        _maybe("--level", levels),
        _maybe("--within", minutes),
    ],
)


# -- the commands that work hard: always at least one bad value ------------------------------
def _with_one_bad(
    name: str,
    good: dict[str, list[str]],
    bad: dict[str, list[str]],
    *,
    positional: list[str] | None = None,
) -> st.SearchStrategy[list[str]]:
    """Every option good except one (drawn), which is bad."""

    def build(which: str, choices: dict[str, str], order: list[str]) -> list[str]:
        argv = [name, *(positional or [])]
        for flag in order:
            value = bad[flag] if flag == which else good[flag]
            argv += [flag, choices[flag] if flag == which else value[0]]
        return argv

    flags = list(good)
    return st.sampled_from(flags).flatmap(
        lambda which: st.builds(
            build,
            st.just(which),
            st.fixed_dictionaries({f: st.sampled_from(bad[f]) for f in flags}),
            st.permutations(flags),
        )
    )


BAD_OUT = ["x.xyz", f"{DIR}/nowhere/x.csv", f"{FILE}/x.csv", "/sys/x.csv", "", DIR]
cluster_args = _with_one_bad(
    "cluster",
    {"--k": ["5"], "--out": [f"{DIR}/c.csv"], "--seed": ["0"], "--variables": ["no_car_pct"]},
    {
        "--k": k_values_bad,
        "--out": BAD_OUT,
        "--seed": seeds_bad,
        "--variables": ["nope", ",,", *MARKUP],
    },
)
report_args = _with_one_bad(
    "report",
    {
        "--area": ["Central"],
        "--out": [f"{DIR}/r.html"],
        "--k": ["6"],
        "--level": ["lac"],
        "--demand": ["bad_health_pct"],
    },
    {
        "--area": ["Atlantis", "", *MARKUP],
        "--out": [*BAD_OUT, f"{DIR}/r.csv"],
        "--k": k_values_bad,
        "--level": ["county", "lsoa", "", *MARKUP],
        "--demand": ["nope", "", *MARKUP],
    },
)
drivers_args = _with_one_bad(
    "drivers",
    {
        "--demand": ["bad_health_pct"],
        "--out": [f"{DIR}/d.csv"],
        "--drivers": ["no_car_pct"],
        "--areas-out": [f"{DIR}/da.csv"],
    },
    {
        "--demand": ["nope", "", "library_walk_min", *MARKUP],
        "--out": BAD_OUT,
        "--drivers": ["nope", ",,", *MARKUP],
        "--areas-out": BAD_OUT,
    },
)
scenario_args = st.one_of(
    _with_one_bad(
        "scenario",
        {"--out": [f"{DIR}/s.csv"], "--level": ["lac"]},
        {"--out": BAD_OUT, "--level": ["county", "", *MARKUP]},
        positional=[f"{DIR}/scenario.json"],
    ),
    st.sampled_from([f"{DIR}/missing.json", FILE, f"{DIR}/bad.json", DIR]).map(
        lambda f: ["scenario", f, "--out", f"{DIR}/s.csv"]
    ),
)
raw_args = st.lists(
    st.one_of(
        st.text(max_size=12),
        junk,
        st.sampled_from(
            ["table", "access", "indicators", "--level", "--out", "--within", "--facility"]
        ),
    ),
    max_size=6,
)

any_args = st.one_of(
    table_args,
    table_args,
    access_args,
    access_args,
    indicators_args,
    cluster_args,
    report_args,
    drivers_args,
    scenario_args,
    raw_args,
)


# -- fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cli_env(place, tmp_path_factory) -> dict[str, Any]:
    """Point the CLI at the session's place; compute access indicators once per combination."""
    folder = tmp_path_factory.mktemp("cli_fuzz")
    plain = folder / "plain.txt"
    plain.write_text("not a folder")
    (folder / "bad.json").write_text("{not json")
    (folder / "scenario.json").write_text(
        '{"placekit_scenario": 1, "name": "x", "threshold_min": 15, "interventions": '
        '[{"type": "add_facility", "facility": "gp", "lon": -1.4917, "lat": 53.3215}]}'
    )
    real_load, real_access = pp.load_place, pa.add_access_indicators
    pack = data_dir().resolve()
    memo: dict[tuple[Any, ...], Any] = {}

    def load_place(path: Any = None, **kw: Any) -> Any:
        if path is None or (str(path).strip() and Path(path).resolve() == pack):
            return place
        return real_load(path, **kw)

    def add_access(p: Any, **kw: Any) -> Any:
        key = (id(p), repr(sorted((k, v) for k, v in kw.items() if k != "progress")))
        if key not in memo:
            memo[key] = real_access(p, **kw)
        return memo[key]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pp, "load_place", load_place)
        mp.setattr(pa, "add_access_indicators", add_access)
        yield {"dir": folder, "file": plain}


def _run(argv: list[str], env: dict[str, Any]) -> tuple[int, str, str]:
    argv = [a.replace(DIR, str(env["dir"])).replace(FILE, str(env["file"])) for a in argv]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def _check(argv: list[str], env: dict[str, Any], *, record: bool = True) -> int:
    rc, out, err = _run(argv, env)
    assert rc in (0, 2), (argv, rc, err[-2000:])
    assert "Traceback" not in err, (argv, err[-2000:])
    assert "unexpected error" not in err, (argv, err[-2000:])
    if rc == 2:
        assert ERROR_LINE.search(err), (argv, err[-2000:])
    if record:
        command = next((a for a in argv if a in COMMANDS), "(none)")
        event(f"{command} -> {rc}")
    if rc == 0 and "-h" not in argv and "--help" not in argv:
        written = re.findall(r"Wrote .*? to (.*?)(?: in [\d.]+ s)?$", out, re.MULTILINE)
        if written:
            assert Path(written[-1]).is_file(), (argv, out)
            assert Path(written[-1]).suffix.lower() in {*SPATIAL, ".csv"} | {".geoparquet"}
    return rc


@FUZZ
@given(argv=any_args)
def test_cli_never_crashes(cli_env, argv):
    _check(argv, cli_env)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(argv=st.one_of(cluster_args, report_args, drivers_args, scenario_args))
def test_costly_commands_refuse_bad_input_up_front(cli_env, argv):
    """A bad value for a command that works hard is refused (2) before any work."""
    assert _check(argv, cli_env) == 2


def test_valid_lists_succeed(cli_env):
    """The generators' valid ends do work (so the fuzz is not only testing refusals)."""
    assert (
        _check(
            [
                "table",
                "--level",
                "lac",
                "--indicators",
                "imd2025_score,library_walk_min",
                "--out",
                f"{DIR}/ok.geojson",
            ],
            cli_env,
            record=False,
        )
        == 0
    )
    assert (
        _check(
            [
                "access",
                "--facility",
                "library",
                "--within",
                "15",
                "--level",
                "ward",
                "--out",
                f"{DIR}/ok.gpkg",
            ],
            cli_env,
            record=False,
        )
        == 0
    )
    assert _check(["indicators", "--out", f"{DIR}/cat.CSV"], cli_env, record=False) == 0

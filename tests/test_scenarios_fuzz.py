"""Property-based tests: no scenario document can crash validation or ``apply``.

Documents are generated well-formed and malformed (wrong types, null, NaN,
infinities, huge and negative numbers, numbers as text, nested junk, unicode
and markup, unknown and missing fields, deep nesting) and sent through
:func:`validate_scenario` and :meth:`ScenarioEngine.apply` on the real
Sheffield place. The only exception allowed is the project's own
:class:`PlacekitError`, whose message must carry no renderable markup; a
result must be a well-formed comparison.

The strategies are module-level so that the before/after measurement can run
the very same cases against an older ``scenarios.py``.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from placekit.errors import DataError, PlacekitError
from placekit.scenarios import (
    INTERVENTIONS,
    ScenarioEngine,
    ScenarioResult,
    list_scenarios,
    load_scenario,
    parse_scenario,
    save_scenario,
    validate_scenario,
)

N_CASES = 1000
FUZZ = settings(
    max_examples=N_CASES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)

# -- strategies ----------------------------------------------------------------------------

MARKUP = [
    "![x](http://evil.example/x.png)",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "**bold** _it_",
    "$\\frac{1}{0}$",
    ":red[alarm] :smile:",
    "# heading",
    "\u202eevil",
    "a\x00b",
    "`code`",
    "<script>alert(1)</script>",
    "ü 中文 🙂",
]
#: Substrings that would render (an image, a link, a tag, a formula, a colour directive).
RENDERABLE = ["![", "](", "<img", "<script", "$\\frac", ":red[", "\x00"]
PYTHON_TALK = ["Traceback", "TypeError", "ValueError", "KeyError", "NoneType", "float(", "str("]
BAD_NUMBERS = [
    None,
    True,
    False,
    "460",
    "",
    "1,5",
    " 12 ",
    float("nan"),
    float("inf"),
    -float("inf"),
    1e308,
    -1e308,
    10**400,
    -(10**400),
    -50_000,
    0,
    -1,
    1e-300,
    [],
    {},
    [1],
    {"value": 1},
]
ALL_KEYS = [
    "placekit_scenario",
    "name",
    "description",
    "mode",
    "threshold_min",
    "interventions",
    "type",
    "facility",
    "id",
    "lon",
    "lat",
    "x",
    "y",
    "postcode",
    "from",
    "to",
    "people",
    "dwellings",
    "area_m2",
    "note",
]
TYPES = ["gp", "pharmacy", "greenspace", "stop"]

leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(MARKUP)
)
junk = st.recursive(
    leaf,
    lambda c: (
        st.lists(c, max_size=3)
        | st.dictionaries(st.sampled_from(ALL_KEYS) | st.text(max_size=6), c, max_size=3)
    ),
    max_leaves=8,
)


def mostly(
    good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], pct_good: int = 85
) -> st.SearchStrategy[Any]:
    """``good`` in about ``pct_good`` of 100 draws, else ``bad``."""
    return st.integers(0, 99).flatmap(lambda r: good if r < pct_good else bad)


def number(lo: float, hi: float, *, pct_good: int = 85) -> st.SearchStrategy[Any]:
    good = st.floats(lo, hi)
    if math.ceil(lo) <= math.floor(hi):
        good = good | st.integers(math.ceil(lo), math.floor(hi))
    return mostly(good, st.sampled_from(BAD_NUMBERS) | st.floats() | st.integers() | junk, pct_good)


PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs", "Cf", "Zl", "Zp", "Co", "Cn"))


def text(pct_good: int = 85) -> st.SearchStrategy[Any]:
    good = st.text(PRINTABLE, max_size=30) | st.sampled_from(MARKUP[:7])
    return mostly(
        good, st.sampled_from(MARKUP) | junk | st.text() | st.text(min_size=201), pct_good
    )


def location(postcodes: list[str], *, pct_good: int = 85) -> st.SearchStrategy[dict[str, Any]]:
    """lon/lat, x/y or a postcode, near Sheffield mostly; far, swapped or junk sometimes."""
    g = pct_good
    pcs = mostly(st.sampled_from(postcodes), st.sampled_from(["ZZ9 9ZZ", "", "S1"]) | text(0), g)
    near = st.one_of(
        st.fixed_dictionaries(
            {"lon": number(-1.56, -1.36, pct_good=g), "lat": number(53.33, 53.44, pct_good=g)}
        ),
        st.fixed_dictionaries(
            {"x": number(428_000, 443_000, pct_good=g), "y": number(381_000, 396_000, pct_good=g)}
        ),
        st.fixed_dictionaries({"postcode": pcs}),
    )
    far = st.one_of(
        st.fixed_dictionaries(
            {
                "lon": st.sampled_from([0.0, -0.1, 53.38, -3.0]),
                "lat": st.sampled_from([0.0, 51.5, -1.47, 54.9]),
            }
        ),
        st.fixed_dictionaries(
            {"x": st.sampled_from([0, 530_000, 1e7]), "y": st.sampled_from([0, 180_000, -5])}
        ),
        st.fixed_dictionaries(
            {}, optional={"lon": number(-1.5, -1.4), "postcode": pcs, "y": number(381_000, 396_000)}
        ),
    )
    return mostly(near, far, g)


def intervention(
    ids: dict[str, list[str]], postcodes: list[str], *, pct_good: int = 85
) -> st.SearchStrategy[Any]:
    """One intervention of any kind, its fields sometimes wrong, missing or extra."""
    g = pct_good
    fac = mostly(st.sampled_from(TYPES), st.sampled_from(["add_park", "GP", "", "pub"]) | junk, g)
    loc = location(postcodes, pct_good=g)

    def fid(f: Any) -> st.SearchStrategy[Any]:
        real = ids.get(f) if isinstance(f, str) else None
        return mostly(
            st.sampled_from(real) if real else st.text(max_size=8),
            st.sampled_from(["NOPE", "", "C81002 "]) | junk | st.integers(),
            g,
        )

    def with_loc(base: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        return st.tuples(base, loc).map(lambda t: {**t[0], **t[1]})

    kinds = {
        "add_facility": with_loc(
            st.fixed_dictionaries({"facility": fac}, optional={"name": text(g)})
        ),
        "close_facility": fac.flatmap(
            lambda f: st.fixed_dictionaries({"facility": st.just(f), "id": fid(f)})
        ),
        "move_facility": with_loc(
            fac.flatmap(lambda f: st.fixed_dictionaries({"facility": st.just(f), "id": fid(f)}))
        ),
        "add_link": st.fixed_dictionaries(
            {"from": mostly(loc, junk, g), "to": mostly(loc, junk, g)}
        ),
        "add_housing": with_loc(
            st.fixed_dictionaries(
                {"people": number(1, 5_000, pct_good=g)},
                optional={"dwellings": number(1, 2_000, pct_good=g)},
            )
        ),
        "improve_greenspace": with_loc(
            st.fixed_dictionaries({"area_m2": number(100, 200_000, pct_good=g)})
        ),
    }
    typed = st.sampled_from(INTERVENTIONS).flatmap(
        lambda k: kinds[k].map(lambda d, k=k: {"type": k, **d})
    )
    retyped = st.tuples(
        typed, st.sampled_from(["add_park", None, 3, "", "Add_Facility"]) | junk
    ).map(lambda t: {**t[0], "type": t[1]})
    top = max(19, 300 // (100 - g))
    tweak = st.integers(0, top).map(lambda r: top - r)  # 0-2: a field dropped, added or spoiled
    return mostly(
        st.tuples(typed, tweak, st.sampled_from(ALL_KEYS), junk).map(_tweak),
        retyped | junk,
        min(g + 5, 99),
    )


def _tweak(t: tuple[dict[str, Any], int, str, Any]) -> dict[str, Any]:
    """Now and then drop a field, add an unknown one, or overwrite one with junk."""
    d, r, key, value = t
    d = dict(d)
    if r == 0 and len(d) > 1:
        d.pop(key if key in d and key != "type" else sorted(k for k in d if k != "type")[0])
    elif r == 1:
        d["peple" if key == "people" else f"{key}_extra"] = value
    elif r == 2 and key != "type":
        d[key] = value
    return d


def scenario(
    ids: dict[str, list[str]], postcodes: list[str], *, max_items: int = 3, pct_good: int = 85
) -> st.SearchStrategy[Any]:
    """A whole document: top-level fields sometimes wrong, interventions as above."""
    g = pct_good
    items = mostly(
        st.lists(intervention(ids, postcodes, pct_good=g), min_size=1, max_size=max_items),
        st.just([]) | junk,
        min(g + 5, 99),
    )
    doc = st.fixed_dictionaries(
        {
            "placekit_scenario": mostly(
                st.just(1), st.sampled_from([2, True, "1", None, 1.5]), min(g + 5, 99)
            ),
            "interventions": items,
        },
        optional={
            "name": text(g),
            "description": text(g),
            "mode": mostly(st.just("walk"), st.sampled_from(["drive", "bike", None, 1]), g),
            "threshold_min": number(5, 30, pct_good=g),
        },
    )
    extra = st.fixed_dictionaries({}, optional={"colour": junk, "Interventions": junk})
    whole = st.tuples(doc, mostly(st.just({}), extra, min(g + 5, 99))).map(
        lambda t: {**t[0], **t[1]}
    )
    return mostly(whole, junk, min(g + 5, 99))


def nested(depth: int, kind: str) -> Any:
    """A value nested ``depth`` deep, built without recursion."""
    v: Any = 1
    for _ in range(depth):
        v = [v] if kind == "list" else {"to": v}
    return v


# -- checks --------------------------------------------------------------------------------


def check_message(msg: str) -> None:
    """A refusal is plain text: no renderable markup, no Python talk."""
    for s in RENDERABLE:
        assert s not in msg, (s, msg)
    for s in PYTHON_TALK:
        assert s not in msg, (s, msg)
    assert msg.strip()


def check_result(res: ScenarioResult, engine: ScenarioEngine, doc: dict[str, Any]) -> None:
    """A result indexes every LSOA, adds exactly the people asked for, and counts no one twice."""
    a = res.areas
    assert a.index.equals(engine.place.lsoa.index)
    added = sum(it["people"] for it in res.scenario["interventions"] if it["type"] == "add_housing")
    assert np.isfinite(a["population_scn"]).all()
    assert float((a["population_scn"] - a["population_base"]).sum()) == pytest.approx(added)
    for c in a.columns:
        if c.endswith("_people_newly_within"):
            v = a[c].dropna()
            assert (v >= 0).all() and (v <= a["population_base"].reindex(v.index) + 1e-6).all()
    only_adds = all(
        it["type"] in ("add_facility", "add_link", "improve_greenspace")
        for it in res.scenario["interventions"]
    )
    if only_adds:
        for c in a.columns:
            if c.endswith("_min_change"):
                assert (a[c].dropna() <= 1e-6).all(), c
    json.dumps(res.scenario, allow_nan=False)
    assert set(res.localities) == set(engine.place.levels)


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine(place):
    return ScenarioEngine(place)


@pytest.fixture(scope="module")
def apply_docs(engine):
    """Small scenarios (at most two interventions) with Sheffield's real ids and postcodes."""
    ids = {f: [str(i) for i in engine.baseline(f).facilities.ids[:40]] for f in TYPES}
    postcodes = [str(p) for p in engine.place.postcodes().index[:200]]
    return scenario(ids, postcodes, max_items=2, pct_good=97)


# -- (a) the validator ---------------------------------------------------------------------

_SHEFFIELD_IDS = {"gp": ["C81002", "C81025"], "pharmacy": ["FA460"], "stop": ["370010113"]}
_SHEFFIELD_POSTCODES = ["S1 1AA", "S11AB", "S2 5AA"]
_DOCS = scenario(_SHEFFIELD_IDS, _SHEFFIELD_POSTCODES, max_items=6, pct_good=85)


@FUZZ
@given(doc=_DOCS, src=text(7))
def test_validator_never_crashes(doc, src):
    before = repr(doc)
    try:
        out = validate_scenario(doc, source=src if isinstance(src, str) else "scenario")
    except PlacekitError as err:
        check_message(str(err))
        event("refused")
    else:
        event("accepted")
        assert json.loads(json.dumps(out, allow_nan=False)) == out
        assert validate_scenario(out) == out  # a clean document stays clean
    assert repr(doc) == before  # the input is never modified


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    depth=st.integers(9, 50_000),
    kind=st.sampled_from(["list", "dict"]),
    where=st.sampled_from(["interventions", "name", "threshold_min"]),
)
def test_deep_nesting_is_refused_fast(depth, kind, where):
    doc = {
        "placekit_scenario": 1,
        "interventions": [{"type": "add_link"}],
        where: nested(depth, kind),
    }
    t0 = time.perf_counter()
    with pytest.raises(DataError, match="nested more than 8 levels deep"):
        validate_scenario(doc)
    text = '{"placekit_scenario": 1, "interventions": ' + "[" * depth + "]" * depth + "}"
    with pytest.raises(DataError, match="nested more than 8 levels deep"):
        parse_scenario(text.encode())
    assert time.perf_counter() - t0 < 1.0


@FUZZ
@given(doc=_DOCS, cut=st.integers(0, 400), noise=st.binary(max_size=8))
def test_parse_never_crashes(doc, cut, noise):
    """Any bytes (truncated or corrupted JSON included) are parsed or refused, never a crash."""
    try:
        raw = json.dumps(doc).encode()
    except (TypeError, ValueError):
        raw = b"{}"
    data = raw[:cut] + noise if cut % 3 == 0 else raw
    try:
        parse_scenario(data, source="upload.json")
    except PlacekitError as err:
        check_message(str(err))


# -- (b) the engine ------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_apply_never_crashes(engine, apply_docs, data):
    doc = data.draw(apply_docs, label="scenario")
    try:
        res = engine.apply(doc)
    except PlacekitError as err:
        check_message(str(err))
        event("refused")
    else:
        check_result(res, engine, doc)
        event("applied")


# -- (c) nothing lost on save --------------------------------------------------------------

GOOD = {
    "placekit_scenario": 1,
    "name": "old",
    "threshold_min": 15,
    "interventions": [{"type": "add_facility", "facility": "gp", "lon": -1.4917, "lat": 53.3215}],
}
NEW = {
    **GOOD,
    "name": "new " + "x" * 150,
    "interventions": [
        {"type": "add_housing", "postcode": "S1 1AA", "people": i + 1} for i in range(200)
    ],
}


@pytest.mark.parametrize("fail", ["os.replace", "os.fsync", "write", "interrupt"])
def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch, fail):
    path = save_scenario(GOOD, tmp_path / "s.json")
    old = path.read_bytes()

    def boom(*args, **kwargs):
        if fail == "interrupt":
            raise KeyboardInterrupt
        raise OSError(28, "No space left on device")

    if fail == "write":
        real_fdopen = os.fdopen

        class HalfWriter:
            def __init__(self, fh):
                self.fh = fh

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.fh.close()

            def write(self, s):
                self.fh.write(s[: len(s) // 2])
                self.fh.flush()
                boom()

            def __getattr__(self, name):
                return getattr(self.fh, name)

        monkeypatch.setattr(os, "fdopen", lambda *a, **k: HalfWriter(real_fdopen(*a, **k)))
    else:
        monkeypatch.setattr(os, fail.split(".")[-1] if fail != "interrupt" else "replace", boom)
    with pytest.raises(KeyboardInterrupt if fail == "interrupt" else DataError):
        save_scenario(NEW, path)
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert load_scenario(path)["name"] == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]  # no temporary file left behind
    listing = list_scenarios(tmp_path)
    assert listing["file"].tolist() == ["s.json"] and listing["ok"].all()


def test_save_killed_mid_write_keeps_the_old_file(tmp_path):
    """A real SIGKILL while the new version is being written: the old file survives, listed."""
    path = save_scenario(GOOD, tmp_path / "s.json")
    old = path.read_bytes()
    child = textwrap.dedent(f"""
        import os, sys, time
        from placekit.scenarios import save_scenario
        def slow_fsync(fd):
            sys.stdout.write("writing\\n"); sys.stdout.flush()
            time.sleep(60)
        os.fsync = slow_fsync
        save_scenario({NEW!r}, {str(path)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"  # the temp file is written, not renamed
        temps = [p for p in tmp_path.iterdir() if p.name != "s.json"]
        assert len(temps) == 1 and temps[0].stat().st_size > len(old)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    assert path.read_bytes() == old
    listing = list_scenarios(tmp_path)  # the left-over temporary file is not a scenario
    assert listing["file"].tolist() == ["s.json"] and listing["name"].tolist() == ["old"]


def test_list_reports_unreadable_files(tmp_path):
    save_scenario(GOOD, tmp_path / "a.json")
    (tmp_path / "b.json").write_text('{"placekit_scenario": 1, "interven', encoding="utf-8")
    (tmp_path / "c.json").write_bytes(b"\xff\xfe\x00junk")
    (tmp_path / "d.json").write_text(json.dumps({**GOOD, "threshold_min": -5}), encoding="utf-8")
    (tmp_path / "e.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    listing = list_scenarios(tmp_path).set_index("file")
    assert listing.index.tolist() == ["a.json", "b.json", "c.json", "d.json", "e.json"]
    assert listing["ok"].tolist() == [True, False, False, False, False]
    assert listing.loc["a.json", "problem"] == ""
    assert "b.json is not valid UTF-8 JSON (line 1, column 26)" in listing.loc["b.json", "problem"]
    assert "c.json is not valid UTF-8 JSON text" in listing.loc["c.json", "problem"]
    assert (
        "threshold_min must be a number between 1 and 120 minutes; got -5"
        in listing.loc["d.json", "problem"]
    )
    assert "nested more than 8 levels deep" in listing.loc["e.json", "problem"]


def test_source_of_big_file_is_refused_before_reading(tmp_path):
    p = tmp_path / "big.json"
    p.write_bytes(b" " * 2_000_001)
    with pytest.raises(DataError, match=r"big.json is 2.0 MB; a scenario file is at most 1 MB"):
        load_scenario(p)


def test_unwritable_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="No folder at"):
        save_scenario(GOOD, tmp_path / "missing" / "s.json")
    with pytest.raises(DataError, match="is a folder"):
        save_scenario(GOOD, tmp_path)


def test_save_keeps_permissions(tmp_path):
    p = save_scenario(GOOD, tmp_path / "s.json")
    assert p.stat().st_mode & 0o777 == 0o644
    p.chmod(0o600)
    save_scenario(NEW, p)
    assert p.stat().st_mode & 0o777 == 0o600
    assert Path(p).read_text(encoding="utf-8").endswith("}\n")

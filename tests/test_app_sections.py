"""AppTest checks of the Pilots, Trends and England sections (made-up monthly data in tmp)."""

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
N_MONTHS, START = 36, 24  # 2022-01 .. 2024-12, pilot from 2024-01
EFFECT = -4.0


@pytest.fixture(scope="module")
def at():
    app = AppTest.from_file("../app.py", default_timeout=240)
    app.run()
    assert not app.exception
    return app


def _go(at, section):
    at.radio(key="section").set_value(section).run()
    assert not at.exception, [e.value for e in at.exception]


def _deck(at, key=None):
    charts = at.get("deck_gl_json_chart")
    assert charts, "no map on the page"
    return json.loads(charts[0].proto.json)


def _frame(at, column):
    """The first table on the page with ``column`` (AppTest keeps no key on a plain table)."""
    for d in at.dataframe:
        if column in d.value.columns:
            return d.value
    raise AssertionError(
        f"no table with {column!r}: {[list(d.value.columns) for d in at.dataframe]}"
    )


def _plain(text):
    """Shown text without the backslashes markdown escaping adds."""
    return text.replace("\\", "")


def _texts(at):
    return [_plain(m.value) for m in at.markdown] + [_plain(c.value) for c in at.caption]


@pytest.fixture(scope="module")
def made_up(place, tmp_path_factory):
    """MADE-UP monthly referrals over the real Sheffield LSOAs; an effect planted in 3 LSOAs."""
    d = tmp_path_factory.mktemp("pilots_app")
    loc = place.codes(place.locality_level)
    lac = sorted(loc.unique())[0]
    pilots = sorted(loc.index[loc == lac])[:3]
    rng = np.random.default_rng(3)
    level = 6 + 0.4 * place.indicators["imd2025_score"].fillna(20.0).to_numpy()
    lam = np.repeat(level[:, None], N_MONTHS, axis=1)
    rows = np.isin(place.lsoa.index, pilots)
    lam[np.ix_(rows, np.arange(N_MONTHS) >= START)] += EFFECT
    months = pd.period_range("2022-01", periods=N_MONTHS, freq="M").astype(str)
    data = pd.DataFrame(
        {
            "lsoa_code": np.repeat(place.lsoa.index.to_numpy(), N_MONTHS),
            "period": np.tile(months, len(place.lsoa)),
            "referrals": rng.poisson(lam).ravel(),
        }
    )
    csv = d / "referrals.csv"
    data.to_csv(csv, index=False)
    gappy = d / "gappy.csv"  # a whole month missing in the middle: refused
    data[data["period"] != "2023-06"].to_csv(gappy, index=False)
    return {"csv": csv, "gappy": gappy, "lac": lac, "pilots": pilots}


def test_pilots_upload_define_evaluate_and_bad_file(at, made_up):
    _go(at, "Pilots")
    assert any("Upload service data over time" in _plain(i.value) for i in at.info)
    # AppTest cannot drive st.file_uploader: hand over the bytes as the uploader does
    at.session_state["pil_pending_upload"] = (made_up["csv"].read_bytes(), "referrals.csv")
    at.run()
    assert not at.exception
    ok = _plain(" ".join(s.value for s in at.success))
    assert "long layout" in ok and "36 months from 2022-01 to 2024-12" in ok, ok
    assert "343 of the place's 343 LSOAs matched" in ok, ok
    assert any("Disclosure control" in t and "hidden" in t for t in _texts(at))
    at.multiselect(key="pil_locs").set_value([made_up["lac"]]).run()
    at.multiselect(key="pil_areas").set_value(made_up["pilots"]).run()
    at.selectbox(key="pil_start").set_value("2024-01").run()
    assert not at.exception
    at.button(key="pil_evaluate").click().run()
    assert not at.exception, [e.value for e in at.exception]
    ev = at.session_state["pil_eval"][2]
    did = ev.did
    assert did.lower <= EFFECT <= did.upper  # the planted effect lies in the interval
    said = " ".join(_texts(at))
    assert "fewer referrals per area per month" in said and "95% interval" in said, said
    assert "pre-pilot trends were" in said.lower()
    assert f"{abs(did.lower):.1f} fewer to {abs(did.upper):.1f}" in said
    # per-period table: hidden cells in words; SPC chart drawn with its rules
    table = _frame(at, "synthetic_estimate")
    assert list(table.index[:2]) == ["2022-01", "2022-02"] and len(table) == N_MONTHS
    assert at.session_state["pil_spc_png"][:8] == b"\x89PNG\r\n\x1a\n"  # the chart shown
    assert any("shift: 7 or more points" in t for t in _texts(at))
    assert any("Common cause variation" in t or "Special cause variation" in t for t in _texts(at))
    downloads = {b.proto.label for b in at.get("download_button")}
    assert {"Per-period table (CSV)", "Summary (JSON)", "SPC chart (PNG)"} <= downloads
    # a bad file: the app's words, and the series and evaluation already there are kept
    before = at.session_state["pil_series"]
    at.session_state["pil_pending_upload"] = (made_up["gappy"].read_bytes(), "gappy.csv")
    at.run()
    assert not at.exception
    err = _plain(" ".join(e.value for e in at.error))
    assert "gappy.csv could not be used" in err and "referrals.csv" in err, err
    assert "is kept" in err
    assert at.session_state["pil_series"] is before
    assert at.session_state["pil_eval"][2] is ev


def test_pilot_file_load_restores_and_bad_pilot_is_refused(at, made_up):
    _go(at, "Pilots")
    doc = {
        "placekit_pilot": 1,
        "name": "Loaded pilot",
        "areas": made_up["pilots"][:2],
        "start": "2023-07",
        "end": "2024-06",
        "demand": "referrals",
    }
    at.session_state["pil_pending_pilot"] = (json.dumps(doc).encode(), "loaded.json")
    at.run()
    assert not at.exception
    assert at.text_input(key="pil_name").value == "Loaded pilot"
    assert at.multiselect(key="pil_areas").value == made_up["pilots"][:2]
    assert at.selectbox(key="pil_start").value == "2023-07"
    assert at.selectbox(key="pil_end").value == "2024-06"
    assert any("Loaded pilot 'Loaded pilot'" in _plain(s.value) for s in at.success)
    bad = {**doc, "name": "Elsewhere", "areas": ["E01000001"]}  # City of London, not Sheffield
    at.session_state["pil_pending_pilot"] = (json.dumps(bad).encode(), "bad.json")
    at.run()
    err = _plain(" ".join(e.value for e in at.error))
    assert "not LSOAs of Sheffield" in err and "being defined is kept" in err, err
    assert at.text_input(key="pil_name").value == "Loaded pilot"


def test_trends_map_table_and_census(at, place):
    _go(at, "Trends")
    spec = _deck(at)
    layer = next(layer for layer in spec["layers"] if layer["id"] == "choropleth")
    assert isinstance(layer["data"], str) and layer["data"].startswith("app/static/")
    feats = json.loads((ROOT / layer["data"].removeprefix("app/")).read_text())["features"]
    assert len(feats) == len(place.lsoa)
    from placekit.change import change_table, iod_change

    lsoa = iod_change(place)
    got = {f["properties"]["code"]: f["properties"]["imd_change_pct"] for f in feats}
    code = lsoa.index[0]
    assert got[code] == pytest.approx(lsoa.loc[code, "imd_change_pct"], rel=1e-5)
    table = _frame(at, "against England")
    want = change_table(place, place.locality_level)
    assert len(table) == len(want) == 7
    assert set(table["against England"]) <= {"improved", "worsened", "no significant change"}
    assert table["change (points)"].tolist() == want["imd_change_pct"].round(1).tolist()
    assert at.get("vega_lite_chart"), "no trend chart"
    trend = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert trend["encoding"]["y"]["title"] == "national percentile (0 = most deprived)"
    assert trend["encoding"]["color"]["legend"]["orient"] == "bottom"  # names whole, below
    # the served file says each value in words, with its unit, for the map's tooltip
    assert feats[0]["properties"]["imd_change_pct__text"].endswith(" percentile points")
    at.radio(key="tr_source").set_value("Census 2011 → 2021").run()
    assert not at.exception
    table = _frame(at, "% 2011")
    assert "% 2011" in table.columns and len(table) == 7
    assert any("Against England: unavailable" in _plain(i.value) for i in at.info)


def _combined_fixture(folder: Path) -> Path:
    """A hand-made batch table: two councils, three LSOAs (values easy to check by hand)."""
    t = pd.DataFrame(
        {
            "council_code": ["E08000016", "E08000016", "E08000018"],
            "council_name": ["Barnsley", "Barnsley", "Rotherham"],
            "region_name": ["Yorkshire and The Humber"] * 3,
            "msoa_code": ["E02001", "E02001", "E02002"],
            "msoa_name": ["a", "a", "b"],
            "population": [1000.0, 3000.0, 2000.0],
            "imd2025_score": [10.0, 30.0, 40.0],
            "imd2025_score_council_rank": [2, 1, 1],
            "imd2025_score_england_decile": [5, 1, 1],
        },
        index=pd.Index(["E01000010", "E01000011", "E01000012"], name="lsoa21_code"),
    )
    folder.mkdir(parents=True, exist_ok=True)
    t.to_parquet(folder / "combined.parquet")
    return folder


def test_england_map_batch_table_and_council_pick(at, tmp_path):
    batch = _combined_fixture(tmp_path / "batch" / "sy")
    old = os.environ.get("PLACEKIT_BATCH")
    os.environ["PLACEKIT_BATCH"] = str(tmp_path / "batch")
    try:
        _go(at, "England")
    finally:
        if old is None:
            os.environ.pop("PLACEKIT_BATCH")
        else:
            os.environ["PLACEKIT_BATCH"] = old
    spec = _deck(at)
    assert "http" not in str(spec.get("mapStyle", ""))  # offline: no tile base map
    ids = [layer["id"] for layer in spec["layers"]]
    assert ids == ["england", "england-councils", "england-icbs"]
    fill = spec["layers"][0]["getFillColor"]
    digits = fill.split("('")[1].split("')")[0]
    assert len(digits) == 33755 and set(digits) <= set("012345")
    assert any("IMD 2025 score" in m.value and "pk-legend" in m.value for m in at.markdown)
    # the batch table: Barnsley's score is (10 x 1000 + 30 x 3000) / 4000 = 25
    bt = _frame(at, "imd2025_score_rank")
    assert bt.loc["E08000016", "imd2025_score"] == pytest.approx(25.0)
    assert bt.loc["E08000016", "imd2025_score_england_worst10_pct"] == pytest.approx(75.0)
    assert bt.loc["E08000018", "imd2025_score_rank"] == 1  # higher IMD score is worse
    assert str(batch) in at.selectbox(key="eng_batch").value
    # the batch's levels and indicators in words, not ids
    assert at.radio(key="eng_batch_level").options == ["Council", "MSOA 2021"]
    assert "IMD 2025 score" in at.selectbox(key="eng_batch_ind").options
    assert "imd2025_score" not in at.selectbox(key="eng_batch_ind").options
    # a council no pack holds: told how to build one, the pack stays
    at.selectbox(key="eng_council").set_value("E09000001").run()
    assert at.session_state["pack"] == "Sheffield"
    assert any("No place pack holds council E09000001" in _plain(w.value) for w in at.warning)
    # Sheffield's own council: its pack (the one open) shows on the map explorer
    at.selectbox(key="eng_council").set_value("E08000019").run()
    assert not at.exception
    assert at.session_state["section"] == "Map explorer"
    assert at.session_state["pack"] == "Sheffield"


def test_england_pick_switches_pack(at):
    """Picking another council opens its pack (needs a built pack of it, e.g. Rotherham)."""
    from placekit.overview import pack_for_council

    folder = pack_for_council("E08000018")
    if folder is None:
        pytest.skip("no Rotherham pack under PLACEKIT_PACKS (placekit pack build ... E08000018)")
    _go(at, "England")
    at.selectbox(key="eng_council").set_value("E08000018").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["section"] == "Map explorer"
    assert at.session_state["place_pack"] == str(folder)
    assert "E08000018" in at.session_state["place"].la_codes


def test_labels_never_show_an_id(place):
    from sections._common import Ctx

    c = Ctx(pack=str(place.data_dir), place=place)
    assert c.label("bad_health_pct") == "Bad or very bad general health (% of residents)"
    assert c.label("imd2025_score") == "IMD 2025 score"  # its unit, "score", said once
    assert c.label("made_up_count_pct") == "made up count pct"  # not in the catalogue

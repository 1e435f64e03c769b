"""AppTest: the England section's region view of a batch, and one council's LSOA detail."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
ENGLAND = ROOT.parent / "shared" / "region" / "england"
LOOKUP = ENGLAND / "england_lsoa21_msoa21_lad_region_lookup.parquet"
COUNCILS = {"E08000016": "Barnsley", "E08000018": "Rotherham"}


def _batch_table() -> pd.DataFrame:
    """Barnsley's and Rotherham's real LSOA codes with MADE-UP scores (rising with the code)."""
    lk = pd.read_parquet(LOOKUP)
    lk = lk[lk["LAD24CD"].isin(list(COUNCILS))].sort_values("LSOA21CD")
    n = len(lk)
    score = np.linspace(1.0, 60.0, n)
    score[3] = np.nan  # one LSOA without a value
    t = pd.DataFrame(
        {
            "council_code": lk["LAD24CD"].to_numpy(),
            "council_name": lk["LAD24CD"].map(COUNCILS).to_numpy(),
            "region_name": "Yorkshire and The Humber",
            "lsoa_name": lk["LSOA21CD"].to_numpy(),
            "msoa_code": lk["MSOA21CD"].to_numpy(),
            "msoa_name": lk["MSOA21CD"].to_numpy(),
            "population": 1500.0,
            "imd2025_score": score,
            "imd2025_score_council_rank": 1,
        },
        index=pd.Index(lk["LSOA21CD"].astype(str).to_numpy(), name="lsoa21_code"),
    )
    return t


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    if not LOOKUP.is_file():
        pytest.skip("no England folder beside the repository")
    root = tmp_path_factory.mktemp("batches")
    (root / "sy").mkdir()
    t = _batch_table()
    t.to_parquet(root / "sy" / "combined.parquet")
    return root, t


def _layers(at) -> dict[str, dict]:
    out = {}
    for chart in at.get("deck_gl_json_chart"):
        for layer in json.loads(chart.proto.json)["layers"]:
            out[layer["id"]] = layer
    return out


def test_region_map_then_one_councils_lsoas(batch, monkeypatch) -> None:
    from placekit.combined import council_detail

    root, table = batch
    monkeypatch.setenv("PLACEKIT_BATCH", str(root))
    monkeypatch.setenv("PLACEKIT_ENGLAND", str(ENGLAND))
    at = AppTest.from_file("../app.py", default_timeout=300)
    at.run()
    at.radio(key="section").set_value("England").run()
    assert not at.exception, [e.value for e in at.exception]
    layers = _layers(at)
    assert "batch" in layers and "batch-council-lsoas" not in layers  # no council chosen yet
    box = at.selectbox(key="eng_batch_council")
    assert box.value is None and set(box.options) >= {
        "Barnsley (E08000016)",
        "Rotherham (E08000018)",
    }
    box.set_value("E08000018").run()
    assert not at.exception, [e.value for e in at.exception]
    layer = _layers(at)["batch-council-lsoas"]
    served = json.loads((ROOT / layer["data"].removeprefix("app/")).read_text())
    codes = [f["properties"]["code"] for f in served["features"]]
    rotherham = sorted(table.index[table["council_code"] == "E08000018"])
    assert codes == rotherham  # exactly the council's LSOAs, none of Barnsley's
    assert [f["properties"]["i"] for f in served["features"]] == list(range(len(codes)))
    # the colours are the council's classes over the whole batch (the library's)
    expected = council_detail(table, "E08000018", "imd2025_score")
    digits = layer["getFillColor"].split("('")[1].split("')")[0]
    cls = expected["class"].to_numpy()
    assert digits == "".join(str(c if c >= 0 else 5) for c in cls)
    # Rotherham's codes sort after Barnsley's and the made-up score rises with the code, so
    # over the batch its LSOAs are mostly in the top classes; classed alone they would not be
    assert (cls >= 2).all() and np.bincount(cls[cls >= 0], minlength=5)[4] > len(cls) / 3
    shown = next(d.value for d in at.dataframe if "class (1 = lowest)" in d.value.columns)
    assert list(shown.index) == rotherham
    np.testing.assert_allclose(shown["value"], table.loc[rotherham, "imd2025_score"])
    assert list(shown["class (1 = lowest)"].fillna(0)) == [c + 1 if c >= 0 else 0 for c in cls]
    # back to no council: the detail goes
    at.selectbox(key="eng_batch_council").set_value(None).run()
    assert "batch-council-lsoas" not in _layers(at)

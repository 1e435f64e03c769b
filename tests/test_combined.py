"""placekit.combined and ``placekit overview --batch``: a hand-made batch table, hand-worked."""

from pathlib import Path

import pandas as pd
import pytest

from placekit.cli import main
from placekit.combined import find_combined, read_combined, summarise_combined
from placekit.errors import DataError


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "council_code": ["E08000016", "E08000016", "E08000018"],
            "council_name": ["Barnsley", "Barnsley", "Rotherham"],
            "region_name": ["Yorkshire and The Humber"] * 3,
            "msoa_code": ["E02000001", "E02000002", "E02000003"],
            "msoa_name": ["a", "b", "c"],
            "population": [1000.0, 3000.0, 2000.0],
            "imd2025_score": [10.0, 30.0, 40.0],
            "imd2025_score_council_rank": [2, 1, 1],
            "imd2025_score_england_decile": [5, 1, 1],
            "gp_walk_min": [5.0, 15.0, 8.0],
            "gp_walk_min_council_rank": [2, 1, 1],
        },
        index=pd.Index(["E01000010", "E01000011", "E01000012"], name="lsoa21_code"),
    )


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    out = tmp_path / "sy"
    out.mkdir()
    _table().to_parquet(out / "combined.parquet")
    return out


def test_summary_by_council_by_hand(batch: Path) -> None:
    assert find_combined(batch.parent) == [batch / "combined.parquet"]
    s = summarise_combined(read_combined(batch))
    assert list(s.index) == ["E08000016", "E08000018"]
    assert s.loc["E08000016", "population"] == 4000
    assert s.loc["E08000016", "n_lsoa"] == 2
    # population-weighted: (10 x 1000 + 30 x 3000) / 4000 = 25; (5 x 1000 + 15 x 3000) / 4000
    assert s.loc["E08000016", "imd2025_score"] == pytest.approx(25.0)
    assert s.loc["E08000016", "gp_walk_min"] == pytest.approx(12.5)
    assert s.loc["E08000016", "imd2025_score_england_worst10_pct"] == pytest.approx(75.0)
    assert s.loc["E08000018", "imd2025_score_england_worst10_pct"] == pytest.approx(100.0)
    # 1 = worst: the higher IMD score, the longer walk
    assert s.loc["E08000018", "imd2025_score_rank"] == 1
    assert s.loc["E08000016", "gp_walk_min_rank"] == 1
    assert "population-weighted" in s.attrs["method"]
    # row order of the LSOAs never changes a council's figures
    shuffled = summarise_combined(_table().iloc[[2, 0, 1]])
    pd.testing.assert_frame_equal(shuffled, s)


def test_summary_by_msoa_and_errors(batch: Path) -> None:
    s = summarise_combined(read_combined(batch), level="msoa", indicators=["imd2025_score"])
    assert len(s) == 3 and s.loc["E02000002", "imd2025_score"] == 30.0
    assert s.loc["E02000002", "council_name"] == "Barnsley"
    with pytest.raises(DataError, match="not in the combined table"):
        summarise_combined(_table(), indicators=["bad_health_pct"])
    with pytest.raises(DataError, match="level must be one of"):
        summarise_combined(_table(), level="ward")
    with pytest.raises(DataError, match="no 'msoa_code' values"):
        summarise_combined(_table().assign(msoa_code=None), level="msoa")
    with pytest.raises(DataError, match="No combined table at"):
        read_combined(batch.parent / "nothing")
    (batch / "bad").mkdir()
    _table().drop(columns=["council_name"]).to_parquet(batch / "bad" / "combined.parquet")
    with pytest.raises(DataError, match=r"lacks column\(s\) \['council_name'\]"):
        read_combined(batch / "bad")


def test_cli_overview(batch: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "councils.csv"
    assert main(["overview", "--batch", str(batch), "--out", str(out)]) == 0
    assert "Wrote 2 council rows (3 LSOAs, 2 councils)" in capsys.readouterr().out
    t = pd.read_csv(out, index_col=0)
    assert t.loc["E08000016", "imd2025_score"] == pytest.approx(25.0)
    out2 = tmp_path / "msoa.csv"
    argv = ["overview", "--batch", str(batch), "--out", str(out2), "--level", "msoa"]
    assert main([*argv, "--indicators", "gp_walk_min"]) == 0
    assert "imd2025_score" not in pd.read_csv(out2).columns
    missing = tmp_path / "none.csv"
    assert main(["overview", "--batch", str(tmp_path / "nope"), "--out", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("placekit: error: No combined table at") and "placekit batch" in err
    assert not missing.exists()


def _two_councils() -> pd.DataFrame:
    """Ten LSOAs: Barnsley holds the values 6, 7 and 8, Rotherham 1-5, 9 and 10."""
    values = [6.0, 7.0, 8.0, 1.0, 2.0, 3.0, 4.0, 5.0, 9.0, None]
    n = len(values)
    return pd.DataFrame(
        {
            "council_code": ["E08000016"] * 3 + ["E08000018"] * (n - 3),
            "council_name": ["Barnsley"] * 3 + ["Rotherham"] * (n - 3),
            "lsoa_name": [f"L{i}" for i in range(n)],
            "msoa_code": ["E02000001"] * 3 + ["E02000002"] * (n - 3),
            "population": [1000.0] * n,
            "imd2025_score": values,
            "imd2025_score_council_rank": [3, 2, 1, 7, 6, 5, 4, 3, 1, None],
        },
        index=pd.Index([f"E010000{20 + i}" for i in range(n)][::-1], name="lsoa21_code"),
    )


def test_council_detail_is_the_councils_lsoas_classed_over_the_batch() -> None:
    from placekit.combined import council_detail, councils

    t = _two_councils()
    assert councils(t) == {"E08000016": "Barnsley", "E08000018": "Rotherham"}
    d = council_detail(t, "e08000016 ", "imd2025_score", k=2)
    # exactly Barnsley's three LSOAs, in code order
    assert list(d.index) == sorted(t.index[:3]) and set(d["council_name"]) == {"Barnsley"}
    assert sorted(d["value"]) == [6.0, 7.0, 8.0]
    # halves of the batch's nine values (1..9): 6, 7 and 8 are all in the upper class; classed
    # on Barnsley alone, 6 would be in the lower one
    assert d.attrs["bins"][0] == pytest.approx(5.0)
    assert list(d["class"]) == [1, 1, 1]
    assert d.attrs["n_batch_lsoa"] == 10 and d.attrs["council_name"] == "Barnsley"
    assert len(d.attrs["colours"]) == 2 and len(d.attrs["legend"].entries) == 3  # + no data
    r = council_detail(t, "E08000018", "imd2025_score", k=2)
    assert len(r) == 7 and r["class"].tolist().count(-1) == 1  # the LSOA with no value
    assert r.loc[r["value"] == 5.0, "class"].item() == 0
    assert r.loc[r["value"] == 9.0, "class"].item() == 1
    assert "imd2025_score_council_rank" in r.columns
    # natural breaks on the same nine values: the same council subset
    nb = council_detail(t, "E08000016", "imd2025_score", k=3, scheme="natural_breaks")
    assert list(nb.index) == list(d.index) and nb["class"].between(0, 2).all()
    with pytest.raises(DataError, match=r"Council 'E09000001' is not in the combined table"):
        council_detail(t, "E09000001", "imd2025_score")
    with pytest.raises(DataError, match="not in the combined table; it has"):
        council_detail(t, "E08000016", "gp_walk_min")
    with pytest.raises(DataError, match="k must be a whole number from 2 to 9"):
        council_detail(t, "E08000016", "imd2025_score", k=1)
    with pytest.raises(DataError, match="scheme must be one of"):
        council_detail(t, "E08000016", "imd2025_score", scheme="jenks")


def test_cli_overview_council_detail(tmp_path: Path, capsys) -> None:
    batch = tmp_path / "b"
    batch.mkdir()
    _two_councils().to_parquet(batch / "combined.parquet")
    out = tmp_path / "barnsley.csv"
    argv = ["overview", "--batch", str(batch), "--out", str(out), "--council", "E08000016"]
    assert main([*argv, "--classes", "2"]) == 0
    said = capsys.readouterr().out
    assert "Wrote 3 LSOAs of Barnsley (E08000016)" in said and "batch's 10 LSOAs" in said
    t = pd.read_csv(out, index_col=0)
    assert list(t["imd2025_score_class"]) == [2, 2, 2]  # 1 = lowest class
    assert sorted(t["imd2025_score"]) == [6.0, 7.0, 8.0]
    bad = tmp_path / "none.csv"
    assert main([*argv[:-1], "E09000001", "--out", str(bad)]) == 2
    assert "Council 'E09000001' is not in the combined table" in capsys.readouterr().err
    assert not bad.exists()

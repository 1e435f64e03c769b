import geopandas as gpd
import pandas as pd
import pytest

from placekit.cli import main


def test_indicators_out(tmp_path):
    out = tmp_path / "cat.csv"
    assert main(["indicators", "--out", str(out)]) == 0
    cat = pd.read_csv(out)
    assert {"id", "label", "theme", "unit", "direction", "source", "year", "geography", "licence", "tier"} <= set(cat.columns)
    assert len(cat) >= 50


@pytest.mark.parametrize("ext", [".csv", ".gpkg", ".parquet", ".geojson"])
def test_table_formats(tmp_path, ext):
    out = tmp_path / f"lac{ext}"
    assert main(["table", "--level", "lac", "--indicators", "imd2025_score,bad_health_pct", "--out", str(out)]) == 0
    t = pd.read_csv(out) if ext == ".csv" else (gpd.read_parquet(out) if ext == ".parquet" else gpd.read_file(out))
    assert len(t) == 7
    assert {"area_code", "area_name", "population", "imd2025_score", "bad_health_pct"} <= set(t.columns)
    assert t["population"].sum() == pytest.approx(556_512, abs=5)
    assert "OpenStreetMap" in (tmp_path / f"lac{ext}.ATTRIBUTION.txt").read_text()


def test_table_bad_indicator(tmp_path, capsys):
    assert main(["table", "--indicators", "nope", "--out", str(tmp_path / "x.csv")]) == 2
    assert "Unknown indicator id 'nope'" in capsys.readouterr().err


def test_bad_data_dir(tmp_path, capsys):
    assert main(["--data", str(tmp_path), "table", "--out", str(tmp_path / "x.csv")]) == 2
    assert "is not a place pack: it has no placekit-pack.json" in capsys.readouterr().err


def test_data_env(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PLACEKIT_DATA", str(tmp_path))
    assert main(["table", "--out", str(tmp_path / "x.csv")]) == 2
    assert str(tmp_path) in capsys.readouterr().err

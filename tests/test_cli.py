from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from placekit.cli import main


def test_indicators_out(tmp_path):
    out = tmp_path / "cat.csv"
    assert main(["indicators", "--out", str(out)]) == 0
    cat = pd.read_csv(out)
    assert {
        "id",
        "label",
        "theme",
        "unit",
        "direction",
        "source",
        "year",
        "geography",
        "licence",
        "tier",
    } <= set(cat.columns)
    assert len(cat) >= 50


@pytest.mark.parametrize("ext", [".csv", ".gpkg", ".parquet", ".geojson"])
def test_table_formats(tmp_path, ext):
    out = tmp_path / f"lac{ext}"
    assert (
        main(
            [
                "table",
                "--level",
                "lac",
                "--indicators",
                "imd2025_score,bad_health_pct",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    t = (
        pd.read_csv(out)
        if ext == ".csv"
        else (gpd.read_parquet(out) if ext == ".parquet" else gpd.read_file(out))
    )
    assert len(t) == 7
    assert {"area_code", "area_name", "population", "imd2025_score", "bad_health_pct"} <= set(
        t.columns
    )
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


# -- arguments checked up front: exit 2 and a clear message, never a traceback ---------------
# ``place`` is loaded by some cases; the checks below run before any analysis.
BAD = [
    (["table", "--level", "lac", "--out", "{d}/nowhere/x.csv"], "mkdir -p {d}/nowhere"),
    (["indicators", "--out", "{d}/nowhere/x.csv"], "does not exist"),
    (["cluster", "--k", "4", "--out", "{d}/nowhere/x.csv"], "does not exist"),
    (["report", "--area", "Central", "--out", "{d}/nowhere/r.html"], "does not exist"),
    (["table", "--out", "{d}/plain.txt/x.csv"], "plain.txt is a file, not a folder"),
    (["table", "--out", "/sys/x.csv"], "Cannot write to the folder /sys"),
    (["table", "--out", "{d}"], "is a folder; give a file inside it"),
    (["table", "--out", "{d}/x.xyz"], ".csv .gpkg .parquet .geoparquet .geojson"),
    (["indicators", "--out", "{d}/x.xyz"], "this command writes .csv"),
    (["cluster", "--k", "4", "--out", "{d}/x.gpkg"], "this command writes .csv"),
    (["report", "--area", "Central", "--out", "{d}/r.csv"], "writes .html .htm"),
    (["access", "--facility", "gp", "--within", "-5", "--out", "{d}/a.csv"], "above 0"),
    (["access", "--facility", "gp", "--within", "nan", "--out", "{d}/a.csv"], "above 0"),
    (["access", "--facility", "gp", "--within", "inf", "--out", "{d}/a.csv"], "above 0"),
    (["access", "--facility", "gp", "--within", "1e400", "--out", "{d}/a.csv"], "above 0"),
    (["access", "--facility", "gp", "--within", "1e9", "--out", "{d}/a.csv"], "at most 180"),
    (["access", "--facility", "gp", "--within", "ten", "--out", "{d}/a.csv"], "number of minutes"),
    (["cluster", "--k", "0", "--out", "{d}/c.csv"], "from 2 to 20"),
    (["cluster", "--k", "1", "--out", "{d}/c.csv"], "from 2 to 20"),
    (["cluster", "--k", "1000", "--out", "{d}/c.csv"], "from 2 to 20 for this place (343 areas"),
    (["report", "--area", "Central", "--k", "1000", "--out", "{d}/r.html"], "343 areas"),
    (["cluster", "--k", "4", "--seed", "-1", "--out", "{d}/c.csv"], "from 0 to 4294967295"),
    (["table", "--level", "county", "--out", "{d}/x.csv"], "'lsoa', 'neighbourhood', 'msoa'"),
    (
        ["access", "--facility", "gp", "--level", "county", "--out", "{d}/x.csv"],
        "level must be one of",
    ),
    (["report", "--level", "lsoa", "--area", "x", "--out", "{d}/r.html"], "level must be one of"),
    (
        ["table", "--indicators", "imd2025_score,nope,zzz", "--out", "{d}/x.csv"],
        "Unknown indicator ids 'nope', 'zzz' in --indicators",
    ),
    (["table", "--indicators", ",,", "--out", "{d}/x.csv"], "--indicators names no id"),
    (
        ["access", "--facility", "gp,hospital", "--out", "{d}/x.csv"],
        "no facility type(s) ['hospital']",
    ),
    (["access", "--facility", ",", "--out", "{d}/x.csv"], "--facility names no type"),
    (["report", "--area", "Atlantis", "--out", "{d}/r.html"], "no lac called 'Atlantis'"),
    (["drivers", "--demand", "library_walk_min", "--out", "{d}/d.csv"], "not computed"),
    (
        ["cluster", "--variables", "nope", "--choose-k", "--out", "{d}/c.csv"],
        "'nope' in --variables",
    ),
]


@pytest.mark.parametrize(("argv", "expected"), BAD, ids=[" ".join(a[:3]) for a, _ in BAD])
def test_bad_arguments_are_refused_up_front(argv, expected, tmp_path, capsys, monkeypatch, place):
    import placekit.place as pp

    monkeypatch.setattr(pp, "load_place", lambda *_a, **_k: place)
    (tmp_path / "plain.txt").write_text("x")
    d = str(tmp_path)
    assert main([a.replace("{d}", d) for a in argv]) == 2
    err = capsys.readouterr().err
    assert expected.replace("{d}", d) in err
    assert "Traceback" not in err
    assert "error: " in err
    assert not [p for p in tmp_path.rglob("*") if p.name != "plain.txt"]  # nothing written


def test_unexpected_error_is_short_and_asks_for_a_report(tmp_path, capsys, monkeypatch):
    import placekit.place as pp

    def boom(*_a, **_k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(pp, "load_place", boom)
    argv = ["table", "--out", str(tmp_path / "x.csv")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "unexpected error in `placekit table` (RuntimeError: kaboom)" in err
    assert "please report it" in err and "PLACEKIT_DEBUG=1" in err
    assert "Traceback" not in err
    monkeypatch.setenv("PLACEKIT_DEBUG", "1")
    assert main(argv) == 1
    assert "Traceback" in capsys.readouterr().err


def test_placekit_error_prefix_and_interrupt(tmp_path, capsys, monkeypatch):
    import placekit.place as pp

    assert main(["--data", str(tmp_path / "none"), "table", "--out", str(tmp_path / "x.csv")]) == 2
    assert capsys.readouterr().err.startswith("placekit: error: No place pack at")

    def stop(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(pp, "load_place", stop)
    assert main(["table", "--out", str(tmp_path / "x.csv")]) == 130


def test_usage_errors_return_2_and_help_0(capsys):
    assert main(["frobnicate"]) == 2
    assert main([]) == 2
    assert main(["table", "--help"]) == 0
    assert "Traceback" not in capsys.readouterr().err


# -- atomic exports ---------------------------------------------------------------------------
def test_failed_export_keeps_the_old_file(tmp_path, place, monkeypatch):
    from placekit.export import write_table

    out = tmp_path / "lac.csv"
    table = place.table("lac", ["imd2025_score"])
    write_table(table, out, attributions=["A"])
    before = out.read_bytes()

    def broken(self, path, *a, **k):
        Path(path).write_text("half a fi")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        write_table(table, out, attributions=["B"])
    assert out.read_bytes() == before
    assert (tmp_path / "lac.csv.ATTRIBUTION.txt").read_text() == "A\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lac.csv", "lac.csv.ATTRIBUTION.txt"]


@pytest.mark.parametrize("ext", [".gpkg", ".geojson", ".parquet"])
def test_spatial_exports_replace_whole(tmp_path, place, ext):
    from placekit.export import write_table

    out = tmp_path / f"t{ext}"
    write_table(place.table("lac", ["imd2025_score"]), out)
    write_table(place.table("ward", ["imd2025_score"]), out)  # over an existing file
    t = gpd.read_parquet(out) if ext == ".parquet" else gpd.read_file(out)
    assert len(t) == len(place.localities["ward"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_exports_keep_usual_permissions(tmp_path, place):
    import os
    import stat

    from placekit.export import write_table

    out = write_table(place.table("lac", ["imd2025_score"]), tmp_path / "p.csv")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


# -- HTML report: untrusted names are escaped ------------------------------------------------
def test_report_escapes_area_names(place):
    import dataclasses

    from placekit.report import locality_report

    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    lsoa = place.lsoa.copy()
    lsoa["area_name"] = evil + lsoa["area_name"].astype(str)
    locs = {k: v.copy() for k, v in place.localities.items()}
    locs["lac"]["area_name"] = evil + locs["lac"]["area_name"].astype(str)
    hostile = dataclasses.replace(place, lsoa=lsoa, localities=locs)
    html_text = locality_report(hostile, "lac", str(locs["lac"].index[0]))
    assert "<script" not in html_text and "<img" not in html_text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html_text

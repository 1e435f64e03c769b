"""A council the Sheffield code never saw: a Rotherham pack cut from the regional sources.

Every CLI command and every app section runs on it, with its own levels (MSOA, ward, LA; no
LACs or council neighbourhoods), its own origins (live postcodes) and England as the benchmark.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from placekit.cli import main


def test_rotherham_figures(rotherham):
    assert rotherham.name == "Rotherham"
    assert len(rotherham.lsoa) == 170
    assert rotherham.weights["population"].sum() == 265_821
    assert int((rotherham.indicators["imd2025_decile"] == 1).sum()) == 36
    assert rotherham.levels == ["msoa", "ward", "lad"]
    assert len(rotherham.localities["ward"]) == 25
    assert rotherham.locality_level == "ward"
    assert rotherham.pack.origins["method"] == "postcodes"
    assert "lac" not in rotherham.levels and "warm_space" not in rotherham.available_layers


def test_rotherham_england_benchmark(rotherham):
    from placekit.profile import locality_profile, with_england

    t = with_england(rotherham, rotherham.table("lad", ["bad_health_pct", "imd2025_score"]), "lad")
    row = t.loc["E08000018"]
    assert row["bad_health_pct_england"] == pytest.approx(5.154, abs=0.001)
    assert row["bad_health_pct_vs_england"] == "worse"
    assert 1 <= row["imd2025_score_england_rank"] <= 296
    ward = rotherham.localities["ward"].index[0]
    prof = locality_profile(rotherham, "ward", ward)["indicators"]
    assert "England" in prof.columns and "Rotherham" in prof.columns


def test_every_cli_command_on_the_built_pack(rotherham_dir, tmp_path, capsys):
    d = ["--data", str(rotherham_dir)]
    assert (
        main(
            [
                *d,
                "table",
                "--level",
                "ward",
                "--indicators",
                "imd2025_score,bad_health_pct",
                "--england",
                "--out",
                str(tmp_path / "w.csv"),
            ]
        )
        == 0
    )
    wards = pd.read_csv(tmp_path / "w.csv")
    assert len(wards) == 25 and "bad_health_pct_vs_england" in wards
    assert (
        main(
            [*d, "access", "--facility", "gp", "--level", "msoa", "--out", str(tmp_path / "a.csv")]
        )
        == 0
    )
    assert len(pd.read_csv(tmp_path / "a.csv")) == 32
    assert main([*d, "cluster", "--k", "5", "--out", str(tmp_path / "c.csv")]) == 0
    assert (
        main([*d, "drivers", "--demand", "bad_health_pct", "--out", str(tmp_path / "d.csv")]) == 0
    )
    sc = {
        "placekit_scenario": 1,
        "name": "GP",
        "mode": "walk",
        "threshold_min": 15,
        "interventions": [
            {"type": "add_facility", "facility": "gp", "lon": -1.3567, "lat": 53.4302}
        ],
    }
    (tmp_path / "s.json").write_text(json.dumps(sc), encoding="utf-8")
    assert (
        main(
            [
                *d,
                "scenario",
                str(tmp_path / "s.json"),
                "--level",
                "ward",
                "--out",
                str(tmp_path / "s.csv"),
            ]
        )
        == 0
    )
    ward_name = pd.read_csv(tmp_path / "w.csv")["area_name"].iloc[0]
    assert main([*d, "report", "--area", ward_name, "--out", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Rotherham" in html and "Sheffield" not in html
    capsys.readouterr()
    assert main([*d, "table", "--level", "lac", "--out", str(tmp_path / "x.csv")]) == 2
    assert "level must be one of ['lsoa', 'msoa', 'ward', 'lad']" in capsys.readouterr().err


def test_app_switches_to_the_built_pack_and_runs_every_section(
    rotherham_dir, pack_dir, monkeypatch
):
    monkeypatch.setenv("PLACEKIT_PACKS", f"{pack_dir}:{rotherham_dir.parent}")
    at = AppTest.from_file("../app.py", default_timeout=300)
    at.run()
    assert at.selectbox(key="pack").options == ["Sheffield", "Rotherham"]
    at.selectbox(key="pack").set_value("Rotherham").run()
    assert not at.exception
    assert at.selectbox(key="level").options[1:] == [
        "MSOA 2021 (32)",
        "Ward (25)",
        "Local authority (1)",
    ]
    assert any("Rotherham: 170 neighbourhoods" in c.value for c in at.sidebar.caption)
    for section in (
        "Localities",
        "Neighbourhood types",
        "Drivers",
        "Prevention",
        "Scenarios",
        "Your data",
        "Export",
        "Map explorer",
    ):
        at.radio(key="section").set_value(section).run()
        assert not at.exception, section
        assert not at.error, (section, [e.value for e in at.error])
    at.radio(key="section").set_value("Drivers").run()
    at.button(key="drv_run").click().run()
    assert not at.exception and not at.error
    at.radio(key="section").set_value("Prevention").run()
    at.button(key="prev_run").click().run()
    assert not at.exception and not at.error
    at.radio(key="section").set_value("Scenarios").run()
    at.button(key="scn_add").click().run()
    at.button(key="scn_apply").click().run()
    assert not at.exception and not at.error
    assert any("People newly within" in s.value for s in at.success)

"""Tests of placekit.batch: tiny synthetic councils on a real local Dask cluster.

The tiny sources (tests/tiny_sources.py) hold two councils of four LSOAs each. A tiny
England folder beside them adds a third, made-up council in another region, so England,
region and council ranks differ and can be worked out by hand.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tiny_sources import LSOAS, POPULATION, make_tiny_sources

from placekit import batch
from placekit.cli import main

WEST, EAST = "E09999901", "E09999902"
#: The tiny England: the 8 tiny LSOAs (region R1) and 4 more in a third council (region R2).
OTHER = {f"E0199991{i}": s for i, s in enumerate([60.0, 45.0, 35.0, 2.0])}


def make_tiny_england(folder: Path) -> None:
    """IoD, Census and lookup tables for 12 LSOAs, in the layout of ../shared/region/england."""
    folder.mkdir(parents=True, exist_ok=True)
    scores = dict(zip(LSOAS, [50.0, 40.0, 30.0, 25.0, 20.0, 15.0, 10.0, 5.0], strict=True))
    scores.update(OTHER)
    codes = sorted(scores)
    pop = {**POPULATION, **dict.fromkeys(OTHER, 1000)}
    lad = {c: LSOAS[c][0] if c in LSOAS else "E09999903" for c in codes}
    region = {c: "R1" if c in LSOAS else "R2" for c in codes}
    rank = pd.Series(scores).rank(ascending=False, method="min")
    pd.DataFrame(
        {
            "LSOA21CD": codes,
            "IMD_score": [scores[c] for c in codes],
            "IMD_rank": [rank[c] for c in codes],
            "IMD_decile": [min(10, int(np.ceil(10 * rank[c] / 12))) for c in codes],
        }
    ).to_parquet(folder / "imd2025_england_lsoa21.parquet")
    pd.DataFrame(
        {
            "LSOA21CD": codes,
            "ts0010001": [pop[c] for c in codes],
            "ts0110001": [pop[c] // 2 for c in codes],
        }
    ).to_parquet(folder / "census2021_england_lsoa21_selected_tables_totals_and_rates.parquet")
    pd.DataFrame(
        {
            "LSOA21CD": codes,
            "LSOA21NM": codes,
            "MSOA21CD": ["E02999999"] * 12,
            "LAD22CD": [lad[c] for c in codes],
            "LAD24CD": [lad[c] for c in codes],
            "LAD24NM": [lad[c] for c in codes],
            "RGN24CD": [region[c] for c in codes],
            "RGN24NM": [f"Region {region[c]}" for c in codes],
        }
    ).to_parquet(folder / "england_lsoa21_msoa21_lad_region_lookup.parquet")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as mp:
        d = tmp_path_factory.mktemp("cache")
        mp.setenv("PLACEKIT_CACHE", str(d))
        mp.delenv("PLACEKIT_ENGLAND", raising=False)
        mp.delenv(batch.FAULT_ENV, raising=False)
        yield d


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory, cache: Path) -> Path:
    """``<tmp>/tiny/sources`` and its England folder ``<tmp>/tiny/england``."""
    root = tmp_path_factory.mktemp("tiny")
    make_tiny_sources(root / "sources")
    make_tiny_england(root / "england")
    return root / "sources"


@pytest.fixture(scope="module")
def serial(region: Path, tmp_path_factory: pytest.TempPathFactory) -> batch.BatchReport:
    return batch.run_serial(
        region, [WEST, EAST], tmp_path_factory.mktemp("serial"), progress=lambda m: None
    )


@pytest.fixture(scope="module")
def undisturbed(region: Path, tmp_path_factory: pytest.TempPathFactory) -> batch.BatchReport:
    return batch.run_batch(
        region, "all", tmp_path_factory.mktemp("batch"), workers=2, progress=lambda m: None
    )


def test_batch_equals_serial_runs_exactly(serial, undisturbed) -> None:
    assert [c.status for c in undisturbed.councils] == ["computed", "computed"]
    assert undisturbed.scheduler.startswith("a local cluster of 2")
    pd.testing.assert_frame_equal(undisturbed.combined, serial.combined, check_exact=True)
    on_disk = pd.read_parquet(undisturbed.out / "combined.parquet")
    pd.testing.assert_frame_equal(on_disk, undisturbed.combined, check_exact=True)
    # each council's table equals the one written by its own serial run
    for code in (WEST, EAST):
        a = pd.read_parquet(undisturbed.out / "councils" / code / "lsoa.parquet")
        b = pd.read_parquet(serial.out / "councils" / code / "lsoa.parquet")
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    # the two tasks ran in two worker processes, neither in this one
    import os

    pids = {c.facts["pid"] for c in undisturbed.councils}
    assert len(pids) == 2 and os.getpid() not in pids


def test_combined_table_ranks_by_hand(undisturbed) -> None:
    t = undisturbed.combined
    assert list(t.index) == sorted(LSOAS)
    assert (
        t.loc["E01999901", "council_code"] == WEST
        and t.loc["E01999908", "council_name"] == "Easterby"
    )
    assert set(t["region_code"]) == {"R1"}
    assert t.loc["E01999902", "lsoa_name"] == "Westerby 001B"
    assert t["msoa_code"].tolist() == ["E02999901"] * 4 + ["E02999902"] * 4
    # IMD scores 50, 40, 30, 25 | 20, 15, 10, 5; England adds 60, 45, 35, 2 in region R2
    assert t["imd2025_score"].tolist() == [50, 40, 30, 25, 20, 15, 10, 5]
    assert t["imd2025_score_council_rank"].tolist() == [1, 2, 3, 4, 1, 2, 3, 4]
    assert t["imd2025_score_batch_rank"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert t["imd2025_score_region_rank"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert t["imd2025_score_england_rank"].tolist() == [2, 4, 6, 7, 8, 9, 10, 11]
    assert t["imd2025_score_england_decile"].tolist() == [2, 4, 5, 6, 7, 8, 9, 10]
    # walk access to the GP: Westerby's homes 200 m from a practice at each centre
    assert np.allclose(t.loc[[c for c in LSOAS if LSOAS[c][0] == WEST], "gp_walk_m"], 200, atol=0.1)
    assert "gp_walk_m_england_rank" not in t.columns  # no England value for access
    assert t["population"].tolist() == [POPULATION[c] for c in sorted(LSOAS)]


def test_second_run_resumes_without_recomputing(undisturbed, region: Path) -> None:
    before = {c.code: c.run_id for c in undisturbed.councils}
    lines: list[str] = []
    again = batch.run_batch(region, [WEST, EAST], undisturbed.out, progress=lines.append)
    assert [c.status for c in again.councils] == ["reused", "reused"]
    assert {c.code: c.run_id for c in again.councils} == before
    assert again.scheduler == "no cluster (nothing to compute)"
    pd.testing.assert_frame_equal(again.combined, undisturbed.combined, check_exact=True)
    assert any("2 done, 0 running, 0 failed of 2" in m for m in lines)


def test_changed_input_is_redone(region: Path, tmp_path: Path) -> None:
    src = tmp_path / "sources"
    shutil.copytree(region, src)
    shutil.copytree(region.parent / "england", tmp_path / "england")
    first = batch.run_serial(src, WEST, tmp_path / "out", progress=lambda m: None)
    cen = next((src / "census").glob("*.parquet"))
    df = pd.read_parquet(cen)
    df.loc[df["LSOA21CD"] == "E01999901", "ts0010001"] = 5000
    df.to_parquet(cen)
    second = batch.run_serial(src, WEST, tmp_path / "out", progress=lambda m: None)
    assert second.councils[0].status == "computed"
    assert second.councils[0].run_id != first.councils[0].run_id
    assert second.combined.loc["E01999901", "population"] == 5000


@pytest.mark.parametrize("stage", ["access", "written"])
def test_worker_killed_mid_batch(
    region: Path, undisturbed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    out = tmp_path / "out"
    # Westerby done first, in this process: its result is already written
    batch.run_serial(region, WEST, out, progress=lambda m: None)
    west_marker = json.loads((out / "councils" / WEST / "done.json").read_text())
    flag = tmp_path / "crashed"
    monkeypatch.setenv(batch.FAULT_ENV, f"{EAST}:{stage}:{flag}")
    lines: list[str] = []
    rep = batch.run_batch(region, [WEST, EAST], out, workers=2, progress=lines.append)
    assert flag.exists()  # Easterby's worker did die once
    status = {c.code: c.status for c in rep.councils}
    # died before writing: recomputed on the retry; died after writing: the retry reuses it
    assert status == {WEST: "reused", EAST: "computed" if stage == "access" else "reused"}
    assert json.loads((out / "councils" / WEST / "done.json").read_text()) == west_marker
    pd.testing.assert_frame_equal(rep.combined, undisturbed.combined, check_exact=True)
    starts = [m for m in lines if "started" in m]
    # Westerby never started again; Easterby started twice only if it died before writing
    assert len(starts) == (2 if stage == "access" else 1) and all(EAST in m for m in starts)


def test_unknown_code_and_missing_files_named_rest_runs(region: Path, tmp_path: Path) -> None:
    src = tmp_path / "sources"
    shutil.copytree(region, src)
    shutil.copytree(region.parent / "england", tmp_path / "england")
    cen = next((src / "census").glob("*.parquet"))
    df = pd.read_parquet(cen)
    df[df["lad_code"] != EAST].to_parquet(cen)  # Easterby's Census rows withheld
    lines: list[str] = []
    rep = batch.run_batch(
        src, f"{WEST},E09999999,{EAST}", tmp_path / "out", workers=1, progress=lines.append
    )
    by = {c.code: c for c in rep.councils}
    assert by[WEST].status == "computed"
    assert by["E09999999"].status == "failed"
    assert "unknown local authority code E09999999" in by["E09999999"].reason
    assert "E09999901 (Westerby), E09999902 (Easterby)" in by["E09999999"].reason
    assert by[EAST].status == "failed"
    assert "no census rows in census/" in by[EAST].reason and "(Easterby)" in by[EAST].reason
    assert set(rep.combined["council_code"]) == {WEST}
    assert any("FAILED" in m and "E09999999" in m for m in lines)


def test_failure_inside_a_task_is_reported_and_others_kept(region: Path, tmp_path: Path) -> None:
    src = tmp_path / "sources"
    shutil.copytree(region, src)
    shutil.copytree(region.parent / "england", tmp_path / "england")
    pts = next((src / "lookups").glob("*population_weighted*"))
    import geopandas as gpd

    g = gpd.read_parquet(pts)
    g.set_crs(None, allow_override=True).to_parquet(pts)  # a source without a CRS
    rep = batch.run_serial(src, "all", tmp_path / "out", progress=lambda m: None)
    assert [c.status for c in rep.councils] == ["failed", "failed"]
    assert all("CRS" in c.reason for c in rep.councils)
    assert len(rep.combined) == 0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_unreachable_scheduler_exits_2(region: Path, tmp_path: Path, capsys) -> None:
    addr = f"tcp://127.0.0.1:{_closed_port()}"
    code = main(
        [
            "batch",
            "--sources",
            str(region),
            "--la",
            WEST,
            "--out",
            str(tmp_path / "o"),
            "--scheduler",
            addr,
            "--connect-timeout",
            "2",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert f"Could not reach the Dask scheduler at {addr}" in err
    assert not (tmp_path / "o" / "councils").exists()


def test_cli_runs_and_reports(region: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "o"
    code = main(
        [
            "batch",
            "--sources",
            str(region),
            "--la",
            f"{EAST},E09999998",
            "--out",
            str(out),
            "--workers",
            "1",
        ]
    )
    cap = capsys.readouterr()
    assert code == 3  # finished, one council failed
    assert "E09999998" in cap.out and "failed: unknown local authority code" in cap.out
    assert "E09999902 Easterby: computed (4 LSOAs" in cap.out
    assert "[1 done, 0 running, 1 failed of 2]" in cap.err
    t = pd.read_csv(out / "combined.csv", index_col=0)
    assert list(t.index) == [c for c in sorted(LSOAS) if LSOAS[c][0] == EAST]
    assert json.loads((out / "batch.json").read_text())["councils"][1]["status"] == "failed"


def test_cli_bad_arguments(tmp_path: Path, capsys) -> None:
    assert (
        main(
            [
                "batch",
                "--sources",
                str(tmp_path / "nope"),
                "--la",
                "all",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "No sources folder at" in capsys.readouterr().err
    assert (
        main(
            [
                "batch",
                "--sources",
                str(tmp_path),
                "--la",
                "all",
                "--out",
                str(tmp_path / "o"),
                "--workers",
                "0",
            ]
        )
        == 2
    )
    assert "--workers" in capsys.readouterr().err

"""CLI: placekit evaluate, spc and change, on made-up monthly data over the real Sheffield LSOAs.

Every error path must print ``placekit: error: ...`` (the problem and the fix), exit 2, and
leave no output file (nor attribution file, nor temporary file) behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import placekit._cli_time as cli_time
from placekit.cli import main

N_MONTHS, START = 36, 24  # 2022-01 .. 2024-12, pilot from 2024-01
EFFECT = -4.0
MONTHS = pd.period_range("2022-01", periods=N_MONTHS, freq="M").astype(str)


@pytest.fixture(scope="module")
def files(place, tmp_path_factory):
    """A made-up referrals CSV (effect planted in three LSOAs of one LAC) and its pilot file."""
    d = tmp_path_factory.mktemp("cli_time")
    loc = place.codes(place.locality_level)
    first = sorted(loc.unique())[0]
    pilots = sorted(loc.index[loc == first])[:3]
    rng = np.random.default_rng(3)
    level = 6 + 0.4 * place.indicators["imd2025_score"].fillna(20.0).to_numpy()
    lam = np.repeat(level[:, None], N_MONTHS, axis=1)
    rows = np.isin(place.lsoa.index, pilots)
    lam[np.ix_(rows, np.arange(N_MONTHS) >= START)] += EFFECT
    y = rng.poisson(lam)
    data = pd.DataFrame(
        {
            "lsoa_code": np.repeat(place.lsoa.index.to_numpy(), N_MONTHS),
            "period": np.tile(MONTHS, len(place.lsoa)),
            "referrals": y.ravel(),
        }
    )
    csv = d / "referrals.csv"
    data.to_csv(csv, index=False)
    pilot = {
        "placekit_pilot": 1,
        "name": "Made-up pilot",
        "areas": pilots,
        "start": "2024-01",
        "demand": "referrals",
    }
    pj = d / "pilot.json"
    pj.write_text(json.dumps(pilot))
    return {"dir": d, "csv": csv, "pilot": pj, "doc": pilot, "data": data, "lac": first}


@pytest.fixture
def fast(monkeypatch, place):
    """Reuse the session's Sheffield place instead of loading the pack again per command."""
    monkeypatch.setattr(cli_time, "_place", lambda args: place)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _fails(capsys, out_dir: Path, *argv: str, match: str) -> str:
    code, _, err = _run(capsys, *argv)
    assert code == 2, err
    assert err.startswith("placekit: error: "), err
    assert match.lower() in err.lower(), err
    assert sorted(p.name for p in out_dir.iterdir()) == [], "partial output left behind"
    return err


def _variant(files, name: str, data: pd.DataFrame) -> Path:
    p = files["dir"] / name
    data.to_csv(p, index=False)
    return p


# ----------------------------------------------------------------------------- success paths


def test_evaluate_writes_table_and_summary(capsys, fast, files, tmp_path):
    out, summ = tmp_path / "pilot.csv", tmp_path / "pilot.json"
    code, stdout, err = _run(
        capsys,
        "evaluate",
        str(files["pilot"]),
        "--demand-file",
        str(files["csv"]),
        "--out",
        str(out),
        "--summary",
        str(summ),
    )
    assert code == 0, err
    table = pd.read_csv(out, index_col="period")
    assert list(table.index) == list(MONTHS)
    assert {"phase", "pilot", "comparison", "synthetic", "estimate"} <= set(table.columns)
    assert (table["phase"] == "pilot").sum() == N_MONTHS - START
    s = json.loads(summ.read_text())
    assert {"estimate", "lower", "upper", "method"} <= set(s)
    assert s["lower"] <= EFFECT <= s["upper"] and s["upper"] < 0  # recovered and detected
    assert "difference-in-differences" in s["method"]
    sc = s["synthetic_control"]
    assert sc["lower"] <= EFFECT <= sc["upper"]
    assert sc["placebo_fitted"] == sc["n_placebo"] + sc["placebo_dropped"]
    assert s["unit"] == "referrals per area per month"
    assert any("Open Government Licence" in line for line in s["attribution"])
    assert any("referrals.csv" in line for line in s["attribution"])
    attribution = (tmp_path / "pilot.csv.ATTRIBUTION.txt").read_text()
    assert "Service data: referrals.csv" in attribution
    assert "fewer referrals per area per month" in stdout
    assert f"Wrote {N_MONTHS} periods" in stdout


@pytest.mark.parametrize("ext", [".png", ".csv"])
def test_spc_writes_chart(capsys, fast, place, files, tmp_path, ext):
    out = tmp_path / f"lac{ext}"
    code, stdout, err = _run(
        capsys,
        "spc",
        "--demand-file",
        str(files["csv"]),
        "--level",
        "lac",
        "--area",
        files["lac"].lower(),  # names match without case
        "--change-point",
        "2024-01",
        "--improvement",
        "decrease",
        "--out",
        str(out),
    )
    assert code == 0, err
    if ext == ".png":
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert out.stat().st_size > 5000
    else:
        chart = pd.read_csv(out, index_col=0)
        assert len(chart) == N_MONTHS
        assert {"value", "mean", "lower", "upper", "special_cause"} <= set(chart.columns)
        # the LAC total is the sum of its LSOAs' made-up counts, month by month
        data, key = files["data"], place.codes("lac")
        want = data[data["lsoa_code"].map(key) == files["lac"]].groupby("period")["referrals"]
        assert np.allclose(chart["value"].to_numpy(), want.sum().to_numpy())
        # limits recalculated from the change point: two segments, each with its own mean
        before, after = chart.iloc[:START], chart.iloc[START:]
        assert before["mean"].nunique() == 1 and after["mean"].nunique() == 1
        assert after["mean"].iloc[0] < before["mean"].iloc[0]  # the planted fall
    att = (tmp_path / f"lac{ext}.ATTRIBUTION.txt").read_text()
    assert "Service data: referrals.csv" in att and "Open Government Licence" in att
    assert "Wrote" in stdout


def test_change_writes_iod_and_census_tables(capsys, files, tmp_path):
    # the real route, loading the pack (once) as a user's command would
    out = tmp_path / "ward_change.csv"
    code, stdout, err = _run(capsys, "change", "--level", "ward", "--out", str(out))
    assert code == 0, err
    t = pd.read_csv(out, index_col="area_code")
    assert len(t) == 28 and {"imd_pct_2019", "imd_pct_2025", "imd_status"} <= set(t.columns)
    assert "unavailable: iod_scores" in err and "census_2011_2021" not in err
    assert "Open Government Licence" in (tmp_path / "ward_change.csv.ATTRIBUTION.txt").read_text()
    cen = tmp_path / "census.csv"
    code, stdout, err = _run(capsys, "change", "--census", "--level", "lac", "--out", str(cen))
    assert code == 0, err
    c = pd.read_csv(cen, index_col="area_code")
    assert len(c) == 7
    assert set(c["hh_deprived_1plus_status"]) <= {"improved", "worsened", "no significant change"}
    assert "two-proportion z-test" in stdout
    assert "unavailable: census_vs_england" in err


# ----------------------------------------------------------------------------- error paths


def test_missing_files(capsys, fast, files, tmp_path):
    out = tmp_path / "x.csv"
    _fails(
        capsys,
        tmp_path,
        "evaluate",
        str(files["dir"] / "nope.json"),
        "--demand-file",
        str(files["csv"]),
        "--out",
        str(out),
        match="no file at",
    )
    err = _fails(
        capsys,
        tmp_path,
        "spc",
        "--demand-file",
        str(files["dir"] / "nope.csv"),
        "--level",
        "lac",
        "--area",
        files["lac"],
        "--out",
        str(tmp_path / "x.png"),
        match="--demand-file: no file at",
    )
    assert "give a CSV or XLSX by LSOA and period" in err


def _bad_series(files, kind: str) -> tuple[Path, str]:
    data = files["data"].copy()
    if kind == "not a date":
        data.loc[data.index[-1], "period"] = "soon"
        return _variant(files, "notdate.csv", data), "are not periods (e.g. 'soon'). Write each"
    if kind == "duplicate":
        data = pd.concat([data, data.iloc[[0]]])
        return _variant(files, "dup.csv", data), "Give one row per LSOA and period"
    if kind == "two vintages":
        split = data[data["lsoa_code"] == "E01034845"].copy()
        split["lsoa_code"] = "E01033278"  # its 2011 parent, beside the 2021 codes
        data = pd.concat([data, split])
        return _variant(files, "vintage.csv", data), "Use one set of codes (2011 or 2021)"
    if kind == "gap":
        data = data[data["period"] != "2022-06"]
        return _variant(files, "gap.csv", data), "has gaps"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["not a date", "duplicate", "two vintages", "gap"])
def test_bad_demand_files_refused_by_evaluate_and_spc(capsys, fast, files, tmp_path, kind):
    path, match = _bad_series(files, kind)
    _fails(
        capsys,
        tmp_path,
        "evaluate",
        str(files["pilot"]),
        "--demand-file",
        str(path),
        "--out",
        str(tmp_path / "p.csv"),
        "--summary",
        str(tmp_path / "p.json"),
        match=match,
    )
    _fails(
        capsys,
        tmp_path,
        "spc",
        "--demand-file",
        str(path),
        "--level",
        "lac",
        "--area",
        files["lac"],
        "--out",
        str(tmp_path / "c.png"),
        match=match,
    )


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"areas": ["E01000001", "E01007823"]}, "not LSOAs of Sheffield"),
        ({"areas": ["E01033278"]}, "are 2011 codes: use the 2021 code"),
        ({"start": "2026-01"}, "outside the data (2022-01 to 2024-12). Check the start"),
        ({"start": "2022-03"}, "at least 6 are needed"),
        ({"start": "March 2024"}, "must be a month written YYYY-MM"),
    ],
)
def test_bad_pilots_refused(capsys, fast, files, tmp_path, change, match):
    pj = files["dir"] / f"bad_{abs(hash(json.dumps(change)))}.json"
    pj.write_text(json.dumps(files["doc"] | change))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    _fails(
        capsys,
        out_dir,
        "evaluate",
        str(pj),
        "--demand-file",
        str(files["csv"]),
        "--out",
        str(out_dir / "p.csv"),
        "--summary",
        str(out_dir / "p.json"),
        match=match,
    )


def test_unknown_area_and_level(capsys, fast, files, tmp_path):
    common = ("spc", "--demand-file", str(files["csv"]), "--out", str(tmp_path / "c.png"))
    err = _fails(
        capsys, tmp_path, *common, "--level", "lac", "--area", "Atlantis", match="no lac called"
    )
    assert "Choose a code or one of" in err and files["lac"] in err
    err = _fails(capsys, tmp_path, *common, "--level", "county", "--area", "x", match="county")
    assert "ward" in err and "lac" in err  # the pack's levels are listed
    _fails(
        capsys,
        tmp_path,
        *common,
        "--level",
        "lsoa",
        "--area",
        "E01000001",
        match="give a 2021 LSOA code",
    )
    _fails(capsys, tmp_path, *common, match="give --level LEVEL --area NAME")
    _fails(
        capsys,
        tmp_path,
        "change",
        "--level",
        "county",
        "--out",
        str(tmp_path / "w.csv"),
        match="got 'county'",
    )


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (
            ("evaluate", "{pilot}", "--demand-file", "{csv}", "--out", "{out}/p.txt"),
            "--out p.txt has '.txt'; this command writes .csv. Name the file e.g. p.csv",
        ),
        (
            (
                *("evaluate", "{pilot}", "--demand-file", "{csv}"),
                *("--out", "{out}/p.csv", "--summary", "{out}/s.yaml"),
            ),
            "--summary s.yaml has '.yaml'; this command writes .json",
        ),
        (
            (
                *("spc", "--demand-file", "{csv}", "--level", "lac"),
                *("--area", "x", "--out", "{out}/c.pdf"),
            ),
            "writes .csv .png .svg",
        ),
        (("change", "--out", "{out}/w.xlsx"), "Name the file e.g. w.csv"),
    ],
)
def test_bad_out_extension(capsys, fast, files, tmp_path, argv, match):
    args = [a.format(pilot=files["pilot"], csv=files["csv"], out=tmp_path) for a in argv]
    _fails(capsys, tmp_path, *args, match=match)


def test_out_folder_missing(capsys, fast, files, tmp_path):
    _fails(
        capsys,
        tmp_path,
        "change",
        "--out",
        str(tmp_path / "no" / "such" / "w.csv"),
        match="does not exist. Create it first (mkdir -p",
    )

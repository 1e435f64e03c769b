"""A demand measure from the user's file: library and the drivers/scenario commands."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from placekit.cli import main
from placekit.demand import with_demand_file
from placekit.errors import DataError, PlacekitError


def _planted_counts(place, tmp_path, *, seed=0, small=()):
    """Referral counts whose rate per 1000 rises 2 per point of no-car households."""
    rng = np.random.default_rng(seed)
    pop = place.weights["population"].reindex(place.lsoa.index).to_numpy(float)
    rate = 20.0 + 2.0 * place.indicators["no_car_pct"].reindex(place.lsoa.index).to_numpy(float)
    counts = rng.poisson(pop / 1000.0 * rate)
    frame = pd.DataFrame({"LSOA code": place.lsoa.index, "referrals": counts})
    for code in small:
        frame.loc[frame["LSOA code"] == code, "referrals"] = 3
    path = tmp_path / "referrals.csv"
    frame.to_csv(path, index=False)
    return path


def test_count_column_is_modelled_per_1000(place, tmp_path):
    path = _planted_counts(place, tmp_path)
    new, demand = with_demand_file(place, path, "referrals")
    assert demand == "demand_referrals_per_1000"
    assert new.suppress[demand] == "demand_referrals"
    pop = place.weights["population"].reindex(new.indicators.index)
    np.testing.assert_allclose(
        new.indicators[demand], 1000.0 * new.indicators["demand_referrals"] / pop
    )
    assert demand not in place.indicators.columns  # the place itself is unchanged


def test_demand_file_errors(place, tmp_path):
    with pytest.raises(DataError, match="No demand file at"):
        with_demand_file(place, tmp_path / "missing.csv", "referrals")
    path = _planted_counts(place, tmp_path)
    with pytest.raises(PlacekitError, match=r"has no column\(s\) 'attendances'"):
        with_demand_file(place, path, "attendances")
    with pytest.raises(DataError, match="demand column name is empty"):
        with_demand_file(place, path, "  ")


def test_drivers_cli_recovers_planted_driver_and_hides_small_counts(place, tmp_path, capsys):
    small = list(place.lsoa.index[:4])
    path = _planted_counts(place, tmp_path, small=small)
    out, areas = tmp_path / "imp.csv", tmp_path / "areas.csv"
    argv = [
        "drivers",
        "--demand-file",
        str(path),
        "--demand",
        "referrals",
        "--out",
        str(out),
        "--areas-out",
        str(areas),
    ]
    assert main(argv) == 0
    said = capsys.readouterr().out
    assert "modelled as demand_referrals_per_1000" in said and "Moran's I" in said
    imp = pd.read_csv(out)
    assert "no_car_pct" in imp.iloc[0]["members"]  # the planted driver leads
    assert imp.iloc[0]["importance"] > 5 * imp.iloc[1:]["importance"].clip(lower=0).max()
    got = pd.read_csv(areas, index_col=0)
    assert got.loc[small, "observed"].isna().all()  # counts under 5 stay hidden
    assert got["observed"].notna().sum() >= len(got) - 20


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["drivers", "--demand-file", "{d}/none.csv", "--demand", "x", "--out", "{d}/o.csv"],
            "--demand-file: no file at",
        ),
        (
            ["scenario", "{d}/sc.json", "--demand-file", "{d}/referrals.csv", "--out", "{d}/o.csv"],
            "--demand-file needs --demand COLUMN",
        ),
    ],
)
def test_demand_file_cli_errors(place, tmp_path, capsys, argv, message):
    _planted_counts(place, tmp_path)
    (tmp_path / "sc.json").write_text(
        json.dumps(
            {
                "placekit_scenario": 1,
                "name": "x",
                "threshold_min": 15,
                "interventions": [
                    {"type": "add_facility", "facility": "gp", "lon": -1.4917, "lat": 53.3215}
                ],
            }
        )
    )
    assert main([a.format(d=tmp_path) for a in argv]) == 2
    assert message in capsys.readouterr().err


def test_scenario_cli_with_demand_file(place, tmp_path, capsys):
    """No planted access effect: the demand change has an interval and no point prediction."""
    path = _planted_counts(place, tmp_path, seed=1)
    sc = tmp_path / "sc.json"
    sc.write_text(
        json.dumps(
            {
                "placekit_scenario": 1,
                "name": "GP in 069C",
                "threshold_min": 15,
                "interventions": [
                    {"type": "add_facility", "facility": "gp", "lon": -1.4917, "lat": 53.3215}
                ],
            }
        )
    )
    out = tmp_path / "scn.csv"
    argv = [
        "scenario",
        str(sc),
        "--demand-file",
        str(path),
        "--demand",
        "referrals",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    said = capsys.readouterr().out
    assert "modelled as demand_referrals_per_1000" in said
    got = pd.read_csv(out, index_col=0)
    helped = got[got["gp_min_change"] < -0.5]
    assert len(helped) >= 3
    if "No detectable effect" in said:
        assert helped["gp_demand_change"].isna().all()  # no point prediction shown
        assert "the interval would be" in said  # the interval is stated instead
    else:  # an effect the data supports: a number inside its own interval
        assert (helped["gp_demand_change_lower"] <= helped["gp_demand_change"]).all()
        assert (helped["gp_demand_change"] <= helped["gp_demand_change_upper"]).all()

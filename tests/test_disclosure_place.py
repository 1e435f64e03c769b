"""The differencing attack on everything the app and the exports publish for an upload.

Each of 30 random uploads of small counts by LSOA goes in through the same call the app's
"Your data" section makes (:func:`placekit.userdata.add_table`). The attacker then collects
what a user can see or export: the table at every level of the place (LSOA, the council's
neighbourhoods, MSOA, ward, LAC, local authority) and the whole place's total, and runs the
linear programme of :func:`placekit.disclosure.audit` over all of it at once. No hidden cell
may be recovered exactly or bounded tighter than the protection interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from placekit.audit import audit_file, audit_place, published_tables
from placekit.errors import DataError
from placekit.userdata import add_table


@pytest.fixture(scope="module")
def uploads(place):
    rng = np.random.default_rng(20261201)
    out = []
    for k in range(30):
        mean = rng.choice([1.0, 3.0, 8.0])
        counts = rng.poisson(mean, size=len(place.lsoa))
        body = "lsoa_code,referrals\n" + "\n".join(
            f"{c},{v}" for c, v in zip(place.lsoa.index, counts, strict=True)
        )
        new = add_table(place, body.encode(), name=f"upload_{k}.csv")
        cid = next(i for i in new.suppress.values())
        out.append((new, cid, pd.Series(counts, index=place.lsoa.index)))
    return out


def test_published_tables_survive_the_lp_attack(uploads):
    hidden_total = 0
    for new, cid, truth in uploads:
        pub = published_tables(new, cid)
        res = audit_place(new, cid).result
        assert res.n_exact == 0, res.summary()
        assert res.n_too_tight == 0, res.summary()
        shown = pub["lsoa"].notna()
        # what is shown is true; small counts are never shown
        assert (pub["lsoa"][shown] == truth[shown]).all()
        assert not truth[shown].between(1, new.min_count - 1).any()
        hidden_total += int((~shown).sum())
    assert hidden_total > 1000  # the attack had plenty to aim at


def test_rates_built_from_a_count_hide_with_it(uploads):
    new, cid, _ = uploads[0]
    rates = [i for i, base in new.suppress.items() if base == cid and i != cid]
    assert rates, "an upload of counts also publishes a rate per 1,000 residents"
    for lvl in new.all_levels:
        t = new.table(lvl, [cid, *rates])
        for r in rates:
            assert (t[r].isna() == t[cid].isna()).all()


def test_audit_file_reports_each_count(place, tmp_path):
    f = tmp_path / "two.csv"
    rows = [f"{c},{i % 7},{(3 * i) % 11}" for i, c in enumerate(place.lsoa.index)]
    f.write_text("lsoa_code,referrals,visits\n" + "\n".join(rows), encoding="utf-8")
    audits = audit_file(place, f)
    assert [a.count_id for a in audits] == ["user_referrals", "user_visits"]
    for a in audits:
        assert a.result.ok
        assert a.shown["lsoa"] + a.hidden["lsoa"] == len(place.lsoa)
        assert "user_" in a.summary()
    with pytest.raises(DataError, match="'imd2025_score' is not an uploaded count"):
        audit_place(place, "imd2025_score")


def test_cli_audit(place, tmp_path, capsys):
    from placekit.cli import main

    f = tmp_path / "counts.csv"
    rows = [f"{c},{i % 6}" for i, c in enumerate(place.lsoa.index)]
    f.write_text("lsoa_code,referrals\n" + "\n".join(rows), encoding="utf-8")
    assert main(["audit", str(f)]) == 0
    out = capsys.readouterr().out
    assert "user_referrals" in out and "Verdict: every hidden cell is protected." in out
    assert main(["audit", str(tmp_path / "missing.csv")]) == 2
    assert "No file at" in capsys.readouterr().err

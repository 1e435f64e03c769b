"""The locality pack's trends part: IoD 2019 -> 2025 against England, Census 2011 -> 2021."""

import re

from placekit.change import census_change_table, change_table
from placekit.report import locality_report, trends_html


def test_trends_part_matches_the_change_tables(place) -> None:
    level = place.locality_level
    iod = change_table(place, level)
    code = str(iod.index[0])
    text = trends_html(place, level, code)
    row = iod.loc[code]
    assert (
        f"moved from {row['imd_pct_2019']:.1f} to {row['imd_pct_2025']:.1f} "
        f"({row['imd_status']}" in text
    )
    assert "Index of Multiple Deprivation" in text and "against England" in text
    cen = census_change_table(place, level).loc[code]
    assert f"{cen['hh_deprived_1plus_pct_2011']:,.1f}" in text
    assert "Census 2011 → 2021" in text and "Against England: unavailable" in text
    html = locality_report(place, level, code)
    assert "<h2>Trends</h2>" in html
    assert not re.search(r"<script|src=|href=|url\(", html, flags=re.IGNORECASE)

"""Neighbourhood types charts: every chart has a title and both axes labelled."""

from __future__ import annotations

import pandas as pd

from sections import types


def _axes(spec: dict) -> list[dict]:
    layers = spec.get("layer", [spec])
    return [layer.get("encoding", {}) for layer in layers]


def test_diagnostic_charts_have_titles_and_axis_labels():
    diag = pd.DataFrame(
        {"silhouette": [0.3, 0.25], "davies_bouldin": [1.2, 1.1], "wcss": [900.0, 700.0]},
        index=pd.Index([2, 3], name="k"),
    )
    for col in ("silhouette", "davies_bouldin", "wcss"):
        spec = types._diag_chart(diag, col, 3).to_dict()
        name, note = types.DIAG_WORDS[col]
        assert spec["title"] == {"text": name, "subtitle": note}
        enc = next(e for e in _axes(spec) if "x" in e)
        assert enc["x"]["title"] == "number of types (k)"
        assert enc["x"]["axis"]["labelAngle"] == 0  # k read level, not turned on its side
        assert spec["height"] == types.DIAG_HEIGHT_PX
        assert enc["y"]["title"] == types.DIAG_AXES[col]


def test_pen_portrait_chart_has_a_title_and_axis_labels():
    bars = pd.DataFrame({"variable": ["Bad health", "Students"], types.PORTRAIT_AXIS: [130, 60]})
    spec = types._portrait_chart(bars, "Type 1: Students, against the city").to_dict()
    assert spec["title"] == "Type 1: Students, against the city"
    enc = _axes(spec)[0]
    assert enc["y"]["title"] == "indicator"
    assert enc["y"]["axis"]["labelLimit"] >= 400  # whole names, not "Overcrowded ho…"
    assert enc["x"]["title"].startswith("index (city = 100)")
    assert spec["layer"][1]["mark"]["type"] == "rule"  # the city's line, at 100
    assert {"x": 100} in [row for rows in spec["datasets"].values() for row in rows]

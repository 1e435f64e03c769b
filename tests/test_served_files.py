"""The app's served map geometry is built once per pack and code, not once per server."""

from __future__ import annotations

import dataclasses

from placekit import layers as pl
from placekit import workflows as wf
from sections import _common


def test_a_new_server_reuses_the_served_area_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PLACEKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(_common, "STATIC_DIR", tmp_path / "static")
    place = wf.prepared_place()
    assert place.derived["source_key"]
    built: list[str] = []
    real = pl.write_static_areas

    def counting(*args, **kwargs):
        built.append("x")
        return real(*args, **kwargs)

    monkeypatch.setattr(pl, "write_static_areas", counting)
    ids = ("imd2025_score", "bad_health_pct")
    first = _common.static_area_file(str(place.data_dir), "lsoa", ids, place)
    _common.static_area_file.clear()  # as a new server process would start
    again = _common.static_area_file(str(place.data_dir), "lsoa", ids, place)
    assert first == again and built == ["x"]  # written once, found the second time
    assert (tmp_path / "static" / first).is_file()
    # another level or other columns are other files
    ward = _common.static_area_file(str(place.data_dir), place.locality_level, ids, place)
    assert ward != first and built == ["x", "x"]
    # the file gone (static folder cleared): built again, not a dangling name
    (tmp_path / "static" / first).unlink()
    _common.static_area_file.clear()
    assert _common.static_area_file(str(place.data_dir), "lsoa", ids, place) == first
    assert len(built) == 3


def test_served_once_without_a_source_key_builds_each_time(tmp_path, monkeypatch):
    monkeypatch.setattr(_common, "STATIC_DIR", tmp_path)
    place = wf.prepared_place()
    bare = dataclasses.replace(place, derived={})  # e.g. a place loaded without the disk cache
    calls: list[int] = []

    def build() -> str:
        calls.append(1)
        (tmp_path / "f.geojson").write_text("{}")
        return "f.geojson"

    assert _common.served_once(bare, ("x",), build) == "f.geojson"
    assert _common.served_once(bare, ("x",), build) == "f.geojson"
    assert len(calls) == 2 and not list(tmp_path.glob("served_*.name"))
    assert _common.served_once(place, ("x",), build) == "f.geojson"
    assert _common.served_once(place, ("x",), build) == "f.geojson"  # found by its pointer
    assert len(calls) == 3

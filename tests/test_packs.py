"""Packs are data: the manifest reader, levels from the manifest, missing roles, packaging."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from placekit.errors import DataError, SchemaError
from placekit.pack import MANIFEST_NAME, open_pack, shipped_manifests, validate_manifest
from placekit.place import load_place

REPO = Path(__file__).resolve().parent.parent


def _sheffield_manifest(pack_dir: Path) -> dict:
    """The shipped Sheffield manifest with absolute paths, so a copy can live in tmp_path."""
    m = json.loads(json.dumps(next(x for x in shipped_manifests() if x["name"] == "Sheffield")))
    for spec in m["roles"].values():
        spec["file"] = str(pack_dir / spec["file"])
    for lv in m["levels"]:
        for part in ("assign", "boundaries"):
            if lv.get(part, {}).get("file"):
                lv[part]["file"] = str(pack_dir / lv[part]["file"])
    m.pop("detect")
    m["england"] = str((pack_dir / m["england"]).resolve())
    return m


def _write(folder: Path, manifest: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def test_sheffield_levels_come_from_the_manifest(place):
    assert place.name == "Sheffield"
    assert place.levels == ["neighbourhood", "msoa", "ward", "lac", "lad"]
    assert {lv: len(place.localities[lv]) for lv in place.levels} == {
        "neighbourhood": 99,
        "msoa": 70,
        "ward": 28,
        "lac": 7,
        "lad": 1,
    }
    assert place.level_label("ward") == "Ward (28)"
    assert place.locality_level == "lac"
    # wards nest in LACs and the LA; LSOAs in everything; neighbourhoods are not inside wards
    assert place.parents("ward") == ["lac", "lad"]
    assert "ward" not in place.parents("neighbourhood")
    assert (
        place.lsoa.loc["E01033264", "msoa_code"]
        == place.lsoa.loc["E01033264", "area_name"][:-1].strip()
    )


def test_unknown_level_lists_the_levels(place):
    with pytest.raises(
        DataError,
        match=r"level must be one of \['lsoa', 'neighbourhood', 'msoa', 'ward', 'lac', 'lad'\]",
    ):
        place.table("lac_typo", ["population"])


def test_missing_role_makes_its_indicators_unavailable(pack_dir, tmp_path):
    m = _sheffield_manifest(pack_dir)
    del m["roles"]["imd2025_sub"]
    del m["roles"]["warm_spaces"]
    place = load_place(_write(tmp_path / "p", m))
    assert len(place.lsoa) == 343
    assert "outdoors_2025_score" not in place.indicators
    assert place.unavailable["outdoors_2025_score"] == "the pack has no imd2025_sub table"
    assert place.unavailable["warm_spaces_count"] == "the pack has no warm space layer"
    assert "warm_space" not in place.available_layers and "gp" in place.available_layers
    with pytest.raises(
        DataError, match="unavailable for Sheffield: the pack has no imd2025_sub table"
    ):
        place.table("ward", ["outdoors_2025_score"])
    with pytest.raises(
        DataError, match=r"has no IoD 2025 sub-domains by LSOA 2021 \(role 'imd2025_sub'\)"
    ):
        place.pack.file("imd2025_sub")
    assert place.table("ward", ["imd2025_score"])["imd2025_score"].notna().all()


def test_role_file_gone_names_role_and_file(pack_dir, tmp_path):
    m = _sheffield_manifest(pack_dir)
    m["roles"]["census"]["file"] = "census/not_here.parquet"
    with pytest.raises(
        DataError,
        match=r"names census/not_here.parquet as its Census 2021 tables .*\(role 'census'\)",
    ):
        load_place(_write(tmp_path / "p", m))


def test_manifest_column_not_in_file(pack_dir, tmp_path):
    m = _sheffield_manifest(pack_dir)
    m["roles"]["lsoa"]["columns"]["code"] = "LSOA99CD"
    with pytest.raises(
        SchemaError, match=r"has no column\(s\) \['LSOA99CD'\] that the manifest names"
    ):
        load_place(_write(tmp_path / "p", m))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update(placekit_pack=2), '"placekit_pack" must be 1; got 2'),
        (lambda m: m.update(la_codes=[]), '"la_codes" must be a non-empty list'),
        (lambda m: m["roles"].update(bogus={"file": "x"}), "unknown role 'bogus'"),
        (lambda m: m["roles"].pop("lsoa"), 'every pack needs the roles "lsoa" and "census"'),
        (
            lambda m: m["roles"]["lsoa"].pop("columns"),
            "role 'lsoa' must name its column(s) ['code', 'name']",
        ),
        (lambda m: m["levels"][0]["assign"].update(method="guess"), "assign.method must be one of"),
        (
            lambda m: m["levels"].append(dict(m["levels"][0])),
            "level 'neighbourhood' is listed twice",
        ),
    ],
)
def test_manifest_validation_messages(pack_dir, change, message):
    m = _sheffield_manifest(pack_dir)
    change(m)
    with pytest.raises(
        DataError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ):
        validate_manifest(m, where="test")


def test_not_a_pack_and_bad_json(tmp_path):
    with pytest.raises(DataError, match=r"is not a place pack: it has no placekit-pack\.json"):
        open_pack(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match=r"is not valid JSON .*placekit pack build --force"):
        open_pack(tmp_path)
    with pytest.raises(DataError, match="No place pack at"):
        open_pack(tmp_path / "nowhere")


def test_lookup_level_with_a_gap_is_named(pack_dir, tmp_path):
    lk = tmp_path / "lk.csv"
    lk.write_text("LSOA21CD,X\nE01033264,A\n", encoding="utf-8")
    m = _sheffield_manifest(pack_dir)
    m["levels"].append(
        {
            "id": "x",
            "label": "X",
            "assign": {
                "method": "lookup",
                "file": str(lk),
                "lsoa_column": "LSOA21CD",
                "code_column": "X",
            },
        }
    )
    with pytest.raises(
        DataError, match=r"342 LSOA\(s\) of pack 'Sheffield' have no X \(level 'x'\)"
    ):
        load_place(_write(tmp_path / "p", m))


def test_wheel_ships_catalogue_layers_and_manifests(tmp_path, pack_dir):
    """A normal (non-editable) install carries its data: nothing is read from the source tree."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("placekit-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in (
        "placekit/data/indicators.csv",
        "placekit/data/layers.json",
        "placekit/data/packs/sheffield.json",
        "placekit/py.typed",
    ):
        assert f in names
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(target)
    code = (
        "import placekit, sys; from placekit.catalogue import load_catalogue; "
        "from placekit.pack import open_pack; assert placekit.__file__.startswith(sys.argv[1]); "
        "print(len(load_catalogue()), open_pack(sys.argv[2]).name)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(target), str(pack_dir)],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.split() == ["87", "Sheffield"]


def test_truncated_pack_table_is_refused_not_averaged(pack_dir, tmp_path):
    """A cut-off IoD file must not give localities a mean over the rows that happen to be left."""
    src = pack_dir / "deprivation" / "imd2025_sheffield_lsoa21.csv"
    lines = src.read_text(encoding="utf-8").splitlines()
    short = tmp_path / "imd_short.csv"
    short.write_text("\n".join(lines[:201]) + "\n", encoding="utf-8")  # header + 200 of 343 rows
    m = _sheffield_manifest(pack_dir)
    m["roles"]["imd2025"]["file"] = str(short)
    with pytest.warns(UserWarning, match=r"imd_short.csv has no row for 143 of the 343 LSOAs"):
        place = load_place(_write(tmp_path / "p", m))
    assert "imd2025_score" not in place.indicators
    assert "is the file complete?" in place.unavailable["imd2025_score"]
    assert place.table("ward", ["bad_health_pct"])["bad_health_pct"].notna().all()

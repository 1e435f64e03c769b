"""Property-based tests of the pack manifest and catalogue loaders: only placekit's own errors."""

from __future__ import annotations

import contextlib
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from placekit.catalogue import load_catalogue
from placekit.errors import PlacekitError
from placekit.pack import MANIFEST_NAME, ROLES, open_pack, shipped_manifests, validate_manifest

SHEFFIELD = next(m for m in shipped_manifests() if m["name"] == "Sheffield")

junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def mutated_manifest(draw):
    """The Sheffield manifest with one to three fields replaced, removed or added."""
    m = json.loads(json.dumps(SHEFFIELD))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["top", "role", "column", "level", "assign"]))
        value = draw(junk)
        if where == "top":
            m[draw(st.sampled_from([*m, "extra"]))] = value
        elif where == "role" and isinstance(m.get("roles"), dict):
            m["roles"][draw(st.sampled_from(sorted(ROLES)))] = value
        elif (
            where == "column"
            and isinstance(m.get("roles"), dict)
            and isinstance(m["roles"].get("lsoa"), dict)
        ):
            m["roles"]["lsoa"]["columns"] = value
        elif where == "level" and isinstance(m.get("levels"), list) and m["levels"]:
            m["levels"][draw(st.integers(0, len(m["levels"]) - 1))] = value
        elif isinstance(m.get("levels"), list) and m["levels"] and isinstance(m["levels"][0], dict):
            m["levels"][0]["assign"] = value
    return m


@settings(max_examples=1000, deadline=None)
@given(mutated_manifest())
def test_validate_manifest_raises_only_placekit_errors(m):
    try:
        out = validate_manifest(m, where="fuzz")
    except PlacekitError as err:
        assert "fuzz" in str(err)
    else:
        assert out["placekit_pack"] == 1 and out["la_codes"]


@settings(
    max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_open_pack_on_any_manifest_bytes(tmp_path_factory, raw):
    d = tmp_path_factory.mktemp("pk")
    (d / MANIFEST_NAME).write_bytes(raw)
    with contextlib.suppress(PlacekitError):
        open_pack(d)


@settings(
    max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.lists(st.text(max_size=12), min_size=1, max_size=15), min_size=1, max_size=6))
def test_load_catalogue_on_any_csv(tmp_path_factory, rows):
    f = tmp_path_factory.mktemp("cat") / "c.csv"
    f.write_text("\n".join(",".join(r) for r in rows), encoding="utf-8")
    with contextlib.suppress(PlacekitError):
        load_catalogue(f)

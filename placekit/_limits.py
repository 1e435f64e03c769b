"""Size and range limits shared by the checks on what users hand to placekit.

One place for the numbers, so the scenario validator, the loaders and the CLI
refuse the same things and say the same thing about them. Every limit is a
plain constant with its unit in its name; raise one here, not at a call site.

The scenario limits are set for planning questions about one council: a
scenario is a handful of changes, not a master plan, and anything outside these
ranges is far more likely a typing slip (a missing minus sign, lon and lat
swapped, a number pasted twice) than an intended input.
"""

from __future__ import annotations

__all__ = [
    "ENGLAND_BNG_BOUNDS_M",
    "ENGLAND_LONLAT_BOUNDS",
    "MAX_DWELLINGS",
    "MAX_GREENSPACE_M2",
    "MAX_ID_CHARS",
    "MAX_INTERVENTIONS",
    "MAX_JSON_DEPTH",
    "MAX_JSON_NODES",
    "MAX_LINKS",
    "MAX_LINK_M",
    "MAX_NAME_CHARS",
    "MAX_PEOPLE",
    "MAX_SCENARIO_BYTES",
    "MAX_TEXT_CHARS",
    "MAX_THRESHOLD_MIN",
    "MIN_GREENSPACE_M2",
    "MIN_THRESHOLD_MIN",
    "NEAR_PLACE_M",
]

# -- geography ---------------------------------------------------------------------------
#: (min lon, min lat, max lon, max lat) of England and its seas, WGS84 degrees
#: (Scilly to Lowestoft, the Lizard to Berwick, with a small margin).
ENGLAND_LONLAT_BOUNDS = (-6.5, 49.8, 2.0, 55.9)
#: (min x, min y, max x, max y) of England in British National Grid (EPSG:27700) metres.
ENGLAND_BNG_BOUNDS_M = (80_000.0, 5_000.0, 660_000.0, 660_000.0)
#: How far outside a place's boundary a facility, link end or green space may lie, metres
#: (a GP just over the border still serves the city's residents).
NEAR_PLACE_M = 2_000.0

# -- documents ---------------------------------------------------------------------------
#: Largest scenario file read, bytes.
MAX_SCENARIO_BYTES = 1_000_000
#: Deepest nesting of objects and lists in a JSON document (a scenario needs 4).
MAX_JSON_DEPTH = 8
#: Most values (objects, lists, numbers, strings) in one JSON document.
MAX_JSON_NODES = 20_000
#: Most characters of text in one JSON document, all strings together.
MAX_TEXT_CHARS = 500_000
#: Longest name (of a scenario or an intervention), characters.
MAX_NAME_CHARS = 200
#: Longest facility id or facility type, characters.
MAX_ID_CHARS = 100

# -- scenarios ---------------------------------------------------------------------------
#: Most interventions in one scenario.
MAX_INTERVENTIONS = 200
#: Most new links (paths, bridges) in one scenario; each one re-solves every facility type.
MAX_LINKS = 20
#: Longest new link, metres (a footbridge or a new path, not a new road across the city).
MAX_LINK_M = 5_000.0
#: Most new residents in one housing development (about 20,000 homes).
MAX_PEOPLE = 50_000
#: Most new homes in one housing development.
MAX_DWELLINGS = 20_000
#: Smallest new or improved green space, square metres (a pocket park).
MIN_GREENSPACE_M2 = 100.0
#: Largest new or improved green space, square metres (2 km², a large country park).
MAX_GREENSPACE_M2 = 2_000_000.0
#: Shortest and longest travel-time threshold, minutes.
MIN_THRESHOLD_MIN = 1.0
MAX_THRESHOLD_MIN = 120.0

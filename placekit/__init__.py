"""placekit: where, and on what, should a council act upstream?

Load a place pack (Sheffield by default, or any English council's pack
built with ``placekit pack build``), compute street-network access,
group neighbourhoods, explain demand by upstream drivers, test interventions and
target prevention. Every result is an area-level association, never an
individual's risk.
"""

from placekit import (
    accessibility,
    audit,
    batch,
    catalogue,
    change,
    clustering,
    config,
    disclosure,
    drivers,
    england,
    errors,
    export,
    harmonise,
    layers,
    network,
    origins,
    overview,
    pack,
    packbuild,
    pilots,
    place,
    profile,
    report,
    scenarios,
    spc,
    targeting,
    text,
    timeseries,
    userdata,
)
from placekit.catalogue import Catalogue, load_catalogue
from placekit.errors import CRSError, DataError, PlacekitError, SchemaError
from placekit.pack import Pack, open_pack
from placekit.place import Place, load_place

__all__ = [
    "AREA_LEVEL_CAVEAT",
    "CRSError",
    "Catalogue",
    "DataError",
    "Pack",
    "Place",
    "PlacekitError",
    "SchemaError",
    "accessibility",
    "audit",
    "batch",
    "catalogue",
    "change",
    "clustering",
    "config",
    "disclosure",
    "drivers",
    "england",
    "errors",
    "export",
    "harmonise",
    "layers",
    "load_catalogue",
    "load_place",
    "network",
    "open_pack",
    "origins",
    "overview",
    "pack",
    "packbuild",
    "pilots",
    "place",
    "profile",
    "report",
    "scenarios",
    "spc",
    "targeting",
    "text",
    "timeseries",
    "userdata",
]

__version__ = "0.1.0"

#: Shown wherever results are shown.
AREA_LEVEL_CAVEAT = (
    "Figures describe areas, not people: they are area-level associations, never an "
    "individual's risk, and not proof of cause."
)

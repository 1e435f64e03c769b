"""placekit: where, and on what, should a council act upstream?

Load a place pack (Sheffield by default, or any English council's pack
built with ``placekit pack build``), compute street-network access,
group neighbourhoods, explain demand by upstream drivers, test interventions and
target prevention. Every result is an area-level association, never an
individual's risk.
"""

from typing import TYPE_CHECKING

from placekit.catalogue import Catalogue, load_catalogue
from placekit.errors import CRSError, DataError, PlacekitError, SchemaError
from placekit.pack import Pack, open_pack
from placekit.place import Place, load_place

# Submodules load on first use (PEP 562): ``import placekit`` stays cheap, and the app's first
# map does not wait for scikit-learn, Dask or matplotlib. ``placekit.accessibility`` and
# ``from placekit import accessibility`` work as before.
_SUBMODULES = (
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
    "network",
    "origins",
    "overview",
    "pack",
    "packbuild",
    "pilots",
    "place",
    "profile",
    "report",
    "residential",
    "scenarios",
    "spc",
    "targeting",
    "text",
    "timeseries",
    "userdata",
)
if TYPE_CHECKING:
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
        residential,
        scenarios,
        spc,
        targeting,
        text,
        timeseries,
        userdata,
    )


def __getattr__(name: str) -> object:
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"placekit.{name}")
    msg = f"module 'placekit' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBMODULES})


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
    "residential",
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

"""The app's sections, one module each, imported when first shown.

``SECTIONS`` maps the name shown to the module that draws it (each module has
``NAME`` and ``render()``). :func:`render` imports a section on its first visit,
so the first map waits only for the map explorer's imports; :func:`preload`
imports the others, and the heavy libraries behind their buttons (:data:`LATER`),
in the background once the first page is drawn.
"""

from __future__ import annotations

import importlib
import threading
from types import ModuleType

#: Name shown -> module under ``sections/``, in the order the app lists them.
SECTIONS: dict[str, str] = {
    "Map explorer": "explorer",
    "Table": "table",
    "Localities": "localities",
    "Neighbourhood types": "types",
    "Drivers": "drivers",
    "Prevention": "prevention",
    "Scenarios": "scenarios",
    "Pilots": "pilots",
    "Trends": "trends",
    "England": "england",
    "Your data": "your_data",
    "Export": "export",
}

_preloading = threading.Lock()
_preloaded = False


def module(name: str) -> ModuleType:
    """The module of the section shown as ``name`` (imported on first use)."""
    return importlib.import_module(f"sections.{SECTIONS[name]}")


def render(name: str) -> None:
    """
    Draw the section shown as ``name`` in the page's frame: its head, the page's one map,
    then the rest (see :func:`sections._common.page_frame`). A section whose module sets
    ``OWN_MAP = True`` draws a map of its own and leaves the page's map slot empty.
    """
    from sections._common import page_frame

    mod = module(name)
    with page_frame(park=not getattr(mod, "OWN_MAP", False)):
        mod.render()


#: Library modules that sections import only when a button is pressed (scikit-learn, scipy,
#: matplotlib, mapclassify behind them: 2-5 s), loaded in the background as well.
LATER = (
    "placekit.effects",
    "placekit.drivers",
    "placekit.clustering",
    "placekit.accessibility",
    "placekit.targeting",
    "placekit.spc",
    "mapclassify",
)


def _import_all() -> None:
    for mod in SECTIONS.values():
        importlib.import_module(f"sections.{mod}")
    for lib in LATER:
        importlib.import_module(lib)


def preload() -> None:
    """Import every section in a background thread, once per server process."""
    global _preloaded
    with _preloading:
        if _preloaded:
            return
        _preloaded = True
    threading.Thread(target=_import_all, name="placekit-preload", daemon=True).start()


__all__ = ["SECTIONS", "module", "preload", "render"]

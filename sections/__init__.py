"""The app's sections, one module each; ``SECTIONS`` maps the name shown to its ``render``."""

from __future__ import annotations

from collections.abc import Callable

from sections import (
    drivers,
    england,
    explorer,
    export,
    localities,
    pilots,
    prevention,
    scenarios,
    table,
    trends,
    types,
    your_data,
)

SECTIONS: dict[str, Callable[[], None]] = {
    m.NAME: m.render
    for m in (
        explorer,
        table,
        localities,
        types,
        drivers,
        prevention,
        scenarios,
        pilots,
        trends,
        england,
        your_data,
        export,
    )
}

__all__ = ["SECTIONS"]

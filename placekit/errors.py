"""Exceptions raised by placekit.

Every error placekit raises on purpose derives from :class:`PlacekitError`.
``SchemaError``, ``CRSError`` and ``DataError`` are also ``ValueError`` so that
callers can catch them broadly.
"""

from __future__ import annotations

__all__ = ["CRSError", "DataError", "PlacekitError", "SchemaError"]


class PlacekitError(Exception):
    """Base class of every error placekit raises on purpose."""


class SchemaError(PlacekitError, ValueError):
    """A table or layer lacks a column, or a column holds the wrong kind of value."""


class CRSError(PlacekitError, ValueError):
    """A layer has no CRS, the wrong CRS, or two layers disagree."""


class DataError(PlacekitError, ValueError):
    """A file or value cannot be used: wrong codes, empty, too large, bad encoding."""

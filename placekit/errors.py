"""Exceptions raised by placekit, and their messages in the words of each audience.

Every error placekit raises on purpose derives from :class:`PlacekitError`.
``SchemaError``, ``CRSError`` and ``DataError`` are also ``ValueError`` so that
callers can catch them broadly.

One error, three audiences
--------------------------
The same error reaches a person in the Streamlit app, at the command line, or in
Python. Its message says what is wrong and, where the fix is the same for
everyone, what to change in the file. A fix that only makes sense in one place
(a tick box of the app, a ``--flag`` of the CLI, a keyword argument of the
library) goes in ``fixes``, keyed by audience::

    raise DataError(
        "'sites.csv': the points on row 3 lie outside the city. Remove them from the file.",
        fixes={
            "app": "Or tick 'Leave out points outside the city' and upload it again.",
            "library": "Or pass drop_outside=True to leave them out.",
        },
    )

``str(err)`` is the message with the library's fix (what Python callers and
logs see); :func:`explain` gives the text for one audience: the app shows
``explain(err, "app")`` and the CLI prints ``explain(err, "cli")``. An audience
without a fix of its own gets the message alone, never another audience's fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

__all__ = [
    "AUDIENCES",
    "Audience",
    "CRSError",
    "DataError",
    "PlacekitError",
    "SchemaError",
    "explain",
]

#: Who reads an error: the Streamlit app, the ``placekit`` command line, Python code.
Audience = Literal["app", "cli", "library"]
AUDIENCES: tuple[str, ...] = ("app", "cli", "library")


class PlacekitError(Exception):
    """
    Base class of every error placekit raises on purpose.

    Parameters
    ----------
    *args
        The message (as for :class:`Exception`): what is wrong and any fix that
        is the same for every audience.
    fixes
        ``{audience: fix}`` for fixes that name a control of one audience: ``"app"``
        (a widget, in the words on screen), ``"cli"`` (a ``--flag``), ``"library"``
        (a keyword argument). Each is a sentence appended to the message.

    Examples
    --------
    >>> err = PlacekitError("Two columns of codes.", fixes={"library": "Pass code_column=."})
    >>> str(err)
    'Two columns of codes. Pass code_column=.'
    >>> explain(err, "app")
    'Two columns of codes.'
    """

    def __init__(self, *args: object, fixes: Mapping[str, str] | None = None) -> None:
        super().__init__(*args)
        unknown = sorted(set(fixes or {}) - set(AUDIENCES))
        if unknown:
            msg = f"fixes are keyed by audience {list(AUDIENCES)}; got {unknown}."
            raise ValueError(msg)
        self.fixes: dict[str, str] = {k: str(v) for k, v in (fixes or {}).items() if v}

    @property
    def message(self) -> str:
        """The message without any audience's fix."""
        return super().__str__()

    def for_audience(self, audience: str) -> str:
        """The message with ``audience``'s fix, if it has one (see :func:`explain`)."""
        if audience not in AUDIENCES:
            msg = f"audience must be one of {list(AUDIENCES)}; got {audience!r}."
            raise ValueError(msg)
        fix = self.fixes.get(audience, "")
        base = self.message
        return f"{base} {fix}" if fix and base else (fix or base)

    def __str__(self) -> str:
        return self.for_audience("library")


class SchemaError(PlacekitError, ValueError):
    """A table or layer lacks a column, or a column holds the wrong kind of value."""


class CRSError(PlacekitError, ValueError):
    """A layer has no CRS, the wrong CRS, or two layers disagree."""


class DataError(PlacekitError, ValueError):
    """A file or value cannot be used: wrong codes, empty, too large, bad encoding."""


def explain(err: BaseException, audience: str = "library") -> str:
    """
    An error's message in the words of the place where it is shown.

    Parameters
    ----------
    err
        Any exception; one that is not a :class:`PlacekitError` gives ``str(err)``.
    audience
        ``"app"``, ``"cli"`` or ``"library"``.

    Returns
    -------
    str
        The message followed by the audience's own fix, if the error has one.

    Examples
    --------
    >>> err = DataError("Points outside.", fixes={"cli": "Add --drop-outside."})
    >>> explain(err, "cli"), explain(err, "app")
    ('Points outside. Add --drop-outside.', 'Points outside.')
    """
    if isinstance(err, PlacekitError):
        return err.for_audience(audience)
    if audience not in AUDIENCES:
        msg = f"audience must be one of {list(AUDIENCES)}; got {audience!r}."
        raise ValueError(msg)
    return str(err)

"""Untrusted text made inert before it reaches Markdown or HTML.

Names, file names, column headers and error messages can come from anyone's file. Streamlit
renders ``st.error``, ``st.caption`` and friends as Markdown (links, images, LaTeX, colour
directives), so :func:`md_escape` backslash-escapes every character Markdown gives a meaning
to and turns ``<``, ``>`` and ``&`` into entities. A Markdown image such as
``![x](http://example.org/t.png)`` then shows as text and fetches nothing.
"""

from __future__ import annotations

import re

__all__ = ["md_escape"]

_MD_ACTIVE = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$:])")


def md_escape(text: object) -> str:
    """
    ``text`` as Markdown that displays exactly those characters.

    Parameters
    ----------
    text
        Anything; it is turned into ``str`` first. Runs of white space, line
        breaks included, become one space.

    Returns
    -------
    str
        Safe to pass to ``st.markdown``, ``st.error``, ``st.caption`` and the like.
    """
    s = " ".join(str(text).split())  # one paragraph: no indented code, lists or headings by layout
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_ACTIVE.sub(r"\\\1", s)

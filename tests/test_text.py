"""Untrusted text shown through Markdown stays text: no links, images, HTML or formatting."""

from __future__ import annotations

import html

from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from placekit.text import md_escape

MD = MarkdownIt("commonmark").enable("table").enable("strikethrough")

HOSTILE = [
    "![x](http://example.org/t.png)",
    "[click](javascript:alert(1))",
    "<script>window.pwned=1</script>",
    "<img src=x onerror=alert(1)>",
    "**bold** _it_ `code` # heading",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "$x^2$ :red[colour] ~~gone~~",
    "1. list\n- item\n> quote",
]


def _rendered_text(source: str) -> str:
    out = MD.render(source)
    return out


def test_hostile_examples_render_as_plain_text():
    for text in HOSTILE:
        out = _rendered_text(md_escape(text))
        for tag in (
            "<img",
            "<a ",
            "<script",
            "<strong",
            "<em",
            "<code",
            "<h1",
            "<table",
            "<del",
            "<ol",
            "<ul",
            "<blockquote",
        ):
            assert tag not in out, (text, out)


@settings(max_examples=1000, deadline=None)
@given(
    st.text(
        alphabet=st.characters(
            min_codepoint=32, max_codepoint=0x2FFF, blacklist_categories=("Cs",)
        ),
        max_size=80,
    )
)
def test_any_line_renders_to_exactly_itself(text):
    out = _rendered_text(md_escape(text)).strip() or "<p></p>"
    body = out.removeprefix("<p>").removesuffix("</p>")
    assert html.unescape(body) == " ".join(text.split())
    assert "<img" not in out and "<a " not in out

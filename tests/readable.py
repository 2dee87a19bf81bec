"""Checks that text shown to people has no e-notation and no '$0.0000' (tests of the Compare page, its
charts and the memo)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator

import plotly.graph_objects as go

E_NOTATION = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?[eE][-+]?\d+(?![\w.])")
"""'3.36e-06', '1E+21', '2e21' as a word of their own (not inside an id like 'r1e5' or a hex colour)."""
ZERO_DOLLARS = "$0.0000"


def unreadable(texts: Iterable[str]) -> list[str]:
    """The texts (or snippets around the hit) with e-notation or '$0.0000'."""
    bad = []
    for text in texts:
        for match in E_NOTATION.finditer(text):
            bad.append(text[max(0, match.start() - 40): match.end() + 40])
        if ZERO_DOLLARS in text:
            at = text.index(ZERO_DOLLARS)
            bad.append(text[max(0, at - 40): at + 40])
    return bad


def visible_html_text(document: str) -> str:
    """The text a reader sees in an HTML document: scripts and styles dropped, tags removed, entities
    decoded."""
    without = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", document, flags=re.DOTALL | re.IGNORECASE)
    return html.unescape(re.sub(r"<[^>]+>", " ", without))


def figure_texts(fig: go.Figure) -> Iterator[str]:
    """Every string a figure shows: titles, tick labels, point texts, hovers, custom data, annotations,
    legend names."""
    layout = fig.layout
    if layout.title and layout.title.text:
        yield layout.title.text
    for axis_name in [k for k in layout.to_plotly_json() if k.startswith(("xaxis", "yaxis"))]:
        axis = layout[axis_name]
        if axis.title and axis.title.text:
            yield axis.title.text
        yield from (str(t) for t in (axis.ticktext or ()))
    for annotation in layout.annotations or ():
        yield str(annotation.text)
    for trace in fig.data:
        yield str(trace.name or "")
        for field in ("text", "hovertext", "hovertemplate", "customdata"):
            value = getattr(trace, field, None)
            yield from _strings(value)


def _strings(value: object) -> Iterator[str]:
    if value is None:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, Iterable):
        for item in value:
            yield from _strings(item)

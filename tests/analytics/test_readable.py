"""The e-notation detector itself: it must catch what it is for and leave ordinary text alone."""

from __future__ import annotations

import pytest

from tests.readable import unreadable, visible_html_text


@pytest.mark.parametrize("text", ["$3.36e-06 per 1k", "2.1e21 FLOPs", "1E+21", "cost 5e-7", "$0.00000"])
def test_catches(text) -> None:
    assert unreadable([text])


@pytest.mark.parametrize("text", ["$0.0012", "run r1e5", "#1e5f3a", "2.1 sextillion FLOPs", "e-mail",
                                  "$0.00183"])
def test_leaves_alone(text) -> None:
    assert not unreadable([text])


def test_visible_text_drops_scripts() -> None:
    assert visible_html_text("<p>a &amp; b</p><script>var x = 1e-5;</script>").split() == ["a", "&", "b"]

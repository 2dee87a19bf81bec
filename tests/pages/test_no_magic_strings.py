"""No page script holds a bare string statement: Streamlit's magic would render it on the page."""

from __future__ import annotations

import ast

import pytest

from tests.support import ROOT

PAGES = sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_no_bare_strings_after_the_docstring(path):
    body = ast.parse(path.read_text(encoding="utf-8")).body
    shown = [node.lineno for node in body[1:]
             if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
             and isinstance(node.value.value, str)]
    assert not shown, f"{path.name}: bare strings on lines {shown} would be shown on the page; use comments"

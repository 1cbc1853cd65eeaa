"""Downloads of aggregated tables as CSV and Excel that are safe to open.

A cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel
(CSV injection): such text cells are prefixed with an apostrophe, and the Excel writer is
told never to turn strings into formulas.
"""
from __future__ import annotations

import io

import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy where every text cell that a spreadsheet would run as a formula is made text."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(
                lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v)
    out.columns = [("'" + c) if isinstance(c, str) and c.startswith(_FORMULA_START) else c for c in out.columns]
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 with BOM, so Excel shows Khmer text correctly."""
    return escape_formulas(frame).to_csv(index=False).encode("utf-8-sig")


def excel_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="xlsxwriter",
                        engine_kwargs={"options": {"strings_to_formulas": False, "strings_to_urls": False}}) as writer:
        for name, frame in sheets.items():
            safe = escape_formulas(frame)
            for column in safe.columns:     # Excel has no time zones and no pandas NA
                if isinstance(safe[column].dtype, pd.DatetimeTZDtype):
                    safe[column] = safe[column].dt.tz_localize(None)
            safe.to_excel(writer, sheet_name=name[:31], index=False)
            writer.sheets[name[:31]].autofit()
    return buffer.getvalue()

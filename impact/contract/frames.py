"""The pandas shape of every table: one dtype per declared kind.

The loader builds its frames with `typed` and the store reads them back with it, so metrics
see one shape whether they read files or the store.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from impact.contract.tables import (
    AMOUNT,
    BOOLEAN,
    CATEGORY,
    DATE,
    INTEGER,
    NUMBER,
    TABLES,
    TEXT,
    stored_columns,
)

# A participant is (organization, participant_id): the spec's identity of a woman.
PARTICIPANT_KEY = ["organization", "participant_id"]
# Where each row came from, kept so the dashboard can point back at the spreadsheet row.
SOURCE_COLUMNS = {"source_sheet": TEXT, "source_row": INTEGER}
# The cleaner's dtype per kind (a cell parsed at a time; text still text).
DTYPES = {DATE: "datetime64[s]", INTEGER: "Int64", NUMBER: "Float64", AMOUNT: "Float64",
           BOOLEAN: "boolean", TEXT: "str", CATEGORY: "str"}
# Text in a typed table: identifiers stay text, the rest (a few sites, programs, statuses,
# groups over many rows) is a category: at 1M participants a byte or two per row instead of
# ~20 (`prepare` takes its codes as they are).
IDENTIFIER, LABEL = "str", "category"


def column_kinds(table: str) -> dict[str, str]:
    """Kind of every column a data table stores (undeclared ones, i.e. organization, are text)."""
    declared = {c.name: c.kind for c in TABLES[table].columns}
    return {**{name: declared.get(name, TEXT) for name in stored_columns(table)}, **SOURCE_COLUMNS}


def column_dtypes(table: str) -> dict[str, str]:
    """The dtype `typed` gives every stored column of a table."""
    identifiers = {c.name for c in TABLES[table].columns if c.identifier}
    return {col: (IDENTIFIER if col in identifiers else LABEL) if kind in (TEXT, CATEGORY) else DTYPES[kind]
            for col, kind in column_kinds(table).items()}


def typed(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """The table's stored columns (missing ones empty), each with the dtype of its kind; columns
    that have it already (Arrow-backed ones of the same type included) are taken as they are."""
    out = {}
    for col, dtype in column_dtypes(table).items():
        values = frame[col] if col in frame else pd.Series(None, index=frame.index, dtype=object)
        if dtype == LABEL:
            values = labels(values)
        elif dtype == DTYPES[DATE]:
            values = pd.to_datetime(values)
        elif dtype in (DTYPES[INTEGER], DTYPES[NUMBER]):
            values = pd.to_numeric(values)
        out[col] = values.astype(dtype)
    return pd.DataFrame(out, index=frame.index, copy=False)


def concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Typed frames one after another, categories kept: pandas makes a category column whose
    categories differ between the frames a column of objects."""
    combined = pd.concat(frames, ignore_index=True)
    return combined.assign(**{col: labels(combined[col]) for col in frames[0]
                              if isinstance(frames[0][col].dtype, pd.CategoricalDtype)})


def labels(values: pd.Series) -> pd.Series:
    """Text as a category with sorted categories (of the `str` dtype), blanks missing. Encoded
    by Arrow (pandas' own `astype("category")` of 5M Arrow strings takes 5 s, this 0.5 s);
    a category already so is taken as it is."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = values.cat.categories
        if categories.dtype == IDENTIFIER and categories.is_monotonic_increasing:
            return values
        encoded = pa.DictionaryArray.from_arrays(
            pa.array(values.cat.codes.to_numpy(), mask=values.isna().to_numpy()), _arrow_text(categories.to_series()))
    elif isinstance(values.dtype, pd.ArrowDtype) and pa.types.is_dictionary(values.dtype.pyarrow_dtype):
        encoded = pa.array(values.array)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.unify_dictionaries().combine_chunks()
    else:
        encoded = pc.dictionary_encode(_arrow_text(values))
    dictionary = encoded.dictionary.cast(pa.large_string())
    order = pc.array_sort_indices(dictionary).to_numpy()
    rank = np.empty(len(order) + 1, dtype=np.int32)
    rank[order], rank[-1] = np.arange(len(order)), -1   # -1: a blank stays missing
    codes = rank[pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)]
    categories = pd.Index(dictionary.take(order), dtype=IDENTIFIER)
    return pd.Series(pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories)),
                     index=values.index, name=values.name)


def _arrow_text(values: pd.Series) -> pa.Array:
    """Values as one Arrow string array (Arrow-backed text as it is, anything else as `str`)."""
    if not (isinstance(values.dtype, pd.ArrowDtype) and pa.types.is_large_string(values.dtype.pyarrow_dtype)):
        values = values.astype(IDENTIFIER)
    array = pa.array(values.array, from_pandas=True)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def merge_participants(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (organization, participant_id): a woman registered by several programs is
    one person. Earliest intake wins; other columns take the first known value in upload order."""
    if frame.empty or not frame.duplicated(PARTICIPANT_KEY).any():
        return frame
    groups = frame.groupby(PARTICIPANT_KEY, sort=False, dropna=False)
    merged = groups.first()
    merged["intake_date"] = groups["intake_date"].min()
    return merged.reset_index()[frame.columns]

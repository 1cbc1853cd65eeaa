"""What a load produced: clean tables plus the issue report the field team can act on.

The report accounts for every row: for each file, rows read = rows loaded + rows rejected,
and non-data rows (titles, blanks, totals, notes) are counted apart as skipped.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import pandas as pd

from impact.contract.frames import concat
from impact.contract.tables import TABLES, stored_columns


@dataclass(frozen=True)
class Issue:
    """One problem in one cell (or row) of a field workbook, as the field team sees it."""
    file: str
    sheet: str
    row: int            # row number as Excel shows it (1-based)
    column: str         # the header as written in the workbook, or the canonical name
    value: str          # the value found, as text ("" when empty)
    problem: str        # what was expected, in plain words
    scope: str = "cell"  # or "column" (a header) or "sheet" (a required column missing): shown first


@dataclass(frozen=True)
class DroppedColumn:
    """A column that was not stored: a direct identifier, or one we do not recognize."""
    file: str
    sheet: str
    column: str
    reason: str


@dataclass(frozen=True)
class Conflict:
    """A participant registered in several sources with different attributes."""
    organization: str
    participant_id: str
    column: str
    values: tuple[tuple[str, str], ...]   # (file name, value) pairs


@dataclass
class SheetReport:
    sheet: str
    table: str | None       # None: not a data sheet
    hidden: bool = False
    header_row: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_skipped: int = 0
    note: str = ""
    # How the header was understood: canonical column -> header as written.
    columns: dict[str, str] = field(default_factory=dict)


@dataclass
class FileResult:
    """Everything read from one file. `tables` hold only loaded rows, with the columns of
    `impact.contract.tables.stored_columns` (amounts in USD) plus `source_sheet` and `source_row`, typed
    (`impact.contract.frames.typed`) and each row with its organization: the store takes them as they are
    (and once stored, `ingest_files` lets go of them: `stored_rows` keeps their counts)."""
    file_name: str
    sha256: str
    content: bytes
    organization: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    sheets: list[SheetReport] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    dropped_columns: list[DroppedColumn] = field(default_factory=list)
    stored_rows: dict[str, int] = field(default_factory=dict)   # table -> rows, once stored

    def table_rows(self) -> dict[str, int]:
        """Loaded rows per table, also once the tables are stored and let go."""
        return {name: len(frame) for name, frame in self.tables.items()} or dict(self.stored_rows)

    def let_go_of_tables(self) -> None:
        """Once stored, the frames and the file's bytes are the store's: a page that keeps the
        report does not keep a big upload's rows in the server as well."""
        self.stored_rows = self.table_rows()
        self.tables, self.content = {}, b""

    @property
    def rows_read(self) -> int:
        return sum(s.rows_read for s in self.sheets)

    @property
    def rows_loaded(self) -> int:
        return sum(s.rows_loaded for s in self.sheets)

    @property
    def rows_rejected(self) -> int:
        return sum(s.rows_rejected for s in self.sheets)

    @property
    def rows_skipped(self) -> int:
        return sum(s.rows_skipped for s in self.sheets)


@dataclass
class LoadResult:
    files: list[FileResult] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)

    def table(self, name: str) -> pd.DataFrame:
        """All loaded rows of one table across the files."""
        frames = [f.tables[name] for f in self.files if name in f.tables]
        if not frames:
            return pd.DataFrame(columns=stored_columns(name))
        return concat(frames)

    @property
    def issues(self) -> list[Issue]:
        return [i for f in self.files for i in f.issues]

    @property
    def dropped_columns(self) -> list[DroppedColumn]:
        return [d for f in self.files for d in f.dropped_columns]

    def summary(self) -> dict:
        """The command line's stable JSON shape (see README, "Command line")."""
        counts = {name: 0 for name in TABLES}
        for f in self.files:
            for name, rows in f.table_rows().items():
                counts[name] += rows
        return {
            "tables": counts,
            "rows_loaded": sum(f.rows_loaded for f in self.files),
            "rows_rejected": sum(f.rows_rejected for f in self.files),
            "rows_skipped": sum(f.rows_skipped for f in self.files),
            "issues": [asdict(i) for i in self.issues],
            "dropped_columns": [asdict(d) for d in self.dropped_columns],
            "conflicts": [{**asdict(c), "values": [list(v) for v in c.values]} for c in self.conflicts],
            "files": [{
                "file": f.file_name, "organization": f.organization, "sha256": f.sha256,
                "rows_read": f.rows_read, "rows_loaded": f.rows_loaded,
                "rows_rejected": f.rows_rejected, "rows_skipped": f.rows_skipped,
                "sheets": [asdict(s) for s in f.sheets],
            } for f in self.files],
        }

    def to_json(self) -> str:
        return json.dumps(self.summary(), ensure_ascii=False, indent=2, default=str)

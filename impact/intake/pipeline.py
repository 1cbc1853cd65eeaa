"""Uploads as the Data page makes them: field files in, into the store, with what happened.

The page only draws; everything it does to the store is here, so it is tested without a
browser and any other front end (a scheduled import, a bot) does the same thing:

- `ingest_files`: the one intake pipeline (also the command line's and the demo seeding's):
  read each file (an unreadable one is reported, the others still load) with the source's
  saved column mappings; check references against the store; attach the conflicts; store
  every file as the new version of its source.
- `map_column`: remember what an unrecognized header of a source means and re-read the stored
  original with it, as a new version.
- `marked_upload`: the field team's file of any version with its problems marked in it.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from impact.intake.isolated import read_file   # a child process: a hostile file never takes the server down
from impact.intake.marked_workbook import marked_workbook
from impact.intake.parsing import finish_load
from impact.intake.load_report import DroppedColumn, Issue, LoadResult, SheetReport
from impact.store import IngestOutcome, Store
from impact.contract.tables import TABLES
from impact.intake.reading import UnreadableFile
from impact.memory import release_freed_memory

_UNKNOWN = re.compile(r"^not a column of the (\w+) table")
Progress = Callable[[int, int, str], None]     # (files done, files in all, file name)


@dataclass
class Intake:
    """One upload of several files: the load, what the store did, and the unreadable files."""
    result: LoadResult
    outcomes: list[IngestOutcome] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)   # file name -> message
    file_names: list[str] = field(default_factory=list)        # in upload order
    empty: list[str] = field(default_factory=list)             # files without a data row, not stored

    def rows(self) -> list[dict]:
        """One line per file, in upload order, for the page (status: new, replaced,
        unchanged, unreadable or empty)."""
        out = [{"file": name, "organization": "", "status": status, "message": message,
                "rows_loaded": 0, "rows_rejected": 0, "rows_skipped": 0, "issues": 0,
                "upload_id": None, "previous_upload_id": None}
               for status, messages in (("unreadable", self.unreadable),
                                        ("empty", {name: no_data_rows(name) for name in self.empty}))
               for name, message in messages.items()]
        for f, outcome in zip(self.result.files, self.outcomes):
            out.append({"file": f.file_name, "organization": f.organization, "status": outcome.status,
                        "message": "", "rows_loaded": f.rows_loaded, "rows_rejected": f.rows_rejected,
                        "rows_skipped": f.rows_skipped, "issues": len(f.issues),
                        "upload_id": outcome.upload_id, "previous_upload_id": outcome.previous_upload_id})
        order = {name: i for i, name in enumerate(self.file_names)}
        return sorted(out, key=lambda r: order.get(r["file"], len(order)))


def ingest_files(store: Store | None, files: list[tuple[str, bytes]], organization: str | None = None,
                 uploader: str = "dashboard", *, dry_run: bool = False, only_if_empty: bool = False,
                 progress: Progress | None = None) -> Intake:
    """The one intake pipeline, for the Data page, the command line and the demo seeding alike:
    read -> layout -> clean -> validate (each file in a guarded child process, with its source's
    saved column mappings) -> references -> conflicts -> ingest, each step once. An unreadable
    file is reported and the others still load. `organization` is the one chosen at upload
    (None: the rows' organization column, else the file name's first part). Without a store,
    or with `dry_run`, nothing is stored; `only_if_empty` stores only into an empty store (the
    demo seeding of several servers starting at once)."""
    organization = (organization or "").strip() or None
    release_freed_memory()   # what earlier work left free (a last upload), handed back before this one's peak
    read, unreadable, empty = [], {}, []
    for done, (name, content) in enumerate(files, 1):
        try:
            found = read_file(name, content, organization, store.file_mappings(name) if store else None)
        except UnreadableFile as exc:
            unreadable[name] = str(exc)
        else:
            if found.rows_read:
                read.append(found)
            else:    # a blank template is no source: it would only add an organization named after it
                empty.append(name)
        if progress is not None:
            progress(done, len(files), name)
    result = finish_load(LoadResult(read), store.participant_keys() if store else None)
    intake = Intake(result, unreadable=unreadable, file_names=[name for name, _ in files], empty=empty)
    if store is not None and result.files:
        result.conflicts = store.conflicts_with(result)
        if only_if_empty:
            intake.outcomes = store.ingest_if_empty(result, uploader)
        elif not dry_run:
            intake.outcomes = store.ingest(result, uploader)
        if intake.outcomes:
            for f in result.files:
                f.let_go_of_tables()
    release_freed_memory()   # a big upload's rows and temporaries, handed back
    return intake


def source_versions(uploads: pd.DataFrame) -> pd.Series:
    """Each upload's version of its source (organization, file name), by upload id: 1 for its
    first upload, 2 for the next, ... (what the field team calls a version; the upload id counts
    every file of every organization)."""
    ordered = uploads.sort_values("id")
    return pd.Series(ordered.groupby(["organization", "file_name"]).cumcount().to_numpy() + 1,
                     index=ordered["id"].to_numpy(), name="version")


def no_data_rows(file_name: str) -> str:
    return f"{file_name}: no data rows (a blank template?); nothing was stored"


def issue_report(store: Store) -> pd.DataFrame:
    """The issue report of the active versions, column and sheet lines first: a misread or
    unread column changes every row below it, so the field team should see it before the rows."""
    issues = store.issues()
    issues["scope"] = issues["scope"].fillna("cell")    # reports stored before lines had a scope
    return issues.sort_values("scope", key=lambda s: s == "cell", kind="stable").reset_index(drop=True)


def upload_report(store: Store, upload_id: int) -> tuple[list[Issue], list[SheetReport], list[DroppedColumn]]:
    """The stored report of a version as the loader's own objects."""
    report = store.upload_report(upload_id)
    return ([Issue(**i) for i in report.get("issues", [])],
            [SheetReport(**s) for s in report.get("sheets", [])],
            [DroppedColumn(**d) for d in report.get("dropped_columns", [])])


def marked_upload(store: Store, upload_id: int) -> tuple[str, bytes]:
    """(download name, .xlsx bytes) of a version's original with its problems marked."""
    file_name, content = store.upload_content(upload_id)
    issues, sheets, _ = upload_report(store, upload_id)
    return f"{Path(file_name).stem}_issues.xlsx", marked_workbook(content, file_name, issues, sheets)


@dataclass(frozen=True)
class DroppedHeader:
    """A column of a version that was not stored, and whether it may be mapped."""
    sheet: str
    header: str
    reason: str
    table: str | None          # the sheet's table
    mappable: bool             # an unrecognized header; never a direct identifier
    choices: tuple[str, ...]   # columns of the table it may be mapped to


def dropped_headers(store: Store, upload_id: int) -> list[DroppedHeader]:
    _, sheets, dropped = upload_report(store, upload_id)
    tables = {s.sheet: s for s in sheets}
    out = []
    for d in dropped:
        sheet = tables.get(d.sheet)
        match = _UNKNOWN.match(d.reason)
        table = sheet.table if sheet and sheet.table else (match.group(1) if match else None)
        mappable = bool(match) and table in TABLES
        taken = set(sheet.columns) if sheet else set()
        choices = tuple(c for c in TABLES[table].column_names if c not in taken) if mappable else ()
        out.append(DroppedHeader(d.sheet, d.column, d.reason, table, mappable and bool(choices), choices))
    return out


def map_column(store: Store, upload_id: int, sheet: str, header: str, column: str,
               uploader: str = "dashboard") -> Intake:
    """Remember that `header` of the version's source means `column`, and re-read the stored
    original with the source's mappings as its new version. Only an unrecognized header can be
    mapped: a direct identifier (name, phone) never can."""
    found = next((d for d in dropped_headers(store, upload_id) if d.sheet == sheet and d.header == header), None)
    if found is None or not found.mappable:
        raise ValueError(f"{header!r} in sheet {sheet!r} is not an unrecognized column of upload {upload_id}")
    if column not in found.choices:
        raise ValueError(f"{column!r} is not a free column of the {found.table} table")
    organization, file_name = _source(store, upload_id)
    store.save_column_mapping(organization, file_name, found.table, header, column)
    return reingest_upload(store, upload_id, uploader)


def reingest_upload(store: Store, upload_id: int, uploader: str = "dashboard") -> Intake:
    """Read a stored original again with its source's current mappings and store the result
    (a new version, unless nothing about it changed)."""
    organization, file_name = _source(store, upload_id)
    _, content = store.upload_content(upload_id)
    return ingest_files(store, [(file_name, content)], organization, uploader)


def _source(store: Store, upload_id: int) -> tuple[str, str]:
    uploads = store.uploads()
    row = uploads[uploads["id"] == upload_id]
    if row.empty:
        raise KeyError(f"no upload {upload_id}")
    return row["organization"].iloc[0], row["file_name"].iloc[0]

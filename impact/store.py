"""The versioned local store: every uploaded file is kept as a version of its source.

A source is (organization, file name). Uploading a new version of a source replaces its rows
in the clean tables, but the old version's rows, report and original bytes stay, so an M&E
officer can restore it when a bad sheet went out. The embedded default is a SQLite file; a
hosted deployment points `DATABASE_URL` at PostgreSQL, so only portable SQLAlchemy Core is used.
"""
from __future__ import annotations

import itertools
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import (
    URL,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    create_engine,
    event,
    func,
    make_url,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.types import NullType

from impact import config, disclosure

from impact import migrations
from impact.contract.aliases import compact
from impact.contract.frames import DTYPES, IDENTIFIER, LABEL, PARTICIPANT_KEY, column_dtypes, column_kinds, typed
from impact.intake.load_report import Conflict, FileResult, Issue, LoadResult
from impact.contract.tables import AMOUNT, BOOLEAN, CATEGORY, DATE, INTEGER, NUMBER, TABLES, TEXT

# Participant attributes that must agree across the sources registering her.
CONFLICT_COLUMNS = ("program", "site", "intake_date", "birth_year", "referral_source",
                    "work_setting")
ISSUE_COLUMNS = [f.name for f in fields(Issue)]

# Tables of records (people, their courses, follow-ups, services, savings, activities): each row
# gets a permanent random key when it is ingested, for the cell-key perturbation of donor views
# (`impact.disclosure`). The key is read by the metrics, never shown or exported.
KEYED_TABLES = ("participants", "enrollments", "followups", "savings", "activities", "services", "network_members",
                "cases")

_SQL_TYPES = {DATE: Date, INTEGER: Integer, NUMBER: Float, AMOUNT: Float, BOOLEAN: Boolean,
              TEXT: Text, CATEGORY: Text}

metadata = MetaData()

uploads_table = Table(
    "uploads", metadata,
    Column("id", Integer, primary_key=True),
    Column("organization", Text, nullable=False),
    Column("file_name", Text, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),  # UTC
    Column("uploader", Text, nullable=False),
    Column("rows_read", Integer, nullable=False),
    Column("rows_loaded", Integer, nullable=False),
    Column("rows_rejected", Integer, nullable=False),
    Column("rows_skipped", Integer, nullable=False),
    Column("report_json", Text, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("active", Boolean, nullable=False),
    Index("ix_uploads_source", "organization", "file_name", "active"),
    # One active version per source, whatever runs at once (migration 0002).
    Index("ux_uploads_active_source", "organization", "file_name", unique=True,
          sqlite_where=text("active"), postgresql_where=text("active")),
)


def _data_table(name: str) -> Table:
    columns = [Column(col, _SQL_TYPES[kind]) for col, kind in column_kinds(name).items()]
    indexes = [Index(f"ix_{name}_upload_id", "upload_id")]
    if "participant_id" in column_kinds(name):
        indexes.append(Index(f"ix_{name}_participant", *PARTICIPANT_KEY))
    if name in KEYED_TABLES:
        columns.append(Column("record_key", Integer))
    return Table(name, metadata,
                 Column("upload_id", Integer, ForeignKey("uploads.id"), nullable=False),
                 *columns, *indexes)


data_tables: dict[str, Table] = {name: _data_table(name) for name in TABLES}

# Headers a field team's source uses for a contract column, chosen on the Data page, so the
# next version of that source (and a re-read of this one) understands them. `header` is the
# compact key of the header (impact.contract.aliases.compact).
column_mappings_table = Table(
    "column_mappings", metadata,
    Column("id", Integer, primary_key=True),
    Column("organization", Text, nullable=False),
    Column("file_name", Text, nullable=False),
    Column("table", Text, nullable=False),
    Column("header", Text, nullable=False),
    Column("column", Text, nullable=False),
    Index("ux_column_mappings_source", "organization", "file_name", "table", "header", unique=True),
)
# The data version: one row that every change of the content (ingest, restore) bumps in its own
# transaction, so each server reads one row per run to know whether its caches still hold
# (migration 0005 makes it, with a random `store_id`).
store_version_table = Table(
    "store_version", metadata,
    Column("id", Integer, primary_key=True),
    Column("store_id", Text, nullable=False),
    Column("number", Integer, nullable=False),
)
_up = uploads_table.c
_sv = store_version_table.c


@dataclass(frozen=True)
class IngestOutcome:
    """What ingest did with one file, for the command line and the upload page."""
    file_name: str
    organization: str
    status: Literal["new", "replaced", "unchanged"]
    upload_id: int                       # the source's active version after ingest
    previous_upload_id: int | None = None  # the version it replaced


class StoreUnavailable(Exception):
    """The store cannot do what was asked now, and nothing was changed; the message is the
    one plain line a user sees (command line: exit 2; Data page: an error box)."""
    message = "the store cannot be used now"

    def __init__(self, message: str | None = None):
        super().__init__(message or self.message)


class StoreBusy(StoreUnavailable):
    message = "another upload is being saved, try again"


class StoreFull(StoreUnavailable):
    message = "the store's disk is full: nothing was saved; free some space and try again"


class StoreReadOnly(StoreUnavailable):
    message = "the store is read-only: nothing was saved"


class StoreTooNew(StoreUnavailable):
    """The store was upgraded by a newer version of this program: using it could lose data."""

    def __init__(self, revision: str):
        super().__init__(f"the store is at schema revision {revision}, newer than this program "
                         f"knows ({migrations.HEAD}): update the program")


# Failures a user can act on, by SQLite's primary result code (BUSY, LOCKED, READONLY, FULL) and
# by PostgreSQL's SQLSTATE (lock_not_available, read_only_sql_transaction, disk_full).
_SQLITE_FAILURES = {5: StoreBusy, 6: StoreBusy, 8: StoreReadOnly, 13: StoreFull}
_POSTGRES_FAILURES = {"55P03": StoreBusy, "25006": StoreReadOnly, "53100": StoreFull}
# pg_advisory_xact_lock key of the store's write lock (any bigint, the same in every process).
_WRITE_LOCK_KEY = 7_469_811_230_151_201
# Execution option of the connections `engine.begin()` hands out on SQLite: they may write.
_WRITES = "impact_writes"


def open_store(url_or_path: str | Path, busy_timeout: float | None = None) -> Store:
    """Open the store at a file path or a database URL, creating it or bringing its schema to
    the newest revision if needed. A write waits up to `busy_timeout` seconds (default
    `IMPACT_STORE_BUSY_TIMEOUT`, 30) for another write to finish."""
    if isinstance(url_or_path, Path) or "://" not in url_or_path:
        url = URL.create("sqlite", database=str(url_or_path))
    else:  # Hosting platforms still hand out the postgres:// scheme SQLAlchemy 2 dropped.
        url = make_url(url_or_path.replace("postgres://", "postgresql://", 1))
    if busy_timeout is None:
        busy_timeout = config.store_busy_timeout()
    sqlite = url.get_backend_name() == "sqlite"
    if sqlite and url.database not in (None, "", ":memory:") and not url.query.get("uri"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout} if sqlite else {})
    event.listen(engine, "handle_error", _plain_failure)
    if sqlite:
        _configure_sqlite(engine, busy_timeout)
    store = Store(engine, busy_timeout)
    store.upgrade()
    return store


def _plain_failure(context) -> None:
    """Turn a driver error a user can act on (busy, disk full, read-only) into one line."""
    error = context.original_exception
    code = getattr(error, "sqlite_errorcode", None)
    failure = (_SQLITE_FAILURES.get(code & 0xFF) if code is not None
               else _POSTGRES_FAILURES.get(getattr(error, "sqlstate", None)))
    if failure is not None:
        raise failure() from error


def _use_wal(cursor, timeout: float) -> None:
    """Switch the file to WAL (a no-op once it is). Switching needs the file to itself, and
    SQLite does not wait for that when another process is writing (it would deadlock): then
    it says "locked" at once, so wait here, up to the busy timeout, as the writer would."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _configure_sqlite(engine: Engine, busy_timeout: float) -> None:
    """WAL lets the dashboard read while an upload writes; foreign keys are off by default.
    The driver's own transaction handling is replaced by an explicit BEGIN so that reads and
    writes of one `engine.begin()` block form a single transaction (SQLAlchemy's recipe).
    An `engine.begin()` block may write, so it takes the write lock up front (BEGIN IMMEDIATE),
    waiting the busy timeout for another writer: a deferred transaction that read first cannot
    become a writer while another writes, and fails at once. `engine.connect()` blocks (every
    read, here and in accounts and sharing) begin deferred and never wait."""
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        _use_wal(cursor, busy_timeout)
        # In WAL mode a commit without its own fsync is still atomic and consistent (SQLite's
        # recommended pairing); the WAL is synced at checkpoints. 10-30 % of a big upload's write.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        writes = connection.get_execution_options().get(_WRITES, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    engine.begin = engine.execution_options(**{_WRITES: True}).begin


def _python_values(series: pd.Series) -> list:
    """Plain Python values (None for missing, dates as date) that every DB driver accepts."""
    if series.dtype.kind == "M":
        return np.where(series.isna(), None, series.dt.date).tolist()
    if isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow":
        return series.array.__arrow_array__().to_pylist()   # Arrow's own: 8x faster than via numpy
    return series.to_numpy(dtype=object, na_value=None).tolist()


def _insert_rows(conn: Connection, table: Table, frame: pd.DataFrame, upload_id: int) -> None:
    """Bulk insert through the driver's executemany, applying each column type's own bind
    processing a column at a time (SQLAlchemy's per-row dict handling was most of the time
    of a 100,000-row ingest), `_INSERT_CHUNK` rows at a time: a chunk's Python values are
    made, sent and freed before the next, so memory stays flat however long the sheet."""
    for start in range(0, len(frame), _INSERT_CHUNK):
        _insert_chunk(conn, table, frame.iloc[start:start + _INSERT_CHUNK], upload_id)


_INSERT_CHUNK = 20_000


def _insert_chunk(conn: Connection, table: Table, frame: pd.DataFrame, upload_id: int) -> None:
    columns = {"upload_id": [upload_id] * len(frame)}
    iso_dates = set()
    for col in frame.columns:
        if frame[col].dtype.kind == "M" and conn.dialect.name == "sqlite":
            # SQLite keeps dates as ISO text: Arrow's date-to-text cast, a column at a time
            # (ten times pandas' strftime, which formats value by value).
            columns[col] = pa.array(frame[col]).cast(pa.date32(), safe=False).cast(pa.string()).to_pylist()
            iso_dates.add(col)
        else:
            columns[col] = _python_values(frame[col])
    for col, values in columns.items():
        process = None if col in iso_dates else table.c[col].type.bind_processor(conn.dialect)
        if process is not None:
            columns[col] = [None if v is None else process(v) for v in values]
    compiled = table.insert().compile(dialect=conn.dialect, column_keys=list(columns))
    if compiled.positional:
        _insert_positional(conn, compiled.string, [columns[name] for name in compiled.positiontup])
    else:
        conn.exec_driver_sql(compiled.string, [dict(zip(columns, row)) for row in zip(*columns.values())])


# Rows per INSERT statement on SQLite: per statement the driver steps and resets once, a
# third of a row-at-a-time executemany's time (13 values a row stay far under SQLite's 32,766).
_ROWS_PER_STATEMENT = 50


def _insert_positional(conn: Connection, statement: str, columns: list[list]) -> None:
    """`statement` (one row's INSERT ... VALUES (?, ...)) for the rows of `columns`,
    `_ROWS_PER_STATEMENT` rows to a statement, the rest one at a time."""
    rows = len(columns[0])
    whole = rows - rows % _ROWS_PER_STATEMENT
    if whole:
        head, values = statement.split(" VALUES ")
        flat = list(itertools.chain.from_iterable(zip(*(column[:whole] for column in columns))))
        width = _ROWS_PER_STATEMENT * len(columns)
        conn.exec_driver_sql(f"{head} VALUES {', '.join([values] * _ROWS_PER_STATEMENT)}",
                             [tuple(flat[i:i + width]) for i in range(0, len(flat), width)])
    if whole < rows:
        conn.exec_driver_sql(statement, list(zip(*(column[whole:] for column in columns))))


def _file_table(file: FileResult, table: str) -> pd.DataFrame:
    """One table of a loaded file, as the loader made it: typed, every row with its organization."""
    if table not in TABLES:
        raise ValueError(f"{file.file_name}: unknown table {table!r}")
    return file.tables[table]


def _file_report(file: FileResult) -> str:
    return json.dumps({
        "issues": [asdict(i) for i in file.issues],
        "dropped_columns": [asdict(d) for d in file.dropped_columns],
        "sheets": [asdict(s) for s in file.sheets],
    }, ensure_ascii=False, default=str)


def _as_text(series: pd.Series) -> pd.Series:
    if series.dtype.kind == "M":
        return series.dt.strftime("%Y-%m-%d")
    return series.astype("str")


class Store:
    """Versioned clean tables over one SQLAlchemy engine."""

    def __init__(self, engine: Engine, busy_timeout: float):
        self.engine = engine
        self.busy_timeout = busy_timeout
        # Test hook: called as (table name, upload id) after each bulk insert inside ingest.
        self._after_table_insert: Callable[[str, int], None] | None = None

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A transaction holding the store's write lock, so writers (ingests, restores,
        seeding, schema upgrades) run one at a time and each sees what the one before did:
        SQLite's own lock (BEGIN IMMEDIATE), an advisory lock on PostgreSQL. Waiting longer
        than the busy timeout raises StoreBusy."""
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(select(func.set_config(
                    "lock_timeout", f"{round(self.busy_timeout * 1000)}ms", True)))
                conn.execute(select(func.pg_advisory_xact_lock(_WRITE_LOCK_KEY)))
            yield conn

    def upgrade(self) -> bool:
        """Bring the schema to the newest migration, under the write lock, if it is behind;
        True when it was. A store made before migrations (tables, no revision) is adopted
        and keeps every upload; a store newer than this program is refused (StoreTooNew).
        Cheap when current: one query, no Alembic."""
        with self.engine.connect() as conn:
            if self._is_current(conn):
                return False
        with self._writing() as conn:
            if self._is_current(conn):   # another process upgraded it while this one waited
                return False
            migrations.upgrade(conn)
        return True

    @staticmethod
    def _is_current(conn: Connection) -> bool:
        revision = migrations.revision(conn)
        if revision is not None and revision not in migrations.REVISIONS:
            raise StoreTooNew(revision)
        return revision == migrations.HEAD

    def has_uploads(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(_up.id).limit(1)).first() is not None

    def ingest(self, result: LoadResult, uploader: str = "cli") -> list[IngestOutcome]:
        """Store every file of a load as the new version of its source, all or nothing.
        Ingests run one at a time (the write lock), so of two loads of one source the later
        sees the earlier's version: unchanged if it is the same file, else replacing it."""
        with self._writing() as conn:
            return self._ingest(conn, result, uploader)

    def ingest_if_empty(self, result: LoadResult, uploader: str) -> list[IngestOutcome]:
        """Ingest `result` only if the store holds no upload (else nothing: []), checked under
        the write lock so that of several servers starting on one empty store only the first
        seeds it."""
        with self._writing() as conn:
            if conn.execute(select(_up.id).limit(1)).first() is not None:
                return []
            return self._ingest(conn, result, uploader)

    def _ingest(self, conn: Connection, result: LoadResult, uploader: str) -> list[IngestOutcome]:
        outcomes = []
        for file in result.files:
            active = conn.execute(select(_up.id, _up.sha256).where(
                *_source_is(file.organization, file.file_name), _up.active)).first()
            if active is not None and active.sha256 == file.sha256:
                outcomes.append(IngestOutcome(file.file_name, file.organization, "unchanged",
                                              active.id))
                continue
            if active is not None:
                conn.execute(update(uploads_table).where(_up.id == active.id).values(active=False))
            upload_id = conn.execute(uploads_table.insert().values(
                organization=file.organization, file_name=file.file_name, sha256=file.sha256,
                uploaded_at=datetime.now(timezone.utc), uploader=uploader,
                rows_read=file.rows_read, rows_loaded=file.rows_loaded,
                rows_rejected=file.rows_rejected, rows_skipped=file.rows_skipped,
                report_json=_file_report(file), content=file.content, active=True,
            )).inserted_primary_key[0]
            for name in file.tables:
                frame = _file_table(file, name)
                if name in KEYED_TABLES:
                    frame = frame.assign(record_key=disclosure.new_record_keys(len(frame)))
                if len(frame):
                    _insert_rows(conn, data_tables[name], frame, upload_id)
                if self._after_table_insert is not None:
                    self._after_table_insert(name, upload_id)
            outcomes.append(IngestOutcome(
                file.file_name, file.organization, "new" if active is None else "replaced",
                upload_id, None if active is None else active.id))
        if any(o.status != "unchanged" for o in outcomes):
            _bump_version(conn)
        return outcomes

    def restore(self, upload_id: int) -> None:
        """Make an earlier (or any) version the active one of its source."""
        with self._writing() as conn:
            row = conn.execute(select(_up.organization, _up.file_name)
                               .where(_up.id == upload_id)).first()
            if row is None:
                raise KeyError(f"no upload {upload_id}")
            conn.execute(update(uploads_table).where(*_source_is(*row)).values(active=False))
            conn.execute(update(uploads_table).where(_up.id == upload_id).values(active=True))
            _bump_version(conn)

    def uploads(self) -> pd.DataFrame:
        """Upload history, newest first, without the file bytes."""
        columns = [c for c in _up if c.name not in ("content", "report_json")]
        frame = self._frame(select(*columns).order_by(_up.id.desc()))
        frame["uploaded_at"] = pd.to_datetime(frame["uploaded_at"], utc=True)
        return frame.astype({"active": bool})

    def upload_content(self, upload_id: int) -> tuple[str, bytes]:
        """The original file of any version, so it can be downloaded again."""
        with self.engine.connect() as conn:
            row = conn.execute(select(_up.file_name, _up.content)
                               .where(_up.id == upload_id)).first()
        if row is None:
            raise KeyError(f"no upload {upload_id}")
        return row.file_name, bytes(row.content)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The clean tables of the active versions, as stored: a woman registered by two
        sources has a row in each (`metrics.prepared.prepare` merges her, once)."""
        with self.engine.connect() as conn:  # one transaction (a snapshot, on SQLite)
            return {name: self._active_rows(name, conn) for name in TABLES}

    def participant_keys(self, organization: str | None = None) -> set[tuple[str, str]]:
        """(organization, participant_id) of registered participants, to check references."""
        participants = data_tables["participants"]
        query = _of_active(select(participants.c.organization, participants.c.participant_id)
                           .distinct(), participants)
        if organization is not None:
            query = query.where(participants.c.organization == organization)
        with self.engine.connect() as conn:
            return {(org, pid) for org, pid in conn.execute(query)}

    def conflicts_with(self, result: LoadResult) -> list[Conflict]:
        """Participants of the result registered elsewhere with different attributes: in other
        active sources (the versions the result replaces do not count) or its other files."""
        incoming = [_file_table(f, "participants").assign(file=f.file_name)
                    for f in result.files if "participants" in f.tables]
        incoming = [f for f in incoming if not f.empty]
        if not incoming:
            return []
        incoming = pd.concat(incoming, ignore_index=True)
        participants = data_tables["participants"]
        stored = self._frame(_of_active(
            select(participants, _up.organization.label("source_organization"),
                   _up.file_name.label("file")), participants)
            .where(participants.c.organization.in_(incoming["organization"].unique().tolist()))
            .order_by(participants.c.upload_id))
        replaced = {(f.organization, f.file_name) for f in result.files}
        stored = stored[~_in(stored, ["source_organization", "file"], list(replaced))]
        # A source's first upload meets no stored rows: nothing to stack (stacking an empty
        # frame's categories onto the upload's turned its columns into objects, 0.08 s at 100k rows).
        frame = incoming if stored.empty else pd.concat(
            [typed(stored, "participants").assign(file=stored["file"]), incoming], ignore_index=True)
        # A conflict needs a woman in two rows, and most of a load is women new to the store:
        # only the rows of a repeated key are compared (a third of a 100,000-row upload's time).
        frame = frame[frame.duplicated(PARTICIPANT_KEY, keep=False)]
        if frame.empty:
            return []
        frame = frame[_in(frame, PARTICIPANT_KEY,
                          pd.MultiIndex.from_frame(incoming[PARTICIPANT_KEY]))]
        values = (frame[PARTICIPANT_KEY + ["file"]]
                  .assign(**{c: _as_text(frame[c]) for c in CONFLICT_COLUMNS})
                  .melt(id_vars=PARTICIPANT_KEY + ["file"], value_vars=list(CONFLICT_COLUMNS),
                        var_name="column")
                  .dropna(subset=["value"]).drop_duplicates())
        by = PARTICIPANT_KEY + ["column"]
        values = values[values.groupby(by, sort=False)["value"].transform("nunique") > 1]
        return [Conflict(org, pid, column, tuple(zip(group["file"], group["value"])))
                for (org, pid, column), group in values.groupby(by, sort=False)]

    def issues(self) -> pd.DataFrame:
        """The issue report of the active versions, as the field teams need to fix it."""
        with self.engine.connect() as conn:
            reports = conn.execute(select(_up.report_json).where(_up.active)
                                   .order_by(_up.id)).scalars().all()
        rows = [issue for report in reports for issue in json.loads(report)["issues"]]
        return pd.DataFrame(rows, columns=ISSUE_COLUMNS)

    def data_version(self) -> str:
        """Changes whenever the content changes, so every server can drop its caches on its
        next run: one primary-key read of the row each ingest and restore bumps."""
        with self.engine.connect() as conn:
            row = conn.execute(select(_sv.store_id, _sv.number).where(_sv.id == 1)).one()
        return f"{row.store_id}-{row.number}"

    @property
    def version(self) -> str:
        return self.data_version()

    def upload_report(self, upload_id: int) -> dict:
        """The load report kept with a version: issues, dropped_columns and sheets (each with
        its header_row and `columns`, canonical column -> header as written)."""
        with self.engine.connect() as conn:
            report = conn.execute(select(_up.report_json).where(_up.id == upload_id)).scalar()
        if report is None:
            raise KeyError(f"no upload {upload_id}")
        return json.loads(report)

    def save_column_mapping(self, organization: str, file_name: str, table: str, header: str,
                            column: str) -> None:
        """Remember that `header` in the source (organization, file_name) means `column` of
        `table`; saving again for the same header replaces the earlier choice."""
        if table not in TABLES or column not in TABLES[table].column_names:
            raise ValueError(f"{column!r} is not a column of the {table} table")
        key = compact(header)
        if not key:
            raise ValueError(f"{header!r} is not a header")
        m = column_mappings_table.c
        with self._writing() as conn:
            conn.execute(column_mappings_table.delete().where(
                m.organization == organization, m.file_name == file_name, m["table"] == table,
                m.header == key))
            conn.execute(column_mappings_table.insert().values(
                organization=organization, file_name=file_name, table=table, header=key, column=column))

    def column_mappings(self, organization: str, file_name: str) -> dict[str, dict[str, str]]:
        """The saved mappings of one source: table -> {compact header: column}."""
        return self.file_mappings(file_name).get(organization, {})

    def file_mappings(self, file_name: str) -> dict[str, dict[str, dict[str, str]]]:
        """The saved mappings of every source of that file name, by organization (the loader
        learns a file's organization only once it has read it)."""
        m = column_mappings_table.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(m.organization, m["table"], m.header, m["column"]).where(
                m.file_name == file_name).order_by(m.id)).all()
        out: dict[str, dict[str, dict[str, str]]] = {}
        for organization, table, header, column in rows:
            out.setdefault(organization, {}).setdefault(table, {})[header] = column
        return out

    def _active_rows(self, name: str, conn) -> pd.DataFrame:
        table = data_tables[name]
        # The driver's own values (no SQLAlchemy processing per cell: dates, ticks), turned
        # into their dtypes a column at a time by `_arrow_chunk`.
        query = _of_active(select(*(type_coerce(c, NullType()).label(c.name) for c in table.c)), table).order_by(
            table.c.upload_id, table.c.source_sheet, table.c.source_row)
        dtypes = {**column_dtypes(name), "upload_id": "int64", "record_key": "int64"}
        frame = _read_arrow(conn, query, dtypes)
        keys = {"record_key": frame["record_key"].astype("int64")} if name in KEYED_TABLES else {}
        return typed(frame, name).assign(upload_id=frame["upload_id"].astype("int64"), **keys)

    def _frame(self, query) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return _read(conn, query)


def _bump_version(conn: Connection) -> None:
    """A new data version, in the transaction that changes the content (under the write lock)."""
    conn.execute(update(store_version_table).where(_sv.id == 1).values(number=_sv.number + 1))


def _read(conn, query) -> pd.DataFrame:
    """Column-wise: pandas' from_records probes every SQLAlchemy Row, ten times slower."""
    result = conn.execute(query)
    keys = list(result.keys())
    columns = list(zip(*result.all())) or [()] * len(keys)
    return pd.DataFrame({key: list(values) for key, values in zip(keys, columns)})


# Rows read into Arrow at a time: their Python values are all that exists of them at once.
_READ_CHUNK = 50_000


def _read_arrow(conn, query, dtypes: dict[str, str]) -> pd.DataFrame:
    """The rows of a query as Arrow-backed columns, each in the Arrow type of its dtype in
    `dtypes`, read `_READ_CHUNK` rows at a time: a Python object per cell of the whole table
    (what `_read` makes) is most of a server's peak memory while it reads its store."""
    result = conn.execution_options(stream_results=True).execute(query)
    keys = list(result.keys())
    chunks: dict[str, list[pa.Array]] = {key: [] for key in keys}
    for rows in result.partitions(_READ_CHUNK):
        for key, values in zip(keys, zip(*rows)):
            chunks[key].append(_arrow_chunk(values, dtypes[key]))
    columns = {key: _pandas(pa.chunked_array(chunks.pop(key), type=_arrow_type(dtypes[key])), dtypes[key])
               for key in keys}
    return pd.DataFrame(columns, copy=False)


def _arrow_type(dtype: str) -> pa.DataType:
    """The Arrow type a column of `dtype` is read into (labels dictionary-encoded: a few
    distinct names over many rows)."""
    return {LABEL: pa.dictionary(pa.int32(), pa.string()), IDENTIFIER: pa.large_string(),
            DTYPES[DATE]: pa.timestamp("s"), DTYPES[BOOLEAN]: pa.bool_(),
            DTYPES[NUMBER]: pa.float64()}.get(dtype, pa.int64())


def _pandas(array: pa.ChunkedArray, dtype: str) -> pd.Series:
    """An Arrow column as pandas: numbers, dates and ticks in numpy (pandas converts Arrow
    timestamps one value at a time), text left in Arrow for `typed`."""
    if dtype == LABEL:   # combined by `typed` once the chunks' dictionaries are one
        return pd.Series(pd.array(array, dtype=pd.ArrowDtype(array.type)), copy=False)
    array = array.combine_chunks()
    if dtype == IDENTIFIER:
        return pd.Series(pd.array(array, dtype=pd.ArrowDtype(array.type)), copy=False)
    if dtype == DTYPES[DATE]:
        return pd.Series(array.to_numpy(zero_copy_only=False), copy=False)
    values = pc.fill_null(array, False if dtype == DTYPES[BOOLEAN] else 0).to_numpy(zero_copy_only=False)
    masked = {DTYPES[BOOLEAN]: pd.arrays.BooleanArray, DTYPES[NUMBER]: pd.arrays.FloatingArray}.get(
        dtype, pd.arrays.IntegerArray)
    return pd.Series(masked(values, array.is_null().to_numpy(zero_copy_only=False)), copy=False)


def _arrow_chunk(values: tuple, dtype: str) -> pa.Array:
    """A column's driver values as Arrow: SQLite gives dates as ISO text and ticks as 0/1,
    PostgreSQL dates and booleans."""
    arrow_type = _arrow_type(dtype)
    if dtype == LABEL:
        return pa.array(values, type=pa.string()).dictionary_encode()
    if dtype in (DTYPES[DATE], DTYPES[BOOLEAN]):
        array = pa.array(values)
        if pa.types.is_integer(array.type):
            array = pc.not_equal(array, 0)
        return array.cast(arrow_type)
    return pa.array(values, type=arrow_type)


def _in(frame: pd.DataFrame, columns: list[str], keys) -> np.ndarray:
    """Rows whose values in `columns` form one of `keys` (tuples)."""
    return pd.MultiIndex.from_frame(frame[columns]).isin(keys)


def _source_is(organization: str, file_name: str) -> tuple:
    return _up.organization == organization, _up.file_name == file_name


def _of_active(query, table: Table):
    """Restrict a query on a data table to the rows of active versions."""
    return query.join(uploads_table, table.c.upload_id == _up.id).where(_up.active)

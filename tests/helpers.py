"""Helpers the test modules share (fixtures live in conftest.py, workbook writers in
workbooks.py, clean metric tables in frames.py): the frozen today, the checks every loader
test makes, the LoadResults the store tests build directly, and several processes acting on
one store at once."""
from __future__ import annotations

import hashlib
import json
import pickle
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from impact.contract.frames import typed
from impact.intake.load_report import FileResult, Issue, LoadResult, SheetReport

REPO = Path(__file__).resolve().parent.parent
# The dashboard as Streamlit runs it, for AppTest.
APP = str(REPO / "dashboard.py")
# "Today" for every test that depends on it (conftest's `today` and `demo_template`): a day
# after the demo's last record, so "this year" holds demo data whatever the calendar says.
TODAY = date(2025, 11, 14)


def open_page(page: str = "overview", at: AppTest | None = None, **query: str) -> AppTest:
    """A page of the dashboard in AppTest, opened at its own address with the view in the query
    string (lang, period, ...), as a link to it opens it: one run, not a run of the Overview
    and then of the page and then of each widget set (each a full run of the page)."""
    at = at if at is not None else AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(query)
    at.switch_page(f"app/pages/{page}.py").run()
    assert not at.exception, at.exception[0].message
    return at


# --- the loader's accounting -------------------------------------------------------------

def assert_accounted(result: LoadResult) -> None:
    """Every data row is loaded or rejected, and every rejected row is in the issue report: on
    its own line, or all of a sheet's rows by one sheet-level line (a required column missing)."""
    for f in result.files:
        assert f.rows_read == f.rows_loaded + f.rows_rejected, f.file_name
        for s in f.sheets:
            assert s.rows_read == s.rows_loaded + s.rows_rejected, (f.file_name, s.sheet)
            if any(i.sheet == s.sheet and i.scope == "sheet" for i in f.issues):
                assert s.rows_loaded == 0, (f.file_name, s.sheet)
                continue
            reported = {i.row for i in f.issues if i.sheet == s.sheet and i.scope == "cell"}
            assert len(reported) == s.rows_rejected, (f.file_name, s.sheet, reported)


def only_file(result: LoadResult):
    assert len(result.files) == 1
    return result.files[0]


# --- LoadResults built directly, as the loader hands them to the store -------------------

ORG = "KWCD"


def frame(ids, defaults: dict, sheet: str, **columns) -> pd.DataFrame:
    """A loaded table: one row per id, columns given as scalars or per-row lists."""
    data = {**defaults, **columns, "source_sheet": sheet, "source_row": range(2, len(ids) + 2)}
    return pd.DataFrame({"participant_id": list(ids), **data})


def participants(ids, **columns) -> pd.DataFrame:
    return frame(ids, {"organization": ORG, "program": "Night Outreach", "site": "Phnom Penh",
                       "intake_date": date(2024, 1, 10), "birth_year": 2000,
                       "referral_source": "hotline", "work_setting": "karaoke"},
                 "Participants", **columns)


def followups(ids, **columns) -> pd.DataFrame:
    return frame(ids, {"organization": ORG, "followup_date": date(2024, 6, 1),
                       "employment_status": "own_business", "monthly_income": 120.5},
                 "Follow-ups", **columns)


def make_file(file_name: str, tables: dict[str, pd.DataFrame], org: str = ORG,
              content: bytes | None = None, issues: tuple[Issue, ...] = ()) -> FileResult:
    """A FileResult as the loader hands it over; the content defaults to the tables' text."""
    if content is None:
        content = (file_name + repr({k: v.to_dict("list") for k, v in tables.items()})).encode()
    sheets = [SheetReport(sheet=t.replace("_", " "), table=t, rows_read=len(df),
                          rows_loaded=len(df)) for t, df in tables.items()]
    if issues:
        sheets.append(SheetReport(sheet="Bad", table="participants", rows_read=len(issues),
                                  rows_rejected=len(issues)))
    return FileResult(file_name, hashlib.sha256(content).hexdigest(), content, org,
                      {name: typed(t, name) for name, t in tables.items()}, sheets, list(issues))


def load(*files: FileResult) -> LoadResult:
    return LoadResult(list(files))


def snapshot(path) -> dict[str, list[tuple]]:
    """Every table's rows, read with the plain sqlite3 module, not through the store."""
    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {name: sorted(conn.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr)
                for name in names}


# --- several processes on one store at once ---------------------------------------------

# One process: prepares its work, says it is ready, waits for the signal, then acts, so the
# processes act at the same moment. Prints what the store did as JSON.
WORKER = """
import json, pickle, sys, time
from pathlib import Path
from impact.store import open_store
url, go, action, argument = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
if action == "ingest":
    result = pickle.loads(Path(argument).read_bytes())
    store = open_store(url)
Path(f"{go}.ready{sys.argv[5]}").touch()
while not go.exists():
    time.sleep(0.005)
if action == "ingest":
    print(json.dumps([o.status for o in store.ingest(result)]))
elif action == "seed":
    from impact.demo.seed import seed_demo_store
    store = open_store(url)
    print(json.dumps(seed_demo_store(store, Path(argument))))
else:
    store = open_store(url)
    print(json.dumps(len(store.tables()["participants"])))
"""


def at_once(url: str, tmp_path: Path, action: str, arguments: list[str]) -> list:
    """Run one worker per argument, release them together, and return what each printed.
    "ingest" takes a pickled LoadResult (`pickled`): the race is in the store, and a worker
    that read the file itself would start a reader forkserver of its own first."""
    go = tmp_path / "go"
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, url, str(go), action, argument, str(i)],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for i, argument in enumerate(arguments)]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("go.*"))) < len(workers) and time.monotonic() < deadline:
        assert all(w.poll() is None for w in workers), [w.communicate() for w in workers]
        time.sleep(0.01)
    go.touch()
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0] * len(workers), outputs
    assert not any("Traceback" in err for _, err in outputs), outputs
    return [json.loads(out) for out, _ in outputs]


def pickled(result: LoadResult, path: Path) -> str:
    """`result` pickled at `path`, for an "ingest" worker of `at_once`."""
    path.write_bytes(pickle.dumps(result))
    return str(path)


def demo_file_count() -> int:
    """How many workbooks the demo writes (and seeds a store with)."""
    from impact.demo.generate import FILES, NETWORK_FILES
    return sum(len(files) for files in (*FILES.values(), *NETWORK_FILES.values()))

"""Fixtures every test module shares: the demo workbooks and the demo store (made once a
session; the store copied per test), a frozen "today", the stores a test opens (SQLite, and
PostgreSQL when IMPACT_TEST_POSTGRES_URL is set: scripts/test.sh sets it), and the command
line run in this process. Helpers that are not fixtures are in helpers.py, frames.py and
workbooks.py."""
from __future__ import annotations

import datetime as dt
import fcntl
import io
import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy

from impact import cli
from impact.demo.generate import write_demo_workbooks
from impact.intake.parsing import load_files
from impact.intake.load_report import LoadResult
from impact.demo.seed import seed_demo_store
from impact.store import open_store
from tests.helpers import TODAY

POSTGRES = os.environ.get("IMPACT_TEST_POSTGRES_URL")


def pytest_collection_modifyitems(items):
    """The tests marked slow first (in their order), the others after them as collected:
    pytest-xdist hands tests out in this order, so the last ones to finish are short ones and
    no worker waits for another to end a slow test."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True, scope="session")
def components_scanned_once():
    """Streamlit's component registry scanned once a process: each new AppTest reads the
    metadata of every installed package for components (0.1 s; a few hundred AppTests a run),
    and the installed packages do not change while the tests run."""
    from streamlit.components.v2 import manifest_scanner
    found = manifest_scanner.scan_component_manifests()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(manifest_scanner, "scan_component_manifests", lambda max_workers=None: list(found))
        yield


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """The demo store, seeded once for the whole run as of TODAY (seeding writes and ingests
    the demo workbooks: seconds). Tests never open it to write: they copy it (`demo_store`),
    which costs milliseconds. With pytest-xdist the workers share the run's temporary folder
    (the parent of each worker's): the first to get the lock seeds, the others wait and use it."""
    run_folder = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        run_folder = run_folder.parent
    seeded = run_folder / "demo_template.db"
    with open(run_folder / "demo_template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not seeded.exists():
            folder = tmp_path_factory.mktemp("demo")
            store = open_store(folder / "store.db")
            seed_demo_store(store, folder / "workbooks", today=TODAY)
            store.close()
            os.replace(folder / "store.db", seeded)     # whole or absent: a worker never sees half
    return seeded


@pytest.fixture(scope="session")
def demo_workbooks(tmp_path_factory) -> list[Path]:
    """The demo workbooks (seed 7, dates as generated), written once for the session."""
    return write_demo_workbooks(tmp_path_factory.mktemp("demo_workbooks"))


@pytest.fixture(scope="session")
def demo_loaded(demo_workbooks) -> LoadResult:
    """The demo workbooks as the loader reads them, once for the session (tests only read it)."""
    return load_files(demo_workbooks)


@pytest.fixture
def demo_store(demo_template, tmp_path) -> Path:
    """A copy of the seeded demo store that this test may change."""
    return Path(shutil.copy(demo_template, tmp_path / "demo.db"))


@pytest.fixture(scope="session")
def shared_demo_store(demo_template, tmp_path_factory) -> Path:
    """A copy of the demo store shared by every test of the process that does not change its
    data (a share link it makes changes no data version): the dashboard's caches are keyed on
    the store's address and data version, so they stay warm from one test to the next instead
    of each test reading and preparing its own copy again."""
    return Path(shutil.copy(demo_template, tmp_path_factory.mktemp("shared_demo") / "store.db"))


@pytest.fixture(autouse=True)
def page_failures():
    """The records of pages that failed (`app.errors`): a failing page shows a plain message,
    not an exception AppTest would see, so a test fails on any it did not expect (one that
    expects some reads and clears the list)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = records.append
    logger = logging.getLogger("impact.dashboard")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)
    assert not records, "a page failed:\n" + "\n".join(logging.Formatter().format(r) for r in records)


@pytest.fixture
def today(monkeypatch) -> dt.date:
    """The dashboard's today frozen at TODAY, the day the demo store was seeded for, so the
    default period ("this year") and what the pages show do not change with the calendar."""
    from app import session
    monkeypatch.setattr(session, "today", lambda: TODAY)
    return TODAY


def empty_postgres(name: str = "impact_test") -> str:
    """IMPACT_TEST_POSTGRES_URL with an empty schema of this test process's own (or the test
    skips): pytest-xdist's workers share the server, each in its schema (`search_path` in the
    URL, so processes a test starts use it too). Another `name` gives a schema that the
    other tests of the process leave alone (servers a module keeps running)."""
    if not POSTGRES:
        pytest.skip("IMPACT_TEST_POSTGRES_URL not set (scripts/test.sh sets it)")
    schema = f"{name}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    engine = sqlalchemy.create_engine(POSTGRES)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))
    engine.dispose()
    url = sqlalchemy.make_url(POSTGRES).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@pytest.fixture
def postgres_url() -> str:
    """An empty PostgreSQL store's URL."""
    return empty_postgres()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """An empty store's URL (nothing created yet), on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'impact.db'}"
    return empty_postgres()


@pytest.fixture
def impact_cli(capsys, monkeypatch):
    """`python -m impact ARGS` run in this process (`cli.main`): what it printed and its exit
    code, as a CompletedProcess. Starting a process costs a second or two of imports; each
    command family keeps one real-process smoke test."""
    def run(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
        argv = [str(a) for a in args]
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin or ""))
        capsys.readouterr()
        try:
            code = cli.main(argv)
        except SystemExit as exit_:     # argparse refusing an argument
            code = exit_.code
        printed = capsys.readouterr()
        return subprocess.CompletedProcess(argv, code, printed.out, printed.err)
    return run

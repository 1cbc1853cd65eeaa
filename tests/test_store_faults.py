"""The store under contention and faults, on real SQLite files: another writer holding the
lock, a full disk, a read-only store. Each ends in one plain line, never a traceback, and
leaves the store as it was."""
from __future__ import annotations

import pickle
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event

from impact.intake.parsing import load_files
from impact.store import StoreBusy, StoreFull, StoreReadOnly, open_store
from tests.helpers import REPO, load, make_file, open_page, participants, snapshot
from tests.workbooks import PARTICIPANT_HEADER, participant, write_csv, write_xlsx

BUSY = "another upload is being saved, try again"


@pytest.fixture
def path(tmp_path):
    return tmp_path / "impact.db"


@contextmanager
def write_lock_held(path: Path):
    """Another connection (another upload, a scheduled load) holding SQLite's write lock."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO column_mappings (organization, file_name, \"table\", header, \"column\") "
                  "VALUES ('X', 'x.xlsx', 'participants', 'x', 'site')")
    try:
        yield other
    finally:
        other.execute("ROLLBACK")
        other.close()


def a_load(*ids: str, file_name: str = "KWCD_reg.xlsx"):
    return load(make_file(file_name, {"participants": participants(list(ids))}))


def test_a_load_waits_for_another_writer_and_then_succeeds(path):
    store = open_store(path, busy_timeout=30)
    outcomes = []
    with write_lock_held(path):
        loading = threading.Thread(target=lambda: outcomes.extend(store.ingest(a_load("P1", "P2"))))
        loading.start()
        time.sleep(0.8)
        assert loading.is_alive() and not outcomes      # waiting for the lock, not failed
    loading.join(30)
    assert [o.status for o in outcomes] == ["new"]
    assert len(store.tables()["participants"]) == 2


def test_reads_do_not_wait_for_a_writer(path):
    store = open_store(path, busy_timeout=30)
    store.ingest(a_load("P1"))
    with write_lock_held(path):
        start = time.perf_counter()
        assert len(store.tables()["participants"]) == 1 and len(store.uploads()) == 1
        assert time.perf_counter() - start < 2


def test_a_load_that_cannot_get_the_lock_fails_with_one_line(path):
    store = open_store(path, busy_timeout=0.2)
    store.ingest(a_load("P1"))
    before = snapshot(path)
    with write_lock_held(path):
        with pytest.raises(StoreBusy) as failure:
            store.ingest(a_load("P1", "P2"))
        with pytest.raises(StoreBusy):
            store.restore(1)
    assert str(failure.value) == BUSY
    assert snapshot(path) == before
    assert store.ingest(a_load("P1", "P2"))[0].status == "replaced"   # once the lock is free


def test_command_line_load_into_a_busy_store(path, tmp_path, impact_cli, monkeypatch):
    open_store(path).close()
    workbook = write_xlsx(tmp_path / "KWCD_reg.xlsx", {"S": [PARTICIPANT_HEADER, participant("P-1")]})
    before = snapshot(path)
    with write_lock_held(path):
        monkeypatch.setenv("IMPACT_STORE_BUSY_TIMEOUT", "0.3")
        out = impact_cli("load", workbook, "--store", path)
    assert out.returncode == 2
    assert out.stderr == f"error: {BUSY}\n"
    assert snapshot(path) == before


def test_disk_full_fails_with_one_line_and_changes_nothing(path):
    store = open_store(path)
    store.ingest(a_load("P1"))
    before = snapshot(path)

    # A few pages more than the store has, so the load cannot fit: SQLite's page limit raises
    # SQLITE_FULL exactly as a full disk does.
    @event.listens_for(store.engine, "connect")
    def _small_disk(dbapi_connection, _record):
        used = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {used + 16}")

    store.engine.dispose()
    big = a_load(*[f"P{i:05d}" for i in range(20_000)], file_name="KWCD_big.xlsx")
    with pytest.raises(StoreFull) as failure:
        store.ingest(big)
    assert str(failure.value) == "the store's disk is full: nothing was saved; free some space and try again"
    assert snapshot(path) == before
    event.remove(store.engine, "connect", _small_disk)
    store.engine.dispose()
    assert store.ingest(big)[0].status == "new"


def read_only_url(path: Path) -> str:
    """SQLite opened read-only (chmod does not stop root, who runs the tests)."""
    return f"sqlite:///file:{path}?mode=ro&uri=true"


def test_read_only_store_reads_and_refuses_writes_with_one_line(path):
    writable = open_store(path)
    writable.ingest(a_load("P1"))
    writable.close()
    before = snapshot(path)
    store = open_store(read_only_url(path))
    assert len(store.tables()["participants"]) == 1          # the dashboard still reads it
    with pytest.raises(StoreReadOnly) as failure:
        store.ingest(a_load("P1", "P2"))
    assert str(failure.value) == "the store is read-only: nothing was saved"
    with pytest.raises(StoreReadOnly):
        store.save_column_mapping("KWCD", "KWCD_reg.xlsx", "participants", "Zone", "site")
    assert snapshot(path) == before


def test_command_line_load_into_a_read_only_store(path, tmp_path, impact_cli):
    open_store(path).close()
    workbook = write_xlsx(tmp_path / "KWCD_reg.xlsx", {"S": [PARTICIPANT_HEADER, participant("P-1")]})
    before = snapshot(path)
    out = impact_cli("load", workbook, "--store", read_only_url(path))
    assert (out.returncode, out.stderr) == (2, "error: the store is read-only: nothing was saved\n")
    assert snapshot(path) == before
    assert len(load_files([workbook]).table("participants")) == 1   # the file itself was fine


def test_data_page_says_the_store_is_busy(demo_store, monkeypatch):
    from tests.test_data_page import XLSX, workbook
    path = demo_store
    monkeypatch.setenv("IMPACT_STORE", str(path))
    monkeypatch.setenv("IMPACT_STORE_BUSY_TIMEOUT", "0.3")
    at = open_page("data")
    before = snapshot(path)
    at.file_uploader[0].set_value(("KWCD_new.xlsx", workbook([PARTICIPANT_HEADER, participant("N-1")]), XLSX))
    at.run()
    with write_lock_held(path):
        at.button(key="data_load").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [BUSY]
    assert snapshot(path) == before


# Ingests the 100,000-row load pickled at argv[2] into the store at argv[1], saying when it starts.
KILLED_LOAD = """
import pickle, sys
from impact.store import open_store
store = open_store(sys.argv[1])
with open(sys.argv[2], "rb") as f:
    big = pickle.load(f)
print("ingesting", flush=True)
store.ingest(big)
print("done", flush=True)
"""


@pytest.fixture(scope="module")
def big_load(tmp_path_factory) -> Path:
    """A 100,000-row load, built once for the module and pickled: each killed process only
    reads it, instead of importing the test helpers and building it again (seconds each)."""
    path = tmp_path_factory.mktemp("big_load") / "load.pickle"
    big = load(make_file("KWCD_big.xlsx", {"participants": participants([f"B{i:06d}" for i in range(100_000)])}))
    path.write_bytes(pickle.dumps(big))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("after", [0.0, 0.1, 0.4, 1.0])
def test_a_load_killed_at_any_moment_leaves_the_store_before_or_after(path, big_load, after):
    store = open_store(path)
    store.ingest(a_load("P1"))
    before = snapshot(path)
    worker = subprocess.Popen([sys.executable, "-c", KILLED_LOAD, str(path), str(big_load)], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    assert worker.stdout.readline() == "ingesting\n"
    time.sleep(after)
    worker.kill()
    worker.wait(30)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store.engine.dispose()
    uploads, participants_now = len(store.uploads()), len(store.tables()["participants"])
    assert (uploads, participants_now) in {(1, 1), (2, 100_001)}
    if uploads == 1:
        assert snapshot(path) == before
    assert store.ingest(a_load("P1", "P2"))[0].status == "replaced"     # the store still works


@pytest.fixture
def small_disk(tmp_path):
    """A real 400 KiB filesystem (tmpfs), where it can be mounted (tests run as root)."""
    folder = tmp_path / "small_disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(folder)],
                             capture_output=True)
    if mounted.returncode:
        pytest.skip("cannot mount a small filesystem here")
    yield folder
    subprocess.run(["umount", "--lazy", str(folder)], check=True)


def test_command_line_load_onto_a_full_disk(small_disk, tmp_path, impact_cli):
    path = small_disk / "impact.db"
    store = open_store(path)
    store.ingest(a_load("P1"))
    store.close()
    before = snapshot(path)
    rows = [PARTICIPANT_HEADER] + [participant(f"P-{i:06d}") for i in range(30_000)]
    out = impact_cli("load", write_csv(tmp_path / "KWCD_big.csv", rows), "--store", path)
    assert (out.returncode, out.stderr) == (
        2, "error: the store's disk is full: nothing was saved; free some space and try again\n")
    assert snapshot(path) == before

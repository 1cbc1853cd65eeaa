"""Several processes on one store at once, as two servers or a server and a scheduled load
are: ingests of one source, seeding an empty store, upgrading its schema. On SQLite and, when
IMPACT_TEST_POSTGRES_URL is set (scripts/test.sh sets it), on PostgreSQL."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy

from impact.demo import write_demo_workbooks
from impact.seed import seed_demo_store
from impact.store import open_store
from tests.workbooks import PARTICIPANT_HEADER, participant, write_xlsx

REPO = Path(__file__).resolve().parent.parent
POSTGRES = os.environ.get("IMPACT_TEST_POSTGRES_URL")

# One process: prepares its work, says it is ready, waits for the signal, then acts, so the
# processes act at the same moment. Prints what the store did as JSON.
WORKER = """
import json, sys, time
from pathlib import Path
from impact.store import open_store
url, go, action, argument = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
if action == "ingest":
    from impact.loading import load_files
    result = load_files([argument])
    store = open_store(url)
Path(f"{go}.ready{sys.argv[5]}").touch()
while not go.exists():
    time.sleep(0.005)
if action == "ingest":
    print(json.dumps([o.status for o in store.ingest(result)]))
elif action == "seed":
    from impact.seed import seed_demo_store
    store = open_store(url)
    print(json.dumps(seed_demo_store(store, Path(argument))))
else:
    store = open_store(url)
    print(json.dumps(len(store.tables()["participants"])))
"""


def at_once(url: str, tmp_path: Path, action: str, arguments: list[str]) -> list:
    """Run one worker per argument, release them together, and return what each printed."""
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


def empty_postgres() -> str:
    engine = sqlalchemy.create_engine(POSTGRES)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return POSTGRES


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """An empty store's URL (nothing created yet)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'impact.db'}"
    if not POSTGRES:
        pytest.skip("IMPACT_TEST_POSTGRES_URL not set (scripts/test.sh sets it)")
    return empty_postgres()


def active_sources(store) -> list[tuple[str, str]]:
    uploads = store.uploads()
    return sorted(map(tuple, uploads[uploads["active"]][["organization", "file_name"]].values))


@pytest.mark.parametrize("same_file", [True, False], ids=["same file", "two versions"])
def test_two_ingests_of_one_source_at_once(url, tmp_path, same_file):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = write_xlsx(tmp_path / "a" / "KWCD_reg.xlsx",
                       {"S": [PARTICIPANT_HEADER, participant("P-1"), participant("P-2")]})
    second = first if same_file else write_xlsx(
        tmp_path / "b" / "KWCD_reg.xlsx", {"S": [PARTICIPANT_HEADER, participant("P-1"), participant("P-3")]})
    open_store(url).close()
    statuses = sorted(s for statuses in at_once(url, tmp_path, "ingest", [str(first), str(second)])
                      for s in statuses)
    store = open_store(url)
    assert statuses == (["new", "unchanged"] if same_file else ["new", "replaced"])
    assert len(store.uploads()) == (1 if same_file else 2)
    assert active_sources(store) == [("KWCD", "KWCD_reg.xlsx")]
    assert len(store.tables()["participants"]) == 2
    with store.engine.connect() as conn:   # the constraint, not only the code, keeps one active
        duplicate = sqlalchemy.text("INSERT INTO uploads (organization, file_name, sha256, uploaded_at, uploader, "
                                    "rows_read, rows_loaded, rows_rejected, rows_skipped, report_json, content, "
                                    "active) SELECT organization, file_name, 'x', uploaded_at, uploader, rows_read, "
                                    "rows_loaded, rows_rejected, rows_skipped, report_json, content, active "
                                    "FROM uploads WHERE active")
        with pytest.raises(sqlalchemy.exc.IntegrityError):
            conn.execute(duplicate)


def test_two_servers_seeding_one_empty_store(url, tmp_path):
    seeded = at_once(url, tmp_path, "seed", [str(tmp_path / "demo_a"), str(tmp_path / "demo_b")])
    assert sorted(seeded) == [False, True]
    store = open_store(url)
    single = open_store(tmp_path / "single.db")
    assert seed_demo_store(single, tmp_path / "demo_single")
    assert len(store.uploads()) == len(single.uploads()) == 6
    assert active_sources(store) == active_sources(single)
    assert {name: len(t) for name, t in store.tables().items()} == \
        {name: len(t) for name, t in single.tables().items()}
    # The demo is the same bytes each time, so seeding again is no change at all.
    written = [write_demo_workbooks(tmp_path / folder) for folder in ("demo_first", "demo_again")]
    assert [p.read_bytes() for p in written[0]] == [p.read_bytes() for p in written[1]]
    assert not seed_demo_store(store, tmp_path / "demo_c")

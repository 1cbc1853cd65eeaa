"""What knowing the store's data version costs a run, with several servers on one store.

Every run of every server reads the data version from the database (never a counter of its
own), so that an upload through another server shows on this one's next run. This checks
that it is one read a run (counted on an Overview rerun through AppTest) and times that read
(median of --repeat) on the demo store in SQLite and, given --postgres URL (or
IMPACT_TEST_POSTGRES_URL), in a schema of its own on PostgreSQL. Exits 1 when a run reads it
more than once or a read takes more than 2 ms.

    .venv/bin/python bench/bench_version.py [--repeat 2000] [--postgres URL]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SCHEMA = "impact_bench_version"
MAX_READ_MS = 2.0


def reads_per_run(store_path: Path) -> int:
    """Data-version reads in one Overview rerun of a session (AppTest)."""
    from streamlit.testing.v1 import AppTest
    from impact import store as store_module
    reads = []
    read = store_module.Store.data_version
    store_module.Store.data_version = lambda self: reads.append(1) or read(self)
    os.environ.pop("DATABASE_URL", None)
    os.environ["IMPACT_STORE"] = str(store_path)
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=300).run()
    reads.clear()
    at.run()
    store_module.Store.data_version = read
    return len(reads)


def read_ms(url: str, demo: Path, repeat: int) -> tuple[float, float]:
    """Median and 95th percentile (ms) of one data-version read on a seeded demo store."""
    from impact.demo.seed import seed_demo_store
    from impact.store import open_store
    store = open_store(url)
    seed_demo_store(store, demo, today=dt.date.today())
    for _ in range(50):
        store.data_version()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        store.data_version()
        times.append((time.perf_counter() - start) * 1000)
    store.close()
    return statistics.median(times), sorted(times)[int(0.95 * len(times))]


def postgres_schema(url: str) -> str:
    import sqlalchemy
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}"))
    engine.dispose()
    return sqlalchemy.make_url(url).update_query_dict(
        {"options": f"-csearch_path={SCHEMA}"}).render_as_string(hide_password=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2000)
    parser.add_argument("--postgres", default=os.environ.get("IMPACT_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    failed = False
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        stores = {"SQLite": str(folder / "store.db")}
        if args.postgres:
            stores["PostgreSQL"] = postgres_schema(args.postgres)
        for name, url in stores.items():
            median, p95 = read_ms(url, folder / "demo", args.repeat)
            print(f"{name:<10} one data-version read: median {median:.3f} ms, p95 {p95:.3f} ms")
            failed |= median > MAX_READ_MS
        reads = reads_per_run(folder / "store.db")
        print(f"data-version reads in one Overview rerun: {reads}")
        failed |= reads != 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

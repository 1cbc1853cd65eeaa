"""First start: fill an empty store with generated demo workbooks, so a newcomer's dashboard
is alive in a minute. The demo files go through the same loader as field files."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from impact.store import Store


def seed_demo_store(store: Store, folder: Path, today: dt.date | None = None) -> bool:
    """Load the demo workbooks into `store` if it holds no upload yet; True when it did. The
    demo's dates are moved to end recently before `today` (tests pass a fixed day, so their
    demo is the same on any date).
    Several servers may start at once on one empty store: each reads the demo, and the store
    ingests it only for the first (`Store.ingest_if_empty`, under the write lock)."""
    if store.has_uploads():
        return False
    # Imported only when there is something to seed: the dashboard calls this on every start,
    # and the loader's validation (pandera) adds a fifth of a second to the first paint.
    from impact.demo.generate import write_demo_workbooks, years_to_recent
    from impact.intake.pipeline import ingest_files
    from impact.intake.parsing import file_bytes

    paths = write_demo_workbooks(folder, years_later=years_to_recent(today or dt.date.today()))
    files = [(path.name, file_bytes(path)) for path in paths]
    return bool(ingest_files(store, files, uploader="demo", only_if_empty=True).outcomes)

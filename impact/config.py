"""Settings, from the environment, with the embedded defaults a newcomer needs nothing for."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_STORE = PROJECT_DIR / "data" / "impact.db"


def store_url() -> str:
    """`DATABASE_URL` (a hosted PostgreSQL) wins, then `IMPACT_STORE` (a SQLite file or a URL),
    then the local SQLite file under data/."""
    return os.environ.get("DATABASE_URL") or os.environ.get("IMPACT_STORE") or str(DEFAULT_STORE)


def store_busy_timeout() -> float:
    """Seconds a write to the store waits for another one to finish before it gives up
    ("another upload is being saved, try again"): `IMPACT_STORE_BUSY_TIMEOUT`, else 30."""
    return float(os.environ.get("IMPACT_STORE_BUSY_TIMEOUT", "30"))


def khr_per_usd() -> float:
    """Riel per US dollar for converting KHR amounts (4,000 unless IMPACT_KHR_PER_USD says)."""
    return float(os.environ.get("IMPACT_KHR_PER_USD", "4000"))


# Demo workbooks are generated here on first start, never committed.
DEMO_DIR = Path(os.environ.get("IMPACT_DEMO_DIR") or PROJECT_DIR / "data" / "demo")

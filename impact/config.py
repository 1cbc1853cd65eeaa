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


def suppression_threshold() -> int:
    """Donor views: counts below it show as "fewer than N" (IMPACT_SUPPRESSION_THRESHOLD, 10)."""
    return int(os.environ.get("IMPACT_SUPPRESSION_THRESHOLD", "10"))


def rounding() -> int:
    """Donor views: counts rounded to a multiple of it (IMPACT_ROUNDING, 5; 1 turns it off)."""
    return int(os.environ.get("IMPACT_ROUNDING", "5"))


def secret() -> str | None:
    """The secret share links are signed with, when set in the environment (IMPACT_SECRET)."""
    return os.environ.get("IMPACT_SECRET")


def secret_file(default: Path) -> Path:
    """Where the generated secret is kept without IMPACT_SECRET (IMPACT_SECRET_FILE)."""
    return Path(os.environ.get("IMPACT_SECRET_FILE") or default)


def khr_per_usd() -> float:
    """Riel per US dollar for converting KHR amounts (4,000 unless IMPACT_KHR_PER_USD says)."""
    return float(os.environ.get("IMPACT_KHR_PER_USD", "4000"))


# Demo workbooks are generated here on first start, never committed.
DEMO_DIR = Path(os.environ.get("IMPACT_DEMO_DIR") or PROJECT_DIR / "data" / "demo")


# What one field file may cost to read. Generous for real field files (a million-row sheet
# unpacks to about 600 MB); a file beyond them is refused in one line instead of taking the
# memory of the server (see impact.intake.reading and impact.intake.isolated).
def max_unpacked_bytes() -> int:
    """Uncompressed size of all parts of one .xlsx/.ods (IMPACT_MAX_UNPACKED_MB, default 1,000 MB)."""
    return int(float(os.environ.get("IMPACT_MAX_UNPACKED_MB", "1000")) * 1_000_000)


def max_zip_ratio() -> float:
    """How many times its packed size a part may inflate (IMPACT_MAX_ZIP_RATIO, default 100;
    real sheets inflate about 10 times, a zip bomb hundreds)."""
    return float(os.environ.get("IMPACT_MAX_ZIP_RATIO", "100"))


def max_sheet_cells() -> int:
    """Rows x columns up to a sheet's far corner (IMPACT_MAX_SHEET_CELLS, default 20 million)."""
    return int(os.environ.get("IMPACT_MAX_SHEET_CELLS", "20000000"))


def read_memory_bytes() -> int:
    """Address space of the process reading one file (IMPACT_READ_MEMORY_MB, default 4,096 MB)."""
    return int(float(os.environ.get("IMPACT_READ_MEMORY_MB", "4096")) * 2**20)


def read_timeout_s() -> float:
    """Seconds one file may take to read (IMPACT_READ_TIMEOUT_S, default 600)."""
    return float(os.environ.get("IMPACT_READ_TIMEOUT_S", "600"))

"""Memory freed by pandas, numpy and Arrow handed back to the system.

glibc's malloc takes a large block from fresh mmap'ed pages and returns them when it is freed,
but it raises that threshold (up to 32 MiB) each time such a block is freed, after which the big
temporaries of reading and preparing a store come from its heap and stay held when freed: at
1M participants, half a GiB held for nothing once the tables are built. `malloc_trim` returns
the free heap pages; it is called where a burst of temporaries ends (fixing the threshold
instead costs every later large array a fresh mmap: prepare's CPU time +15 %). Arrow's own
pool keeps freed blocks too (after a 100,000-row upload, ~30 MB more).

numpy asks the kernel for transparent huge pages for every array of 4 MiB or more; a metric
selection's arrays live milliseconds, and where they land on fresh pages each fault zeroes
2 MiB (`small_pages_for_arrays`).
"""
from __future__ import annotations

import ctypes
import functools
import ctypes.util

import numpy as np
import pyarrow as pa


@functools.cache
def _malloc_trim():
    """glibc's malloc_trim, or None. Looked up once: `find_library` reads the linker's cache,
    15 ms, paid by every upload two to four times otherwise."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None


def release_freed_memory() -> bool:
    """Return free heap pages (Arrow's and the C library's) to the system; False where the
    C library is not glibc."""
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    return trim is not None and bool(trim(0))


def small_pages_for_arrays() -> bool:
    """Stop numpy asking for transparent huge pages (`madvise(MADV_HUGEPAGE)`, its default on
    Linux) for its large arrays; the process's arrays made after this come on 4 KiB pages.
    At 1M participants a selection makes ~120 MB of short-lived arrays; once other work in the
    process has handed its memory back (DuckDB's queries in the benchmark) they land on fresh
    pages, and the kernel zeroing a 2 MiB page per fault took 0.2-1.3 s of system time per
    selection (0.3 s of its own work); on small pages 0.05 s. Returns whether numpy had been
    asking (False where this numpy has no such switch)."""
    switch = getattr(getattr(np, "_core", None), "multiarray", None)
    switch = getattr(switch, "_set_madvise_hugepage", None)
    return bool(switch(False)) if switch is not None else False

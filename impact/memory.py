"""Memory freed by pandas, numpy and Arrow handed back to the system.

glibc's malloc takes a large block from fresh mmap'ed pages and returns them when it is freed,
but it raises that threshold (up to 32 MiB) each time such a block is freed, after which the big
temporaries of reading and preparing a store come from its heap and stay held when freed: at
1M participants, half a GiB held for nothing once the tables are built. `malloc_trim` returns
the free heap pages; it is called where a burst of temporaries ends (fixing the threshold
instead costs every later large array a fresh mmap: prepare's CPU time +15 %). Arrow's own
pool keeps freed blocks too (after a 100,000-row upload, ~30 MB more).
"""
from __future__ import annotations

import ctypes
import functools
import ctypes.util

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

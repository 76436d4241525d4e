"""Give the C heap's free memory back to the OS (glibc `malloc_trim`), for `memory.trim_heap`.

An update allocates and frees hundreds of MB of activations and temporaries. glibc keeps freed blocks below its
(adaptive) mmap threshold in the heap, so they stay resident and the next phase's allocations land on top of them;
trimming around the update keeps the resident set near what is live (measured in benchmarks/RESULTS.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim") if name else None
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim with
        return None


def trim_heap() -> bool:
    """Release free heap pages to the OS; False where the C library has no malloc_trim."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True

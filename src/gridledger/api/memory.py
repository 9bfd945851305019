"""Memory the node hands back: large buffers are mapped and unmapped, not kept in the heap.

glibc's allocator raises its threshold for serving requests with ``mmap`` every time a mapped
block is freed, so after a burst of large request buffers later ones come from the heap, which
fragments and never shrinks: a flood of refused uploads left a node at three times its idle
memory for good. Fixing the threshold (which also turns the dynamic adjustment off) keeps every
buffer of 128 KiB or more mapped, so it is returned when freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("gridledger.api")

_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024


def return_large_buffers() -> bool:
    """Fix glibc's mmap threshold in this process; False where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    if not done:
        log.warning("the C library did not take the mmap threshold; memory may fragment")
    return done

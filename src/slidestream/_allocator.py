"""Asking the C allocator to give freed memory back, so a long deck's peak stays flat.

Pictures (Pillow allocates an image in blocks of 16 MB) and decoded audio are large,
short-lived buffers made in worker threads. glibc's malloc keeps such buffers on per-thread
heaps once freed, and raises its threshold for mapping large ones separately as they are
freed, so the process's resident memory climbs to the sum of every thread's worst moment and
stays there. A fixed threshold maps every buffer of 1 MB or more on its own (returned to the
system when freed), and two heaps are enough for a process whose heavy work is in native code.

This changes the whole process, so only programs call it (the ``slidestream`` command does);
a library user's program decides for itself. It does nothing where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import platform
import sys

__all__ = ["release_freed_memory", "resident_bytes"]

_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 1 << 20
"""Buffers at least this large are mapped on their own and go back to the system when freed."""
ARENA_MAX = 2
"""Heaps malloc may keep for the threads (glibc's default is 8 per core)."""


def release_freed_memory() -> bool:
    """Tune glibc's malloc as described above; whether it was done."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    threshold = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    arenas = mallopt(_M_ARENA_MAX, ARENA_MAX)
    return bool(threshold and arenas)


def resident_bytes() -> float:
    """The process's resident memory now, in bytes.

    Read from ``/proc/self/statm`` on Linux; elsewhere the peak so far (``getrusage``), which
    is never lower; ``inf`` where neither is known.
    """
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:
        return math.inf
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return float(peak if sys.platform == "darwin" else peak * 1024)

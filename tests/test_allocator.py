"""Asking glibc's malloc to give freed buffers back (it changes this test process's allocator)."""

from __future__ import annotations

import platform

from PIL import Image

from slidestream._allocator import release_freed_memory


def _rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_freed_pictures_go_back_to_the_system() -> None:
    done = release_freed_memory()
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        assert done is False
        return
    assert done is True
    before = _rss_kb()
    pictures = [Image.new("RGBA", (3200, 1800), (n, 0, 0, 255)) for n in range(4)]
    grown = _rss_kb() - before
    del pictures
    kept = _rss_kb() - before
    assert grown > 80_000  # four 23 MB pictures
    assert kept < grown / 4

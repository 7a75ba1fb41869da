"""CPU time and memory of a process and all its descendants, read from /proc.

BentoML runs its workers as child processes, uvicorn (one process) does not; summing over the
tree measures both the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree(pid: int) -> list[int]:
    """`pid` and every descendant alive now."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, IndexError):
                continue
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the tree (children that exited are not counted)."""
    total = 0
    for p in tree(pid):
        try:
            fields = _stat(p)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def rss_mb(pid: int) -> float:
    """Resident memory of the tree in MB (shared pages counted once per process)."""
    total = 0
    for p in tree(pid):
        try:
            total += int(_stat(p)[21]) * PAGE
        except (OSError, IndexError):
            continue
    return total / 1e6

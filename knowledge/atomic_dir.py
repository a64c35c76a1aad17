"""Crash-safe replacement of an index directory.

A build writes a temporary sibling and swaps it in with renames only, so readers never see a
half-written index. A build killed with SIGKILL leaves its temporary directory behind (nothing
runs on SIGKILL); the sibling names carry the builder's pid, so the next build or load removes
those of dead processes, and puts the previous index back if the kill fell between the two
renames of the swap.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

# The logger of knowledge.index, where this code was written: log filters and records keep working.
log = logging.getLogger("knowledge.index")


def _swap_into_place(tmp: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by ``tmp`` with renames only, never leaving a half-written index."""
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}-{int(time.time() * 1000)}")
        os.replace(out_dir, old)
    # A kill right here leaves no out_dir: recover_interrupted_build() renames ``old`` back.
    os.replace(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to someone else
        return True
    return True


def _dead_siblings(out_dir: Path, kind: str) -> list[Path]:
    """``.<name>.<kind>-<pid>-*`` siblings of ``out_dir`` left by builders that are no longer running."""
    found = []
    for path in out_dir.parent.glob(f".{out_dir.name}.{kind}-*"):
        pid = path.name[len(f".{out_dir.name}.{kind}-") :].split("-", 1)[0]
        if path.is_dir() and pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            found.append(path)
    return found


def recover_interrupted_build(out_dir: Path) -> None:
    """Undo what a killed build left behind next to ``out_dir``.

    If the kill fell between the two renames of :func:`_swap_into_place`, ``out_dir`` is missing
    and the previous index sits in a ``.old-<pid>-*`` sibling: it is renamed back. Temporary
    build directories and old copies of dead builders are then deleted, so they neither pile up
    nor get mistaken for an index. Directories of running builders are left alone.
    """
    out_dir = Path(out_dir)
    if not out_dir.parent.is_dir():
        return
    olds = sorted(_dead_siblings(out_dir, "old"), key=lambda p: p.stat().st_mtime)
    if not out_dir.exists() and olds:
        previous = olds.pop()
        os.replace(previous, out_dir)
        log.warning("restored the index %s that an interrupted build had moved aside", out_dir)
    for path in olds + _dead_siblings(out_dir, "tmp"):
        shutil.rmtree(path, ignore_errors=True)

"""Durable, atomic file writes for everything grading leaves behind (results JSON, gradebook
CSV, HTML report).

Grading may be killed at any moment (Ctrl-C, ``kill -9``, a power cut), and the next run reads
these files to resume, so a reader must find either the old file or the new one, whole:
1. the text goes to a temporary file in the same folder (``os.replace`` is atomic only within
   one filesystem), which is flushed and fsync'ed, so the data is on disk before any name
   points at it;
2. ``os.replace`` swaps it in;
3. the folder is fsync'ed where the platform allows it, so the new name itself survives a crash;
4. on any failure, the temporary file is removed and the old file is left as it was.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def _fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # Windows cannot open a folder; its renames need no folder fsync
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems (network mounts) refuse to fsync a folder; the data is safe
        pass
    finally:
        os.close(fd)


def write_atomically(path: Path, text: str) -> None:
    """Replace the file at `path` with `text` (UTF-8, written as is: no newline translation).

    A reader sees the old content or the new, never part of either; if writing fails, the old
    file stays and no temporary file is left beside it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")  # before the temporary file exists: nothing to clean up if it fails
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # KeyboardInterrupt too: the run stops, the temporary file must not stay
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def write_json_atomically(path: Path, data) -> None:
    """`write_atomically` of `data` as JSON (UTF-8 kept readable, one-space indent)."""
    write_atomically(path, json.dumps(data, ensure_ascii=False, indent=1))

"""A copy of the course to change in a test (scaffold an exercise, then grade with it), and a
way to run commands against that copy rather than this checkout."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support.paths import ROOT


def copy_of_the_repository(destination: Path) -> Path:
    """The files git tracks, and the untracked ones it does not ignore, as they are on disk."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("the repository is not a git checkout: nothing says which files are the course")
    for name in filter(None, listed.decode().split("\0")):
        if (ROOT / name).is_file():  # a tracked file deleted from the working tree is not copied
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    return destination


def run_in(copy: Path, *command: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """`command` in `copy`, importing the copy's course_utils.

    The editable install's finder comes after sys.path's, so PYTHONPATH wins, in the kernels
    the command starts too (but not in course-grade's sandbox, which passes no PYTHONPATH).
    """
    env = {**os.environ, "PYTHONPATH": str(copy)}
    return subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)

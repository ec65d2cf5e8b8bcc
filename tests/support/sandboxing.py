"""Whether this machine can grade in the bubblewrap sandbox, for the tests that need it.

Without bubblewrap (macOS, a laptop that has not installed it), the hostile-corpus tests skip
with the install command, and the robustness corpus is graded with --no-sandbox; under CI (CI
set), where .ci/run installs bubblewrap, a missing sandbox fails them instead.
"""
from __future__ import annotations

import functools
import os
import time
from pathlib import Path

import pytest

from course_utils.grading.sandbox import _UID_BASE, SandboxUnavailable, find_sandbox


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@functools.cache
def why_no_sandbox() -> str:
    """'' when a sandbox starts here; else course-grade's own one-line reason."""
    try:
        find_sandbox()
    except SandboxUnavailable as error:
        return str(error)
    return ""


def require_sandbox() -> None:
    """Skip (fail under CI) unless the sandbox works here."""
    why = why_no_sandbox()
    if why:
        if in_ci():
            pytest.fail(f"CI must grade in the sandbox: {why}")
        pytest.skip(why)


def sandbox_args() -> list[str]:
    """course-grade's sandbox option for tests that grade either way: none, or --no-sandbox."""
    why = why_no_sandbox()
    if why and in_ci():
        pytest.fail(f"CI must grade in the sandbox: {why}")
    return ["--no-sandbox"] if why else []


def processes(marker: str | None = None) -> list[tuple[int, str]]:
    """(pid, command line) of every process running as a submission's account (course-grade
    as root gives each one its own, from sandbox._UID_BASE up), or with `marker` on its
    command line."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes()
            uid = int((entry / "status").read_text().split("\nUid:")[1].split()[0])
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
        if uid >= _UID_BASE or (marker and marker.encode() in cmdline):
            found.append((int(entry.name), cmdline.replace(b"\0", b" ").decode(errors="replace")[:120]))
    return found


def leftover_processes(marker: str | None = None, wait_s: float = 10) -> list[tuple[int, str]]:
    """`processes(marker)` once none are left, or after `wait_s` (a killed PID namespace takes
    its processes down asynchronously)."""
    deadline = time.monotonic() + wait_s
    while (found := processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found

"""Whether this machine can grade in the bubblewrap sandbox, for the tests that need it.

Without bubblewrap (macOS, a laptop that has not installed it), the hostile-corpus tests skip
with the install command, and the robustness corpus is graded with --no-sandbox; under CI (CI
set), where .ci/run installs bubblewrap, a missing sandbox fails them instead.
"""
from __future__ import annotations

import functools
import os

import pytest

from course_utils.grading.sandbox import SandboxUnavailable, find_sandbox


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

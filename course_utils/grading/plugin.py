"""pytest plugin that grades course exercise notebooks under nbval (pytest11 entry point).

    pytest --nbval --nbval-current-env --nbval-cell-timeout=60 exercises/01_messages_and_special_tokens.ipynb

It steps in only for notebooks that belong to a lesson of the grading manifest (by their
``course`` metadata, or --course-lesson); every other notebook, and every run without --nbval
or --nbval-lax, is left exactly as nbval would run it. For a course notebook it swaps nbval's
collector for `GradedNotebook` (see nbval_graded.py for what that changes) and records one
result per exercise: as junit properties of the check cell's test (``--junitxml``), in a JSON
file (``--course-results``), and in a terminal summary.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from ..status import ExerciseStatus
from .manifest import MANIFEST_PATH, load_manifest, read_notebook_json
from .record import NotebookRecord, write_results
from .runner import PARENT_ENV

_RECORDS = pytest.StashKey[dict]()


def pytest_addoption(parser):
    group = parser.getgroup("course-grading", "course exercise grading (course_utils.grading)")
    group.addoption("--course-results", metavar="PATH", default=None,
                    help="write one result per exercise of each graded notebook to this JSON file")
    group.addoption("--course-lesson", metavar="LESSON", default=None,
                    help="grade every notebook as this lesson (default: from the notebook's metadata)")
    group.addoption("--course-max-output-mb", metavar="MB", type=float, default=64,
                    help="interrupt a cell that prints more than this (default 64 MB); its output past it is dropped")
    group.addoption("--course-manifest", metavar="PATH", default=None,
                    help=f"grading manifest to use (default: {MANIFEST_PATH.name} of the package)")


def pytest_configure(config):
    config.stash[_RECORDS] = {}
    forced = config.option.course_lesson
    if forced and forced not in _manifest(config).lessons:
        raise pytest.UsageError(f"--course-lesson {forced!r} is not in the manifest: {sorted(_manifest(config).lessons)}")
    parent = os.environ.get(PARENT_ENV)
    if parent:
        _watch_parent(int(parent))


def _watch_parent(parent_pid: int) -> None:
    """Exit when course-grade (our parent) is gone, e.g. killed with kill -9.

    The kernel, our child, then exits too: ipykernel watches its own parent the same way.
    """
    def watch():
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(3)

    threading.Thread(target=watch, name="course-grade-parent-watch", daemon=True).start()


def _manifest(config):
    return load_manifest(config.option.course_manifest or MANIFEST_PATH)


def _lesson_for(file_path: Path, config) -> str | None:
    manifest = _manifest(config)
    if config.option.course_lesson:  # checked in pytest_configure
        return config.option.course_lesson
    nb = read_notebook_json(file_path)
    return manifest.identify(nb) if nb is not None else None


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path, parent):
    collected = yield
    option = parent.config.option
    running_nbval = getattr(option, "nbval", False) or getattr(option, "nbval_lax", False)
    if file_path.suffix != ".ipynb" or not running_nbval:
        return collected
    lesson = _lesson_for(file_path, parent.config)
    if lesson is None:
        return collected
    from nbval.plugin import IPyNbFile

    from .nbval_graded import GradedNotebook

    records = parent.config.stash[_RECORDS]

    def sink(record: NotebookRecord) -> None:
        records[record.notebook] = record
        if parent.config.option.course_results:
            write_results(Path(parent.config.option.course_results), list(records.values()))

    graded = GradedNotebook.from_parent(
        parent, path=file_path, lesson=lesson,
        exercises=_manifest(parent.config).exercises(lesson), record_sink=sink)
    return [node for node in collected if not isinstance(node, IPyNbFile)] + [graded]


def pytest_terminal_summary(terminalreporter, config):
    records = config.stash.get(_RECORDS, {})
    if not records:
        return
    terminalreporter.section("course grading")
    for record in records.values():
        summary = record.as_dict()
        terminalreporter.write_line(
            f"{record.notebook} ({record.lesson}): {summary['points']}/{summary['max_points']} points")
        for result in record.exercise_results():
            passed = result.status == ExerciseStatus.PASSED
            mark = "✅" if passed else "❌"
            feedback = "" if passed else f": {result.feedback}"
            terminalreporter.write_line(f"  {mark} {result.id} {result.points}/{result.max_points}{feedback}")

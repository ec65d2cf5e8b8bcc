"""The grading plugin under real pytest + nbval runs (issue 4, item 3): it grades course
notebooks from the manifest, agrees with the in-process proofs, and leaves every other notebook
exactly as nbval runs it."""
from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import nbformat
import pytest

from course_utils.grading.authoring import read_solution
from course_utils.grading.cells import ANSWER, role_of
from course_utils.grading.inprocess import exercise_contexts
from course_utils.status import ExerciseStatus
from support.paths import ROOT

SOLUTION = ROOT / "solutions" / "01_messages_and_special_tokens.ipynb"


def run_pytest(notebook: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(notebook), "--nbval-current-env", "-p", "no:cacheprovider",
         "--rootdir", str(notebook.parent), "-c", str(notebook.parent / "pytest.ini"), *options],
        cwd=notebook.parent, capture_output=True, text=True, timeout=600)


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    return tmp_path


@pytest.mark.slow
def test_nbval_grading_gives_the_in_process_verdicts_in_junit_and_json(folder):
    # A submission with stubs (01.messages's `messages = ...` and 01.injection's function that
    # raises NotImplementedError: `check` prints "not attempted yet" for both), a known-wrong
    # answer and a solution, graded by a real kernel.
    _, nb, specs = read_solution(SOLUTION)
    chosen = {spec.id: (spec.stub_source, spec.known_wrong[0].source, spec.answer_source)[i % 3]
              for i, spec in enumerate(specs)}
    for cell in nb.cells:
        role, exercise_id = role_of(cell)
        if role == ANSWER:
            cell.source = chosen[exercise_id]
    notebook = folder / "submission.ipynb"
    nbformat.write(nb, notebook)
    run_pytest(notebook, "--nbval", "--nbval-cell-timeout=120", "--course-results", str(folder / "r.json"),
               "--junitxml", str(folder / "junit.xml"))

    expected = {c.spec.id: c.grade(chosen[c.spec.id]).as_dict() for c in exercise_contexts(SOLUTION)}
    kinds = (ExerciseStatus.NOT_ATTEMPTED, ExerciseStatus.FAILED, ExerciseStatus.PASSED)  # stub, wrong, solution
    assert [r["status"] for r in expected.values()] == [kinds[i % 3] for i in range(len(specs))]
    results = json.loads((folder / "r.json").read_text())["notebooks"][0]
    assert results["complete"] and {r["id"]: r for r in results["exercises"]} == expected
    junit = {}
    for case in ElementTree.parse(folder / "junit.xml").iter("testcase"):
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        if properties:
            junit[properties["exercise"]] = properties
    assert {i: (int(p["points"]), p["status"], p["feedback"]) for i, p in junit.items()} == {
        i: (r["points"], r["status"], r["feedback"]) for i, r in expected.items()}


def _plain_notebook(path: Path) -> Path:
    """A notebook with no course metadata whose stored output is stale ("2" for print(1))."""
    cell = nbformat.v4.new_code_cell("print(1)", execution_count=1, outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="2\n")])
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    return path


def test_other_notebooks_are_compared_by_nbval_as_usual(folder):
    result = run_pytest(_plain_notebook(folder / "lesson.ipynb"), "--nbval")
    assert result.returncode == 1 and "Cell outputs differ" in result.stdout
    assert "course grading" not in result.stdout


def test_other_notebooks_run_lax_as_usual(folder):
    result = run_pytest(_plain_notebook(folder / "lesson.ipynb"), "--nbval-lax")
    assert result.returncode == 0, result.stdout
    assert "course grading" not in result.stdout


def test_without_nbval_notebooks_are_not_collected(folder):
    notebook = folder / "exercise.ipynb"
    notebook.write_bytes((ROOT / "exercises" / SOLUTION.name).read_bytes())
    result = run_pytest(notebook)
    assert result.returncode == 4 and "not found" in result.stderr  # a file nobody collects


def test_an_unknown_forced_lesson_is_a_usage_error(folder):
    result = run_pytest(_plain_notebook(folder / "lesson.ipynb"), "--nbval", "--course-lesson", "07_nope")
    assert result.returncode == 4 and "is not in the manifest" in result.stderr

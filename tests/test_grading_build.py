"""solutions/ -> exercises/ + manifest (`make exercises`): nothing stale, nothing leaked."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import nbformat
import pytest

from course_utils.grading.authoring import AuthoringError, exercises_of, stale_files
from course_utils.grading.cells import ANSWER, CHECK, replace_solution, role_of, source_of, stub_for
from course_utils.grading.manifest import MANIFEST_PATH, load_manifest
from support.paths import ROOT

SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
# scripts/ are modules of the repository (`python -m scripts.make_exercises` from its root).
MAKE_EXERCISES = [sys.executable, "-m", "scripts.make_exercises"]


def test_exercises_and_manifest_are_up_to_date():
    stale = [p.relative_to(ROOT).as_posix() for p in stale_files(ROOT)]
    assert not stale, f"run `make exercises`: these generated files are stale: {stale}"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_exercise_notebook_has_stubs_and_no_answers_or_instructor_metadata(solution):
    exercise = nbformat.read(ROOT / "exercises" / solution.name, as_version=4)
    text = (ROOT / "exercises" / solution.name).read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in text and "known_wrong" not in text and "known_right" not in text
    for cell in exercise.cells:
        role, _ = role_of(cell)
        if role == ANSWER:
            source = source_of(cell)
            assert "    raise NotImplementedError()" in source or " = ...  # YOUR CODE HERE" in source, source


def test_a_value_stub_is_its_name_bound_to_the_placeholder():
    answer = "# Assign your template\n### BEGIN SOLUTION\nchatml = r\"{{ x }}\"\n### END SOLUTION"
    assert stub_for(answer, 'check("03.chatml", chatml)') == "# Assign your template\nchatml = ...  # YOUR CODE HERE"


def test_a_function_stub_raises_inside_the_body_so_the_cell_itself_runs():
    answer = "def f(x):\n    \"\"\"Doc.\"\"\"\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"
    assert stub_for(answer, 'check("01.f", f)') == (
        "def f(x):\n    \"\"\"Doc.\"\"\"\n    # YOUR CODE HERE\n    raise NotImplementedError()")


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_manifest_holds_each_exercise_check_cell_expected_verdict_and_points(solution):
    nb = nbformat.read(solution, as_version=4)
    checks = [(role_of(c)[1], source_of(c)) for c in nb.cells if role_of(c)[0] == CHECK]
    points = {role_of(c)[1]: c.metadata["course"]["points"] for c in nb.cells if role_of(c)[0] == ANSWER}
    entries = load_manifest(MANIFEST_PATH).exercises(solution.stem)
    assert [(e.id, e.check_source) for e in entries] == checks
    assert all(e.expected_output == f"✅ {e.id} passed\n" and e.points == points[e.id] for e in entries)


def test_solution_block_is_replaced_at_its_own_indent():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n\nprint(f(1))"
    assert replace_solution(source, "# YOUR CODE HERE\nraise NotImplementedError()") == (
        "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\nprint(f(1))")


@pytest.mark.parametrize("source", [
    "x = 1",
    "### BEGIN SOLUTION\nx = 1",
    "### END SOLUTION\nx = 1\n### BEGIN SOLUTION",
    "### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
])
def test_missing_or_unbalanced_solution_markers_are_refused(source):
    with pytest.raises(AuthoringError, match="exactly one"):
        replace_solution(source, "pass")


def _notebook(*cells):
    return nbformat.v4.new_notebook(cells=list(cells), metadata={"course": {"lesson": "01_x"}})


def _answer(exercise_id, points=1, wrong=()):
    meta = {"role": "answer", "id": exercise_id, "points": points, "known_wrong": list(wrong)}
    return nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", metadata={"course": meta})


def _check(exercise_id, source=None):
    return nbformat.v4.new_code_cell(source or f'check("{exercise_id}", x)',
                                     metadata={"course": {"role": "check", "id": exercise_id}})


@pytest.mark.parametrize("cells, message", [
    ([_answer("01.a")], "answer cell without a check cell"),
    ([_check("01.a")], "right after the answer cell"),
    ([_answer("01.a"), _check("01.b")], "right after the answer cell"),
    ([_answer("01.a"), _check("01.a", 'check("01.a", x)\nprint(1)')], "a check cell is one line"),
    ([_answer("02.a"), _check("02.a")], "must be named '01.<name>'"),
    ([_answer("01.a", points=0), _check("01.a")], "positive int"),
    ([_answer("01.a", wrong=[{"why": "w", "source": "x = 2"}]), _check("01.a")], "'why', 'expect', 'source'"),
    ([_answer("01.a"), _check("01.a"), _answer("01.a"), _check("01.a")], "duplicate exercise ids"),
])
def test_malformed_exercises_are_authoring_errors_that_name_the_fix(cells, message):
    with pytest.raises(AuthoringError, match=message):
        exercises_of(_notebook(*cells), "01_x")


def test_make_exercises_writes_then_check_mode_reports_a_changed_solution(tmp_path):
    (tmp_path / "solutions").mkdir()
    solution = tmp_path / "solutions" / SOLUTIONS[0].name
    shutil.copy(SOLUTIONS[0], solution)

    def run(*args):
        return subprocess.run([*MAKE_EXERCISES, "--root", str(tmp_path), *args], cwd=ROOT,
                              capture_output=True, text=True)

    assert run().returncode == 0
    assert run("--check").returncode == 0
    written = nbformat.read(tmp_path / "exercises" / SOLUTIONS[0].name, as_version=4)
    assert all(c.execution_count for c in written.cells if c.cell_type == "code"), "the outputs of a run are stored"
    manifest = json.loads((tmp_path / "course_utils" / "grading" / "manifest.json").read_text())
    assert list(manifest["lessons"]) == [SOLUTIONS[0].stem]

    nb = nbformat.read(solution, as_version=4)
    answer = next(c for c in nb.cells if role_of(c)[0] == ANSWER)
    answer.metadata["course"]["points"] += 1
    nbformat.write(nb, solution)
    (tmp_path / "exercises" / "99_gone.ipynb").write_text("{}")
    result = run("--check")
    assert result.returncode == 1
    assert "stale: course_utils/grading/manifest.json" in result.stdout
    assert "stale: exercises/99_gone.ipynb" in result.stdout


def test_an_exercise_notebook_that_stops_run_all_fails_make_exercises_and_is_run_again(tmp_path):
    (tmp_path / "solutions").mkdir()
    nb = nbformat.read(SOLUTIONS[0], as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("raise ValueError('a lesson cell that breaks Run All')"))
    nbformat.write(nb, tmp_path / "solutions" / SOLUTIONS[0].name)

    def run(*args):
        return subprocess.run([*MAKE_EXERCISES, "--root", str(tmp_path), *args], cwd=ROOT,
                              capture_output=True, text=True)

    result = run()
    assert result.returncode == 1 and "a lesson cell that breaks Run All" in result.stdout
    check = run("--check")
    assert check.returncode == 1 and f"not run: exercises/{SOLUTIONS[0].name}" in check.stdout

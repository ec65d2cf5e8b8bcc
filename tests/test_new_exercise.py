"""`make new-exercise` (scripts/new_exercise.py): adding an exercise is one step (issue 19, item 3).

- What it cannot add it refuses, with exit status 2 and a message naming the problem, and it
  writes nothing: a malformed id, an id that exists, a lesson without a solutions notebook,
  points other than 1, 2 or 3, a name in use, a check that would take its module past 400 lines.
- What it writes keeps the files' own layout: imports merged into the module's own, the course
  map one line per exercise, the new cells after the last exercise and the cells trying it out.
- On a copy of the repository it writes a working exercise: the copy's exercise tests (proofs,
  mutants, generated files, course map, checks, stored outputs, nbval grading) pass with the new
  exercise among them, and only the files an exercise lives in, or that are made from them,
  change; no lesson is timed again.
"""
from __future__ import annotations

import ast
import hashlib
import json
import shutil
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import nbformat
import pytest

from course_utils.grading.cells import ANSWER, CHECK, role_of
from scripts import exercise_example, new_exercise
from support.course_copy import copy_of_the_repository, run_in
from support.paths import ROOT, SOLUTIONS

LESSON01 = "01_messages_and_special_tokens.ipynb"
NEW_ID = "01.count_special"


def snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def course(tmp_path) -> Path:
    """What the scaffold reads before it writes: solutions/, the checks, the course map."""
    shutil.copytree(SOLUTIONS, tmp_path / "solutions")
    shutil.copytree(ROOT / "course_utils" / "checks", tmp_path / "course_utils" / "checks",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "docs").mkdir()
    shutil.copy(ROOT / "docs" / "course_map.json", tmp_path / "docs")
    return tmp_path


def refusal(course: Path, capsys, exercise_id: str, points: int = 2) -> str:
    before = snapshot(course)
    assert new_exercise.main([exercise_id, "--points", str(points), "--root", str(course)]) == 2
    assert snapshot(course) == before, "a refused exercise wrote something"
    err = capsys.readouterr().err
    assert err.startswith("new_exercise: ") and err.count("\n") == 1, err
    return err


# --- refusals ----------------------------------------------------------------------------

@pytest.mark.parametrize("bad_id", ["count_special", "1.count", "01.", "01.Count", "01.2things", "01.with-dash",
                                    "01." + "x" * 41])
def test_a_malformed_id_is_refused(course, capsys, bad_id):
    assert "is not an exercise id: ids look like 01.count_special" in refusal(course, capsys, bad_id)


def test_an_existing_id_is_refused(course, capsys):
    assert ("01.history already exists (in the solutions notebook, the lesson's checks, docs/course_map.json)"
            in refusal(course, capsys, "01.history"))


def test_a_lesson_without_a_solutions_notebook_is_refused(course, capsys):
    assert "lesson 09 has no solutions notebook (solutions/09_*.ipynb)" in refusal(course, capsys, "09.anything")


@pytest.mark.parametrize("points", [0, 4, -1])
def test_points_other_than_1_2_3_are_refused(course, capsys, points):
    assert f"points must be 1 (🐢 warm-up), 2 (🐕 core) or 3 (🦁 stretch), not {points}" in refusal(
        course, capsys, NEW_ID, points)


@pytest.mark.parametrize("exercise_id, where", [("01.tokenizer", f"solutions/{LESSON01}"), ("01.list", "Python")])
def test_an_id_whose_name_is_in_use_is_refused(course, capsys, exercise_id, where):
    # The example's function is named after the id: `tokenizer` would overwrite the lesson's own.
    assert f"is already a name in {where}" in refusal(course, capsys, exercise_id)


def test_a_check_that_would_take_its_module_past_the_line_limit_is_refused(course, capsys):
    module = course / "course_utils" / "checks" / "lesson01.py"
    lines = len(module.read_text(encoding="utf-8").splitlines())
    with module.open("a", encoding="utf-8") as f:
        f.write("# padding\n" * (new_exercise.MAX_MODULE_LINES - lines - 5))
    message = refusal(course, capsys, NEW_ID)
    assert "course_utils/checks/lesson01.py would have" in message and "split it by concern first" in message


def test_the_line_limit_is_test_layers_limit():
    text = (ROOT / "tests" / "test_layers.py").read_text(encoding="utf-8")
    assert f"MAX_LINES = {new_exercise.MAX_MODULE_LINES}\n" in text


# --- what it writes ----------------------------------------------------------------------

def test_the_course_map_keeps_its_layout():
    text = (ROOT / "docs" / "course_map.json").read_text(encoding="utf-8")
    assert new_exercise.dump_course_map(json.loads(text)) == text


def test_the_example_imports_join_the_modules_own_in_order():
    module = ('"""Doc."""\nfrom __future__ import annotations\n\nimport copy\n\n'
              "from .calls import call_unchanged\nfrom .failure import CheckFailed\nfrom .tool_model import (\n"
              "    END_OF_TURN,\n    tool_call_text,\n)\n\n\nX = 1\n")
    merged = new_exercise.with_imports(module, exercise_example.EXAMPLE_IMPORTS)
    assert merged == ('"""Doc."""\nfrom __future__ import annotations\n\nimport copy\n\n'
                      "from .calls import call, call_unchanged\nfrom .course_models import course_tokenizer\n"
                      "from .expect import expect_equal, expect_type\nfrom .failure import CheckFailed\n"
                      "from .registry import exercise\nfrom .tool_model import (\n    END_OF_TURN,\n"
                      "    tool_call_text,\n)\n\n\nX = 1\n")


def test_a_lesson_without_checks_gets_a_module_of_its_own(course):
    nb = nbformat.v4.new_notebook(metadata={"course": {"lesson": "08_new_lesson"}})
    nbformat.write(nb, course / "solutions" / "08_new_lesson.ipynb")
    course_map = json.loads((course / "docs" / "course_map.json").read_text(encoding="utf-8"))
    course_map["lessons"].append({"stem": "08_new_lesson", "title": "New lesson", "teaches": "t", "exercises": []})
    (course / "docs" / "course_map.json").write_text(new_exercise.dump_course_map(course_map), encoding="utf-8")
    scaffold = new_exercise.plan(course, "08.first", 1)
    module = scaffold.files[course / "course_utils" / "checks" / "lesson08.py"]
    assert module.startswith('"""Lesson 08, new lesson: the checks of its exercises."""\n')
    assert '@exercise("08.first", points=1)\ndef check_first(first):' in module
    ast.parse(module)
    assert '{"id": "08.first", "tier": "🐢"}' in scaffold.files[course / "docs" / "course_map.json"]


def test_the_cells_follow_the_last_exercise_and_its_try_cells_and_precede_a_closing_section():
    def ids_after(stem):
        nb = nbformat.read(SOLUTIONS / f"{stem}.ipynb", as_version=4)
        return [c.id for c in new_exercise.notebook_with_exercise(nb, f"{stem[:2]}.count_special", 3).cells]

    assert ids_after("01_messages_and_special_tokens")[-5:] == [
        "try-md", "try", "count_special-md", "count_special-answer", "count_special-check"]
    closing = ids_after("07_chat_templates_today")
    assert closing[-4:-1] == ["count_special-md", "count_special-answer", "count_special-check"]
    nb = nbformat.read(SOLUTIONS / "07_chat_templates_today.ipynb", as_version=4)
    assert nb.cells[-1].source.startswith("## What you practised") and closing[-1] == nb.cells[-1].id


# --- on a copy of the repository ---------------------------------------------------------

# The suite's exercise tests, run on the copy: each lists or proves every exercise.
EXERCISE_TESTS = [
    "tests/test_exercise_proofs.py",
    "tests/test_grading_build.py",
    "tests/test_exercise_notebooks.py",
    "tests/test_course_map.py",
    "tests/test_checks.py",
    "tests/test_layers.py",
    "tests/test_learner_api.py",
    "tests/test_stored_outputs.py",
    f"tests/test_mutants.py::test_the_check_kills_every_mutant_but_the_reviewed_right_answers[{NEW_ID}]",
    "tests/test_mutants.py::test_every_reviewed_equivalent_is_a_mutant_of_todays_solutions",
    "tests/test_grading_plugin.py::test_nbval_grading_gives_the_in_process_verdicts_in_junit_and_json",
]
# What an exercise lives in, and what is made from it; nothing else may change.
WRITTEN = {"course_utils/checks/lesson01.py", f"solutions/{LESSON01}", f"exercises/{LESSON01}",
           "course_utils/grading/manifest.json", "docs/course_map.json", "README.md"}
CORPUS_POINTS = (
    "import json, sys\nfrom pathlib import Path\nsys.path.insert(0, 'tests')\n"
    "from fixtures.submissions import corpus\n"
    "right = next(c for c in corpus.cases(Path.cwd()) if c.name == 'right')\n"
    "print(json.dumps([corpus.IDS, right.points, corpus.LIGHT_RIGHT, corpus.MAX_POINTS]))"
)


@pytest.mark.slow  # ~1 min on 2 cores: scaffolds (two notebook runs), then runs the copy's exercise tests
def test_a_scaffolded_exercise_passes_the_exercise_tests_on_a_copy_of_the_course(tmp_path):
    copy = copy_of_the_repository(tmp_path / "course")
    imported = run_in(copy, sys.executable, "-c", "import course_utils; print(course_utils.__file__)")
    assert imported.stdout.strip() == str(copy / "course_utils" / "__init__.py"), imported.stderr
    before = snapshot(copy)

    scaffold = run_in(copy, sys.executable, "-m", "scripts.new_exercise", NEW_ID, "--points", "2")
    assert scaffold.returncode == 0, scaffold.stdout[-3000:] + scaffold.stderr[-3000:]
    assert f'make mutants MUTANTS_ARGS="--exercise {NEW_ID}"' in scaffold.stdout
    after = snapshot(copy)
    changed = {name for name in after if before.get(name) != after[name]}
    assert {name for name in changed if "__pycache__" not in name} == WRITTEN

    # The solutions notebook's stored outputs show the check passing: its kernel imported the
    # copy's checks (this checkout's have no 01.count_special); the exercise's is not attempted.
    solution = nbformat.read(copy / "solutions" / LESSON01, as_version=4)
    assert [o.get("text") for c in solution.cells if role_of(c) == (CHECK, NEW_ID) for o in c.outputs] == [
        f"✅ {NEW_ID} passed\n"]
    exercise = nbformat.read(copy / "exercises" / LESSON01, as_version=4)
    stub = next(c.source for c in exercise.cells if role_of(c) == (ANSWER, NEW_ID))
    assert "raise NotImplementedError()" in stub and "BEGIN SOLUTION" not in stub

    # The robustness corpus follows the manifest: the new exercise is a column, worth its points
    # in the right notebook and nothing in the light ones, which drop its answer cell.
    corpus = run_in(copy, sys.executable, "-c", CORPUS_POINTS)
    assert corpus.returncode == 0, corpus.stderr[-3000:]
    ids, right, light, max_points = json.loads(corpus.stdout)
    assert ids[-1] == NEW_ID and right[NEW_ID] == 2 and light[NEW_ID] == 0 and max_points == sum(right.values())

    junit = tmp_path / "junit.xml"
    tests = run_in(copy, sys.executable, "-m", "scripts.offline", sys.executable, "-m", "pytest", "-q",
                   "-p", "no:cacheprovider", f"--junitxml={junit}", *EXERCISE_TESTS)
    assert tests.returncode == 0, tests.stdout[-6000:] + tests.stderr[-2000:]
    about_it = [case.get("name") for case in ElementTree.parse(junit).iter("testcase") if NEW_ID in case.get("name")]
    for test in ("test_solution_passes", "test_generated_stub_is_not_attempted", "test_known_right_answer_passes",
                 "test_known_wrong_answer_fails_with_its_specific_message", "test_the_check_kills_every_mutant"):
        assert any(name.startswith(test) for name in about_it), (test, about_it)

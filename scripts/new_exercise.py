"""Add an exercise to a lesson in one step (`make new-exercise ID=01.count_special POINTS=2`).

Writes a working example exercise (scripts/exercise_example.py), which the instructor then
turns into theirs:
  course_utils/checks/lessonNN.py  its check, registered with @exercise (the module is created
                                   for a lesson that has none), TODO comments saying what to replace;
  solutions/NN_*.ipynb             its task, answer and check cells, after the lesson's last
                                   exercise and the cells that try that exercise out;
  docs/course_map.json             its id, with the tier its points give (1 🐢, 2 🐕, 3 🦁);
then regenerates what is made from those files: exercises/ and the grading manifest
(scripts.make_exercises), the README's course map (scripts.lesson_times --readme-only: no lesson
is timed again) and the stored outputs of that solutions notebook (scripts.store_outputs, that
notebook only). The course's tests pass with the example in place; docs/INSTRUCTORS.md
("Adding an exercise") says what to edit next.

It refuses, with exit status 2 and nothing written, an id that is not `NN.name`, an id that
exists, a lesson without a solutions notebook or a course-map entry, points other than 1, 2 or
3, a name the lesson's notebook or checks already use, and a check that would push the lesson's
module past the 400 lines tests/test_layers.py allows (split the module by concern first).

Usage:
  python -m scripts.new_exercise 01.count_special --points 2
  python -m scripts.new_exercise 01.count_special --points 2 --root /tmp/course-copy
"""
from __future__ import annotations

import argparse
import ast
import builtins
import copy
import json
import keyword
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_utils.grading.authoring import AuthoringError, read_solution
from course_utils.grading.cells import CHECK, role_of, source_of
from scripts import ROOT
from scripts import exercise_example as example

TIERS = {1: "🐢", 2: "🐕", 3: "🦁"}
# NN.name, the name usable as the example's function name (a check cell passes it to `check`).
ID_RE = re.compile(r"(?P<lesson>\d\d)\.(?P<name>[a-z][a-z0-9_]{0,39})")
MAX_MODULE_LINES = 400  # tests/test_layers.py's MAX_LINES (tests/test_new_exercise.py checks they agree)
IMPORT_WIDTH = 110      # the width the lesson modules wrap their imports at


class ScaffoldError(ValueError):
    """Why the scaffold refuses an exercise; nothing has been written."""


@dataclass(frozen=True)
class Scaffold:
    """An exercise to add: where, and the new content of every file it writes."""

    root: Path
    exercise_id: str
    points: int
    solution: Path          # the lesson's solutions notebook
    module: Path            # the lesson's checks module
    files: dict[Path, str]  # path -> its whole new text

    @property
    def name(self) -> str:
        return self.exercise_id.partition(".")[2]


# --- what to write ---------------------------------------------------------------------------

def plan(root: Path, exercise_id: str, points: int) -> Scaffold:
    """Every file the exercise changes, computed and validated; nothing is written.

    Raises:
        ScaffoldError: the id, the points or the lesson cannot take this exercise (it says why).
    """
    match = ID_RE.fullmatch(exercise_id)
    if not match:
        raise ScaffoldError(f"{exercise_id!r} is not an exercise id: ids look like 01.count_special (the lesson's "
                            "two digits, a dot, a lowercase name that starts with a letter, at most 40 characters)")
    if points not in TIERS:
        raise ScaffoldError(f"points must be 1 (🐢 warm-up), 2 (🐕 core) or 3 (🦁 stretch), not {points}")
    lesson, name = match["lesson"], match["name"]
    solution = solution_notebook(root, lesson)
    try:
        _, nb, specs = read_solution(solution)
    except AuthoringError as error:
        raise ScaffoldError(f"{solution.relative_to(root)} is not a valid solutions notebook: {error}") from None
    course_map = (root / "docs" / "course_map.json").read_text(encoding="utf-8")
    module = root / "course_utils" / "checks" / f"lesson{lesson}.py"
    module_text = module.read_text(encoding="utf-8") if module.exists() else None
    _refuse_existing(exercise_id, [s.id for s in specs], module_text, course_map)
    _refuse_taken_names(name, nb, module_text, solution.name)
    new_module = checks_module(module_text, exercise_id, points, solution.name, lesson_title(course_map, solution.stem))
    lines = len(new_module.splitlines())
    if lines > MAX_MODULE_LINES:
        raise ScaffoldError(f"course_utils/checks/lesson{lesson}.py would have {lines} lines with the example check, "
                            f"past the {MAX_MODULE_LINES} that tests/test_layers.py allows: split it by concern first "
                            "(move helpers into a module of their own, as stop_models.py holds lesson 05's scripted "
                            "models), then run this again")
    files = {
        module: new_module,
        solution: nbformat.writes(notebook_with_exercise(nb, exercise_id, points)) + "\n",
        root / "docs" / "course_map.json": course_map_with_exercise(course_map, solution.stem, exercise_id, points),
    }
    return Scaffold(root, exercise_id, points, solution, module, files)


def solution_notebook(root: Path, lesson: str) -> Path:
    found = sorted((root / "solutions").glob(f"{lesson}_*.ipynb"))
    if len(found) != 1:
        raise ScaffoldError(f"lesson {lesson} has {'no' if not found else 'more than one'} solutions notebook "
                            f"(solutions/{lesson}_*.ipynb): an exercise goes into its lesson's one solutions notebook")
    return found[0]


def _refuse_existing(exercise_id: str, in_notebook: list[str], module_text: str | None, course_map: str) -> None:
    places = [where for where, found in (
        ("the solutions notebook", exercise_id in in_notebook),
        ("the lesson's checks", module_text is not None
         and re.search(rf"@exercise\(\s*[\"']{re.escape(exercise_id)}[\"']", module_text)),
        ("docs/course_map.json", exercise_id in course_map_ids(course_map)),
    ) if found]
    if places:
        raise ScaffoldError(f"{exercise_id} already exists (in {', '.join(places)}): ids are public once shipped, "
                            "so pick a new one")


def _refuse_taken_names(name: str, nb, module_text: str | None, notebook_name: str) -> None:
    """The example's function is named after the id: it must not shadow a name in use."""
    code = "\n".join(source_of(cell) for cell in nb.cells if cell.cell_type == "code")
    if keyword.iskeyword(name) or hasattr(builtins, name):
        taken = "Python"
    elif re.search(rf"\b{name}\b", code):
        taken = f"solutions/{notebook_name}"
    elif module_text is not None and re.search(rf"\b(check_{name}|{name.upper()}_TEXTS)\b", module_text):
        taken = "the lesson's checks"
    else:
        return
    raise ScaffoldError(f"{name!r} is already a name in {taken}, and the example's function is named after the "
                        "id: pick another id")


def course_map_ids(course_map: str) -> list[str]:
    return [e["id"] for lesson in json.loads(course_map)["lessons"] for e in lesson["exercises"]]


def lesson_title(course_map: str, stem: str) -> str:
    for lesson in json.loads(course_map)["lessons"]:
        if lesson["stem"] == stem:
            return lesson["title"]
    raise ScaffoldError(f"docs/course_map.json has no lesson {stem!r}: add it (stem, title, teaches, exercises) first")


def checks_module(module_text: str | None, exercise_id: str, points: int, solution_name: str, title: str) -> str:
    """The lesson's checks module with the example check at its end (a new module if it has none)."""
    text = module_text if module_text is not None else example.module_head(exercise_id[:2], title)
    text = with_imports(text.rstrip("\n") + "\n", example.EXAMPLE_IMPORTS)
    return text + example.check_code(exercise_id, points, solution_name)


def with_imports(module_text: str, wanted: dict[str, tuple[str, ...]]) -> str:
    """`module_text` importing each wanted name from its relative module: added to the module's
    own ``from .x import ...`` statement when it has one, else a new statement in module order."""
    lines = module_text.split("\n")
    body = ast.parse(module_text).body
    relative = {n.module: n for n in body if isinstance(n, ast.ImportFrom) and n.level == 1 and n.module}
    edits = []  # (first line index, end line index, the lines in their place)
    for module, names in wanted.items():
        node = relative.get(module.lstrip("."))
        if node is not None and (missing := [n for n in names if n not in {a.name for a in node.names}]):
            present = [a.name if a.asname is None else f"{a.name} as {a.asname}" for a in node.names]
            edits.append((node.lineno - 1, node.end_lineno, _import_lines(module, present + missing)))
    added: dict[int, list[str]] = {}  # where new statements go -> those statements
    for module in sorted(m for m in wanted if m.lstrip(".") not in relative):
        before = [n.end_lineno for n in relative.values() if n.module < module.lstrip(".")]
        at = max(before) if before else min((n.lineno - 1 for n in relative.values()), default=-1)
        added.setdefault(at, []).extend(_import_lines(module, wanted[module]))
    if -1 in added:  # no relative import yet: a group of its own after the other imports
        added[_end_of_imports(body)] = [""] + added.pop(-1)
    edits += [(at, at, new) for at, new in added.items()]
    for start, end, new in sorted(edits, reverse=True):
        lines[start:end] = new
    return "\n".join(lines)


def _end_of_imports(body: list[ast.stmt]) -> int:
    """The line index after the module's last top-level import (or its docstring)."""
    ends = [n.end_lineno for n in body if isinstance(n, (ast.Import, ast.ImportFrom))]
    has_docstring = body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    return max(ends) if ends else body[0].end_lineno if has_docstring else 0


def _import_lines(module: str, names) -> list[str]:
    # isort's order: CONSTANTS, then Classes, then functions.
    names = sorted(names, key=lambda n: (0 if n.isupper() else 1 if n[:1].isupper() else 2, n))
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= IMPORT_WIDTH:
        return [line]
    return [f"from {module} import ("] + [f"    {n}," for n in names] + [")"]


def notebook_with_exercise(nb, exercise_id: str, points: int):
    """A copy of the solutions notebook with the example's task, answer and check cells, placed
    after the last exercise and the cells that follow it up to the next heading (its "Try it"
    cells), so that a closing section ("## What you practised") stays last."""
    nb = copy.deepcopy(nb)
    new = example.cells(exercise_id, points, TIERS[points])
    taken = {cell.get("id") for cell in nb.cells}
    for cell, suffix in zip(new, ("md", "answer", "check")):
        cell.id = _fresh_id(f"{exercise_id.partition('.')[2]}-{suffix}", taken)
    nb.cells[insertion_index(nb):0] = new
    return nb


def insertion_index(nb) -> int:
    checks = [i for i, cell in enumerate(nb.cells) if role_of(cell)[0] == CHECK]
    index = checks[-1] + 1 if checks else len(nb.cells)
    while index < len(nb.cells) and not (nb.cells[index].cell_type == "markdown"
                                         and source_of(nb.cells[index]).lstrip().startswith("#")):
        index += 1
    return index


def _fresh_id(wanted: str, taken: set) -> str:
    cell_id, n = wanted, 1
    while cell_id in taken:
        n += 1
        cell_id = f"{wanted}-{n}"
    taken.add(cell_id)
    return cell_id


def course_map_with_exercise(text: str, stem: str, exercise_id: str, points: int) -> str:
    data = json.loads(text)
    lesson = next(lesson for lesson in data["lessons"] if lesson["stem"] == stem)
    lesson["exercises"].append({"id": exercise_id, "tier": TIERS[points]})
    return dump_course_map(data)


def dump_course_map(data: dict) -> str:
    """docs/course_map.json's layout: two-space indents, one line per exercise."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return re.sub(r'\{\n\s*("id": [^\n]*,)\n\s*("tier": [^\n]*)\n\s*\}', r"{\1 \2}", text) + "\n"


# --- writing and regenerating ----------------------------------------------------------------

def write(scaffold: Scaffold) -> None:
    for path, text in scaffold.files.items():
        path.write_text(text, encoding="utf-8")


def regenerate(scaffold: Scaffold) -> None:
    """Run, in the course folder, the scripts that make exercises/, the manifest, the README's
    course map and the solutions notebook's stored outputs from what `write` wrote.

    Each runs in a subprocess whose PYTHONPATH starts with the course folder, so that it, and the
    kernels it starts, import that folder's course_utils (the new check) whatever is installed.

    Raises:
        RuntimeError: a script failed (its own output says why).
    """
    root = scaffold.root
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    for command in (["scripts.make_exercises"], ["scripts.lesson_times", "--readme-only"],
                    ["scripts.store_outputs", str(scaffold.solution.relative_to(root))]):
        print(f"$ python -m {' '.join(command)}", flush=True)
        if subprocess.run([sys.executable, "-m", *command], cwd=root, env=env).returncode != 0:
            raise RuntimeError(f"python -m {' '.join(command)} failed (above); fix what it says, then run it again")


def add_exercise(root: Path, exercise_id: str, points: int) -> Scaffold:
    """Add the example exercise `exercise_id` to the course at `root` and regenerate what
    depends on it; `ScaffoldError` (nothing written) or `RuntimeError` (a regeneration failed)."""
    scaffold = plan(Path(root).resolve(), exercise_id, points)
    write(scaffold)
    regenerate(scaffold)
    return scaffold


def next_steps(scaffold: Scaffold) -> str:
    exercise_id, root = scaffold.exercise_id, scaffold.root
    solution = scaffold.solution.relative_to(root)
    return "\n".join([
        f"Added {exercise_id}, a working example (a token count) to make your own. Edit, in this order:",
        f"  1. {scaffold.module.relative_to(root)}: check_{scaffold.name}, where it says TODO({exercise_id})",
        f"  2. {solution}: the task cell (title and text) and its TODO comment",
        f"  3. {solution}: the answer cell's solution, between ### BEGIN SOLUTION and ### END SOLUTION",
        f"  4. {solution}: the answer cell's metadata course.known_wrong and course.known_right (two of each at least)",
        "then:",
        "  make exercises",
        f"  .venv/bin/python -m scripts.store_outputs {solution}",
        f'  make mutants MUTANTS_ARGS="--exercise {exercise_id}"',
        f"and add a row for {exercise_id} to the Practise table of notebooks/{scaffold.solution.name}, if it has one.",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exercise_id", help="NN.name, e.g. 01.count_special")
    parser.add_argument("--points", type=int, required=True, help="1 🐢 warm-up, 2 🐕 core, 3 🦁 stretch")
    parser.add_argument("--root", type=Path, default=ROOT, help="the course folder (default: this repository)")
    args = parser.parse_args(argv)
    try:
        scaffold = plan(args.root.resolve(), args.exercise_id, args.points)
    except ScaffoldError as error:
        print(f"new_exercise: {error}", file=sys.stderr)
        return 2
    write(scaffold)
    for path in scaffold.files:
        print(f"wrote: {path.relative_to(scaffold.root)}")
    try:
        regenerate(scaffold)
    except RuntimeError as error:
        print(f"new_exercise: {error}", file=sys.stderr)
        return 1
    print(next_steps(scaffold))
    return 0


if __name__ == "__main__":
    sys.exit(main())

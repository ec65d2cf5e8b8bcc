"""From `solutions/` (the single source of truth) to `exercises/` and the grading manifest.

`scripts/make_exercises.py` writes what `build` returns; tests/test_grading_build.py fails when
the files on disk differ from it, so neither can go stale.
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..status import PASSED_LINE
from .cells import (
    ANSWER,
    CHECK,
    CHECK_LINE_RE,
    META_KEY,
    STUB,
    AuthoringError,
    stub_for,
    lesson_of,
    replace_solution,
    role_of,
    source_of,
)

MANIFEST_FORMAT = 1
MIN_KNOWN_WRONG = 2
MIN_KNOWN_RIGHT = 2
# Instructor-only answer-cell metadata; everything else in `course` is kept in exercises/.
INSTRUCTOR_KEYS = ("known_wrong", "known_right")
_BADGE_FOLDER_RE = re.compile(r"(colab\.research\.google\.com/github/[^)\s]*/blob/[^/)\s]+/)solutions/")


@dataclass(frozen=True)
class KnownWrong:
    exercise_id: str
    why: str     # the mistake it stands for
    expect: str  # a piece of the feedback it must get, so the proof shows the message is specific
    source: str  # the whole answer cell with the solution block replaced


@dataclass(frozen=True)
class KnownRight:
    """A right answer written unlike the solution: a grader that rejects it is too strict."""

    exercise_id: str
    why: str     # how it differs from the solution (another idiom, another API)
    source: str  # the whole answer cell with the solution block replaced


@dataclass(frozen=True)
class ExerciseSpec:
    """One exercise as a solutions notebook defines it."""

    id: str
    points: int
    answer_source: str
    check_source: str
    known_wrong: tuple[KnownWrong, ...]
    known_right: tuple[KnownRight, ...] = ()

    @property
    def stub_source(self) -> str:
        return stub_for(self.answer_source, self.check_source)

    @property
    def expected_output(self) -> str:
        return PASSED_LINE.format(self.id) + "\n"


def _answer_spec(cell, index: int, lesson_number: str):
    """(id, points, known-wrong answers, known-right answers) of an answer cell, validated."""
    meta = cell.metadata[META_KEY]
    exercise_id, points = meta["id"], meta.get("points")
    where = f"cell {index} ({exercise_id})"
    if not exercise_id.startswith(lesson_number + "."):
        raise AuthoringError(f"{where}: an exercise of this lesson must be named '{lesson_number}.<name>'")
    if not isinstance(points, int) or isinstance(points, bool) or points < 1:
        raise AuthoringError(f"{where}: metadata course.points must be a positive int")
    source = source_of(cell)
    replace_solution(source, STUB, where)  # fails early on broken markers
    items = meta.get("known_wrong", [])
    if not all(isinstance(i, dict) and all(isinstance(i.get(k), str) for k in ("why", "expect", "source"))
               for i in items):
        raise AuthoringError(f"{where}: each course.known_wrong item needs strings 'why', 'expect', 'source'")
    wrong = tuple(
        KnownWrong(exercise_id, i["why"], i["expect"], replace_solution(source, i["source"], where))
        for i in items
    )
    rights = meta.get("known_right", [])
    if not all(isinstance(i, dict) and all(isinstance(i.get(k), str) for k in ("why", "source")) for i in rights):
        raise AuthoringError(f"{where}: each course.known_right item needs strings 'why' and 'source'")
    right = tuple(KnownRight(exercise_id, i["why"], replace_solution(source, i["source"], where)) for i in rights)
    return exercise_id, points, wrong, right


def exercises_of(nb, lesson: str) -> list[ExerciseSpec]:
    """The exercises of a solutions notebook, in order, validated.

    Raises:
        AuthoringError: markers, ids, points or the answer/check pairing are wrong.
    """
    lesson_number = lesson[:2]
    specs: list[ExerciseSpec] = []
    pending = None  # the answer cell waiting for its check cell
    for index, cell in enumerate(nb.cells):
        role, exercise_id = role_of(cell)
        if role == ANSWER:
            if pending:
                raise AuthoringError(f"cell {index}: answer cell of {exercise_id} before the check of {pending[0]}")
            pending = (*_answer_spec(cell, index, lesson_number), source_of(cell))
        elif role == CHECK:
            source = source_of(cell).strip()
            match = CHECK_LINE_RE.fullmatch(source)
            if not pending or pending[0] != exercise_id or not match or match["id"] != exercise_id:
                raise AuthoringError(f"cell {index}: a check cell is one line check(\"{exercise_id}\", ...) "
                                     "right after the answer cell of the same id")
            exercise_id, points, wrong, right, answer = pending
            specs.append(ExerciseSpec(exercise_id, points, answer, source, wrong, right))
            pending = None
    if pending:
        raise AuthoringError(f"{pending[0]}: answer cell without a check cell")
    ids = [spec.id for spec in specs]
    if len(set(ids)) != len(ids):
        raise AuthoringError(f"{lesson}: duplicate exercise ids {ids}")
    return specs


def read_solution(path: Path) -> tuple[str, object, list[ExerciseSpec]]:
    """(lesson name, notebook, exercises) of one solutions notebook."""
    nb = nbformat.read(path, as_version=4)
    lesson = lesson_of(nb)
    if lesson != path.stem:
        raise AuthoringError(f"{path.name}: notebook metadata course.lesson must be {path.stem!r}, is {lesson!r}")
    return lesson, nb, exercises_of(nb, lesson)


def without_outputs(nb):
    """`nb` (changed in place) with no outputs, execution counts, run timings or widget state."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)  # run timings, if nbclient recorded them
    nb.metadata.pop("widgets", None)
    return nb


def exercise_notebook(solution_nb, specs: list[ExerciseSpec]):
    """The learner's copy: stubs for solutions, no outputs, no instructor metadata.

    `make exercises` then runs it top to bottom and stores the outputs of that run (what a
    learner sees on opening it); `build` and `stale_files` compare notebooks without them.
    """
    nb = without_outputs(copy.deepcopy(solution_nb))
    stubs = {spec.id: spec.stub_source for spec in specs}
    for cell in nb.cells:
        role, exercise_id = role_of(cell)
        if role == ANSWER:
            cell.source = stubs[exercise_id]
            for key in INSTRUCTOR_KEYS:
                cell.metadata[META_KEY].pop(key, None)
        if cell.cell_type == "markdown" and _BADGE_FOLDER_RE.search(source_of(cell)):
            cell.source = _BADGE_FOLDER_RE.sub(r"\1exercises/", source_of(cell))
    return nb


def manifest_entry(specs: list[ExerciseSpec]) -> dict:
    return {"exercises": [
        {"id": s.id, "points": s.points, "check_source": s.check_source, "expected_output": s.expected_output}
        for s in specs
    ]}


def build(root: Path) -> dict[Path, str]:
    """Every generated file under `root` and its exact content, from ``root/solutions/*.ipynb``."""
    files: dict[Path, str] = {}
    lessons: dict[str, dict] = {}
    for path in sorted((root / "solutions").glob("*.ipynb")):
        lesson, nb, specs = read_solution(path)
        files[root / "exercises" / path.name] = nbformat.writes(exercise_notebook(nb, specs)) + "\n"
        lessons[lesson] = manifest_entry(specs)
    manifest = {
        "format": MANIFEST_FORMAT,
        "generated_by": "scripts/make_exercises.py from solutions/; do not edit",
        "lessons": lessons,
    }
    files[root / "course_utils" / "grading" / "manifest.json"] = (
        json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return files


def orphans(root: Path, files: dict[Path, str]) -> list[Path]:
    """Exercise notebooks whose solutions notebook is gone (renamed or removed)."""
    return sorted(p for p in (root / "exercises").glob("*.ipynb") if p not in files)


def differs(path: Path, text: str) -> bool:
    """Whether the file at `path` is not what `build` made (`text`), outputs aside."""
    if not path.exists():
        return True
    on_disk = path.read_text(encoding="utf-8")
    if path.suffix != ".ipynb":
        return on_disk != text
    return nbformat.writes(without_outputs(nbformat.reads(on_disk, as_version=4))) + "\n" != text


def stale_files(root: Path) -> list[Path]:
    """Generated files that differ from what `build` makes now, or should not exist."""
    files = build(root)
    return [path for path, text in files.items() if differs(path, text)] + orphans(root, files)

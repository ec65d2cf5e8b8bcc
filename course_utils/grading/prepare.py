"""Make a submitted notebook gradable: every check cell comes from the manifest, not the student.

Bare nbval trusts the notebook: a check cell tagged ``nbval-skip``, a ``check`` rebound to a
lambda, a stored ✅ on a wrong answer or a stale ❌ on a right one all fool it (docs/INSTRUCTORS.md,
"What grading resists"). So, before nbval runs anything, the learner's check cells are dropped and a
canonical one per exercise is put right after the last answer cell of that exercise (or at
the end when the answer cell is gone), with the manifest's expected output.
"""
from __future__ import annotations

import copy

import nbformat

from .cells import ANSWER, CHECK, META_KEY, role_of
from .manifest import ManifestExercise

# Imported again in every check cell, so a learner's `check = lambda *a: print("✅ ...")` in an
# earlier cell has no effect on grading.
GRADING_PRELUDE = "from course_utils.checks import check\n"


def canonical_check_cell(exercise: ManifestExercise):
    output = nbformat.v4.new_output("stream", name="stdout", text=exercise.expected_output)
    cell = nbformat.v4.new_code_cell(
        GRADING_PRELUDE + exercise.check_source,
        metadata={META_KEY: {"role": CHECK, "id": exercise.id}},
        outputs=[output],
        execution_count=1,  # nbval compares outputs only of cells that were "run"
    )
    cell.id = f"check-{exercise.id.replace('.', '-')}"
    return cell


def _clean(cell):
    """A learner cell as nbval should run it: no stored outputs, no markers in the metadata."""
    cell = copy.deepcopy(cell)
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    cell.metadata.pop("tags", None)
    return cell


def prepare_for_grading(nb, exercises: tuple[ManifestExercise, ...]):
    """A copy of `nb` with exactly one canonical check cell per exercise of its lesson."""
    cells = [_clean(c) for c in nb.cells if role_of(c)[0] != CHECK]
    last_answer = {}
    for index, cell in enumerate(cells):
        role, exercise_id = role_of(cell)
        if role == ANSWER:
            last_answer[exercise_id] = index
    checks_after: dict[int, list] = {}
    for exercise in exercises:
        position = last_answer.get(exercise.id, len(cells) - 1)
        checks_after.setdefault(position, []).append(canonical_check_cell(exercise))
    prepared = copy.copy(nb)
    prepared.cells = [c for i, cell in enumerate(cells) for c in [cell, *checks_after.get(i, [])]]
    if not cells:  # an empty notebook still gets its checks, which then fail by name
        prepared.cells = [canonical_check_cell(e) for e in exercises]
    return prepared

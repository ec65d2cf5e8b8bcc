"""Run a solutions notebook's exercises in this process, to prove them fast: the proofs
(tests/test_exercise_proofs.py) and the mutation testing of the graders (`mutation`, `make
mutants`). Never for grading learners: a submission is a stranger's code, and runs in a sandbox.

Starting a kernel per answer would make proving every solution, stub, known-wrong answer and
mutant of the course take minutes to hours; executing the cells here takes seconds. The verdicts come from the
same rules as real grading (`course_utils.grading.outcome.exercise_result`), and
tests/test_grading_plugin.py grades a notebook through nbval and a real kernel to show the two
agree.
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from IPython.core.inputtransformer2 import TransformerManager

from .authoring import ExerciseSpec, read_solution
from .cells import ANSWER, CHECK, role_of, source_of
from .outcome import CellResult, ExerciseResult, exercise_result
from .prepare import GRADING_PRELUDE
from ..status import CellStatus

_TRANSFORM = TransformerManager()  # turns %magics into Python, as the kernel would


@dataclass
class ExerciseContext:
    """One exercise and the notebook's namespace just before its answer cell."""

    spec: ExerciseSpec
    namespace: dict

    def grade(self, answer_source: str, cell_timeout: float = 60.0) -> ExerciseResult:
        """Run `answer_source` then the canonical check, in a copy of the namespace."""
        namespace = dict(self.namespace)
        answer, _ = run_cell(answer_source, namespace, 0)
        check, printed = run_cell(GRADING_PRELUDE + self.spec.check_source, namespace, 1)
        if check.status == CellStatus.OK and printed != self.spec.expected_output:
            check = CellResult(1, CellStatus.OUTPUT_DIFFERS, printed=printed)
        return exercise_result(self.spec.id, self.spec.points, [answer], check, cell_timeout)


def run_cell(source: str, namespace: dict, index: int) -> tuple[CellResult, str]:
    """Execute one cell's source in `namespace`; (how it ended, what it printed)."""
    printed = io.StringIO()
    try:
        code = compile(_TRANSFORM.transform_cell(source), f"<cell {index}>", "exec")
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
            exec(code, namespace)
    except Exception as exc:
        return CellResult(index, CellStatus.ERROR, type(exc).__name__, str(exc)), printed.getvalue()
    return CellResult(index, CellStatus.OK), printed.getvalue()


def exercise_contexts(path: Path) -> Iterator[ExerciseContext]:
    """Execute a solutions notebook cell by cell, yielding each exercise before its answer.

    Other cells run as they are; answer cells run their solution (so later exercises see the
    state a learner who solved everything would have); check cells are left to the caller.
    """
    _, nb, specs = read_solution(path)
    by_id = {spec.id: spec for spec in specs}
    namespace: dict = {"__name__": "__main__"}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        role, exercise_id = role_of(cell)
        if role == CHECK:
            continue
        if role == ANSWER:
            yield ExerciseContext(by_id[exercise_id], dict(namespace))
        result, _ = run_cell(source_of(cell), namespace, index)
        if result.status != CellStatus.OK:
            raise RuntimeError(f"{path.name} cell {index} raised {result.ename}: {result.evalue}")

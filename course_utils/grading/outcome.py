"""From what each cell did to one result per exercise: points, status and a line of feedback.

The rules live here, apart from nbval and pytest, so the grading plugin and the in-process
proofs (tests/test_exercise_proofs.py) give the same verdict for the same cells.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

# How a cell ended.
OK, ERROR, TIMEOUT, KERNEL_DIED, OUTPUT_DIFFERS = "ok", "error", "timeout", "kernel_died", "output_differs"
# How an exercise ended (the gradebook's vocabulary).
PASSED, FAILED, NOT_ATTEMPTED, NOT_GRADED = "passed", "failed", "not attempted", "not graded"
_FEEDBACK_CHARS = 400


@dataclass(frozen=True)
class CellResult:
    index: int            # position among the code cells nbval ran
    status: str           # OK, ERROR, TIMEOUT, KERNEL_DIED or OUTPUT_DIFFERS
    ename: str = ""       # exception class name, for ERROR
    evalue: str = ""      # exception message, for ERROR


@dataclass(frozen=True)
class ExerciseResult:
    id: str
    points: int
    max_points: int
    status: str
    feedback: str

    def as_dict(self) -> dict:
        return asdict(self)


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _FEEDBACK_CHARS else text[: _FEEDBACK_CHARS - 1] + "…"


def _error_text(cell: CellResult) -> str:
    return f"{cell.ename}: {cell.evalue}" if cell.evalue else cell.ename


def _check_failed_detail(exercise_id: str, cell: CellResult) -> str:
    """The CheckFailed line without the ``<id>: `` prefix (the gradebook column names it)."""
    return cell.evalue.removeprefix(f"{exercise_id}: ")


def exercise_result(
    exercise_id: str,
    max_points: int,
    answers: list[CellResult],
    check: CellResult | None,
    cell_timeout: float,
) -> ExerciseResult:
    """The result of one exercise from its answer cells' and its check cell's results."""

    def result(status: str, feedback: str, points: int = 0) -> ExerciseResult:
        return ExerciseResult(exercise_id, points, max_points, status, _one_line(feedback))

    if check is None:
        return result(NOT_GRADED, "not graded: the run stopped before this check")
    if check.status == OK:
        return result(PASSED, "passed", max_points)
    if check.status == KERNEL_DIED:
        why = check.evalue or "the Python kernel died (a crash, os._exit or running out of memory)"
        return result(NOT_GRADED, f"not graded: {why}")
    if check.status == ERROR and check.ename == "CheckFailed":
        detail = _check_failed_detail(exercise_id, check)
        return result(NOT_ATTEMPTED if detail.startswith("not attempted") else FAILED, detail)
    answer_errors = [a for a in answers if a.status == ERROR]
    if any(a.ename == "NotImplementedError" for a in answer_errors):
        # A value exercise's stub raises at top level, so its check only sees a NameError.
        return result(NOT_ATTEMPTED, "not attempted yet")
    if any(a.status == TIMEOUT for a in answers):
        return result(FAILED, f"the answer cell did not finish within {cell_timeout:g} s")
    if check.status == TIMEOUT:
        return result(FAILED, f"the check did not finish within {cell_timeout:g} s")
    if check.status == OUTPUT_DIFFERS:
        return result(FAILED, "the check printed something besides its verdict (output written "
                              "outside Python's sys.stdout, such as os.write or C code)")
    if answer_errors:
        return result(FAILED, f"the answer cell raised {_error_text(answer_errors[-1])}")
    return result(FAILED, f"the check cell raised {_error_text(check)}")

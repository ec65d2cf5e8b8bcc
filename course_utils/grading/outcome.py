"""From what each cell did to one result per exercise: points, status and a line of feedback.

The rules live here, apart from nbval and pytest, so the grading plugin and the in-process
proofs (tests/test_exercise_proofs.py) give the same verdict for the same cells.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..status import NOT_ATTEMPTED_LINE, NOT_ATTEMPTED_YET, CellStatus, ExerciseStatus

_FEEDBACK_CHARS = 400


@dataclass(frozen=True)
class CellResult:
    index: int            # position among the code cells nbval ran
    status: CellStatus
    ename: str = ""       # exception class name, for ERROR
    evalue: str = ""      # exception message, for ERROR
    printed: str = ""     # what the cell printed, for OUTPUT_DIFFERS


@dataclass(frozen=True)
class ExerciseResult:
    id: str
    points: int
    max_points: int
    status: ExerciseStatus
    feedback: str

    def as_dict(self) -> dict:
        return asdict(self)


def not_graded(why: str) -> str:
    """The feedback of an exercise the run never judged: ``not graded: <why>``."""
    return f"{ExerciseStatus.NOT_GRADED}: {why}"


def with_note(result: ExerciseResult, note: str) -> ExerciseResult:
    """`result` with ``(note)`` after its feedback: what else happened that may explain it."""
    return ExerciseResult(result.id, result.points, result.max_points, result.status,
                          _one_line(f"{result.feedback} ({note})"))


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _FEEDBACK_CHARS else text[: _FEEDBACK_CHARS - 1] + "…"


def _error_text(cell: CellResult) -> str:
    return f"{cell.ename}: {cell.evalue}" if cell.evalue else cell.ename


def _check_failed_detail(exercise_id: str, cell: CellResult) -> str:
    """The CheckFailed line without the ``<id>: `` prefix (the gradebook column names it)."""
    return cell.evalue.removeprefix(f"{exercise_id}: ")


def _not_attempted_detail(exercise_id: str, cell: CellResult) -> str | None:
    """``not attempted yet: ...`` when the check printed its not-attempted line, else None.

    `check` prints that line instead of raising (so Run All goes on); for grading it is as
    much a verdict as a raised CheckFailed.
    """
    line = NOT_ATTEMPTED_LINE.format(exercise_id)
    first = cell.printed.lstrip().partition("\n")[0]
    return first.removeprefix(line[: -len(NOT_ATTEMPTED_YET)]) if first.startswith(line) else None


def exercise_result(
    exercise_id: str,
    max_points: int,
    answers: list[CellResult],
    check: CellResult | None,
    cell_timeout: float,
) -> ExerciseResult:
    """The result of one exercise from its answer cells' and its check cell's results."""

    def result(status: ExerciseStatus, feedback: str, points: int = 0) -> ExerciseResult:
        return ExerciseResult(exercise_id, points, max_points, status, _one_line(feedback))

    if check is None:
        return result(ExerciseStatus.NOT_GRADED, not_graded("the run stopped before this check"))
    # Whether a flood of output stopped the answer cell before it finished depends on timing
    # (the grader reads the output after the kernel wrote it), so the verdict must not: it fails.
    flooded = [a for a in answers if a.status == CellStatus.TOO_MUCH_OUTPUT]
    if flooded:  # evalue says how much: "printed more than 64 MB, the grader's limit"
        return result(ExerciseStatus.FAILED, f"the answer cell {flooded[-1].evalue}")
    if check.status == CellStatus.OK:
        # The feedback of a pass is the status word itself; the report counts passes by it.
        return result(ExerciseStatus.PASSED, ExerciseStatus.PASSED, max_points)
    if check.status == CellStatus.KERNEL_DIED:
        why = check.evalue or "the Python kernel died (a crash, os._exit or running out of memory)"
        return result(ExerciseStatus.NOT_GRADED, not_graded(why))
    if check.status == CellStatus.ERROR and check.ename == "CheckFailed":
        detail = _check_failed_detail(exercise_id, check)
        attempted = not detail.startswith(NOT_ATTEMPTED_YET)
        return result(ExerciseStatus.FAILED if attempted else ExerciseStatus.NOT_ATTEMPTED, detail)
    not_attempted = _not_attempted_detail(exercise_id, check) if check.status == CellStatus.OUTPUT_DIFFERS else None
    if not_attempted is not None:
        return result(ExerciseStatus.NOT_ATTEMPTED, not_attempted)
    answer_errors = [a for a in answers if a.status == CellStatus.ERROR]
    if any(a.ename == "NotImplementedError" for a in answer_errors):
        # Exercise notebooks made before the `...` placeholder had value stubs that raised at
        # top level, so their check only sees a NameError.
        return result(ExerciseStatus.NOT_ATTEMPTED, NOT_ATTEMPTED_YET)
    if any(a.status == CellStatus.TIMEOUT for a in answers):
        return result(ExerciseStatus.FAILED, f"the answer cell did not finish within {cell_timeout:g} s")
    if check.status == CellStatus.TIMEOUT:
        return result(ExerciseStatus.FAILED, f"the check did not finish within {cell_timeout:g} s")
    if check.status == CellStatus.TOO_MUCH_OUTPUT:
        return result(ExerciseStatus.FAILED, f"the check cell {check.evalue}")
    if check.status == CellStatus.OUTPUT_DIFFERS:
        return result(ExerciseStatus.FAILED, "the check printed something besides its verdict (output "
                                             "written outside Python's sys.stdout, such as os.write or C code)")
    if answer_errors:
        return result(ExerciseStatus.FAILED, f"the answer cell raised {_error_text(answer_errors[-1])}")
    return result(ExerciseStatus.FAILED, f"the check cell raised {_error_text(check)}")

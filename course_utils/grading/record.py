"""What grading one notebook found so far, and the JSON results file it is written to.

The record is rewritten after every cell (`files.write_json_atomically`), so a run killed
half-way still leaves the results of the exercises it finished; `complete` says whether the run
got to the end.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..status import CellStatus, ExerciseStatus, KernelFate
from .cells import ANSWER, CHECK
from .files import write_json_atomically
from .outcome import CellResult, ExerciseResult, exercise_result, not_graded, with_note

RESULTS_FORMAT = 1


@dataclass
class NotebookRecord:
    notebook: str
    lesson: str
    exercises: tuple            # the lesson's ManifestExercise entries
    roles: list                 # (role, exercise id) of each code cell, in run order
    cell_timeout: float
    kernel_pid: int | None = None
    kernel_lost: str = ""       # why the kernel is gone, once it is
    kernel_fate: KernelFate = KernelFate.ALIVE
    complete: bool = False
    running: str = ""           # the cell being run now, as a learner finds it
    # Cells outside any exercise that were stopped (timeout, too much output), by index: a note
    # each, added to the feedback of the exercises checked after them that did not pass.
    interrupted: dict[int, str] = field(default_factory=dict)
    cells: dict[int, CellResult] = field(default_factory=dict)
    results: dict[str, ExerciseResult] = field(default_factory=dict)

    def add_cell(self, result: CellResult) -> None:
        self.cells[result.index] = result

    def finish_exercise_at(self, index: int) -> ExerciseResult | None:
        """If cell `index` is a check cell, decide its exercise now and return the result."""
        role, exercise_id = self.roles[index]
        if role != CHECK:
            return None
        answers = [self.cells[i] for i, (r, e) in enumerate(self.roles[:index])
                   if r == ANSWER and e == exercise_id and i in self.cells]
        check = self.cells.get(index)
        if check is not None and check.status == CellStatus.KERNEL_DIED and self.kernel_lost:
            check = CellResult(index, CellStatus.KERNEL_DIED, "KernelDied", self.kernel_lost)
        max_points = next(e.points for e in self.exercises if e.id == exercise_id)
        result = exercise_result(exercise_id, max_points, answers, check, self.cell_timeout)
        notes = [note for i, note in sorted(self.interrupted.items()) if i < index]
        if notes and result.status != ExerciseStatus.PASSED:
            result = with_note(result, "; ".join(notes))
        self.results[exercise_id] = result
        return result

    def exercise_results(self) -> list[ExerciseResult]:
        """One result per exercise of the lesson, in its order; unfinished ones "not graded"."""
        why = self.kernel_lost or "the run stopped before this check"
        unfinished = ExerciseStatus.NOT_GRADED
        return [self.results.get(e.id) or ExerciseResult(e.id, 0, e.points, unfinished, not_graded(why))
                for e in self.exercises]

    def cell_errors(self) -> list[dict]:
        """Cells other than checks that did not end well (for the instructor, not for points)."""
        return [{"cell": c.index, "status": c.status, "error": f"{c.ename}: {c.evalue}"[:300]}
                for c in sorted(self.cells.values(), key=lambda c: c.index)
                if c.status != CellStatus.OK and self.roles[c.index][0] != CHECK]

    def stopped_cells(self) -> list[int]:
        """The cells the grader stopped (time limit, too much output), any role: the run went on."""
        stopped = (CellStatus.TIMEOUT, CellStatus.TOO_MUCH_OUTPUT)
        return sorted(c.index for c in self.cells.values() if c.status in stopped)

    def as_dict(self) -> dict:
        results = self.exercise_results()
        return {
            "notebook": self.notebook,
            "lesson": self.lesson,
            "complete": self.complete,
            "points": sum(r.points for r in results),
            "max_points": sum(r.max_points for r in results),
            "kernel_pid": self.kernel_pid,
            "kernel_fate": self.kernel_fate,
            "running": self.running,
            "exercises": [r.as_dict() for r in results],
            "cell_errors": self.cell_errors(),
            "stopped_cells": self.stopped_cells(),
        }


def write_results(path: Path, records: list[NotebookRecord]) -> None:
    write_json_atomically(path, {"format": RESULTS_FORMAT, "notebooks": [r.as_dict() for r in records]})

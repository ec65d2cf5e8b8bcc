"""nbval's notebook and cell items, adapted for grading a course notebook.

What changes from bare nbval, and why:
- the notebook is first passed through `prepare_for_grading` (check cells from the manifest);
- outputs are compared on check cells only, and every nbval marker or tag a learner added is
  ignored: other cells fail only by raising;
- the kernel is always the one of pytest's own environment (a student's kernelspec name is
  otherwise fatal), unless --nbval-kernel-name names one;
- a kernel that dies (``os._exit``, a crash) is noticed within a second, instead of after the
  whole cell timeout, and a cell that timed out does not turn the later cells into xfails:
  nbval interrupted it, so the kernel can still grade the rest;
- a cell that prints more than --course-max-output-mb is interrupted, and what it prints past
  that is dropped, so gigabytes of output cost neither pytest's memory nor the gradebook;
- each cell's ending is recorded as a `CellResult` for the per-exercise results, and a kernel
  that dies says how (its exit status or signal).
"""
from __future__ import annotations

import signal
import time
from collections import defaultdict
from queue import Empty

import nbformat
from nbval.kernel import CURRENT_ENV_KERNEL_NAME, RunningKernel
from nbval.plugin import IPyNbCell, IPyNbFile, NbCellError

from ..status import CellStatus, KernelFate
from .cells import ANSWER, CHECK, role_of
from .outcome import CellResult
from .prepare import prepare_for_grading
from .record import NotebookRecord

_POLL_S = 0.5
_MB = 1024 * 1024
# What a kernel's end says about why it died, by the signal that ended it.
_DEATHS = {
    signal.SIGKILL: "killed: out of memory, or past a resource limit",
    signal.SIGXCPU: "it used up its CPU-time limit",
    signal.SIGSEGV: "a crash: segmentation fault",
    signal.SIGABRT: "a crash: aborted",
}


class KernelDied(RuntimeError):
    """The kernel process exited while a cell was running."""


class WatchedKernel(RunningKernel):
    def await_reply(self, msg_id, timeout=None):
        """As nbval's, but polls in short waits so that a dead kernel is noticed at once."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = _POLL_S if deadline is None else min(_POLL_S, deadline - time.monotonic())
            if wait <= 0:
                raise Empty()
            try:
                msg = self.get_message(stream="shell", timeout=wait)
            except Empty:
                if not self.is_alive():
                    raise KernelDied("the kernel died while running this cell") from None
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                if msg["content"]["status"] == "aborted":
                    raise RuntimeError("Kernel aborted execution request")
                return

    @property
    def pid(self) -> int | None:
        return getattr(self._provisioner, "pid", None)

    @property
    def _provisioner(self):
        return getattr(getattr(self, "km", None), "provisioner", None)

    def how_it_died(self) -> str:
        """' (exit status 1)', ' (it used up its CPU-time limit)'...; '' if unknown."""
        process = getattr(self._provisioner, "process", None)
        code = process.poll() if process is not None else None
        if code is None:
            return ""
        if code >= 0:
            return f" (exit status {code})"
        if -code in _DEATHS:
            return f" ({_DEATHS[-code]})"
        try:
            return f" (signal {signal.Signals(-code).name})"
        except ValueError:  # a number Python has no name for
            return f" (signal {-code})"


class OutputBudget:
    """How much one cell may print; past it, the cell is interrupted and its output dropped."""

    def __init__(self, limit_mb: float):
        self.limit = limit_mb * _MB
        self.used = 0
        self.exceeded = False

    def admit(self, msg: dict, kernel: RunningKernel) -> dict:
        content = msg.get("content", {})
        if msg.get("msg_type") == "stream":
            self.used += len(content.get("text", ""))
        elif msg.get("msg_type") in ("display_data", "execute_result", "update_display_data"):
            self.used += sum(len(str(v)) for v in content.get("data", {}).values())
        else:
            return msg
        if self.used > self.limit:
            if not self.exceeded:
                self.exceeded = True
                kernel.interrupt()
            # Kept as an empty output: nbval still sees the message, and nothing is stored.
            msg = {**msg, "content": {**content, "text": "", "data": {}}}
        return msg

    def cell_result(self, index: int) -> CellResult:
        """How a cell that printed past the budget ended, whether or not it had finished."""
        return CellResult(index, CellStatus.TOO_MUCH_OUTPUT, "", f"printed more than {self.limit / _MB:g} MB, "
                                                                 "the grader's limit")


class GradedNotebook(IPyNbFile):
    def __init__(self, *args, lesson: str, exercises, record_sink, **kwargs):
        super().__init__(*args, **kwargs)
        self.lesson = lesson
        self.exercises = exercises
        self.record_sink = record_sink  # called with the record after every change
        self.record: NotebookRecord | None = None
        self.output_budget = OutputBudget(self.config.option.course_max_output_mb)

    def get_kernel_message(self, *args, **kwargs):
        return self.output_budget.admit(super().get_kernel_message(*args, **kwargs), self.kernel)

    def collect(self):
        submitted = nbformat.read(str(self.fspath), as_version=4)
        self.nb = prepare_for_grading(submitted, self.exercises)
        roles = [role_of(c) for c in self.nb.cells if c.cell_type == "code"]
        self.record = NotebookRecord(
            notebook=str(self.fspath), lesson=self.lesson, exercises=self.exercises, roles=roles,
            cell_timeout=self.config.option.nbval_cell_timeout)
        self.record_sink(self.record)
        code_cells = [c for c in self.nb.cells if c.cell_type == "code"]
        for cell_num, (cell, (role, exercise_id)) in enumerate(zip(code_cells, roles)):
            options = defaultdict(bool, check=(role == CHECK))
            label = f"Cell {cell_num}" + (f" ({role} {exercise_id})" if role else "")
            yield GradedCell.from_parent(self, name=label, cell_num=cell_num, cell=cell, options=options)

    def setup(self):
        option = self.config.option
        self.kernel = WatchedKernel(
            option.nbval_kernel_name or CURRENT_ENV_KERNEL_NAME,
            cwd=str(self.fspath.dirname),
            startup_timeout=option.nbval_kernel_startup_timeout,
        )
        self.setup_sanitize_files()
        self.record.kernel_pid = self.kernel.pid
        self.record_sink(self.record)

    def teardown(self):
        kernel = self.kernel
        if kernel is not None and hasattr(kernel, "km") and not kernel.is_alive():
            # nbval only stops live kernels; a dead one still has open channels and files.
            kernel.kc.stop_channels()
            kernel.km.cleanup_resources()
            del kernel.km
        super().teardown()
        if self.record is not None:
            self.record.complete = True
            self.record_sink(self.record)


class GradedCell(IPyNbCell):
    def setup(self):
        # nbval marks every cell after a timeout as xfail; the kernel was interrupted and can
        # go on, so each cell is judged on its own run. `timed_out` now means "this cell".
        self.parent.timed_out = False
        self.parent.output_budget = OutputBudget(self.config.option.course_max_output_mb)
        self.parent.record.running = self.description
        self.parent.record_sink(self.parent.record)

    def runtest(self):
        record = self.parent.record
        try:
            super().runtest()
        except BaseException as exc:
            result = self._classify(exc)
            record.add_cell(result)
            self._note_interruption(result)
            raise
        else:
            # A cell can finish before its flood of output is read; it still printed too much.
            budget = self.parent.output_budget
            result = budget.cell_result(self.cell_num) if budget.exceeded else CellResult(self.cell_num, CellStatus.OK)
            record.add_cell(result)
            self._note_interruption(result)
        finally:
            result = record.finish_exercise_at(self.cell_num)
            if result is not None:
                self.user_properties.extend([
                    ("exercise", result.id), ("points", result.points), ("max_points", result.max_points),
                    ("status", result.status), ("feedback", result.feedback)])
            self.parent.record_sink(record)

    @property
    def description(self) -> str:
        """How a learner finds this cell: by its exercise, or by its first line."""
        role, exercise_id = role_of(self.cell)
        if role:
            return f"the {role} cell of {exercise_id}"
        first = next((line.strip() for line in self.cell.source.splitlines() if line.strip()), "")
        return f"the cell that starts with {first[:40]!r}"

    def _note_interruption(self, result: CellResult) -> None:
        """Remember a stopped cell outside the exercises: it may explain later failures."""
        if self.parent.record.roles[self.cell_num][0] in (ANSWER, CHECK):
            return  # the exercise's own feedback says it
        if result.status == CellStatus.TIMEOUT:
            why = f"was interrupted at the {self.config.option.nbval_cell_timeout:g} s cell limit"
        elif result.status == CellStatus.TOO_MUCH_OUTPUT:
            why = result.evalue
        else:
            return
        self.parent.record.interrupted[self.cell_num] = f"{self.description} {why}"

    def _classify(self, exc: BaseException) -> CellResult:
        record = self.parent.record
        if isinstance(exc, KernelDied):
            record.kernel_fate = KernelFate.DIED
            how = self.parent.kernel.how_it_died()
            record.kernel_lost = f"the Python kernel died while running {self.description}{how}"
            return CellResult(self.cell_num, CellStatus.KERNEL_DIED, "KernelDied", record.kernel_lost)
        if isinstance(exc, RuntimeError) and "Kernel dead" in str(exc):
            return CellResult(self.cell_num, CellStatus.KERNEL_DIED, "KernelDied", record.kernel_lost or str(exc))
        if self.parent.output_budget.exceeded:
            return self.parent.output_budget.cell_result(self.cell_num)
        if self.parent.timed_out:
            if not self.parent.kernel.is_alive():
                record.kernel_fate = KernelFate.STUCK
                record.kernel_lost = f"{self.description} did not finish and could not be interrupted"
            return CellResult(self.cell_num, CellStatus.TIMEOUT)
        error = next((o for o in self.test_outputs or [] if o.get("output_type") == "error"), None)
        if error is not None:
            return CellResult(self.cell_num, CellStatus.ERROR, error.get("ename", ""), error.get("evalue", ""))
        if isinstance(exc, NbCellError) and str(exc) == "Cell outputs differ":
            printed = "".join(o.get("text", "") for o in self.test_outputs or [] if o.get("output_type") == "stream")
            return CellResult(self.cell_num, CellStatus.OUTPUT_DIFFERS, printed=printed)
        return CellResult(self.cell_num, CellStatus.ERROR, type(exc).__name__, str(exc))

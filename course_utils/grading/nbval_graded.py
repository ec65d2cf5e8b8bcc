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
- each cell's ending is recorded as a `CellResult` for the per-exercise results.
"""
from __future__ import annotations

import time
from collections import defaultdict
from queue import Empty

import nbformat
from nbval.kernel import CURRENT_ENV_KERNEL_NAME, RunningKernel
from nbval.plugin import IPyNbCell, IPyNbFile, NbCellError

from ..status import CellStatus, KernelFate
from .cells import CHECK, role_of
from .outcome import CellResult
from .prepare import prepare_for_grading
from .record import NotebookRecord

_POLL_S = 0.5


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
        provisioner = getattr(getattr(self, "km", None), "provisioner", None)
        return getattr(provisioner, "pid", None)


class GradedNotebook(IPyNbFile):
    def __init__(self, *args, lesson: str, exercises, record_sink, **kwargs):
        super().__init__(*args, **kwargs)
        self.lesson = lesson
        self.exercises = exercises
        self.record_sink = record_sink  # called with the record after every change
        self.record: NotebookRecord | None = None

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

    def runtest(self):
        record = self.parent.record
        try:
            super().runtest()
        except BaseException as exc:
            record.add_cell(self._classify(exc))
            raise
        else:
            record.add_cell(CellResult(self.cell_num, CellStatus.OK))
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

    def _classify(self, exc: BaseException) -> CellResult:
        record = self.parent.record
        if isinstance(exc, KernelDied):
            record.kernel_fate = KernelFate.DIED
            record.kernel_lost = f"the Python kernel died while running {self.description}"
            return CellResult(self.cell_num, CellStatus.KERNEL_DIED, "KernelDied", record.kernel_lost)
        if isinstance(exc, RuntimeError) and "Kernel dead" in str(exc):
            return CellResult(self.cell_num, CellStatus.KERNEL_DIED, "KernelDied", record.kernel_lost or str(exc))
        if self.parent.timed_out:
            if not self.parent.kernel.is_alive():
                record.kernel_fate = KernelFate.STUCK
                record.kernel_lost = f"{self.description} did not finish and could not be interrupted"
            return CellResult(self.cell_num, CellStatus.TIMEOUT)
        error = next((o for o in self.test_outputs or [] if o.get("output_type") == "error"), None)
        if error is not None:
            return CellResult(self.cell_num, CellStatus.ERROR, error.get("ename", ""), error.get("evalue", ""))
        if isinstance(exc, NbCellError) and str(exc) == "Cell outputs differ":
            return CellResult(self.cell_num, CellStatus.OUTPUT_DIFFERS)
        return CellResult(self.cell_num, CellStatus.ERROR, type(exc).__name__, str(exc))

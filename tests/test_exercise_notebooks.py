"""What a learner sees on opening an exercise notebook: the outputs of Run All on it, unanswered.

`make exercises` runs each exercise notebook top to bottom, offline, and stores its outputs, so
the notebook's header ("the outputs stored in this notebook come from an offline run") is true.
These tests read those stored outputs: every code cell ran, nothing raised, and each exercise's
check said "not attempted yet" in one line (`check` prints it instead of raising, so Run All
goes on past an exercise not yet written). tests/test_browser.py runs the same notebooks with
Run All in JupyterLab.
"""
from __future__ import annotations

import nbformat
import pytest

from course_utils.grading.cells import CHECK, role_of
from course_utils.status import NOT_ATTEMPTED_LINE
from support.paths import ROOT

EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))


def code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.stem)
def test_every_code_cell_ran_in_order_without_an_error(path):
    cells = code_cells(path)
    counts = [c.execution_count for c in cells]
    assert None not in counts, f"{path.name}: cells never ran: run `make exercises`"
    assert counts == sorted(counts), f"{path.name}: outputs of more than one run: {counts}"
    errors = [(c.id, o.ename, o.evalue) for c in cells for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: Run All stops at {errors[0]}"


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.stem)
def test_each_unanswered_check_prints_one_not_attempted_line(path):
    for cell in code_cells(path):
        role, exercise_id = role_of(cell)
        if role != CHECK:
            continue
        printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        assert len(cell.outputs) == 1 and printed.count("\n") == 1, (exercise_id, cell.outputs)
        assert printed.startswith(NOT_ATTEMPTED_LINE.format(exercise_id) + ": "), printed


"""The gradebook's flags column (course_utils.grading.tampering): code that reaches into the
grader is flagged, and no notebook of the course is (a flag must mean something)."""
from __future__ import annotations

import json

import pytest

from course_utils.grading.tampering import PATTERNS, flags
from support.paths import ROOT


def _notebook(*sources: str, check_last: bool = False) -> dict:
    cells = [{"cell_type": "code", "source": s, "metadata": {}, "outputs": [], "execution_count": None}
             for s in sources]
    if check_last:
        cells[-1]["metadata"] = {"course": {"role": "check", "id": "01.messages"}}
    return {"cells": cells, "metadata": {}}


TRICKS = {
    "replaces the check": ["check = lambda *a: print('✅ 01.messages passed')",
                           "import course_utils.checks\ncourse_utils.checks.check = my_check",
                           "setattr(course_utils.checks, 'check', fake)"],
    "rebinds print": ["print = lambda *a, **k: None", "import builtins\nsetattr(builtins, 'print', fake)"],
    "edits loaded modules": ["import sys\nsys.modules['course_utils.checks'] = fake",
                             "sys.modules.pop('course_utils.checks')", "builtins.print = fake",
                             "__builtins__.print = fake", "importlib.reload(checks)"],
    "reaches into the grader": ["import course_utils.grading", "open('/results/results.json', 'w')"],
    "low-level access": ["import ctypes", "gc.get_referrers(check)", "sys._getframe(1).f_globals"],
}


@pytest.mark.parametrize("flag, source", [(f, s) for f, sources in TRICKS.items() for s in sources])
def test_each_way_into_the_grader_is_flagged(flag, source):
    found = flags(_notebook("x = 1", source))
    assert len(found) == 1 and found[0].startswith(f"cell 2: {flag} ("), found


def test_every_pattern_has_a_trick_that_shows_it():
    assert set(TRICKS) == set(PATTERNS)


@pytest.mark.parametrize("source", [
    "import sys\nif 'google.colab' in sys.modules:\n    pass",       # reading is fine
    "from course_utils.checks import check",
    "checks = [1, 2]\nif check == 3: pass\nprinted = print_count = 1",
    "check('01.messages', messages)",
])
def test_honest_code_is_not_flagged(source):
    assert flags(_notebook(source)) == []


def test_check_cells_are_not_read_since_grading_replaces_them():
    assert flags(_notebook("x = 1", "check = lambda *a: None", check_last=True)) == []


def test_no_notebook_of_the_course_is_flagged():
    notebooks = sorted(ROOT.glob("*/[0-9][0-9]_*.ipynb"))
    assert len(notebooks) >= 22
    flagged = {str(p.relative_to(ROOT)): flags(json.loads(p.read_text(encoding="utf-8"))) for p in notebooks}
    assert {name: found for name, found in flagged.items() if found} == {}

"""Every lesson notebook executes offline, top to bottom, under nbval.

nbval runs in `--nbval-lax` mode here: a lesson fails on any exception, and its stored
outputs (which come from the offline run) are not compared, because generated text, timings
and plots legitimately vary. The exercises' outputs are compared strictly by the grading
plugin instead (tests/test_exercise_proofs.py).
"""
import subprocess
import sys

import pytest

from scripts.offline import offline_env
from support.paths import NOTEBOOKS

LESSONS = sorted(NOTEBOOKS.glob("*.ipynb"))
CELL_TIMEOUT_S = 600


@pytest.mark.slow
@pytest.mark.parametrize("notebook", LESSONS, ids=[path.stem for path in LESSONS])
def test_lesson_executes_offline_without_errors(notebook, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
         f"--nbval-cell-timeout={CELL_TIMEOUT_S}", "-p", "no:cacheprovider", "-q",
         "--rootdir", str(NOTEBOOKS), str(notebook)],
        cwd=NOTEBOOKS, env=offline_env(), capture_output=True, text=True,
    )
    assert result.returncode == 0, f"{notebook.name} failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"

"""Run every cell of a notebook in a fresh kernel and save it with its outputs.

    python -m tests.support.execute_notebook NOTEBOOK OUT      # from the repository root

The online notebook tests run this beside the Hub mirror (`HubMirror.command`), so the kernel
it starts shares the mirror's network namespace; the test then reads what each cell printed.
It executes the way `make timings` and `make outputs` do (scripts.lesson_times.run_notebook),
with one cell added at the end that prints the kernel's Hub decision (HUB_REPORT below), so
the test also sees loads that print nothing (the checks load their models silently).
The notebook is saved even when a cell raises, so the failing cell's output can be read; the
exit status is 1 then.
"""
import sys
from pathlib import Path

import nbformat

from scripts.lesson_times import run_notebook

HUB_REPORT = """from course_utils import hub as _hub
print("[hub decision]", "made by the notebook" if _hub.decision_made() else "never made", "-", _hub.decision().summary())"""


def main(notebook: str, out: str) -> int:
    path = Path(notebook).resolve()
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(HUB_REPORT))
    try:
        run_notebook(nb, path.parent)
        return 0
    except Exception as error:  # the cell's traceback is in the saved outputs; say which here
        print(f"{path.name}: {type(error).__name__}: {str(error)[-3000:]}", file=sys.stderr)
        return 1
    finally:
        nbformat.write(nb, out)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

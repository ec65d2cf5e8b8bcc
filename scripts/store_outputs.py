"""Execute notebooks in place, offline, and store their outputs (`make outputs`).

The outputs a learner sees in `notebooks/` and `solutions/` come from this run: the bundled
nano pair (COURSE_OFFLINE=1), the CPU, one thread. Run it after changing a notebook or the
nano assets, then `make exercises` (exercises are generated from the solutions) and
`make timings`.

Usage:
  python scripts/store_outputs.py                       # every notebook and solution
  python scripts/store_outputs.py notebooks/06_tool_use.ipynb
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
OFFLINE = {"COURSE_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
           "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
CELL_TIMEOUT_S = 600


def store_outputs(path: Path) -> float:
    """Run `path` from a fresh kernel and write it back with its outputs; seconds taken.

    A notebook that raises is left untouched on disk, so a failed run loses nothing.
    """
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    # record_timing=False: no per-cell timestamps, so re-running an unchanged notebook leaves
    # a diff only where an output really changed.
    NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", record_timing=False).execute(
        cwd=str(path.parent))
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path,
                        help="notebooks to run (default: notebooks/*.ipynb and solutions/*.ipynb)")
    args = parser.parse_args(argv)
    os.environ.update(OFFLINE)  # the kernel inherits this environment
    paths = args.paths or sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))
    for path in paths:
        print(f"{path}: ", end="", flush=True)
        print(f"{store_outputs(path):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

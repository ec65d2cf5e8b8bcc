"""Execute notebooks in place, offline, and store their outputs (`make outputs`).

The outputs a learner sees in `notebooks/` and `solutions/` come from this run: the bundled
nano pair, the CPU, one thread (scripts/offline.py). Run it after changing a notebook or the
nano assets, then `make exercises` (exercises are generated from the solutions) and
`make timings`.

Usage:
  python -m scripts.store_outputs                       # every notebook and solution
  python -m scripts.store_outputs notebooks/06_tool_use.ipynb
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat

from scripts import ROOT
from scripts.lesson_times import run_notebook
from scripts.offline import OFFLINE_ENV


def store_outputs(path: Path) -> float:
    """Run `path` from a fresh kernel and write it back with its outputs; seconds taken.

    A notebook that raises is left untouched on disk, so a failed run loses nothing.
    """
    nb = nbformat.read(path, as_version=4)
    seconds = run_notebook(nb, path.parent)
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path,
                        help="notebooks to run (default: notebooks/*.ipynb and solutions/*.ipynb)")
    args = parser.parse_args(argv)
    os.environ.update(OFFLINE_ENV)  # the kernel inherits this environment: `make test`'s
    paths = args.paths or sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))
    for path in paths:
        print(f"{path}: ", end="", flush=True)
        print(f"{store_outputs(path):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

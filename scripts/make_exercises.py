"""Write exercises/ and the grading manifest from solutions/ (`make exercises`).

solutions/NN_*.ipynb is the single source of truth. For each, this writes
  exercises/NN_*.ipynb            solutions replaced by stubs (`name = ...` for a value, a body
                                  that raises NotImplementedError for a function), no
                                  instructor metadata (known-wrong and known-right answers),
                                  and the outputs of running it top to bottom, offline: what a
                                  learner sees on opening it (each check says "not attempted yet");
  course_utils/grading/manifest.json  each exercise's check cell, expected output and points.

An exercise notebook is re-run when what `build` makes of it changed, when it has never been
run, or with --rerun (after a change to course_utils or the nano assets changes its outputs).

Usage:
  python -m scripts.make_exercises           # write what changed, run what is new
  python -m scripts.make_exercises --rerun   # and re-run every exercise notebook
  python -m scripts.make_exercises --check   # exit 1 and list what is stale, change nothing

tests/test_grading_build.py runs the same comparison, so stale files fail `make test`.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat

from course_utils.grading.authoring import AuthoringError, build, differs, orphans
from scripts import ROOT
from scripts.offline import OFFLINE_ENV
from scripts.store_outputs import run_with_widget_state


def never_run(path: Path) -> bool:
    """Whether a stored exercise notebook lacks the outputs of a run (a code cell never ran)."""
    nb = nbformat.read(path, as_version=4)
    return any(cell.cell_type == "code" and cell.execution_count is None for cell in nb.cells)


def run_and_store(path: Path, text: str) -> str | None:
    """Write the notebook `text` to `path` with the outputs of a run; None, or why it failed.

    A notebook whose run raises is written without outputs, so the next run tries it again.
    """
    nb = nbformat.reads(text, as_version=4)
    try:
        run_with_widget_state(nb, path.parent)
    except Exception as error:  # nbclient's CellExecutionError names the cell and the error
        path.write_text(text, encoding="utf-8")
        return f"{type(error).__name__}: {str(error)[-2000:]}"
    nbformat.write(nb, path)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    parser.add_argument("--rerun", action="store_true", help="re-run every exercise notebook")
    parser.add_argument("--root", type=Path, default=ROOT, help="the course folder (default: this repo)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        files = build(root)
    except AuthoringError as error:
        print(f"make_exercises: {error}", file=sys.stderr)
        return 2
    changed = [p for p, text in files.items() if differs(p, text)]
    gone = orphans(root, files)
    notebooks = [p for p in files if p.suffix == ".ipynb"]
    to_run = [p for p in notebooks if args.rerun or p in changed or never_run(p)]
    for path in changed + gone:
        action = "stale" if args.check else ("removed" if path in gone else "wrote")
        print(f"{action}: {path.relative_to(root)}")
    if args.check:
        for path in sorted(set(to_run) - set(changed)):
            print(f"not run: {path.relative_to(root)}")
        return 1 if changed or gone or to_run else 0
    for path in changed:
        if path not in to_run:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files[path], encoding="utf-8")
    for path in gone:
        path.unlink()
    return run_notebooks(root, to_run, files)


def run_notebooks(root: Path, paths: list[Path], files: dict[Path, str]) -> int:
    os.environ.update(OFFLINE_ENV)  # the kernels inherit `make test`'s conditions
    failed = 0
    for path in paths:
        print(f"run: {path.relative_to(root)} ", end="", flush=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        why = run_and_store(path, files[path])
        print("ok" if why is None else f"FAILED\n{why}", flush=True)
        failed += why is not None
    if failed:
        print(f"{failed} exercise notebook(s) did not run top to bottom: fix them, then run this again.",
              file=sys.stderr)
        return 1
    print(f"{len(files) - 1} exercise notebook(s) and the manifest are up to date.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

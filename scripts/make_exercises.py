"""Write exercises/ and the grading manifest from solutions/ (`make exercises`).

solutions/NN_*.ipynb is the single source of truth. For each, this writes
  exercises/NN_*.ipynb            solutions replaced by stubs that raise NotImplementedError,
                                  no outputs, no instructor metadata (known-wrong answers);
  course_utils/grading/manifest.json  each exercise's check cell, expected output and points.

Usage:
  python -m scripts.make_exercises           # write what changed
  python -m scripts.make_exercises --check   # exit 1 and list what is stale, change nothing

tests/test_grading_build.py runs the same comparison, so stale files fail `make test`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from course_utils.grading.authoring import AuthoringError, build, orphans
from scripts import ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    parser.add_argument("--root", type=Path, default=ROOT, help="the course folder (default: this repo)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        files = build(root)
    except AuthoringError as error:
        print(f"make_exercises: {error}", file=sys.stderr)
        return 2
    changed = [p for p, text in files.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    gone = orphans(root, files)
    for path in changed + gone:
        action = "stale" if args.check else ("removed" if path in gone else "wrote")
        print(f"{action}: {path.relative_to(root)}")
    if args.check:
        return 1 if changed or gone else 0
    for path in changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path], encoding="utf-8")
    for path in gone:
        path.unlink()
    print(f"{len(files) - 1} exercise notebook(s) and the manifest are up to date.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What course-grade costs on top of running the notebooks, and how well two jobs share the work.

A class of 30 lesson-01 submissions (right, wrong and broken ones, from the robustness corpus in
tests/fixtures/submissions/corpus.py) is graded with ``course-grade --jobs 2``. Before that,
each kind of submission is, on its own, (a) executed once with nbclient (a fresh kernel runs
every cell, errors allowed: the cost of running that notebook at all) and (b) graded once with
``--jobs 1``. From those:

- overhead per submission = mean over the class of (b) - (a) for its kind: what grading adds
  (pytest and nbval start-up, the copy, resetting check cells, the results files);
- parallel efficiency = (sum over the class of (b), i.e. the class graded one by one)
  / (2 x the wall time of the --jobs 2 run).

The two figures are printed last, as key=value lines. Timings depend on how busy the machine
is; run it on an otherwise idle one.

Usage: .venv/bin/python -m scripts.offline .venv/bin/python -m benchmarks.bench_grading
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from scripts import ROOT

# (corpus case, how many of the 30): right, wrong and broken submissions.
CLASS_MIX = {
    "right": 8, "untouched": 4, "wrong": 6, "stray_prints": 4,
    "kernel_death": 3, "loop_in_function": 2, "corrupt_json": 2, "not_a_notebook": 1,
}


def load_corpus():
    path = ROOT / "tests" / "fixtures" / "submissions" / "corpus.py"
    spec = importlib.util.spec_from_file_location("corpus", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def execute_once(content: bytes, cell_timeout: float, folder: Path) -> float:
    """Seconds to run the notebook once in a fresh kernel (0 if it is not a notebook)."""
    try:
        nb = nbformat.reads(content.decode(), as_version=4)
    except Exception:  # corrupt or not a notebook: there is nothing to execute
        return 0.0
    started = time.monotonic()
    client = NotebookClient(nb, timeout=cell_timeout, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    try:
        client.execute()
    except Exception:  # a dead kernel ends the run; that is this notebook's cost
        pass
    return time.monotonic() - started


def course_grade(folder: Path, out: Path, jobs: int, cell_timeout: float) -> tuple[float, list[dict]]:
    """(wall seconds, gradebook rows) of one course-grade run."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "course_utils.grading.cli", str(folder), "--out", str(out / "g.csv"),
                    "--report", str(out / "r.html"), "--jobs", str(jobs), "--cell-timeout", str(cell_timeout),
                    "--fresh"], check=True, capture_output=True)
    wall = time.monotonic() - started
    with open(out / "g.csv", newline="", encoding="utf-8") as f:
        return wall, list(csv.DictReader(f))


def measure_kinds(cases, cell_timeout: float, work: Path) -> dict[str, tuple[float, float]]:
    """kind -> (seconds to execute once, seconds to grade alone)."""
    measured = {}
    for case in cases:
        folder = work / f"alone-{case.name}"
        (folder / "submissions" / case.name).mkdir(parents=True)
        (folder / "submissions" / case.submission).write_bytes(case.content)
        executed = execute_once(case.content, cell_timeout, folder)
        _, rows = course_grade(folder / "submissions", folder, 1, cell_timeout)
        measured[case.name] = (executed, float(rows[0]["seconds"]))
        print(f"kind={case.name} execute_s={executed:.2f} grade_s={rows[0]['seconds']} status={rows[0]['status']}",
              flush=True)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cell-timeout", type=float, default=60)
    args = parser.parse_args()
    corpus = load_corpus()
    cases = {c.name: c for c in corpus.cases(ROOT) if c.name in CLASS_MIX}
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        work = Path(tmp)
        measured = measure_kinds(cases.values(), args.cell_timeout, work)
        klass = work / "class"
        kinds = [kind for kind, count in CLASS_MIX.items() for _ in range(count)]
        for number, kind in enumerate(kinds):
            path = klass / f"student{number:02d}" / corpus.FILENAME
            path.parent.mkdir(parents=True)
            path.write_bytes(cases[kind].content)
        wall, rows = course_grade(klass, work, args.jobs, args.cell_timeout)
    assert len(rows) == len(kinds) == 30
    overhead = statistics.mean(measured[k][1] - measured[k][0] for k in kinds)
    serial = sum(measured[k][1] for k in kinds)
    print(f"submissions={len(rows)} jobs={args.jobs} wall_s={wall:.1f} serial_estimate_s={serial:.1f} "
          f"busy_s={sum(float(r['seconds']) for r in rows):.1f}")
    print(f"overhead_per_submission_s={overhead:.2f}")
    print(f"parallel_efficiency={serial / (args.jobs * wall):.2f}")


if __name__ == "__main__":
    main()

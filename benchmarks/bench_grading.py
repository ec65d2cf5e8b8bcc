"""What course-grade costs on top of running the notebooks, what its sandbox adds, and how well
two jobs share the work.

A class of 30 lesson-01 submissions (right, wrong and broken ones, from the robustness corpus in
tests/fixtures/submissions/corpus.py) is graded with ``course-grade --jobs 2``, in the sandbox
and with --no-sandbox. Before that, each kind of submission is, on its own, (a) executed once
with nbclient (a fresh kernel runs every cell, errors allowed: the cost of running that
notebook at all), and graded with ``--jobs 1`` (b) in the sandbox and (c) without it, in turns,
--repeats times (medians). From those:

- overhead per submission = mean over the class of (b) - (a) for its kind: what grading adds
  (pytest and nbval start-up, the copy, resetting check cells, the results files, the sandbox);
- sandbox overhead per submission = mean over the class of (b) - (c): what the sandbox adds
  (bubblewrap's namespaces and mounts, confine.py, the probe at start-up spread over the class);
- sandbox start = median time to run ``python -c pass`` in a sandbox, minus without one;
- parallel efficiency = (sum over the class of (b), i.e. the class graded one by one)
  / (2 x the wall time of the sandboxed --jobs 2 run).

The figures are printed last, as key=value lines. Timings depend on how busy the machine is;
run it on an otherwise idle one.

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


def course_grade(folder: Path, out: Path, jobs: int, cell_timeout: float,
                 sandboxed: bool = True) -> tuple[float, list[dict]]:
    """(wall seconds, gradebook rows) of one course-grade run."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "course_utils.grading.cli", str(folder), "--out", str(out / "g.csv"),
                    "--report", str(out / "r.html"), "--jobs", str(jobs), "--cell-timeout", str(cell_timeout),
                    "--fresh"] + ([] if sandboxed else ["--no-sandbox"]), check=True, capture_output=True)
    wall = time.monotonic() - started
    with open(out / "g.csv", newline="", encoding="utf-8") as f:
        return wall, list(csv.DictReader(f))


def measure_kinds(cases, cell_timeout: float, work: Path, repeats: int) -> dict[str, tuple[float, float, float]]:
    """kind -> (seconds to execute once, to grade alone in the sandbox, and without it)."""
    measured = {}
    for case in cases:
        folder = work / f"alone-{case.name}"
        (folder / "submissions" / case.name).mkdir(parents=True)
        (folder / "submissions" / case.submission).write_bytes(case.content)
        executed = execute_once(case.content, cell_timeout, folder)
        seconds = {True: [], False: []}
        for _ in range(repeats):
            for sandboxed in (True, False):  # in turns, so a busy moment costs both alike
                _, rows = course_grade(folder / "submissions", folder, 1, cell_timeout, sandboxed)
                seconds[sandboxed].append(float(rows[0]["seconds"]))
        measured[case.name] = (executed, statistics.median(seconds[True]), statistics.median(seconds[False]))
        print(f"kind={case.name} execute_s={executed:.2f} sandboxed_s={measured[case.name][1]:.2f} "
              f"unsandboxed_s={measured[case.name][2]:.2f} status={rows[0]['status']}", flush=True)
    return measured


def sandbox_start(repeats: int = 20) -> float:
    """Median seconds a sandbox adds to starting `python -c pass`."""
    from course_utils.grading.sandbox import find_sandbox

    sandbox = find_sandbox()
    with tempfile.TemporaryDirectory() as tmp:
        notebook, results = Path(tmp) / "n.ipynb", Path(tmp) / "results"
        notebook.write_text("{}")
        results.mkdir()
        sandbox.prepare(results)
        plain = [sys.executable, "-c", "pass"]
        commands = {"plain": plain, "sandboxed": sandbox.command(plain, notebook, results)}
        times = {name: [] for name in commands}
        for _ in range(repeats):
            for name, command in commands.items():
                started = time.monotonic()
                subprocess.run(command, check=True)
                times[name].append(time.monotonic() - started)
    return statistics.median(times["sandboxed"]) - statistics.median(times["plain"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cell-timeout", type=float, default=60)
    parser.add_argument("--repeats", type=int, default=3, help="gradings of each kind in each mode (medians)")
    args = parser.parse_args()
    corpus = load_corpus()
    cases = {c.name: c for c in corpus.cases(ROOT) if c.name in CLASS_MIX}
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        work = Path(tmp)
        measured = measure_kinds(cases.values(), args.cell_timeout, work, args.repeats)
        klass = work / "class"
        kinds = [kind for kind, count in CLASS_MIX.items() for _ in range(count)]
        for number, kind in enumerate(kinds):
            path = klass / f"student{number:02d}" / corpus.FILENAME
            path.parent.mkdir(parents=True)
            path.write_bytes(cases[kind].content)
        wall, rows = course_grade(klass, work, args.jobs, args.cell_timeout)
        plain_wall, _ = course_grade(klass, work, args.jobs, args.cell_timeout, sandboxed=False)
    assert len(rows) == len(kinds) == 30
    overhead = statistics.mean(measured[k][1] - measured[k][0] for k in kinds)
    added = statistics.mean(measured[k][1] - measured[k][2] for k in kinds)
    serial = sum(measured[k][1] for k in kinds)
    print(f"submissions={len(rows)} jobs={args.jobs} wall_s={wall:.1f} unsandboxed_wall_s={plain_wall:.1f} "
          f"serial_estimate_s={serial:.1f} busy_s={sum(float(r['seconds']) for r in rows):.1f}")
    print(f"overhead_per_submission_s={overhead:.2f}")
    print(f"sandbox_overhead_per_submission_s={added:.2f}")
    print(f"sandbox_start_s={sandbox_start():.3f}")
    print(f"parallel_efficiency={serial / (args.jobs * wall):.2f}")


if __name__ == "__main__":
    main()

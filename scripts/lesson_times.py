"""Measure how long each lesson takes to run offline, and write the README's course map.

For every notebooks/*.ipynb, runs all cells from a fresh kernel with nbclient, offline (the
bundled nano models), on the CPU only and pinned to 2 cores, the way `make test` and a learner
without a GPU run them. Records seconds per lesson in docs/lesson_times.json, with a hash of
the notebook's code so that tests/test_course_map.py can tell when a time is stale. Then
rewrites the table between `<!-- course-map:start -->` and `<!-- course-map:end -->` in
README.md from docs/course_map.json (titles, what each lesson teaches, exercises) and the
times.

Usage:
  python -m scripts.lesson_times                  # time new or changed lessons, write README
  python -m scripts.lesson_times --all            # time every lesson again
  python -m scripts.lesson_times 03_writing_chat_templates   # just these
  python -m scripts.lesson_times --readme-only    # rewrite the table, run nothing
  python -m scripts.lesson_times --readme-only --readme /tmp/preview.md

The notebooks themselves are not modified: their stored outputs are `make test`'s business.
A time includes starting the kernel, as "Run All" in a fresh JupyterLab session does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

from scripts import ROOT
from scripts.colab_header import colab_url, project_info
from scripts.offline import OFFLINE_ENV

NOTEBOOKS = ROOT / "notebooks"
COURSE_MAP = ROOT / "docs" / "course_map.json"
TIMES = ROOT / "docs" / "lesson_times.json"
README = ROOT / "README.md"
START, END = "<!-- course-map:start -->", "<!-- course-map:end -->"
CORES = 2
CELL_TIMEOUT_S = 1800
COLAB_BADGE_SVG = "https://colab.research.google.com/assets/colab-badge.svg"
TIER_LEGEND = "🐢 warm-up · 🐕 core · 🦁 stretch"


# --- data --------------------------------------------------------------------------------

def load_course_map(path: Path = COURSE_MAP) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["lessons"]


def load_times(path: Path = TIMES) -> dict:
    if not path.exists():
        return {"lessons": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def code_hash(notebook: Path) -> str:
    """sha256 of the notebook's code cells: what decides its run time (prose and outputs don't)."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    code = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in nb["cells"] if c["cell_type"] == "code"]
    return hashlib.sha256(json.dumps(code).encode()).hexdigest()


def format_seconds(seconds: float) -> str:
    """12.3 -> '12 s', 125 -> '2 min 5 s', 3600 -> '60 min 0 s' (rounded to whole seconds)."""
    s = round(seconds)
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60} s"


# --- measuring ---------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def restrict_to_cores(n: int) -> int:
    """Pin this process (and so the kernels it starts) to n CPUs; return how many it got.

    The README promises times on 2 cores: on a bigger machine the same numbers would
    otherwise come out faster than a learner's laptop or a CI runner.
    """
    os.environ.update({"OMP_NUM_THREADS": str(n), "MKL_NUM_THREADS": str(n)})
    if hasattr(os, "sched_setaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, allowed[:n])
        return len(allowed[:n])
    return os.cpu_count() or n


def run_notebook(nb, folder: Path, cell_timeout: int = CELL_TIMEOUT_S) -> float:
    """Run every cell of the notebook `nb` in a fresh kernel, filling in its outputs; seconds
    taken. Raises on a cell error. scripts/store_outputs.py runs notebooks with this too."""
    import nbclient

    client = nbclient.NotebookClient(
        nb, timeout=cell_timeout, kernel_name="python3",
        # No per-cell timestamps, so a stored notebook re-run unchanged shows no diff.
        record_timing=False,
        # The kernel's working directory is the notebook's folder, as in JupyterLab.
        resources={"metadata": {"path": str(folder)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def time_notebook(path: Path, cell_timeout: int = CELL_TIMEOUT_S) -> float:
    """Seconds to run every cell of `path` in a fresh kernel. Raises on a cell error."""
    import nbformat

    return run_notebook(nbformat.read(path, as_version=4), path.parent, cell_timeout)


# --- the README table --------------------------------------------------------------------

def render_table(lessons: list[dict], times: dict, repository: str,
                 notebooks: Path = NOTEBOOKS) -> str:
    """The Markdown block that goes between the course-map markers."""
    rows = [
        "<!-- Written by scripts/lesson_times.py from docs/course_map.json and "
        "docs/lesson_times.json: edit those, not this table. -->",
        "| Lesson | You will be able to | Exercises | Offline run time, 2 CPU cores | Colab |",
        "|---|---|---|---|---|",
    ]
    recorded = times.get("lessons", {})
    for lesson in lessons:
        stem = lesson["stem"]
        number = stem.split("_", 1)[0]
        link = f"[{number} · {lesson['title']}](notebooks/{stem}.ipynb)"
        exercises = "<br>".join(f"{e['tier']} `{e['id']}`" for e in lesson["exercises"]) or "—"
        if stem in recorded:
            run_time = format_seconds(recorded[stem]["seconds"])
        elif (notebooks / f"{stem}.ipynb").exists():
            run_time = "not measured yet"
        else:
            run_time = "not written yet"
        badge = f"[![Open In Colab]({COLAB_BADGE_SVG})]({colab_url(repository, f'notebooks/{stem}.ipynb')})"
        rows.append(f"| {link} | {lesson['teaches']} | {exercises} | {run_time} | {badge} |")
    machines = sorted({(r["cpu"], r["cores"]) for r in recorded.values()})
    dates = sorted(r["measured"] for r in recorded.values())
    rows.append("")
    rows.append(f"Exercises: {TIER_LEGEND}.")
    if machines:
        where = "; ".join(f"{cores} cores of {cpu}" for cpu, cores in machines)
        when = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
        loads = [r["load_average"] for r in recorded.values() if r.get("load_average") is not None]
        busy = ""
        if loads and max(loads) > min(cores for _, cores in machines):
            busy = (f" The machine was busy with other work meanwhile (load average up to "
                    f"{max(loads)}), so expect shorter times on an idle one.")
        rows.append(
            f"Run times: every cell from a fresh kernel, offline (bundled nano models), CPU only, "
            f"on {where}; measured {when} by `scripts/lesson_times.py`.{busy}")
    return "\n".join(rows)


def replace_block(readme: str, block: str) -> str:
    if START not in readme or END not in readme or readme.index(START) > readme.index(END):
        raise SystemExit(f"README.md needs the markers {START} and {END}, in that order")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{block}\n{END}{tail}"


def write_readme(lessons: list[dict], times: dict, readme: Path = README) -> bool:
    """Rewrite the table; True when README.md changed."""
    _, repository = project_info(ROOT)
    old = readme.read_text(encoding="utf-8")
    new = replace_block(old, render_table(lessons, times, repository))
    if new != old:
        readme.write_text(new, encoding="utf-8")
    return new != old


# --- main --------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stems", nargs="*", help="lessons to time (default: new or changed ones)")
    parser.add_argument("--all", action="store_true", help="time every lesson again")
    parser.add_argument("--readme-only", action="store_true", help="rewrite the README table only")
    parser.add_argument("--cell-timeout", type=int, default=CELL_TIMEOUT_S)
    parser.add_argument("--readme", type=Path, default=README,
                        help="the README to rewrite (default: README.md; another path to preview)")
    args = parser.parse_args(argv)

    lessons = load_course_map()
    known = {lesson["stem"] for lesson in lessons}
    unmapped = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb") if p.stem not in known)
    if unmapped:
        raise SystemExit(f"notebooks not in docs/course_map.json: {', '.join(unmapped)}")
    times = load_times()
    recorded = times.setdefault("lessons", {})

    failed = []
    if not args.readme_only:
        present = [lesson["stem"] for lesson in lessons if (NOTEBOOKS / f"{lesson['stem']}.ipynb").exists()]
        if args.stems:
            wanted = args.stems
            if missing := sorted(set(wanted) - set(present)):
                raise SystemExit(f"no such notebook in notebooks/: {', '.join(missing)}")
        elif args.all:
            wanted = present
        else:
            wanted = [s for s in present
                      if recorded.get(s, {}).get("code_sha256") != code_hash(NOTEBOOKS / f"{s}.ipynb")]
        os.environ.update(OFFLINE_ENV)  # the conditions of `make test` and the stored outputs
        cores = restrict_to_cores(CORES)  # 2 cores, and 2 threads over OFFLINE_ENV's one
        cpu = cpu_model()
        for stem in wanted:
            path = NOTEBOOKS / f"{stem}.ipynb"
            print(f"{stem}: running ...", flush=True)
            # Other work on the machine stretches the times: the 1-minute load average at the
            # start is kept beside each time, so a number taken on a busy machine can be told.
            load = round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None
            try:
                seconds = time_notebook(path, args.cell_timeout)
            except Exception as err:  # a failing lesson has no run time; say why, go on
                # CellExecutionError's own text is the whole coloured traceback: one line will do.
                why = (f"{err.ename}: {err.evalue}" if hasattr(err, "ename")
                       else f"{type(err).__name__}: {err}")
                print(f"{stem}: FAILED, no time recorded: {why}", file=sys.stderr)
                failed.append(stem)
                continue
            recorded[stem] = {"seconds": round(seconds, 1), "code_sha256": code_hash(path),
                              "measured": dt.date.today().isoformat(), "cpu": cpu, "cores": cores,
                              "load_average": load}
            print(f"{stem}: {format_seconds(seconds)}", flush=True)
        order = [lesson["stem"] for lesson in lessons]
        times["lessons"] = {s: recorded[s] for s in order if s in recorded}
        times["_about"] = ("Written by scripts/lesson_times.py: seconds to run every cell of "
                           "notebooks/<stem>.ipynb from a fresh kernel, offline, CPU only. "
                           "code_sha256 tells tests/test_course_map.py when a time is stale.")
        TIMES.write_text(json.dumps(dict(sorted(times.items())), indent=2, ensure_ascii=False) + "\n",
                         encoding="utf-8")

    changed = write_readme(lessons, times, args.readme)
    print(f"{args.readme.name} course map " + ("rewritten" if changed else "already up to date"))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

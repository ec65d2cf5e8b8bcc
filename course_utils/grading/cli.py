"""course-grade: grade a folder of submitted notebooks into a gradebook and an HTML report.

    course-grade SUBMISSIONS_DIR [--out GRADEBOOK.csv] [--report REPORT.html] [--jobs N]
                 [--timeout S] [--cell-timeout S] [--fresh] [--no-sandbox]
                 [--memory-mb MB] [--max-processes N] [--cpu-seconds S] [--max-output-mb MB] [--disk-mb MB]

Every ``*.ipynb`` under SUBMISSIONS_DIR is one submission (``alice/01_messages_and_special_tokens.ipynb``
or ``alice_01_messages_and_special_tokens.ipynb``), graded in its own subprocess
(`runner.grade_submission`), in a bubblewrap sandbox unless --no-sandbox (`sandbox`). The
gradebook and report go beside the folder, named after it (``fall-2026/`` ->
``fall-2026.gradebook.csv``, ``fall-2026.report.html``), never inside it. Rerunning resumes:
rows whose file and exercises are unchanged are kept, rows whose notebook has gone are kept and
marked. docs/INSTRUCTORS.md explains the columns and statuses.
"""
from __future__ import annotations

import argparse
import signal
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from .gradebook import AnotherClassGradebook, Gradebook, NotAGradebook, Row, file_sha256
from .manifest import MANIFEST_PATH, load_manifest
from .report import write_report
from .runner import GradingStopped, RunOptions, grade_submission, grader_error, stop_all
from .sandbox import Limits, SandboxUnavailable, find_sandbox

NO_SANDBOX_WARNING = ("graded WITHOUT the sandbox (--no-sandbox): each notebook ran with your user's "
                      "rights, files and network")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="course-grade", description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="folder of submitted .ipynb files (searched recursively)")
    parser.add_argument("--out", type=Path, help="gradebook CSV, resumed if it exists "
                                                  "(default: SUBMISSIONS_DIR.gradebook.csv, beside the folder)")
    parser.add_argument("--report", type=Path, help="HTML report, rewritten as rows complete "
                                                    "(default: SUBMISSIONS_DIR.report.html, beside the folder)")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at once (default 1)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed per submission (default 600)")
    parser.add_argument("--cell-timeout", type=float, default=120, help="seconds allowed per cell (default 120)")
    parser.add_argument("--fresh", action="store_true",
                        help="start the gradebook over and grade everything (the old one is kept as a backup)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run submissions with your own rights, files and network (not for strangers' work)")
    limits = parser.add_argument_group("sandbox limits, per submission")
    default = Limits()
    limits.add_argument("--memory-mb", type=int, default=default.memory_mb,
                        help=f"address space of the kernel and each process it starts (default {default.memory_mb})")
    limits.add_argument("--max-processes", type=int, default=default.processes,
                        help=f"processes and threads together (default {default.processes})")
    limits.add_argument("--cpu-seconds", type=int, default=default.cpu_seconds,
                        help=f"CPU time of the kernel and each process it starts (default {default.cpu_seconds})")
    limits.add_argument("--max-output-mb", type=int, default=default.output_mb,
                        help=f"output of one cell, and the largest file written (default {default.output_mb}); "
                             "also applies with --no-sandbox")
    limits.add_argument("--disk-mb", type=int, default=default.disk_mb,
                        help=f"size of the scratch folder, and of /tmp (default {default.disk_mb})")
    parser.add_argument("--manifest", type=Path, default=None, help=argparse.SUPPRESS)  # tests, new lessons
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder")
    folder = args.submissions.resolve()
    if folder.parent == folder:
        parser.error("grade a folder of submissions, not the root of the filesystem")
    args.out = args.out or folder.parent / f"{folder.name}.gradebook.csv"
    args.report = args.report or folder.parent / f"{folder.name}.report.html"
    for option, path in (("--out", args.out), ("--report", args.report)):
        if path.resolve().is_relative_to(folder):
            parser.error(f"{option} {path} is inside the submissions folder; grading writes nothing there")
    numbers = ("jobs", "timeout", "cell_timeout", "memory_mb", "max_processes", "cpu_seconds",
               "max_output_mb", "disk_mb")
    for name in numbers:
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    return args


def run_options(args: argparse.Namespace) -> RunOptions:
    """The options every submission is graded with; SandboxUnavailable if it cannot be sealed."""
    limits = Limits(memory_mb=args.memory_mb, processes=args.max_processes, cpu_seconds=args.cpu_seconds,
                    output_mb=args.max_output_mb, disk_mb=args.disk_mb)
    sandbox = None if args.no_sandbox else find_sandbox(limits)
    return RunOptions(cell_timeout=args.cell_timeout, timeout=args.timeout, limits=limits, sandbox=sandbox,
                      manifest_path=args.manifest)


def find_submissions(folder: Path) -> dict[str, Path]:
    """submission name (path relative to `folder`) -> file, skipping hidden files and checkpoints."""
    found = {}
    for path in sorted(folder.rglob("*.ipynb")):
        relative = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            found[relative.as_posix()] = path
    return found


def grade_safely(path: Path, name: str, sha256: str, manifest, options: RunOptions) -> Row:
    """`grade_submission`, with a bug in the grader costing one row, not the whole run."""
    try:
        return grade_submission(path, name, sha256, manifest, options)
    except GradingStopped:
        raise
    except Exception as error:  # the row says what happened; the class still gets graded
        return Row(submission=name, sha256=sha256, sandbox=options.sandbox_name,
                   status=grader_error(f"{type(error).__name__}: {error}")[:300])


class Interrupted(Exception):
    """The run was stopped (Ctrl-C, SIGTERM): what it had graded is saved."""

    def __init__(self, graded: int, left: int):
        super().__init__(f"{graded} graded in this run, {left} still to grade")


def _summary(args: argparse.Namespace, book: Gradebook, submissions: dict, todo: list[str], missing: list[str]) -> str:
    older = [n for n in todo if n in book.rows and book.is_stale(book.rows[n])]
    parts = [f"course-grade: {len(submissions)} submissions in {args.submissions}, "
             f"{len(submissions) - len(todo)} already graded in {args.out}, {len(todo)} to grade"]
    if older:
        parts.append(f"{len(older)} of them graded before against an earlier version of their lesson's exercises")
    if missing:
        parts.append(f"kept {len(missing)} rows whose notebook is no longer in the folder (marked so)")
    return "; ".join(parts)


def _record(book: Gradebook, report: Path, row: Row | None = None) -> None:
    """Save the gradebook (with `row`) and the report; say where the backup went if this made one."""
    had_backup = book.backup
    if row is None:
        book.save()
    else:
        book.put(row)
    write_report(report, book)
    if book.backup != had_backup:
        tqdm.write(f"course-grade: {book.path} is about to lose or replace a grade; "
                   f"as it was before this run, it is kept in {book.backup}", file=sys.stderr)


def grade_folder(args: argparse.Namespace, options: RunOptions) -> Gradebook:
    manifest = load_manifest(args.manifest or MANIFEST_PATH)
    book = Gradebook(args.out, manifest, args.submissions, fresh=args.fresh)
    submissions = find_submissions(args.submissions)
    missing = book.mark_missing(set(submissions))
    hashes = {name: file_sha256(path) for name, path in submissions.items()}
    sandboxed = options.sandbox is not None
    todo = [name for name in submissions if not book.is_current(name, hashes[name], sandboxed)]
    print(_summary(args, book, submissions, todo, missing))
    _record(book, args.report)
    done = 0
    with ThreadPoolExecutor(max_workers=args.jobs) as pool, \
            tqdm(total=len(todo), unit="notebook", desc="grading", file=sys.stderr) as bar:
        futures = [pool.submit(grade_safely, submissions[name], name, hashes[name], manifest, options)
                   for name in todo]
        try:
            for future in as_completed(futures):
                row = future.result()
                _record(book, args.report, row)
                done += 1
                bar.set_postfix_str(f"{row.submission} {row.total}/{row.max_points} {row.status}"[-60:])
                bar.update()
        except KeyboardInterrupt:
            for future in futures:
                future.cancel()
            stop_all()  # the pool then waits for its threads, which remove their temporary folders
            raise Interrupted(done, len(todo) - done) from None
    return book


def _stop_on_sigterm() -> None:
    """SIGTERM and SIGHUP (plain `kill`, a closed terminal) stop the run as Ctrl-C does."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        options = run_options(args)
    except SandboxUnavailable as error:
        print(f"course-grade: {error}", file=sys.stderr)
        return 2
    if options.sandbox is None:
        print(f"course-grade: warning: {NO_SANDBOX_WARNING}", file=sys.stderr)
    _stop_on_sigterm()
    try:
        book = grade_folder(args, options)
    except (NotAGradebook, AnotherClassGradebook) as error:
        print(f"course-grade: {error}", file=sys.stderr)
        return 2
    except (Interrupted, KeyboardInterrupt) as stopped:
        so_far = f"; {stopped}" if isinstance(stopped, Interrupted) else ""
        print(f"course-grade: interrupted{so_far}; rerun the same command to continue (graded rows are "
              f"kept in {args.out}, the report so far is {args.report})", file=sys.stderr)
        return 130
    rows = list(book.rows.values())
    counts = Counter(row.status for row in rows)
    print(f"course-grade: {len(rows)} rows in {args.out} ("
          + ", ".join(f"{n} {status}" for status, n in counts.most_common())
          + f"); report in {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

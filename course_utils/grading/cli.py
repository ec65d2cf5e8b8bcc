"""course-grade: grade a folder of submitted notebooks into a gradebook and an HTML report.

    course-grade SUBMISSIONS_DIR --out gradebook.csv --report report.html [--jobs N]
                 [--timeout S] [--cell-timeout S] [--fresh] [--no-sandbox]
                 [--memory-mb MB] [--max-processes N] [--cpu-seconds S] [--max-output-mb MB] [--disk-mb MB]

Every ``*.ipynb`` under SUBMISSIONS_DIR is one submission (``alice/01_messages_and_special_tokens.ipynb``
or ``alice_01_messages_and_special_tokens.ipynb``), graded in its own subprocess
(`runner.grade_submission`), in a bubblewrap sandbox unless --no-sandbox (`sandbox`). Rerunning
resumes: rows whose file is unchanged are kept. docs/INSTRUCTORS.md explains the columns and statuses.
"""
from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from ..status import SubmissionStatus
from .gradebook import Gradebook, NotAGradebook, Row, file_sha256
from .manifest import MANIFEST_PATH, load_manifest
from .report import write_report
from .runner import RunOptions, grade_submission, grader_error, stop_all
from .sandbox import Limits, SandboxUnavailable, find_sandbox

NO_SANDBOX_WARNING = ("graded WITHOUT the sandbox (--no-sandbox): each notebook ran with your user's "
                      "rights, files and network")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="course-grade", description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="folder of submitted .ipynb files (searched recursively)")
    parser.add_argument("--out", type=Path, required=True, help="gradebook CSV (resumed if it exists)")
    parser.add_argument("--report", type=Path, required=True, help="HTML report to write")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at once (default 1)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed per submission (default 600)")
    parser.add_argument("--cell-timeout", type=float, default=120, help="seconds allowed per cell (default 120)")
    parser.add_argument("--fresh", action="store_true", help="ignore the existing gradebook; grade everything")
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
    except Exception as error:  # the row says what happened; the class still gets graded
        return Row(submission=name, sha256=sha256, sandbox=options.sandbox_name,
                   status=grader_error(f"{type(error).__name__}: {error}")[:300])


def grade_folder(args: argparse.Namespace, options: RunOptions) -> Gradebook:
    manifest = load_manifest(args.manifest or MANIFEST_PATH)
    order = {lesson: [e.id for e in exercises] for lesson, exercises in manifest.lessons.items()}
    book = Gradebook(args.out, order, fresh=args.fresh)
    submissions = find_submissions(args.submissions)
    gone = book.keep_only(set(submissions))
    hashes = {name: file_sha256(path) for name, path in submissions.items()}
    sandboxed = options.sandbox is not None
    todo = [name for name in submissions if not book.is_current(name, hashes[name], sandboxed)]
    print(f"course-grade: {len(submissions)} submissions, {len(submissions) - len(todo)} already graded "
          f"in {args.out}, {len(todo)} to grade" + (f"; dropped {len(gone)} no longer there" if gone else ""))
    book.save()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool, \
            tqdm(total=len(todo), unit="notebook", desc="grading", file=sys.stderr) as bar:
        futures = [pool.submit(grade_safely, submissions[name], name, hashes[name], manifest, options)
                   for name in todo]
        try:
            for future in as_completed(futures):
                row = future.result()
                book.put(row)
                bar.set_postfix_str(f"{row.submission} {row.total}/{row.max_points} {row.status}"[-60:])
                bar.update()
        except BaseException:
            for future in futures:
                future.cancel()
            stop_all()
            raise
    return book


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        options = run_options(args)
    except SandboxUnavailable as error:
        print(f"course-grade: {error}", file=sys.stderr)
        return 2
    if options.sandbox is None:
        print(f"course-grade: warning: {NO_SANDBOX_WARNING}", file=sys.stderr)
    try:
        book = grade_folder(args, options)
    except NotAGradebook as error:
        print(f"course-grade: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("course-grade: interrupted; rerun the same command to finish (graded rows are kept)",
              file=sys.stderr)
        return 130
    rows = list(book.rows.values())
    write_report(args.report, rows, book.exercise_ids())
    graded = sum(row.status == SubmissionStatus.GRADED for row in rows)
    print(f"course-grade: {len(rows)} rows in {args.out} ({graded} graded, {len(rows) - graded} with "
          f"problems, see the status column); report in {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

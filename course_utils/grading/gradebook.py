"""The gradebook: a CSV with one row per submission, and what makes a run resumable.

Columns: submission, lesson, then ``<id> points`` and ``<id> feedback`` for every exercise of
the lessons graded, then sandbox (``bubblewrap``, or ``none`` for --no-sandbox), flags (code
that reaches into the grader, see tampering.py), total, max, status, seconds and the
submission's sha256.

The whole file is rewritten after each graded submission with `files.write_atomically`, so a
kill -9 at any moment leaves either the old or the new gradebook, never a torn row. On the next
run, a row whose sha256 still matches its file is kept; anything else is graded again, so rows
are never duplicated and changed work is regraded. A run in the sandbox also regrades the rows
an earlier run graded without it.
"""
from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

from .files import write_atomically

HEAD = ["submission", "lesson"]
# Before TAIL: gradebooks from before these columns, without them, still resume.
SANDBOX, FLAGS = "sandbox", "flags"
TAIL = ["total", "max", "status", "seconds", "sha256"]
NO_SANDBOX = "none"
_POINTS, _FEEDBACK = " points", " feedback"


class NotAGradebook(ValueError):
    """--out names a file that course-grade did not write."""


@dataclass
class Row:
    submission: str                 # path relative to the submissions folder
    sha256: str
    lesson: str = ""
    status: str = ""
    seconds: float = 0.0
    max_points: int | None = None
    exercises: dict[str, tuple[int, str]] = field(default_factory=dict)  # id -> (points, feedback)
    sandbox: str = NO_SANDBOX       # what the submission ran in: "bubblewrap", or none
    flags: str = ""                 # code that reaches into the grader ("; "-separated)

    @property
    def sandboxed(self) -> bool:
        return self.sandbox != NO_SANDBOX

    @property
    def total(self) -> int:
        return sum(points for points, _ in self.exercises.values())

    def as_csv(self, exercise_ids: list[str]) -> list[str]:
        cells = [self.submission, self.lesson]
        for exercise_id in exercise_ids:
            points, feedback = self.exercises.get(exercise_id, ("", ""))
            cells += [str(points), feedback]
        max_points = "" if self.max_points is None else str(self.max_points)
        return cells + [self.sandbox, self.flags, str(self.total), max_points, self.status, f"{self.seconds:.1f}", self.sha256]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def header(exercise_ids: list[str]) -> list[str]:
    return HEAD + [c for i in exercise_ids for c in (i + _POINTS, i + _FEEDBACK)] + [SANDBOX, FLAGS] + TAIL


def _row_from_csv(record: dict[str, str], exercise_ids: list[str]) -> Row:
    exercises = {i: (int(record[i + _POINTS]), record[i + _FEEDBACK])
                 for i in exercise_ids if record.get(i + _POINTS, "") != ""}
    return Row(
        submission=record["submission"], sha256=record["sha256"], lesson=record["lesson"],
        status=record["status"], seconds=float(record["seconds"] or 0),
        max_points=int(record["max"]) if record["max"] else None, exercises=exercises,
        sandbox=record.get(SANDBOX) or NO_SANDBOX, flags=record.get(FLAGS) or "",
    )


def read_gradebook(path: Path) -> dict[str, Row]:
    """The rows of an existing gradebook, by submission; {} if there is none yet."""
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        if fields[:2] != HEAD or fields[-len(TAIL):] != TAIL:
            raise NotAGradebook(f"{path} is not a gradebook written by course-grade "
                                f"(its columns are {fields[:3]}...); choose another --out")
        exercise_ids = [c[: -len(_POINTS)] for c in fields if c.endswith(_POINTS)]
        return {r["submission"]: _row_from_csv(r, exercise_ids) for r in reader}


def write_gradebook(path: Path, rows: list[Row], exercise_ids: list[str]) -> None:
    """Replace the gradebook at `path` with `rows`, atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header(exercise_ids))
    for row in sorted(rows, key=lambda r: r.submission):
        writer.writerow(row.as_csv(exercise_ids))
    write_atomically(path, buffer.getvalue())


class Gradebook:
    """The rows of one gradebook file, saved after every change.

    Args:
        path: the CSV (``--out``); its rows are loaded, so a rerun resumes.
        lesson_order: lesson -> its exercise ids, in course order (from the manifest).
        fresh: ignore what the file holds and grade everything again.
    """

    def __init__(self, path: Path, lesson_order: dict[str, list[str]], fresh: bool = False):
        self.path = path
        self.lesson_order = lesson_order
        self.rows: dict[str, Row] = {} if fresh else read_gradebook(path)

    def is_current(self, submission: str, sha256: str, sandboxed: bool) -> bool:
        """Whether the row of `submission` stands: same file, and graded at least as safely."""
        row = self.rows.get(submission)
        return row is not None and row.sha256 == sha256 and (row.sandboxed or not sandboxed)

    def keep_only(self, submissions: set[str]) -> list[str]:
        """Drop the rows of submissions that are no longer in the folder; return their names."""
        gone = sorted(set(self.rows) - submissions)
        for submission in gone:
            del self.rows[submission]
        return gone

    def exercise_ids(self) -> list[str]:
        """The exercise columns: those of every lesson with a row, in course order."""
        lessons = {row.lesson for row in self.rows.values()}
        ids = [i for lesson, exercise_ids in self.lesson_order.items() if lesson in lessons for i in exercise_ids]
        others = [i for row in self.rows.values() for i in row.exercises if i not in ids]
        return ids + list(dict.fromkeys(others))

    def put(self, row: Row) -> None:
        self.rows[row.submission] = row
        self.save()

    def save(self) -> None:
        write_gradebook(self.path, list(self.rows.values()), self.exercise_ids())

"""The gradebook: a CSV with one row per submission, and what makes a run resumable.

Columns: submission, lesson, then ``<id> points`` and ``<id> feedback`` for every exercise of
the lessons graded, then sandbox (``bubblewrap``, or ``none`` for --no-sandbox), flags (code
that reaches into the grader, see tampering.py), exercise set (`Manifest.exercise_set`: what the
row was graded against), class folder (the submissions folder it belongs to), total, max,
status, seconds and the submission's sha256.

A gradebook never loses a grade:
- the whole file is rewritten after each graded submission with `files.write_atomically`, so a
  kill -9 at any moment leaves either the old or the new gradebook, never a torn row;
- it belongs to one class folder, and refuses to be used for another (`AnotherClassGradebook`);
- a row whose notebook has left the folder is kept, marked "no longer in the folder";
- the first rewrite of a run that would drop a row or replace a grade first copies the file to
  a timestamped backup beside it (``gradebook.backup-20261206-210501.csv``).
On the next run, a row stands when its sha256 still matches its file and its exercise set is
the lesson's current one; anything else is graded again, so rows are never duplicated, changed
work is regraded, and no report mixes two versions of a lesson. A run in the sandbox also
regrades the rows an earlier run graded without it.
"""
from __future__ import annotations

import csv
import hashlib
import io
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..status import SubmissionStatus
from .files import write_atomically
from .manifest import Manifest

HEAD = ["submission", "lesson"]
# Before TAIL: gradebooks from before these columns, without them, still resume.
SANDBOX, FLAGS, EXERCISE_SET, FOLDER = "sandbox", "flags", "exercise set", "class folder"
TAIL = ["total", "max", "status", "seconds", "sha256"]
NO_SANDBOX = "none"
_POINTS, _FEEDBACK = " points", " feedback"


class NotAGradebook(ValueError):
    """--out names a file that course-grade did not write."""


class AnotherClassGradebook(ValueError):
    """--out names the gradebook of another submissions folder."""


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
    exercise_set: str = ""          # `Manifest.exercise_set` of the lesson when it was graded
    folder: str = ""                # the class folder (absolute) the gradebook belongs to

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
        return cells + [self.sandbox, self.flags, self.exercise_set, self.folder,
                        str(self.total), max_points, self.status, f"{self.seconds:.1f}", self.sha256]

    def grade(self) -> tuple:
        """What a backup must keep: everything but the run's own notes (status, seconds)."""
        return (self.sha256, self.lesson, self.max_points, self.exercises, self.sandbox, self.flags,
                self.exercise_set)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def header(exercise_ids: list[str]) -> list[str]:
    return HEAD + [c for i in exercise_ids for c in (i + _POINTS, i + _FEEDBACK)] + [SANDBOX, FLAGS, EXERCISE_SET, FOLDER] + TAIL


def _row_from_csv(record: dict[str, str], exercise_ids: list[str]) -> Row:
    exercises = {i: (int(record[i + _POINTS]), record[i + _FEEDBACK])
                 for i in exercise_ids if record.get(i + _POINTS, "") != ""}
    return Row(
        submission=record["submission"], sha256=record["sha256"], lesson=record["lesson"],
        status=record["status"], seconds=float(record["seconds"] or 0),
        max_points=int(record["max"]) if record["max"] else None, exercises=exercises,
        sandbox=record.get(SANDBOX) or NO_SANDBOX, flags=record.get(FLAGS) or "",
        exercise_set=record.get(EXERCISE_SET) or "", folder=record.get(FOLDER) or "",
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


def backup_path(path: Path) -> Path:
    """A free name beside `path` for a copy of it: ``gradebook.backup-20261206-210501.csv``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        candidate = path.with_name(f"{path.stem}.backup-{stamp}{'' if n == 1 else f'-{n}'}{path.suffix}")
        if not candidate.exists():
            return candidate
    raise FileExistsError(f"no free backup name beside {path}")


class Gradebook:
    """The rows of one gradebook file, saved after every change.

    Args:
        path: the CSV (``--out``); its rows are loaded, so a rerun resumes.
        manifest: the exercises graded now (their order, points and exercise sets).
        folder: the class folder graded; a gradebook of another folder is refused.
        fresh: start over: forget what the file holds (it is backed up on the first save).

    Raises:
        NotAGradebook: `path` is a file course-grade did not write (it is never overwritten).
        AnotherClassGradebook: `path` holds the grades of another folder (and `fresh` is off).
    """

    def __init__(self, path: Path, manifest: Manifest, folder: Path | None = None, fresh: bool = False):
        self.path = path
        self.manifest = manifest
        self.folder = str(folder.resolve()) if folder else ""
        self._on_disk = read_gradebook(path)  # what a first save must not lose without a backup
        # The file as opened, byte for byte: an earlier save of this run may have rewritten it
        # (new columns, rows marked missing) before the first save that loses a grade.
        self._opened = path.read_bytes() if self._on_disk else b""
        self.backup: Path | None = None
        # Copies: marking a row missing must not change what the file held when it was opened.
        self.rows: dict[str, Row] = {} if fresh else {name: replace(row) for name, row in self._on_disk.items()}
        others = sorted({row.folder for row in self.rows.values()} - {"", self.folder}) if self.folder else []
        if others:
            raise AnotherClassGradebook(
                f"{path} holds the grades of {others[0]}, not of {self.folder}: grade each class into "
                "its own gradebook (leave out --out, and it goes beside the folder); if this is the "
                "same class moved, add --fresh to grade it again (the old file is kept as a backup)")
        for row in self.rows.values():  # rows from before the column belong to this folder
            row.folder = row.folder or self.folder

    def is_stale(self, row: Row) -> bool:
        """Whether `row` was graded against another version of its lesson's exercises."""
        return row.exercise_set != self.manifest.exercise_set(row.lesson)

    def is_current(self, submission: str, sha256: str, sandboxed: bool) -> bool:
        """Whether the row of `submission` stands: same file, same exercises, graded as safely."""
        row = self.rows.get(submission)
        return (row is not None and row.sha256 == sha256 and (row.sandboxed or not sandboxed)
                and row.status != SubmissionStatus.MISSING and not self.is_stale(row))

    def mark_missing(self, submissions: set[str]) -> list[str]:
        """Mark the rows whose notebook is no longer in the folder (and keep them); their names."""
        gone = sorted(name for name, row in self.rows.items()
                      if name not in submissions and row.status != SubmissionStatus.MISSING)
        for name in gone:
            self.rows[name].status = SubmissionStatus.MISSING
        return gone

    def exercise_ids(self) -> list[str]:
        """The exercise columns: those of every lesson with a row, in course order."""
        lessons = {row.lesson for row in self.rows.values()}
        ids = [e.id for lesson, exercises in self.manifest.lessons.items() if lesson in lessons for e in exercises]
        others = [i for row in self.rows.values() for i in row.exercises if i not in ids]
        return ids + list(dict.fromkeys(others))

    def maximum(self, exercise_id: str) -> int | None:
        """What `exercise_id` is worth now; None for an exercise the course no longer has."""
        return next((e.points for exercises in self.manifest.lessons.values() for e in exercises
                     if e.id == exercise_id), None)

    def put(self, row: Row) -> None:
        row.folder = self.folder
        self.rows[row.submission] = row
        self.save()

    def save(self) -> None:
        if self.backup is None and self._loses_a_grade():
            self.backup = backup_path(self.path)
            write_atomically(self.backup, self._opened.decode("utf-8"))
        write_gradebook(self.path, list(self.rows.values()), self.exercise_ids())

    def _loses_a_grade(self) -> bool:
        """Whether saving now would drop or change a row of the file as it was opened."""
        return any(name not in self.rows or self.rows[name].grade() != row.grade()
                   for name, row in self._on_disk.items())

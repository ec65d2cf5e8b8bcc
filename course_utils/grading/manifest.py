"""The grading manifest: for each lesson, its exercises' canonical check cell, output and points.

It is generated from solutions/ by `scripts/make_exercises.py` (see `authoring.build`). Nothing
in it is secret: the expected output of every check is ``✅ <id> passed``. What it protects is
the check cell itself, which a submission may have edited, tagged, deleted or rebound.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from .. import checks
from .cells import exercise_ids, lesson_of

MANIFEST_PATH = Path(__file__).with_name("manifest.json")
_CHECKS_FOLDER = Path(checks.__file__).parent


@dataclass(frozen=True)
class ManifestExercise:
    id: str
    points: int
    check_source: str
    expected_output: str


@dataclass(frozen=True)
class Manifest:
    lessons: dict[str, tuple[ManifestExercise, ...]]

    def exercises(self, lesson: str) -> tuple[ManifestExercise, ...]:
        return self.lessons[lesson]

    def max_points(self, lesson: str) -> int:
        return sum(e.points for e in self.lessons[lesson])

    def exercise_set(self, lesson: str) -> str:
        """A short fingerprint of what grading `lesson` means; each gradebook row records it.

        It covers the lesson's exercises (ids, points, check cells, expected outputs) and the
        source of its checks (``course_utils/checks/lessonNN.py``): when any of them changes,
        rows graded before are graded again. A row of no known lesson ("") records the
        fingerprint of every lesson, since a new one might claim its notebook.
        """
        return self._exercise_sets.get(lesson, self._exercise_sets[""])

    @cached_property
    def _exercise_sets(self) -> dict[str, str]:
        # Computed once: the report asks for every row after every graded submission.
        sets = {name: self._fingerprint([name]) for name in self.lessons}
        return sets | {"": self._fingerprint(sorted(self.lessons))}

    def _fingerprint(self, lessons: list[str]) -> str:
        digest = hashlib.sha256()
        for name in lessons:
            digest.update(json.dumps([name, [asdict(e) for e in self.lessons[name]]]).encode())
            module = _CHECKS_FOLDER / f"lesson{name[:2]}.py"
            digest.update(module.read_bytes() if module.is_file() else b"")
        return digest.hexdigest()[:12]

    def identify(self, nb: dict, filename: str | None = None) -> str | None:
        """The lesson a notebook (or a learner's copy of one) belongs to, or None.

        By the notebook's ``course.lesson`` metadata, else by the exercise ids its cells carry,
        else (only when `filename` is given) by a lesson name inside the file name, for
        submissions whose metadata was lost by copying cells into a new notebook.
        """
        lesson = lesson_of(nb)
        if lesson in self.lessons:
            return lesson
        ids = set(exercise_ids(nb))
        for name, exercises in self.lessons.items():
            if ids & {e.id for e in exercises}:
                return name
        if filename:
            matches = [name for name in self.lessons if name in Path(filename).name]
            return max(matches, key=len) if matches else None
        return None


def parse_manifest(data: dict) -> Manifest:
    return Manifest({
        lesson: tuple(ManifestExercise(**exercise) for exercise in entry["exercises"])
        for lesson, entry in data["lessons"].items()
    })


@lru_cache(maxsize=8)
def load_manifest(path: str | Path = MANIFEST_PATH) -> Manifest:
    with open(path, encoding="utf-8") as f:
        return parse_manifest(json.load(f))


def read_notebook_json(path: Path) -> dict | None:
    """The raw JSON of a notebook file, or None if it is not a JSON object (not a notebook)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None

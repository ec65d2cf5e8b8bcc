"""The grading manifest: for each lesson, its exercises' canonical check cell, output and points.

It is generated from solutions/ by `scripts/make_exercises.py` (see `authoring.build`). Nothing
in it is secret: the expected output of every check is ``✅ <id> passed``. What it protects is
the check cell itself, which a submission may have edited, tagged, deleted or rebound.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .cells import exercise_ids, lesson_of

MANIFEST_PATH = Path(__file__).with_name("manifest.json")


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

"""The exercise registry: ids -> the function that tests an answer.

Each lesson has its own module, ``course_utils/checks/lessonNN.py``, that registers its
exercises with ``@exercise("NN.name", points=...)``. Modules are imported on first use from the
id's prefix, so a lesson's checks load only when a learner checks that lesson, and lessons can
be added independently of one another.
"""
from __future__ import annotations

import importlib
import inspect
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable

from .failure import CheckFailed

DEFAULT_TIME_LIMIT_S = 10.0

# The time limit of the exercise being checked, read by `calls.call` for each learner call.
current_time_limit: ContextVar[float] = ContextVar("current_time_limit", default=DEFAULT_TIME_LIMIT_S)


@dataclass(frozen=True)
class Exercise:
    id: str
    points: int
    time_limit: float
    test: Callable[..., None]

    @property
    def answer_names(self) -> list[str]:
        return list(inspect.signature(self.test).parameters)

    def run(self, *answer) -> None:
        """Call the test on `answer`; it raises CheckFailed on the first problem."""
        names = self.answer_names
        if len(answer) != len(names):
            wanted = ", ".join([repr(self.id), *names])
            raise CheckFailed(f"check takes {len(names)} answer(s) here: check({wanted})")
        token = current_time_limit.set(self.time_limit)
        try:
            self.test(*answer)
        finally:
            current_time_limit.reset(token)


_REGISTRY: dict[str, Exercise] = {}


def exercise(exercise_id: str, points: int = 1, time_limit: float = DEFAULT_TIME_LIMIT_S):
    """Register the decorated function as the test of `exercise_id`.

    The function receives the learner's answer(s), in the order of the check cell, and raises
    `CheckFailed` with one line at the first problem; returning means the answer passed.

    Args:
        exercise_id: ``"NN.name"``; NN picks the module (``lessonNN.py``) that must define it.
        points: what the exercise is worth in the gradebook (the notebook's answer cell
            metadata must agree; tests/test_exercise_proofs.py checks that).
        time_limit: seconds allowed for each call into learner code.
    """
    lesson_module = module_for(exercise_id)

    def register(test: Callable[..., None]) -> Callable[..., None]:
        if test.__module__ != lesson_module:
            raise ValueError(f"{exercise_id} must be registered in {lesson_module}, not {test.__module__}")
        if exercise_id in _REGISTRY and _REGISTRY[exercise_id].test.__qualname__ != test.__qualname__:
            raise ValueError(f"exercise {exercise_id} is registered twice")
        _REGISTRY[exercise_id] = Exercise(exercise_id, points, time_limit, test)
        return test

    return register


def module_for(exercise_id: str) -> str:
    """``"01.messages"`` -> ``"course_utils.checks.lesson01"``."""
    lesson, dot, name = exercise_id.partition(".")
    if not (dot and name and lesson.isdigit() and len(lesson) == 2):
        raise LookupError(f"{exercise_id!r} is not an exercise id: ids look like '01.messages'")
    return f"{__package__}.lesson{lesson}"


def get_exercise(exercise_id: str) -> Exercise:
    """The registered exercise, importing its lesson's module the first time."""
    if exercise_id not in _REGISTRY:
        module = module_for(exercise_id)
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as missing:
            if missing.name != module:
                raise
            raise LookupError(f"no checks for {exercise_id!r}: {module} does not exist") from None
    if exercise_id not in _REGISTRY:
        lesson = exercise_id.partition(".")[0]
        known = ", ".join(sorted(i for i in _REGISTRY if i.startswith(lesson + ".")))
        raise LookupError(f"no exercise {exercise_id!r}; lesson {lesson} has: {known or 'none'}")
    return _REGISTRY[exercise_id]


def registered_exercises() -> dict[str, Exercise]:
    """Every exercise registered so far (import a lesson module to register its exercises)."""
    return dict(_REGISTRY)

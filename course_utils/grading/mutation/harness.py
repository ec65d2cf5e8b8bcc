"""Mutants of every solution, graded by the exercise's own check; the reviewed equivalents.

A mutant is the solutions notebook's answer cell with its solution block edited once
(`python_edits`, `template_edits`). It is *killed* when its check fails, as a learner's answer
with that slip must. A survivor is a grader bug, unless the edit leaves a right answer: then it
is listed, with one line saying why, in ``solutions/equivalent_mutants.toml``. Edits that change
nothing (the same Python or Jinja syntax tree) and templates that no longer parse are dropped
before grading: no learner hands either in as an answer to grade.
"""
from __future__ import annotations

import ast
import difflib
import hashlib
import random
import signal
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import jinja2

from ...status import ExerciseStatus
from ...templates.guard import parse_template
from ..authoring import ExerciseSpec
from ..cells import BEGIN, END, replace_solution
from ..inprocess import ExerciseContext
from .python_edits import python_mutants

MUTANT_TIME_LIMIT_S = 300  # a mutant that hangs the check this long counts as killed: grading times out
EQUIVALENTS_FILE = "equivalent_mutants.toml"


@dataclass(frozen=True)
class Mutant:
    exercise_id: str
    edit: str      # what the edit does, e.g. "line 3: drops a newline from '\n'"
    solution: str  # the solution block the edit was made to
    block: str     # the solution block after the edit
    source: str    # the whole answer cell with that block

    def diff(self) -> str:
        """The edit as a unified diff of the solution block."""
        lines = difflib.unified_diff(self.solution.splitlines(), self.block.splitlines(), n=1, lineterm="")
        return "\n".join(list(lines)[2:])

    @property
    def id(self) -> str:
        """Stable while the solution and the edit are: the key of the reviewed equivalents."""
        return hashlib.sha256(f"{self.exercise_id}\0{self.block}".encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Verdict:
    mutant: Mutant
    killed: bool
    feedback: str


def solution_block(answer_source: str) -> str:
    """The lines between the solution markers, dedented to the BEGIN marker's indent."""
    lines = answer_source.split("\n")
    start = next(i for i, line in enumerate(lines) if line.strip() == BEGIN)
    stop = next(i for i, line in enumerate(lines) if line.strip() == END)
    indent = len(lines[start]) - len(lines[start].lstrip())
    return "\n".join(line[indent:] for line in lines[start + 1: stop])


def mutants_of(spec: ExerciseSpec) -> list[Mutant]:
    """Every distinct one-edit mutant of `spec`'s solution that means something else."""
    block = solution_block(spec.answer_source)
    original = _meaning(block)
    seen: set[str] = set()
    found = []
    for edit, mutated in python_mutants(block):
        meaning = _meaning(mutated)
        if meaning is None or meaning == original or meaning in seen:
            continue
        seen.add(meaning)
        found.append(Mutant(spec.id, edit, block, mutated, replace_solution(spec.answer_source, mutated, spec.id)))
    return found


def _meaning(block: str) -> str | None:
    """The block's syntax tree, with each template's jinja2 tree (transformers' environment)
    in place of its text; None when a template in it no longer parses."""
    try:
        tree = ast.parse(block)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and ("{%" in node.value or "{{" in node.value):
            try:
                node.value = repr(parse_template(node.value))
            except jinja2.TemplateSyntaxError:
                return None
    return ast.dump(tree)


def sample(mutants: list[Mutant], per_exercise: int, seed: int) -> list[Mutant]:
    """A fixed sample of `per_exercise` mutants of each exercise (the same for the same seed)."""
    by_exercise: dict[str, list[Mutant]] = {}
    for mutant in mutants:
        by_exercise.setdefault(mutant.exercise_id, []).append(mutant)
    chosen = []
    for exercise_id, group in by_exercise.items():
        rng = random.Random(f"{seed}:{exercise_id}")
        chosen += rng.sample(group, min(per_exercise, len(group)))
    return chosen


def grade_mutants(context: ExerciseContext, mutants: Iterable[Mutant]) -> Iterator[Verdict]:
    """Each mutant through the exercise's check, as the proofs grade a known-wrong answer."""
    for mutant in mutants:
        try:
            with _time_limit(MUTANT_TIME_LIMIT_S):
                result = context.grade(mutant.source)
        except TimeoutError:
            yield Verdict(mutant, True, f"did not finish within {MUTANT_TIME_LIMIT_S} s")
            continue
        yield Verdict(mutant, result.status != ExerciseStatus.PASSED, result.feedback)


@contextmanager
def _time_limit(seconds: int):
    def expire(signum, frame):
        raise TimeoutError
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Equivalent:
    exercise_id: str
    mutant_id: str
    edit: str
    why: str


def read_equivalents(solutions: Path) -> dict[str, Equivalent]:
    """The reviewed equivalent mutants, by mutant id.

    Raises:
        ValueError: an entry lacks a field, or has no reason.
    """
    path = solutions / EQUIVALENTS_FILE
    if not path.exists():
        return {}
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("equivalent", [])
    found = {}
    for number, entry in enumerate(entries, 1):
        missing = [k for k in ("exercise", "mutant", "edit", "why") if not str(entry.get(k, "")).strip()]
        if missing:
            raise ValueError(f"{path.name}: entry {number} needs {', '.join(missing)}")
        found[entry["mutant"]] = Equivalent(entry["exercise"], entry["mutant"], entry["edit"], entry["why"])
    return found

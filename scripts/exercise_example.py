"""The example exercise that `make new-exercise` (scripts/new_exercise.py) writes: a token count,
which any lesson can hold, needs no answer from the lesson's other cells, and passes every test
of the course (its proofs, its mutants) until the instructor makes it theirs.

Its check is code for ``course_utils/checks/lessonNN.py``, its cells are a task, an answer cell
(solution, two known-wrong and two known-right answers) and a check cell for the lesson's
solutions notebook. TODO comments in both say what to replace.
"""
from __future__ import annotations

import copy
import string

import nbformat

# What the example check imports, by the module of course_utils/checks it comes from.
EXAMPLE_IMPORTS = {
    ".calls": ("call",),
    ".course_models": ("course_tokenizer",),
    ".expect": ("expect_equal", "expect_type"),
    ".failure": ("CheckFailed",),
    ".registry": ("exercise",),
}

CHECK_CODE = string.Template('''

# TODO($id): an example that `make new-exercise` wrote, so that the course stays green until
# your exercise is written. Replace the texts, the call and what is expected with yours, then
# the task, the solution and the known_wrong and known_right answers in
# solutions/$solution (docs/INSTRUCTORS.md, "Adding an exercise").
${NAME}_TEXTS = ("Hello, world!", "<|im_start|>user\\nBonjour, ça va ?<|im_end|>\\n", "")


@exercise("$id", points=$points)
def check_$name($name):
    # The instruct tokenizer every lesson formats with, loaded once per kernel: the nano stand-in
    # offline, SmolLM2 online. course_models also has instruct_pair() and base_pair().
    tokenizer = course_tokenizer()
    for text in ${NAME}_TEXTS:
        shown = f"$name(tokenizer, {text!r})"
        got = call($name, tokenizer, text, shown_as=shown)  # learner code: time limit, output captured
        expected = len(tokenizer.tokenize(text))
        expect_type(got, int, shown)
        # TODO($id): a message of its own for each mistake you expect learners to make.
        if got == len(text) != expected:
            raise CheckFailed(f"{shown} returned {got}, the number of characters: count the tokens "
                              "(tokenizer.tokenize)")
        expect_equal(got, expected, shown)
''')

NEW_MODULE = string.Template('''"""Lesson $lesson, $title: the checks of its exercises."""
from __future__ import annotations
''')

TASK = string.Template('''## $id $tier Count the tokens of a text

<!-- TODO($id): an example that `make new-exercise` wrote. Replace the title and this task with \
yours, then the answer cell (its solution, and the wrong and right answers in its metadata) and \
the check in course_utils/checks/lesson$lesson.py: docs/INSTRUCTORS.md, "Adding an exercise". -->
Write `$name(tokenizer, text)` that returns how many tokens `tokenizer` splits `text` into, each \
special token (such as `<|im_end|>`) counting as one.''')

ANSWER = string.Template('''def $name(tokenizer, text):
    """How many tokens `tokenizer` splits `text` into."""
    ### BEGIN SOLUTION
    return len(tokenizer.tokenize(text))
    ### END SOLUTION''')

KNOWN_WRONG = [
    {"why": "counts characters, not tokens", "expect": "the number of characters", "source": "return len(text)"},
    {"why": "returns the tokens, not how many there are", "expect": "returned a list",
     "source": "return tokenizer.tokenize(text)"},
]
KNOWN_RIGHT = [
    {"why": "encodes to ids, no special tokens added, and counts them",
     "source": "return len(tokenizer.encode(text, add_special_tokens=False))"},
    {"why": "counts the input_ids of a tokenizer call",
     "source": 'return len(tokenizer(text, add_special_tokens=False)["input_ids"])'},
]


def check_code(exercise_id: str, points: int, solution_name: str) -> str:
    """The example's check, to append to the lesson's checks module (which imports EXAMPLE_IMPORTS)."""
    name = exercise_id.partition(".")[2]
    return CHECK_CODE.substitute(id=exercise_id, name=name, NAME=name.upper(), points=points, solution=solution_name)


def module_head(lesson: str, title: str) -> str:
    """The start of a checks module for a lesson that has none."""
    return NEW_MODULE.substitute(lesson=lesson, title=title.lower())


def cells(exercise_id: str, points: int, tier: str) -> list:
    """The task, answer and check cells (without cell ids) of the example."""
    lesson, _, name = exercise_id.partition(".")
    fields = dict(id=exercise_id, name=name, lesson=lesson, tier=tier)
    task = nbformat.v4.new_markdown_cell(TASK.substitute(fields))
    answer = nbformat.v4.new_code_cell(ANSWER.substitute(fields))
    answer.metadata["course"] = {"role": "answer", "id": exercise_id, "points": points,
                                 "known_wrong": copy.deepcopy(KNOWN_WRONG), "known_right": copy.deepcopy(KNOWN_RIGHT)}
    check = nbformat.v4.new_code_cell(f'check("{exercise_id}", {name})')
    check.metadata["course"] = {"role": "check", "id": exercise_id}
    return [task, answer, check]

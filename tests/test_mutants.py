"""Mutation testing of the checks (course_utils/grading/mutation; `make mutants` runs every mutant).

- Every mutant of every exercise is graded: each is killed by its check, or listed, with why, in
  solutions/equivalent_mutants.toml; and no listed mutant is killed.
- The list is reviewed against today's solutions: no entry for a mutant that no longer exists.
- The edits themselves: each kind of slip the harness promises is made, at the right place;
  edits that change nothing and templates that no longer parse are not counted as mutants.
"""
from __future__ import annotations

import functools
import textwrap
from pathlib import Path

import pytest

from course_utils.grading.authoring import read_solution
from course_utils.grading.inprocess import exercise_contexts
from course_utils.grading.mutation import grade_mutants, mutants_of, read_equivalents, sample, solution_block
from course_utils.grading.mutation.harness import EQUIVALENTS_FILE
from course_utils.grading.mutation.python_edits import python_mutants
from course_utils.grading.mutation.template_edits import template_mutants
from support.paths import ROOT

SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
SPECS = [(path, spec) for path in SOLUTIONS for spec in read_solution(path)[2]]
EQUIVALENTS = read_equivalents(ROOT / "solutions")


@functools.lru_cache(maxsize=None)
def contexts(path: Path) -> dict:
    return {context.spec.id: context for context in exercise_contexts(path)}


@functools.lru_cache(maxsize=None)
def every_mutant() -> dict[str, object]:
    return {mutant.id: mutant for _, spec in SPECS for mutant in mutants_of(spec)}


@pytest.mark.parametrize("path, spec", SPECS, ids=[s.id for _, s in SPECS])
def test_the_check_kills_every_mutant_but_the_reviewed_right_answers(path, spec):
    # Every mutant, not a sample: the whole course grades in well under a minute in process.
    survivors = {v.mutant.id: v.mutant for v in grade_mutants(contexts(path)[spec.id], mutants_of(spec))
                 if not v.killed}
    listed = {e.mutant_id for e in EQUIVALENTS.values() if e.exercise_id == spec.id}
    unlisted = [m for i, m in survivors.items() if i not in listed]
    assert not unlisted, "the check passes these wrong answers:\n\n" + "\n\n".join(
        f"[{m.id}] {m.edit}\n{m.diff()}" for m in unlisted)
    # A listed mutant the check kills would claim that a right answer fails.
    killed = sorted(listed & set(every_mutant()) - set(survivors))
    assert not killed, f"listed as right answers in {EQUIVALENTS_FILE} but killed: {killed}"


def test_every_reviewed_equivalent_is_a_mutant_of_todays_solutions():
    stale = [e for e in EQUIVALENTS.values() if e.mutant_id not in every_mutant()]
    assert not stale, f"review {EQUIVALENTS_FILE} again, the solutions changed: {stale}"


def test_a_fixed_sample_is_the_same_mutants_every_time():
    # make mutants --sample N --seed S: the same mutants for the same seed, N of each exercise.
    mutants = [m for _, spec in SPECS for m in mutants_of(spec)]
    first = [m.id for m in sample(mutants, 3, 17)]
    assert first == [m.id for m in sample(list(mutants), 3, 17)] != [m.id for m in sample(mutants, 3, 18)]
    assert len(first) == sum(min(3, len(mutants_of(spec))) for _, spec in SPECS)


def edits(source: str) -> dict[str, str]:
    return dict(python_mutants(textwrap.dedent(source).strip("\n")))


def test_python_edits_make_the_slips_the_issue_names():
    made = edits('''
        rate = stopped / len(prompts)
        text = text.removesuffix("<|im_end|>\\n")
        history = messages + [{"role": role, "content": content}]
        inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True)
        output = model.generate(**inputs, max_new_tokens=64)
        new = output[0, inputs["input_ids"].shape[1]:]
    ''')
    assert made["line 1: stopped / len(prompts) -> stopped // len(prompts)"].startswith("rate = (stopped // len(prompts))")
    assert 'text.rstrip("<|im_end|>\\n")' in made["line 2: .removesuffix(...) -> .rstrip(...)"].replace("'", '"')
    assert "messages.extend(" in made["line 3: extends messages in place"]
    assert "\"role\": 'user'" in made["line 3: hard-codes the role role as 'user'"]
    assert "add_generation_prompt" not in made["line 4: drops add_generation_prompt= from apply_chat_template()"]
    assert "add_generation_prompt=False" in made["line 4: add_generation_prompt=False in apply_chat_template()"]
    assert "eos_token_id=tokenizer.eos_token_id" in made["line 5: adds eos_token_id=tokenizer.eos_token_id to generate()"]
    assert "shape[1] + 1):" in made["line 6: slices from inputs['input_ids'].shape[1] + 1"]


def test_python_edits_leave_docstrings_and_fstrings_alone():
    made = edits('''
        def tool(city: str) -> str:
            """Get the weather.\\n\\nArgs:\\n    city: The city."""
            return f"{city}: sunny\\n"
    ''')
    assert not [edit for edit in made if "newline" in edit], made.keys()


def test_template_edits_flip_dashes_drop_newlines_and_filters():
    template = "{%- for m in messages %}{{- m['content'] | trim + '\\n' }}{%- endfor %}"
    made = dict(template_mutants(template))
    assert made["line 1: removes the left dash of {%- for m in messages %}"].startswith("{% for")
    assert "'' }}" in made["line 1: drops a newline from '\\n'"]
    assert "| trim" not in made["line 1: removes the filter '| trim'"]


def test_edits_that_change_nothing_or_do_not_parse_are_not_mutants():
    spec = next(s for _, s in SPECS if s.id == "03.chatml")
    block = solution_block(spec.answer_source)
    all_edits = list(python_mutants(block))
    kept = mutants_of(spec)
    # transformers renders with trim_blocks and lstrip_blocks: a dash next to a block tag on its
    # own line often changes nothing, and such an edit is not a mutant to kill.
    assert len(kept) < len(all_edits)
    assert all(m.block != block for m in kept)
    assert len({m.id for m in kept}) == len(kept)

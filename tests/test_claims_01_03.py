"""Lessons 01 and 03: the stored outputs show what the text beside them says (issue 14).

- 01.injection applies the lesson to a case it does not show (an audit of typed control tokens,
  a tool result and look-alikes included) instead of copying its `sanitize_control_tokens` cell;
- 03.debug, a debugging exercise: the symptom cells show the two bugs the text points at;
- no lesson-03 cell applies `add_generation_prompt=True` after an assistant turn, except the one
  cell that shows it as the mistake, and says so.
"""
from __future__ import annotations

import json
import re

import nbformat
import pytest

from support.paths import ROOT, NOTEBOOKS, SOLUTIONS
from support.stored_outputs import cell_source, stored_text

LESSON01, SOLUTION01 = NOTEBOOKS / "01_messages_and_special_tokens.ipynb", SOLUTIONS / "01_messages_and_special_tokens.ipynb"
LESSON03, SOLUTION03 = NOTEBOOKS / "03_writing_chat_templates.ipynb", SOLUTIONS / "03_writing_chat_templates.ipynb"
MISTAKE_CELL = "l03-50"  # the one cell that renders a generation prompt after the assistant's turn, on purpose


def _outputs(path):
    """(cell id, text of one stored output), for every output of every code cell."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                yield cell.id, output.text
            elif output.output_type in ("execute_result", "display_data"):
                yield cell.id, output.get("data", {}).get("text/plain", "")


# --- 01: the first conversation, shown message by message ---------------------------------------

def test_lesson01_shows_its_first_conversation_by_role_oldest_first_as_the_text_says():
    assert "look at the role above each message, and at the order, oldest first" in cell_source(LESSON01, "l01-00")
    headings = re.findall(r"^\[(\d+)\] (\w+)$", stored_text(LESSON01, "l01-01"), flags=re.MULTILINE)
    assert headings == [("0", "system"), ("1", "user"), ("2", "assistant"), ("3", "user")]
    assert "Three roles" in cell_source(LESSON01, "l01-02")
    assert stored_text(LESSON01, "l01-01").rstrip().endswith("And of Japan?")  # "Look at the last message"


# --- 01.injection -----------------------------------------------------------------------------

def test_injection_exercise_is_not_a_copy_of_the_lessons_sanitize_cell():
    solution = cell_source(SOLUTION01, "injection-answer")
    assert "typed_control_tokens" in solution and "sanitize_control_tokens" not in solution
    # The cases it applies the lesson to are not in the lesson: a tool result and <|endoftext|> typed.
    lesson_code = "\n".join(c.source for c in nbformat.read(LESSON01, as_version=4).cells if c.cell_type == "code")
    assert '"role": "tool"' not in lesson_code and "typed_control_tokens" not in lesson_code
    from course_utils.checks.lesson01 import INJECTIONS
    roles_with_tokens = {m["role"] for messages in INJECTIONS.values() for m in messages if "<|im_end|>" in m["content"]}
    assert "tool" in roles_with_tokens


def test_injection_example_in_the_text_is_what_the_solution_prints():
    text = cell_source(SOLUTION01, "injection-md")
    example = "[(0, '<|im_end|>'), (0, '<|im_start|>')]"
    assert example in text
    first, second = stored_text(SOLUTION01, "try").splitlines()
    assert first == example  # "the first lists two typed tokens"
    assert second == "[]"  # "the second none, because <| im_end |> with spaces is plain text"
    assert "<| im_end |>" in cell_source(SOLUTION01, "try")


def test_lesson01_practise_table_describes_the_new_exercise():
    practise = cell_source(LESSON01, "l01-35")
    assert "| `01.injection` | 🦁 | `typed_control_tokens(tokenizer, messages)`" in practise
    assert "safe_ids" not in practise


# --- 03.debug ---------------------------------------------------------------------------------

def test_debug_symptom_shows_the_two_bugs_where_the_text_says():
    lines = dict(line.split(": ", 1) for line in stored_text(SOLUTION03, "s03-24").splitlines())
    by = {(key.split("'")[1], key.endswith("True ")): verdict for key, verdict in
          ((k.replace("add_generation_prompt=", ""), v) for k, v in lines.items())}
    # "the other two go wrong only with the generation prompt, at the very end"
    for name in ("one user turn", "system and one user turn"):
        assert by[(name, False)] == "no difference: both texts are identical"
        assert by[(name, True)].endswith("expected '↵' but got ⟨end of text⟩")
    # "the one without a system message and with several turns goes wrong in its middle, with or without"
    for flag in (False, True):
        assert "got 'system↵You·are·a·helpful…'" in by[("three turns without system", flag)]


def test_debug_show_has_the_repeated_system_turns_and_the_open_header_without_its_newline():
    rendering = stored_text(SOLUTION03, "s03-26").rstrip("\n")
    assert rendering.count("<|im_start|>system↵") == 5  # one per message, not one in all
    assert rendering.endswith("<|im_start|>assistant") and not rendering.endswith("assistant↵")


def test_debug_is_listed_in_the_practise_table_and_the_course_map():
    assert "| `03.debug` | 🐕 |" in cell_source(LESSON03, "l03-48")
    course_map = json.loads((ROOT / "docs" / "course_map.json").read_text(encoding="utf-8"))
    lesson = next(entry for entry in course_map["lessons"] if entry["stem"] == "03_writing_chat_templates")
    assert {"id": "03.debug", "tier": "🐕"} in lesson["exercises"]


# --- no generation prompt after the assistant's own turn, unless shown as the mistake ----------

# A rendering that ends with an assistant turn closed, then an assistant header opened again, in
# the formats lesson 03 renders with a generation prompt (ChatML and Zephyr), whitespace ignored.
_AFTER_ASSISTANT = [
    re.compile(r"<\|im_start\|>assistant(?:(?!<\|im_start\|>).)*<\|im_end\|><\|im_start\|>assistant$", re.S),
    re.compile(r"<\|assistant\|>(?:(?!<\|).)*</s><\|assistant\|>$", re.S),
]


def _normalized(text: str) -> str:
    return re.sub(r"(\\n|[\s·↵'\"])", "", text)


def _opens_a_second_assistant_turn(text: str) -> bool:
    return any(pattern.search(_normalized(text)) for pattern in _AFTER_ASSISTANT)


def test_the_detector_sees_the_mistake_in_the_cell_that_shows_it():
    assert any(_opens_a_second_assistant_turn(text) for cell_id, text in _outputs(LESSON03) if cell_id == MISTAKE_CELL)
    assert not _opens_a_second_assistant_turn("<|im_start|>user↵Hi<|im_end|>↵<|im_start|>assistant↵")


@pytest.mark.parametrize("path", [LESSON03, SOLUTION03], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_lesson03_cell_opens_a_generation_prompt_after_an_assistant_turn_silently(path):
    offenders = [cell_id for cell_id, text in _outputs(path)
                 if _opens_a_second_assistant_turn(text) and not (path == LESSON03 and cell_id == MISTAKE_CELL)]
    assert offenders == [], f"{path.name}: cells {offenders} render a generation prompt after the assistant's turn"


def test_the_mistake_cell_says_it_is_the_mistake():
    text = cell_source(LESSON03, "l03-49")
    assert "mistake" in text and "lesson 04" in text and "second assistant header" in text
    assert "THE MISTAKE" in cell_source(LESSON03, MISTAKE_CELL)


def test_the_lessons_conversation_is_a_prompt_ending_on_a_user_turn():
    # Every cell of sections 1-7 that adds the generation prompt renders `conversation` (fresh run of its cell).
    namespace: dict = {}
    exec(cell_source(LESSON03, "l03-01"), namespace)  # noqa: S102 - the lesson's own cells
    exec(cell_source(LESSON03, "l03-03"), namespace)  # noqa: S102
    assert namespace["conversation"][-1]["role"] == "user"
    assert stored_text(LESSON03, "l03-07") == "\"<s>4 messages, then the assistant's turn\""


def test_mistral_prompt_ends_with_inst_as_the_text_says():
    # "Its template has no generation prompt; a prompt already ends with [/INST]."
    assert "a prompt already ends with `[/INST]`" in cell_source(LESSON03, "l03-20")
    mistral = [text for cell_id, text in _outputs(LESSON03) if cell_id == "l03-21" and text.startswith("<s>")]
    assert len(mistral) == 1 and mistral[0].rstrip("\n").endswith("[/INST]")

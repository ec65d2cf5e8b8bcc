"""Lesson 07's families: TRL's templates render through the course exactly as through
transformers, and `course_utils.families` reports TRL's verdicts as TRL gives them."""
import re

import jinja2
import nbformat
import pytest
import trl.chat_template_utils as trl_templates

from course_utils.families import checks_table, training_checks, with_chat_template
from course_utils.templates import TemplateError, fixed_clock, get_template, render_template
from support.paths import ROOT

LESSON_NOTEBOOKS = [ROOT / "notebooks" / "07_chat_templates_today.ipynb",
                    ROOT / "solutions" / "07_chat_templates_today.ipynb"]
TOOL_CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}
CONVERSATIONS = {
    "one question": [{"role": "user", "content": "What is the capital of France?"}],
    "system and two turns": [
        {"role": "system", "content": "Answer in one word."},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "And of Peru?"},
    ],
    "reasoning in history": [
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris.", "reasoning_content": "France's capital is Paris."},
        {"role": "user", "content": "And of Peru?"},
        {"role": "assistant", "content": "Lima.", "reasoning_content": "Peru's capital is Lima."},
    ],
    "one tool call": [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "snowy, -3°C"},
    ],
    "content blocks": [{"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "!"}]}],
}


def trl_templates_used_by_the_lesson() -> list[str]:
    """Every `<name>_chat_template` that lesson 07's notebooks import from trl.chat_template_utils."""
    names = set()
    for path in LESSON_NOTEBOOKS:
        if not path.exists():
            continue
        for cell in nbformat.read(path, as_version=4).cells:
            for imported in re.findall(r"from trl\.chat_template_utils import \(?([^)]*?)\)?\n", cell.source + "\n"):
                names.update(re.findall(r"\b(\w+_chat_template)\b", imported))
    # Functions such as clone_chat_template match the pattern too; templates are the strings.
    return sorted(name for name in names if isinstance(getattr(trl_templates, name, None), str))


@pytest.fixture(scope="module")
def course_tokenizer():
    from course_utils.models import load_tokenizer

    return load_tokenizer()


def test_the_lesson_uses_trl_templates():
    # Without this, a renamed lesson would make the byte-for-byte test below vanish.
    assert {"llama3_2_chat_template", "qwen3_chat_template", "gemma3_chat_template"} <= set(
        trl_templates_used_by_the_lesson())


def outcome(render):
    try:
        return render(), None
    except (TemplateError, jinja2.TemplateError, TypeError, ValueError) as error:
        return None, type(error).__name__


@pytest.mark.parametrize("name", trl_templates_used_by_the_lesson())
@pytest.mark.parametrize("conversation", CONVERSATIONS)
@pytest.mark.parametrize("generation_prompt", [False, True])
def test_trl_template_renders_through_the_course_byte_for_byte(course_tokenizer, name, conversation,
                                                               generation_prompt):
    template = getattr(trl_templates, name)
    family = with_chat_template(course_tokenizer, template, bos_token="<bos>")
    messages = CONVERSATIONS[conversation]
    with fixed_clock("2026-01-15"):
        ours, our_error = outcome(lambda: render_template(
            template, messages, add_generation_prompt=generation_prompt, bos_token="<bos>",
            eos_token=family.eos_token))
        theirs, their_error = outcome(lambda: family.apply_chat_template(
            messages, add_generation_prompt=generation_prompt, tokenize=False))
    if their_error is not None:
        # transformers raises jinja2's own errors; the course turns them into its TemplateError.
        assert our_error is not None, f"apply_chat_template raised {their_error}, render_template did not"
    else:
        assert ours == theirs


def test_with_chat_template_copies_and_adds_single_id_tokens(course_tokenizer):
    before = course_tokenizer.chat_template
    llama = with_chat_template(course_tokenizer, trl_templates.llama3_2_chat_template, ["<|eot_id|>"],
                               bos_token="<|begin_of_text|>")
    assert course_tokenizer.chat_template == before and "<|eot_id|>" not in course_tokenizer.get_added_vocab()
    assert len(llama("<|eot_id|>", add_special_tokens=False)["input_ids"]) == 1
    assert llama.bos_token == "<|begin_of_text|>" and llama.chat_template == trl_templates.llama3_2_chat_template


def test_qwen3_is_not_trainable_as_it_is_and_its_twin_is(course_tokenizer):
    original = training_checks(with_chat_template(course_tokenizer, trl_templates.qwen3_chat_template))
    twin = training_checks(with_chat_template(course_tokenizer, trl_templates.qwen3_training_chat_template))
    assert (original.generation_markers, original.prefix_preserving, original.stop_token_trained) == (False, False, False)
    assert original.training_twin == "TRL has one"
    assert (twin.generation_markers, twin.prefix_preserving, twin.stop_token_trained, twin.tool_calling) == (
        True, True, True, True)
    assert twin.training_twin == "not needed"


def test_smollm2_gets_no_twin_from_trl(course_tokenizer):
    smollm2 = with_chat_template(course_tokenizer, get_template("smollm2"))
    assert training_checks(smollm2).training_twin == "none: TRL cannot patch it"


def test_a_template_that_refuses_trls_probe_is_reported_not_raised(course_tokenizer):
    gemma3 = with_chat_template(course_tokenizer, trl_templates.gemma3_chat_template, bos_token="<bos>")
    assert training_checks(gemma3).prefix_preserving.startswith("cannot tell")


def test_checks_table_prints_aligned_and_shows_html(course_tokenizer):
    table = checks_table({"Qwen3": with_chat_template(course_tokenizer, trl_templates.qwen3_chat_template)})
    header, row = str(table).splitlines()
    assert header.index("prefix-preserving") == row.index("no", header.index("prefix-preserving"))
    assert "<table" in table._repr_html_() and "<td>Qwen3</td>" in table._repr_html_()

"""`{% generation %}` is detected one way, TRL's, wherever the course asks for it; and lesson 04 teaches
the mask lesson 05 trains with."""
from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import pytest
from support.stored_outputs import cell_source

from course_utils import sft
from course_utils.checks import CheckFailed, lesson05
from course_utils.checks.course_models import course_tokenizer
from course_utils.conversations import conversations
from course_utils.templates import render_template

L04 = Path(__file__).resolve().parents[1] / "notebooks" / "04_generation_prompts.ipynb"


def _config_with_template(tmp_path, text: str):
    path = tmp_path / "training.jinja"
    path.write_text(text, encoding="utf-8")
    return SimpleNamespace(assistant_only_loss=True, chat_template_path=str(path))


@pytest.mark.parametrize("marker", ["{% generation %}", "{%- generation %}", "{%- generation -%}", "{%generation%}"])
def test_05_config_accepts_every_spelling_of_the_generation_marker_trl_accepts(tmp_path, marker):
    template = sft.training_template().replace("{% generation %}", marker)
    lesson05._check_loss(_config_with_template(tmp_path, template), "sft_config_for((8, 0))")


def test_05_config_refuses_a_template_without_markers(tmp_path):
    with pytest.raises(CheckFailed, match="needs a template with {% generation %} markers"):
        lesson05._check_loss(_config_with_template(tmp_path, sft.inference_template()), "sft_config_for((8, 0))")


# --- lesson 04 teaches the mask lesson 05 trains with ------------------------------------------
# 04.generation_mask asks for another family's twin (Zephyr); the guarantee that lesson 04 shows
# the mask lesson 05 trains with is stated on the lesson's cell: its `chatml_training` (l04-24) is
# SmolLM2's training template less the default system turn, and the text beside it says so.

DEFAULT_SYSTEM = {"role": "system", "content": "You are a helpful AI assistant named SmolLM, trained by Hugging Face"}


def _lesson_cell_template() -> str:
    (assignment,) = ast.parse(cell_source(L04, "l04-24")).body  # the cell only assigns the template
    assert assignment.targets[0].id == "chatml_training"
    return ast.literal_eval(assignment.value)


def test_04_lesson_cell_teaches_the_mask_lesson_05_trains_with():
    chatml_training, smollm2_training = _lesson_cell_template(), sft.training_template()
    tokenizer = course_tokenizer()
    for name, messages in conversations():
        # SmolLM2 writes its default system turn when the conversation has none; ChatML does not.
        with_system = messages if messages[0]["role"] == "system" else [DEFAULT_SYSTEM, *messages]
        for flag in (False, True):
            assert render_template(chatml_training, with_system, add_generation_prompt=flag) == \
                render_template(smollm2_training, messages, add_generation_prompt=flag), name
        lesson = tokenizer.apply_chat_template(with_system, chat_template=chatml_training, return_dict=True,
                                               return_assistant_tokens_mask=True)
        trained = tokenizer.apply_chat_template(messages, chat_template=smollm2_training, return_dict=True,
                                                return_assistant_tokens_mask=True)
        assert list(lesson["input_ids"]) == list(trained["input_ids"]), name
        assert list(lesson["assistant_masks"]) == list(trained["assistant_masks"]), name
        assert any(trained["assistant_masks"]) == any(m["role"] == "assistant" for m in messages), name


def test_04_lesson_text_says_lesson_05_trains_with_that_template_and_the_exercise_is_another_family():
    text = cell_source(L04, "l04-31")
    assert "lesson 05 trains with" in text and "`chatml_training` above plus SmolLM2's default system turn" in text
    assert "04.generation_mask" in text and "a family this lesson does not show" in text


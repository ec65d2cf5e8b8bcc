"""`{% generation %}` is detected one way, TRL's, wherever the course asks for it."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from course_utils import sft
from course_utils.checks import CheckFailed, lesson04, lesson05


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


def test_04_generation_mask_is_graded_against_the_template_lesson_05_trains_with():
    assert lesson04.TRAINING_TEMPLATE == sft.training_template()

"""04.llama2_prefill: right answers written differently pass; ChatML habits that break on a
Llama-2 tokenizer (it adds <s> on encode; its template puts a space after [/INST]) fail, each
with a message that names the mistake."""
from __future__ import annotations

import pytest

from course_utils.checks import check
from course_utils.checks.failure import CheckFailed


def _opened(messages, start):
    return [*messages, {"role": "assistant", "content": start}]


def one_call(tokenizer, messages, start):
    return tokenizer.apply_chat_template(_opened(messages, start), continue_final_message=True, return_tensors="pt")


def text_then_encode_without_specials(tokenizer, messages, start):
    text = tokenizer.apply_chat_template(_opened(messages, start), continue_final_message=True, tokenize=False)
    return tokenizer(text, add_special_tokens=False, return_tensors="pt")


def with_return_dict(tokenizer, messages, start):
    return tokenizer.apply_chat_template(_opened(messages, start), continue_final_message=True, tokenize=True,
                                         return_dict=True, return_tensors="pt")


def text_then_encode(tokenizer, messages, start):
    text = tokenizer.apply_chat_template(_opened(messages, start), continue_final_message=True, tokenize=False)
    return tokenizer(text, return_tensors="pt")


def appended_by_hand(tokenizer, messages, start):
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + start
    return tokenizer(text, add_special_tokens=False, return_tensors="pt")


def closed_turn(tokenizer, messages, start):
    return tokenizer.apply_chat_template(_opened(messages, start), return_tensors="pt")


def chatml_by_hand(tokenizer, messages, start):
    """Ignores the tokenizer's template: the ChatML a learner knows from lesson 04."""
    from course_utils.templates import TEMPLATES

    return tokenizer.apply_chat_template(_opened(messages, start), chat_template=TEMPLATES["chatml"].template,
                                         continue_final_message=True, return_tensors="pt")


def rstripped_closed_turn(tokenizer, messages, start):
    """Cuts ` </s>` with rstrip, which strips those characters as a set: the `s` of `is` goes too."""
    text = tokenizer.apply_chat_template(_opened(messages, start), tokenize=False).rstrip(" </s>")
    return tokenizer(text, add_special_tokens=False, return_tensors="pt")


@pytest.mark.parametrize("answer", [one_call, text_then_encode_without_specials, with_return_dict])
def test_right_answers_written_differently_pass(answer, capsys):
    check("04.llama2_prefill", answer)
    assert capsys.readouterr().out == "✅ 04.llama2_prefill passed\n"


@pytest.mark.parametrize("answer, message", [
    (text_then_encode, "starts with two <s>"),
    (appended_by_hand, "misses the space Llama-2's template writes after [/INST]"),
    (closed_turn, "expected ⟨end of text⟩ but got '·</s>'"),
    (chatml_by_hand, "expected '<s>[INST]"),
    (rstripped_closed_turn, "lost the end of start ('s'), as closed_text.rstrip(' </s>') does"),
])
def test_chatml_habits_fail_naming_the_mistake(answer, message):
    with pytest.raises(CheckFailed) as failure:
        check("04.llama2_prefill", answer)
    assert message in str(failure.value)


def test_the_chatml_habits_do_pass_04_prefill_so_only_the_llama2_case_shows_them():
    """Why the exercise exists: on SmolLM2's tokenizer these two mistakes go unnoticed."""
    check("04.prefill", text_then_encode)
    check("04.prefill", appended_by_hand)

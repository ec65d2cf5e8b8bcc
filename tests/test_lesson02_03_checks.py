"""02.pipeline_reply and 03.python_first: what their checks compare against, and what they catch
that a comparison of outputs alone would not.

The proofs (tests/test_exercise_proofs.py) grade the solutions and the known answers; these tests
pin down the facts the checks rely on: the reference each computes agrees with the library's own
way, on the models the course loads offline, and online the same solution passes.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from transformers import pipeline

from course_utils.checks import CheckFailed, check
from course_utils.checks.course_models import course_tokenizer, instruct_pair
from course_utils.checks.lesson02 import MAX_NEW_TOKENS, _reply_cases
from course_utils.conversations import GENERATION_PROMPT_OPTIONS, conversations
from course_utils.generation import generate_text
from course_utils.templates import TEMPLATES, render_template
from support.stored_outputs import cell_source, stored_text

ROOT = Path(__file__).resolve().parents[1]
S02 = ROOT / "solutions" / "02_base_vs_instruct.ipynb"
DEFAULT_SYSTEM_TURN = ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
                       "<|im_end|>\n")


def failure(exercise_id: str, answer) -> str:
    with pytest.raises(CheckFailed) as caught:
        check(exercise_id, answer)
    return str(caught.value)


# --- 03.python_first ---------------------------------------------------------------------------

def test_the_offline_tokenizer_renders_like_the_real_smollm2_template_so_one_solution_passes_both():
    # The check compares with course_tokenizer(): the nano stand-in offline, SmolLM2 online.
    tokenizer = course_tokenizer()
    for name, messages in conversations():
        for flag in GENERATION_PROMPT_OPTIONS:
            expected = render_template(TEMPLATES["smollm2"].template, messages, add_generation_prompt=flag)
            got = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=flag)
            assert got == expected, (name, flag)


def test_the_default_system_turn_the_task_states_is_the_one_the_template_writes():
    rendered = render_template(TEMPLATES["smollm2"].template, [{"role": "user", "content": "Hi"}])
    assert rendered == DEFAULT_SYSTEM_TURN + "<|im_start|>user\nHi<|im_end|>\n"


def test_a_function_that_calls_apply_chat_template_is_told_to_write_the_loop():
    def render_in_python(messages, add_generation_prompt=False):
        return course_tokenizer().apply_chat_template(messages, tokenize=False,
                                                      add_generation_prompt=add_generation_prompt)

    assert "uses apply_chat_template, which renders a template: build the string yourself" in failure(
        "03.python_first", render_in_python)


def test_a_default_of_true_for_add_generation_prompt_fails_on_the_call_that_leaves_it_out():
    def render_in_python(messages, add_generation_prompt=True):
        text = DEFAULT_SYSTEM_TURN if messages[0]["role"] != "system" else ""
        text += "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")

    message = failure("03.python_first", render_in_python)
    assert message.startswith("03.python_first: render_in_python(<conversation 'one user turn'>): ")
    assert "expected ⟨end of text⟩ but got '<|im_start|>assistant↵'" in message
    assert message.endswith("(it defaults to False)")


# --- 02.pipeline_reply -------------------------------------------------------------------------

def test_the_reply_the_check_expects_is_the_pipelines_greedy_reply_on_every_case():
    tokenizer = instruct_pair()[0]
    side = tokenizer.padding_side
    try:
        for _, model, messages, _ in _reply_cases():
            chat = pipeline("text-generation", model=model, tokenizer=tokenizer)
            reply = chat(messages, max_new_tokens=MAX_NEW_TOKENS, do_sample=False)[0]["generated_text"][-1]["content"]
            prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            assert reply == generate_text(model, tokenizer, prompt, MAX_NEW_TOKENS).reply
    finally:
        tokenizer.padding_side = side


def test_a_rendered_prompt_gets_the_same_reply_on_smollm2_so_the_check_looks_at_what_the_pipeline_got():
    # SmolLM2's tokenizer adds no BOS, so the rendered string and the message list give the same ids
    # and the same reply: only what the pipeline was handed tells the two apart.
    tokenizer, model = instruct_pair()
    side = tokenizer.padding_side
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def pipeline_reply(chat, messages):
        rendered = chat.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return chat(rendered, max_new_tokens=64, do_sample=False, return_full_text=False)[0]["generated_text"]

    try:
        chat = pipeline("text-generation", model=model, tokenizer=tokenizer)
        assert pipeline_reply(chat, messages) == generate_text(model, tokenizer, prompt, MAX_NEW_TOKENS).reply
    finally:
        tokenizer.padding_side = side
    assert "gave chat a string, '<|im_start|>system" in failure("02.pipeline_reply", pipeline_reply)


def test_a_function_that_never_calls_the_pipeline_is_told_to():
    def pipeline_reply(chat, messages):
        inputs = chat.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
        output = chat.model.generate(**inputs, max_new_tokens=64, do_sample=False)
        return chat.tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)

    assert "never called chat: call chat(messages, ...)" in failure("02.pipeline_reply", pipeline_reply)


def test_the_check_gives_the_shared_tokenizer_its_padding_side_back():
    # Building a pipeline sets a right-padding tokenizer to left; the other checks share this one.
    tokenizer = instruct_pair()[0]
    before, tokenizer.padding_side = tokenizer.padding_side, "right"
    try:
        check("02.pipeline_reply", lambda chat, messages: chat(messages, max_new_tokens=64, do_sample=False)[0][
            "generated_text"][-1]["content"])
        assert tokenizer.padding_side == "right"
    finally:
        tokenizer.padding_side = before


def test_the_try_it_cell_shows_the_same_reply_from_the_pipeline_and_from_generate_reply():
    assert "the same reply" in cell_source(S02, "s02-12")
    lines = dict(line.split(": ", 1) for line in stored_text(S02, "s02-13").splitlines())
    assert lines["pipeline_reply"] == lines["generate_reply"] != "''"

"""generation.py: a generation says exactly which tokens were generated and how it ended."""
from __future__ import annotations

import pytest
import torch

from course_utils.generation import (END_OF_TEXT, END_OF_TURN, MARKS_LEGEND, Generation, answer_mark, generate_text,
                                     side_by_side)
from support.tiny_tokenizer import build_tiny_tokenizer

SPECIALS = [END_OF_TEXT, "<|im_start|>", END_OF_TURN]  # ids 0, 1, 2, as in SmolLM2


@pytest.fixture(scope="module")
def tokenizer():
    """The tiny tokenizer with the base model's roles: <|endoftext|> ends a document."""
    return build_tiny_tokenizer(["user assistant The capital of France is Paris."] * 10, vocab_size=300,
                                bos_token=END_OF_TEXT, eos_token=END_OF_TEXT, unk_token=END_OF_TEXT,
                                additional_special_tokens=SPECIALS)


class ScriptedModel:
    """Stands in for a causal LM: `generate` appends a fixed continuation, stopping at eos like
    transformers does, and records the arguments it was called with."""

    def __init__(self, continuation: list[int], eos_token_id):
        self.continuation = continuation
        self.device = torch.device("cpu")
        self.generation_config = type("GenerationConfig", (), {"eos_token_id": eos_token_id})()
        self.calls = []

    def generate(self, input_ids, attention_mask=None, max_new_tokens=20, **kwargs):
        self.calls.append({"input_ids": input_ids, "max_new_tokens": max_new_tokens, **kwargs})
        eos = self.generation_config.eos_token_id
        eos = set(eos if isinstance(eos, list) else [eos])
        new = []
        for token in self.continuation[:max_new_tokens]:
            new.append(token)
            if token in eos:
                break
        return torch.cat([input_ids, torch.tensor([new], dtype=input_ids.dtype)], dim=1)


def ids_of(tokenizer, text):
    return tokenizer.encode(text, add_special_tokens=False)


def test_only_new_tokens_are_returned_and_end_of_turn_is_kept_in_text(tokenizer):
    reply = ids_of(tokenizer, " Paris.") + [2]
    model = ScriptedModel(reply, eos_token_id=2)
    gen = generate_text(model, tokenizer, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    assert gen.new_ids == reply
    assert gen.text == " Paris.<|im_end|>"
    assert gen.reply == " Paris."
    assert gen.stopped_by == END_OF_TURN and gen.ended_turn


def test_generation_is_greedy_and_the_prompt_gets_no_extra_special_tokens(tokenizer):
    model = ScriptedModel([2], eos_token_id=2)
    prompt = "<|im_start|>user\nHi<|im_end|>\n"
    generate_text(model, tokenizer, prompt, max_new_tokens=7)
    call = model.calls[0]
    assert call["do_sample"] is False and call["max_new_tokens"] == 7
    assert call["input_ids"][0].tolist() == ids_of(tokenizer, prompt)


def test_cut_off_at_max_new_tokens_is_not_a_stop(tokenizer):
    model = ScriptedModel(ids_of(tokenizer, " The capital of France is Paris."), eos_token_id=0)
    gen = generate_text(model, tokenizer, "The capital", max_new_tokens=3)
    assert len(gen.new_ids) == 3
    assert gen.stopped_by is None and not gen.ended_turn
    assert "did not stop" in gen.verdict and "max_new_tokens=3" in gen.verdict


def test_base_model_ending_the_document_is_not_ending_a_turn(tokenizer):
    model = ScriptedModel(ids_of(tokenizer, " Paris.") + [0], eos_token_id=0)
    gen = generate_text(model, tokenizer, "The capital of France is")
    assert gen.stopped_by == END_OF_TEXT and not gen.ended_turn
    assert "document" in gen.verdict


def test_end_of_turn_written_mid_generation_does_not_count_as_stopping(tokenizer):
    # A base model may write <|im_end|> and carry on, because its eos is <|endoftext|>.
    model = ScriptedModel([2] + ids_of(tokenizer, "user"), eos_token_id=0)
    gen = generate_text(model, tokenizer, "Hi", max_new_tokens=5)
    assert gen.text.startswith(END_OF_TURN)
    assert not gen.ended_turn and gen.stopped_by is None


def test_messages_instead_of_text_are_refused_with_the_fix(tokenizer):
    with pytest.raises(TypeError, match="apply_chat_template"):
        generate_text(ScriptedModel([2], 2), tokenizer, [{"role": "user", "content": "Hi"}])


def test_side_by_side_shows_a_shared_prompt_once_and_escapes_html(tokenizer):
    prompt = "<script>alert(1)</script>"
    base = generate_text(ScriptedModel(ids_of(tokenizer, " user") * 3, 0), tokenizer, prompt, max_new_tokens=3)
    instruct = generate_text(ScriptedModel([2], 2), tokenizer, prompt)
    table = side_by_side({"base": base, "instruct": instruct})
    assert str(table).count("── prompt ──") == 1
    html = table._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "ended its turn" in html and "did not stop" in html


def test_side_by_side_with_different_prompts_shows_each(tokenizer):
    one = generate_text(ScriptedModel([2], 2), tokenizer, "first prompt")
    two = generate_text(ScriptedModel([2], 2), tokenizer, "second prompt")
    text = str(side_by_side({"a": one, "b": two}))
    assert "a: prompt" in text and "second·prompt" in text


def test_side_by_side_refuses_what_is_not_a_generation():
    with pytest.raises(TypeError, match="generate_text"):
        side_by_side({"base": "some text"})
    with pytest.raises(ValueError):
        side_by_side({})


def test_generation_prints_with_visible_whitespace():
    gen = Generation(prompt="p", new_ids=[5, 2], text="a b<|im_end|>", reply="a b",
                     stopped_by=END_OF_TURN, max_new_tokens=8)
    assert str(gen).startswith("a·b<|im_end|>")


# --- honest marks: how a generation ended is not whether its answer is right (issue 18) -------

def finished(text: str, reply: str, n: int = 3, stopped_by=END_OF_TURN) -> Generation:
    return Generation(prompt="p", new_ids=list(range(n)), text=text, reply=reply, stopped_by=stopped_by,
                      max_new_tokens=8)


def test_ending_a_turn_gets_a_neutral_mark_never_a_check_mark():
    wrong = finished("The capital of Switzerland is Bern.<|im_end|>", "The capital of Switzerland is Bern.")
    assert wrong.verdict == "⏹ ended its turn with <|im_end|> after 3 tokens"
    for gen in (wrong, finished("Paris.<|endoftext|>", "Paris.", stopped_by=END_OF_TEXT),
                finished("Paris and", "Paris and", stopped_by=None)):
        assert "✅" not in gen.verdict and "❌" not in gen.verdict, gen.verdict


def test_a_verdict_counts_one_token_in_the_singular():
    assert finished("<|im_end|>", "", n=1).verdict.endswith("after 1 token")
    assert finished("Paris.<|endoftext|>", "Paris.", n=1, stopped_by=END_OF_TEXT).verdict == \
        "⏹ ended the whole document with <|endoftext|> after 1 token, not a turn"


def test_a_known_answer_is_marked_right_or_wrong_apart_from_how_the_turn_ended():
    wrong = finished("The capital of Switzerland is Bern.<|im_end|>", "The capital of Switzerland is Bern.")
    right = finished("It is Ottawa.<|im_end|>", "It is Ottawa.")
    assert wrong.marks("Ottawa") == [wrong.verdict, "❌ wrong answer (expected Ottawa)"]
    assert right.marks("Ottawa") == [right.verdict, "✅ right answer (Ottawa)"]
    assert wrong.marks() == [wrong.verdict], "no answer known, no answer mark"
    assert answer_mark("2 plus 3 is 5.", "5").startswith("✅") and answer_mark("5 plus 1 is 6.", "5").startswith("❌")


def test_side_by_side_with_an_answer_marks_each_column_under_a_legend_that_says_how():
    table = side_by_side({"ChatML": finished("Paris is the capital.<|im_end|>", "Paris is the capital."),
                          "Llama-2": finished("5 plus 1 is 6.<|im_end|>", "5 plus 1 is 6.")}, answer="Paris")
    text = str(table)
    assert text.startswith(f"marks: {MARKS_LEGEND}"), "the legend comes first, so each column ends with its marks"
    assert "whole word" in MARKS_LEGEND and "not whether the answer is right" in MARKS_LEGEND
    assert text.endswith("[⏹ ended its turn with <|im_end|> after 3 tokens]\n[❌ wrong answer (expected Paris)]")
    assert "[✅ right answer (Paris)]" in text
    html = table._repr_html_()
    assert "✅ right answer (Paris)" in html and "❌ wrong answer (expected Paris)" in html
    assert "not whether the answer is right" in html
    assert "marks:" not in str(side_by_side({"a": finished("x<|im_end|>", "x")})), "no answer, no legend"


# --- on the course's own models: the claims lesson 02 makes --------------------------------

@pytest.fixture(scope="module")
def course_pair():
    from course_utils.models import BASE_ID, INSTRUCT_ID, load_model, load_tokenizer

    return {
        "base": (load_model(BASE_ID), load_tokenizer(BASE_ID)),
        "instruct": (load_model(INSTRUCT_ID), load_tokenizer(INSTRUCT_ID)),
    }


def test_on_a_chat_prompt_the_instruct_model_ends_its_turn_and_the_base_model_does_not(course_pair):
    model, tokenizer = course_pair["instruct"]
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                           add_generation_prompt=True, tokenize=False)
    instruct = generate_text(model, tokenizer, prompt)
    base = generate_text(*course_pair["base"], prompt)
    assert instruct.ended_turn and instruct.text.endswith(END_OF_TURN)
    assert not base.ended_turn


def test_greedy_generation_gives_the_same_text_every_time(course_pair):
    model, tokenizer = course_pair["base"]
    assert generate_text(model, tokenizer, "The capital of France is", 12) == \
        generate_text(model, tokenizer, "The capital of France is", 12)


def test_a_rendered_prompt_is_not_given_a_second_bos_by_a_tokenizer_that_adds_one():
    """Llama-style tokenizers add <s> on encode and their templates write one too: generate_text
    must encode the rendered text with add_special_tokens=False, or the prompt starts <s><s>."""
    from course_utils.checks.course_models import course_tokenizer
    from course_utils.families import with_chat_template
    from course_utils.templates import TEMPLATES

    llama = with_chat_template(course_tokenizer(), TEMPLATES["llama2"].template, ["[INST]", "[/INST]"],
                               bos_token="<s>")
    llama.add_bos_token = True
    text = llama.apply_chat_template([{"role": "user", "content": "Hi"}], add_generation_prompt=True, tokenize=False)
    bos = llama.bos_token_id
    assert llama(text)["input_ids"][:2] == [bos, bos]  # the pitfall lesson 02 shows is real here
    model = ScriptedModel([5], eos_token_id=5)
    generate_text(model, llama, text)
    prompt_ids = model.calls[0]["input_ids"][0].tolist()
    assert prompt_ids[0] == bos and prompt_ids[1] != bos
    assert prompt_ids == llama.apply_chat_template([{"role": "user", "content": "Hi"}], add_generation_prompt=True,
                                                   return_dict=False)

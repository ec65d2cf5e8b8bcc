"""Lesson 02, base vs instruct: the checks of its two exercises.

The checks load the course's own models (the real SmolLM2 pair online, the nano pair offline)
and compute the expected answers with them at check time, so a check holds on either pair and
a learner cannot pass by editing what they compare against.
"""
from __future__ import annotations

import contextlib
import copy
import numbers

from ..display import SPECIAL_TOKEN_RE, first_difference, visible
from ..generation import END_OF_TEXT, END_OF_TURN, generate_text
from .calls import call, short_repr
from .course_models import base_pair, instruct_pair
from .expect import expect_type
from .failure import CheckFailed
from .registry import exercise

# 02.reply: what `generate_reply` must do, as the exercise states it.
MAX_NEW_TOKENS = 64
CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [
        {"role": "system", "content": "You are a concise tutor."},
        {"role": "user", "content": "What colour is a banana?"},
    ],
    [
        {"role": "user", "content": "What is the capital of Japan?"},
        {"role": "assistant", "content": "It is Tokyo."},
        {"role": "user", "content": "What is 7 plus 8?"},
    ],
]


# --- 02.reply -------------------------------------------------------------------------------

def _prompt(tokenizer, messages, add_generation_prompt=True) -> str:
    return tokenizer.apply_chat_template(messages, add_generation_prompt=add_generation_prompt, tokenize=False)


def _explain_reply(got: str, expected: str, shown: str, tokenizer, model, messages) -> None:
    """Raise the most telling CheckFailed for a reply that differs from the expected one."""
    special = SPECIAL_TOKEN_RE.search(got)
    if special and not SPECIAL_TOKEN_RE.search(expected):
        raise CheckFailed(f"{shown} returned {short_repr(got)}, which contains the special token "
                          f"{special.group()}: return only the text, decoded with skip_special_tokens=True")
    if got and expected.startswith(got):
        raise CheckFailed(f"{shown} returned {short_repr(got)}, the start of the expected "
                          f"{short_repr(expected)}: generation stopped early; allow up to "
                          f"max_new_tokens={MAX_NEW_TOKENS}")
    without_turn = generate_text(model, tokenizer, _prompt(tokenizer, messages, False), MAX_NEW_TOKENS).reply
    if got.strip() == without_turn.strip() and without_turn.strip() != expected.strip():
        raise CheckFailed(f"{shown} returned {short_repr(got)}, which is what the model writes when its "
                          "turn was never opened: render the prompt with add_generation_prompt=True")
    if got.endswith(expected) and len(got.strip()) > len(expected.strip()):
        extra = visible(got[: len(got) - len(expected)], keep_newlines=False)
        raise CheckFailed(f"{shown} returned {short_repr(got)}: the reply is there, but after "
                          f"{short_repr(extra, 50)}, the prompt; return only the new tokens (generate() "
                          "returns the prompt's ids first, then the new ones)")
    where = first_difference(expected, got)
    raise CheckFailed(f"{shown} returned {short_repr(got)}, expected {short_repr(expected)}; {where}. "
                      "Render with the chat template and its generation prompt, then generate greedily "
                      "(do_sample=False)")


@contextlib.contextmanager
def _recording_generate(model):
    """Record the prompt ids of every `model.generate` call (the pipeline's too) while inside.

    The wrapper is an instance attribute over the class's method; deleting it restores the model.
    """
    prompts: list[list[int]] = []
    original = model.generate

    def generate(*args, **kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        if isinstance(ids, list) and len(ids) == 1 and isinstance(ids[0], list):
            prompts.append(ids[0])
        return original(*args, **kwargs)

    model.generate = generate
    try:
        yield prompts
    finally:
        del model.generate


def _check_prompt(prompt_ids: list[int], tokenizer, messages, shown: str) -> None:
    """The model must read exactly the chat template's rendering with its generation prompt."""
    expected_ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=False)
    if prompt_ids == expected_ids:
        return
    expected, got = tokenizer.decode(expected_ids), tokenizer.decode(prompt_ids)
    hint = ""
    if got == _prompt(tokenizer, messages, add_generation_prompt=False):
        hint = ": the assistant's turn is never opened; render it with add_generation_prompt=True"
    elif got == expected:
        hint = ": the same text, split into other tokens; let the tokenizer encode the template's text"
    raise CheckFailed(f"{shown} generated from a prompt that is not the chat template's with its "
                      f"generation prompt; {first_difference(expected, got) or 'the ids differ'}{hint}")


@exercise("02.reply", points=2, time_limit=60)
def check_reply(generate_reply):
    tokenizer, model = instruct_pair()
    for messages in CONVERSATIONS:
        given = copy.deepcopy(messages)
        shown = f"generate_reply(model, tokenizer, {short_repr(messages, 80)})"
        with _recording_generate(model) as prompts:
            got = call(generate_reply, model, tokenizer, given, shown_as=shown)
        if given != messages:
            raise CheckFailed(f"{shown} changed the messages it was given: leave the conversation as it was")
        if isinstance(got, list) and got and isinstance(got[-1], dict):
            raise CheckFailed(f"{shown} returned a list of messages; return only the reply's text "
                              "(the pipeline puts it in the 'content' of the last message)")
        expect_type(got, str, shown)
        if prompts:
            _check_prompt(prompts[0], tokenizer, messages, shown)
        expected = generate_text(model, tokenizer, _prompt(tokenizer, messages), MAX_NEW_TOKENS).reply
        # Surrounding whitespace is not part of what the model said; strip() or not, both pass.
        if got != expected and not (expected.strip() and got.strip() == expected.strip()):
            _explain_reply(got, expected, shown, tokenizer, model, messages)


# --- 02.stops -------------------------------------------------------------------------------

def _stop_cases():
    """(which tokenizer, ids, expected, what the case is about), built from the course tokenizer.

    The ids are what generate() gives back: a whole output (prompt, then reply) or only the new
    ids. Both models share one vocabulary, so the ids mean the same to either tokenizer.
    """
    tokenizer, _ = instruct_pair()
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=False)
    reply = tokenizer.encode("The capital of France is Paris.", add_special_tokens=False)
    more = tokenizer.encode("\nuser\nAnd of Japan?", add_special_tokens=False)
    im_end, end_of_text = tokenizer.convert_tokens_to_ids([END_OF_TURN, END_OF_TEXT])
    return [
        ("tokenizer", reply + [im_end], True, f"a reply that ends with {END_OF_TURN}"),
        ("tokenizer", prompt + reply + [im_end], True,
         f"a whole output (prompt, then reply) that ends with {END_OF_TURN}"),
        ("tokenizer", prompt + reply[:3], False,
         f"cut off by max_new_tokens; the {END_OF_TURN} tokens in these ids belong to the prompt, and "
         "only the last token says whether the model ended its turn"),
        ("base_tokenizer", reply + [end_of_text], False,
         f"{END_OF_TEXT} is the base tokenizer's eos_token, the end of a document, not of a turn: "
         f"look up {END_OF_TURN} itself"),
        ("base_tokenizer", prompt + reply + [im_end], True,
         f"the base tokenizer knows {END_OF_TURN} too, but its eos_token is {END_OF_TEXT}: "
         f"look up {END_OF_TURN} itself"),
        ("tokenizer", reply + [im_end] + more, False,
         f"the model wrote {END_OF_TURN} and kept going (as a base model does): the last token decides"),
        ("tokenizer", [], False, "an empty sequence did not end with anything"),
    ]


def _describe_ids(tokenizer, ids: list[int]) -> str:
    """``[… 'France·is·Paris.', <|im_end|>] (40 ids)``: how a sequence ends, as a learner reads it."""
    if not ids:
        return "[] (0 ids)"
    *body, last = ids[-8:]
    last_token = tokenizer.convert_ids_to_tokens(last)
    if last_token in (END_OF_TURN, END_OF_TEXT):
        ending = f"{visible(tokenizer.decode(body), keep_newlines=False)!r}, {last_token}"
    else:
        ending = repr(visible(tokenizer.decode(ids[-8:]), keep_newlines=False))
    return f"[{'… ' if len(ids) > 8 else ''}{ending}] ({len(ids)} ids)"


def _as_bool(result, shown: str) -> bool:
    """A bool; numpy and one-element torch booleans count, since `if` treats them the same."""
    if hasattr(result, "numel") and result.numel() == 1 and str(getattr(result, "dtype", "")) == "torch.bool":
        return bool(result.item())
    if type(result).__name__ == "bool_":  # numpy.bool_
        return bool(result)
    if isinstance(result, bool):
        return result
    kind = "an int" if isinstance(result, numbers.Integral) else f"a {type(result).__name__}"
    raise CheckFailed(f"{shown} returned {short_repr(result)} ({kind}), expected True or False")


@exercise("02.stops", points=1)
def check_stops(stops_cleanly):
    import torch

    tokenizers = {"tokenizer": instruct_pair()[0], "base_tokenizer": base_pair()[0]}
    cases = _stop_cases()
    # The same sequence as generate() hands it over, a 1-D tensor, must give the same answer.
    which, ids, expected, why = cases[1]
    cases.append((which, torch.tensor(ids), expected, why + ", given as a 1-D tensor"))
    for which, ids, expected, why in cases:
        tokenizer = tokenizers[which]
        as_list = ids.tolist() if hasattr(ids, "tolist") else ids
        shown = f"stops_cleanly({which}, {_describe_ids(tokenizer, as_list)})"
        got = _as_bool(call(stops_cleanly, tokenizer, copy.copy(ids), shown_as=shown), shown)
        if got != expected:
            raise CheckFailed(f"{shown} returned {got}, expected {expected}: {why}")

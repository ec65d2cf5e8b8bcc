"""Lesson 02, base vs instruct: the checks of its three exercises.

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
# The instruct model ends its turn after a few tokens (on the nano pair, always well under 64), so
# no cap shows on it: the base model does not end a turn and runs on to the cap (lesson 02), so a
# cap of other than 64 new tokens shows there, and so does one that counts the prompt
# (max_length=64 leaves this prompt's 34 tokens 30 new ones). Its generation config is set to
# sample for the call, as many instruct models ship theirs: a reply sampled over 64 tokens is not
# the greedy one, so an answer that leaves out do_sample=False shows there too.
BASE_CONVERSATION = [{"role": "user", "content": "What is 2 plus 3?"}]
# A prompt of more than 64 tokens: one cut to 64 (truncation=True, max_length=64) shows here.
LONG_CONVERSATION = [
    {"role": "system", "content": "You are a concise tutor."},
    {"role": "user", "content": "What is the capital of Japan?"},
    {"role": "assistant", "content": "It is Tokyo."},
    {"role": "user", "content": "And the capital of France?"},
    {"role": "assistant", "content": "It is Paris."},
    {"role": "user", "content": "What is 7 plus 8?"},
]


# --- 02.reply -------------------------------------------------------------------------------

def _prompt(tokenizer, messages, add_generation_prompt=True) -> str:
    return tokenizer.apply_chat_template(messages, add_generation_prompt=add_generation_prompt, tokenize=False)


def _tokens_in(got: str, new_ids: list[int], tokenizer) -> int | None:
    """How many of the expected new ids `got` is the text of (None when no first n of them is);
    `got` stripped of surrounding whitespace counts, when no first n gives it exactly."""
    texts = [tokenizer.decode(new_ids[:n], skip_special_tokens=True) for n in range(len(new_ids) + 1)]
    exact = [n for n, text in enumerate(texts) if text == got]
    stripped = [n for n, text in enumerate(texts) if text.strip() and text.strip() == got.strip()]
    return (exact or stripped or [None])[0]


def _ending(text: str) -> str:
    """How a long reply ends, quoted with its whitespace visible: ``'…told·me·that'``."""
    return repr(("…" if len(text) > 40 else "") + visible(text[-40:], keep_newlines=False))


def _explain_length(got: str, generation, shown: str, prompt_length: int, tokenizer) -> None:
    """Fail when `got` is the expected reply cut short or run on: a cap other than 64 new tokens."""
    expected, n = generation.reply, _tokens_in(got, generation.new_ids, tokenizer)
    shorter = n is not None and got.strip() != expected.strip()
    if got and shorter:
        if n + prompt_length == MAX_NEW_TOKENS:
            raise CheckFailed(f"{shown} returned only {n} new tokens, ending {_ending(got)}: with the prompt's "
                              f"{prompt_length} that makes {MAX_NEW_TOKENS}, so the cap counted the prompt "
                              f"(max_length does); allow {MAX_NEW_TOKENS} new tokens with "
                              f"max_new_tokens={MAX_NEW_TOKENS}")
        raise CheckFailed(f"{shown} returned the first {n} new tokens of the expected reply, ending {_ending(got)}: "
                          f"generation stopped early; allow up to max_new_tokens={MAX_NEW_TOKENS}")
    if not (got.startswith(expected.rstrip()) and len(got.strip()) > len(expected.strip())):
        return
    extra = _ending(got[len(expected.rstrip()):])
    if generation.stopped_by is None:
        raise CheckFailed(f"{shown} returned the expected reply, then {extra}: generation ran past "
                          f"{MAX_NEW_TOKENS} new tokens; allow at most max_new_tokens={MAX_NEW_TOKENS}")
    raise CheckFailed(f"{shown} returned the expected reply {_ending(expected)}, then {extra}: the model wrote "
                      f"{generation.stopped_by} there and generation went on; let it stop where the model's "
                      "generation config says (don't set eos_token_id)")


def _explain_reply(got: str, generation, shown: str, tokenizer, model, messages) -> None:
    """Raise the most telling CheckFailed for a reply that differs from the expected `Generation`."""
    expected = generation.reply
    special = SPECIAL_TOKEN_RE.search(got)
    if special and not SPECIAL_TOKEN_RE.search(expected):
        raise CheckFailed(f"{shown} returned {short_repr(got)}, which contains the special token "
                          f"{special.group()}: return only the text, decoded with skip_special_tokens=True")
    prompt_length = len(tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=False))
    _explain_length(got, generation, shown, prompt_length, tokenizer)
    without_turn = generate_text(model, tokenizer, _prompt(tokenizer, messages, False), MAX_NEW_TOKENS).reply
    if got.strip() == without_turn.strip() and without_turn.strip() != expected.strip():
        raise CheckFailed(f"{shown} returned {short_repr(got)}, which is what the model writes when its "
                          "turn was never opened: render the prompt with add_generation_prompt=True")
    if got.endswith(expected) and len(got) > len(expected):
        extra = visible(got[: len(got) - len(expected)], keep_newlines=False)
        raise CheckFailed(f"{shown} returned {short_repr(got)}: the reply is there, but after "
                          f"{short_repr(extra, 50)}, from the prompt; return only the new tokens (generate() "
                          "returns the prompt's ids first, then the new ones: slice from the prompt's length)")
    where = first_difference(expected, got)
    if model.generation_config.do_sample:
        raise CheckFailed(f"{shown} returned a reply other than the greedy one; {where}. This model's generation "
                          "config samples (do_sample=True, as many instruct models ship theirs): pass do_sample=False "
                          "to generate greedily")
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


def _reply_cases():
    """(how the model is named, model, conversation, whether its config samples): the instruct
    model's, the base model's (with the instruct tokenizer: the same prompt), the long prompt's."""
    model, base_model = instruct_pair()[1], base_pair()[1]
    return ([("model", model, messages, False) for messages in CONVERSATIONS]
            + [("base_model", base_model, BASE_CONVERSATION, True), ("model", model, LONG_CONVERSATION, False)])


@contextlib.contextmanager
def _sampling_by_default(model, samples: bool):
    """While inside, `model` samples unless told do_sample=False, from a fixed seed (so a verdict
    is the same every run); its generation config and the global random state are restored."""
    if not samples:
        yield
        return
    config = model.generation_config
    before = config.do_sample
    config.do_sample = True
    try:
        with _seeded(model):
            yield
    finally:
        config.do_sample = before


@contextlib.contextmanager
def _seeded(model):
    """While inside, sampling starts from a fixed seed; the global random state is restored after."""
    import torch

    devices = [model.device.index or 0] if model.device.type == "cuda" else []  # fork only the RNG it uses
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(0)
        yield


def _is_expected(got: str, expected: str) -> bool:
    # Surrounding whitespace is not part of what the model said: the reply stripped, on either
    # side or both, passes; whitespace added around it (the prompt's last "\n") does not.
    trimmed = {expected.strip(), expected.lstrip(), expected.rstrip()}
    return got == expected or (bool(expected.strip()) and got in trimmed)


def _check_one_reply(generate_reply, tokenizer, model, messages, shown: str) -> None:
    given = copy.deepcopy(messages)
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
    generation = generate_text(model, tokenizer, _prompt(tokenizer, messages), MAX_NEW_TOKENS)
    if not _is_expected(got, generation.reply):
        _explain_reply(got, generation, shown, tokenizer, model, messages)


@exercise("02.reply", points=2, time_limit=60)
def check_reply(generate_reply):
    tokenizer = instruct_pair()[0]
    for name, model, messages, samples in _reply_cases():
        shown = f"generate_reply({name}, tokenizer, {short_repr(messages, 80)})"
        with _sampling_by_default(model, samples):
            _check_one_reply(generate_reply, tokenizer, model, messages, shown)


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
        ("tokenizer", [im_end], True, f"the model ended its turn at once: one new id, {END_OF_TURN}"),
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


# --- 02.pipeline_reply ----------------------------------------------------------------------

@contextlib.contextmanager
def _chat_pipeline(model, tokenizer):
    """A text-generation pipeline on `model`, and the prompts its calls hand it: a rendered prompt
    as the `str` it is, a message list (which arrives as a `Chat`) as a copy of its messages, taken
    then. Building it sets the tokenizer's padding side to left (for batches); the tokenizer,
    shared with the other checks, gets its own back."""
    from transformers import pipeline

    side = tokenizer.padding_side
    chat = pipeline("text-generation", model=model, tokenizer=tokenizer)
    prompts: list = []
    preprocess = chat.preprocess

    def recording(prompt, *args, **kwargs):
        prompts.append(prompt if isinstance(prompt, str) else copy.deepcopy(list(getattr(prompt, "messages", []))))
        return preprocess(prompt, *args, **kwargs)

    chat.preprocess = recording  # an instance attribute: the pipeline calls self.preprocess
    try:
        yield chat, prompts
    finally:
        tokenizer.padding_side = side


def _check_pipeline_prompt(prompts: list, messages, shown: str, name: str) -> None:
    """The pipeline must be given the message list itself, so that it applies the chat template."""
    if not prompts:
        raise CheckFailed(f"{shown} never called {name}: call {name}(messages, ...) and read the reply in its output")
    if isinstance(prompts[0], str):
        raise CheckFailed(f"{shown} gave {name} a string, {short_repr(prompts[0], 50)}, not the message list: a "
                          "pipeline continues text as it is (generated_text is then a string); given messages it "
                          f"applies the chat template and its generation prompt itself: call {name}(messages, ...)")
    if prompts[0] != messages:
        raise CheckFailed(f"{shown} gave {name} other messages than it was given: pass them as they are")


def _check_pipeline_result(got, messages, shown: str) -> None:
    """Fail when `got` is a part of the pipeline's output other than the reply's text."""
    where = "the reply is the 'content' of the last message of out[0]['generated_text']"
    if isinstance(got, list) and got and isinstance(got[0], dict) and "generated_text" in got[0]:
        raise CheckFailed(f"{shown} returned the pipeline's whole output, a list of one dict: {where}")
    if isinstance(got, dict) and "generated_text" in got:
        raise CheckFailed(f"{shown} returned a dict with 'generated_text', the conversation: {where}")
    if isinstance(got, list) and got and isinstance(got[-1], dict):
        raise CheckFailed(f"{shown} returned a list of messages, the conversation with the reply appended: {where}")
    if isinstance(got, dict):
        raise CheckFailed(f"{shown} returned the message {short_repr(got, 80)}: return only its 'content'")
    expect_type(got, str, shown)
    if got == messages[-1]["content"]:
        raise CheckFailed(f"{shown} returned {short_repr(got)}, the last message it was given (generated_text[-2]): "
                          "the reply is the message the pipeline appended, generated_text[-1]")


@exercise("02.pipeline_reply", points=2, time_limit=60)  # the real SmolLM2 on a CPU, up to 256 tokens when uncapped
def check_pipeline_reply(pipeline_reply):
    tokenizer = instruct_pair()[0]
    for model_name, model, messages, _ in _reply_cases():
        name = "base_chat" if model_name == "base_model" else "chat"
        shown = f"pipeline_reply({name}, {short_repr(messages, 80)})"
        given = copy.deepcopy(messages)
        # Seeded: the pipeline samples unless told do_sample=False, and a verdict must not vary.
        with _chat_pipeline(model, tokenizer) as (chat, prompts), _seeded(model):
            try:
                got, failure = call(pipeline_reply, chat, given, shown_as=shown), None
            except CheckFailed as error:  # a string prompt fails at ["content"]: say why first
                got, failure = None, error
        if prompts or failure is None:
            _check_pipeline_prompt(prompts, messages, shown, name)
        if failure is not None:
            raise failure
        if given != messages:
            raise CheckFailed(f"{shown} changed the messages it was given: leave the conversation as it was")
        _check_pipeline_result(got, messages, shown)
        generation = generate_text(model, tokenizer, _prompt(tokenizer, messages), MAX_NEW_TOKENS)
        if _is_expected(got, generation.reply):
            continue
        prompt_length = len(tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=False))
        _explain_length(got, generation, shown, prompt_length, tokenizer)
        where = first_difference(generation.reply, got)
        raise CheckFailed(f"{shown} returned a reply other than the greedy one; {where}. A text-generation"
                          " pipeline samples unless told otherwise (its defaults: do_sample=True, "
                          "temperature=0.7): pass do_sample=False")

"""A stand-in chat model with scripted replies, for checks that measure how generation ends.

The course's nano models make a stop rate degenerate: the instruct model ends every turn (1.0),
the base model none (0.0), so `//` for `/`, a prompt without its generation prompt, or the wrong
end token all return the right number there. `ScriptedChatModel` makes the right number a
fraction and every such mistake a different one:

- it is a real transformers model, so `generate()`, its batching, its stopping rules and
  pipelines run as they do on SmolLM2; only its next token is looked up, not computed;
- after the exact rendered prompt of a scripted question (generation prompt included) it
  writes that question's reply, whose end the script chooses: <|im_end|>, <|endoftext|>, none,
  or an end token at exactly the 64th or 65th new token; after any other prompt, and once a
  reply is over, it writes plain filler that never ends;
- its generation config says where it stops (a trained chat model's <|im_end|> and
  <|endoftext|>, or <|endoftext|> alone as after SFT without `eos_token`), and it samples by
  default, as many chat models ship, so greedy decoding must be asked for;
- it records each `generate()` call (the prompts, and the end tokens and sampling in effect),
  so a check can say which of them is wrong.
"""
from __future__ import annotations

import contextlib
import numbers
from dataclasses import dataclass

import torch
from transformers import (
    GenerationConfig,
    GenerationMixin,
    PretrainedConfig,
    PreTrainedModel,
)
from transformers.modeling_outputs import CausalLMOutputWithPast

from ..display import first_difference
from ..generation import END_OF_TEXT, END_OF_TURN
from .failure import CheckFailed

GENERATION_PROMPT = "<|im_start|>assistant\n"  # ChatML's generation prompt: what add_generation_prompt adds
FILLER = " and so on"  # what the model writes once off script: plain tokens, never an end token


@dataclass
class GenerateCall:
    """One `generate()` call as the stand-in saw it."""

    prompts: list[str]                 # each row's attended prompt, special tokens kept
    eos_token_id: list[int]            # the end tokens in effect for the call
    do_sample: bool
    max_new_tokens: int | None


class _ScriptedConfig(PretrainedConfig):
    model_type = "course-scripted-chat"


def _as_list(ids) -> list[int]:
    if ids is None:
        return []
    return [int(i) for i in ids] if isinstance(ids, (list, tuple)) else [int(ids)]


class ScriptedChatModel(PreTrainedModel, GenerationMixin):
    """Replies from a script: {prompt ids: reply ids}. See the module's docstring."""

    config_class = _ScriptedConfig

    def __init__(self, tokenizer, scripts: dict[tuple[int, ...], list[int]], stops: list[int]):
        # One layer: generate() sizes a (never used) cache by it.
        super().__init__(_ScriptedConfig(vocab_size=len(tokenizer), num_hidden_layers=1))
        self.anchor = torch.nn.Parameter(torch.zeros(1), requires_grad=False)  # gives the model a device
        self.tokenizer, self.scripts = tokenizer, scripts
        self.filler = tokenizer.encode(FILLER, add_special_tokens=False)
        self.generation_config = GenerationConfig(eos_token_id=list(stops), do_sample=True)
        self.calls: list[GenerateCall] = []

    def next_id(self, ids: list[int]) -> int:
        for prompt, reply in self.scripts.items():
            if tuple(ids[:len(prompt)]) == prompt:
                new = ids[len(prompt):]
                if len(new) < len(reply) and new == reply[:len(new)]:
                    return reply[len(new)]
        return self.filler[len(ids) % len(self.filler)]

    def forward(self, input_ids=None, attention_mask=None, **kwargs):
        rows = input_ids.tolist()
        masks = attention_mask.tolist() if attention_mask is not None else [[1] * len(r) for r in rows]
        # Only the last position: generate() and a hand-written greedy loop read nothing else.
        logits = torch.full((len(rows), 1, self.config.vocab_size), -1e4, device=input_ids.device)
        for row, (ids, mask) in enumerate(zip(rows, masks)):
            logits[row, 0, self.next_id([t for t, keep in zip(ids, mask) if keep])] = 0.0
        return CausalLMOutputWithPast(logits=logits)

    def prepare_inputs_for_generation(self, input_ids, attention_mask=None, **kwargs):
        # The whole sequence every step: the next token depends on all of it, and there is no cache.
        return {"input_ids": input_ids, "attention_mask": attention_mask}

    def generate(self, *args, **kwargs):
        self.calls.append(self._describe(args, kwargs))
        return super().generate(*args, **kwargs)

    def _describe(self, args, kwargs) -> GenerateCall:
        ids = args[0] if args else kwargs.get("input_ids", kwargs.get("inputs"))
        mask = kwargs.get("attention_mask")
        if hasattr(ids, "keys"):
            ids, mask = ids["input_ids"], ids.get("attention_mask", mask)
        rows = ids.tolist() if hasattr(ids, "tolist") else []
        masks = mask.tolist() if hasattr(mask, "tolist") else [[1] * len(r) for r in rows]
        prompts = [self.tokenizer.decode([t for t, keep in zip(r, m) if keep], skip_special_tokens=False)
                   for r, m in zip(rows, masks)]
        config = self._effective_config(kwargs)
        return GenerateCall(prompts=prompts, eos_token_id=_as_list(config.eos_token_id),
                            do_sample=bool(config.do_sample), max_new_tokens=config.max_new_tokens)

    def _effective_config(self, kwargs) -> GenerationConfig:
        """The settings generate() will use, merged as generate() merges them: a keyword over a
        passed `generation_config`, whose unset fields come from the model's own."""
        options = {k: v for k, v in kwargs.items() if k not in ("input_ids", "inputs", "attention_mask")}
        passed = options.pop("generation_config", None)
        try:
            return self._prepare_generation_config(passed, **options)[0]
        except Exception:  # noqa: BLE001 -- generate() itself will say what is wrong with the options
            return passed or self.generation_config


@contextlib.contextmanager
def transformers_logs_off():
    """No transformers log lines: they go to a handler bound to the real stderr, which `call`
    cannot capture, and a pipeline logs an error for any model class it does not know."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity(hf_logging.CRITICAL)
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


def reply_ids(tokenizer, text: str, end: str | None, at: int | None = None) -> list[int]:
    """The ids of a scripted reply: `text`, then the end token `end` (None: the reply runs on).
    With `at`, the reply is cut or padded with filler so that `end` is exactly new token `at`."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    if at is not None:
        filler = tokenizer.encode(FILLER, add_special_tokens=False)
        while len(ids) < at - 1:
            ids += filler
        ids = ids[:at - 1]
    return ids + ([tokenizer.convert_tokens_to_ids(end)] if end else [])


def scripted_model(tokenizer, replies: list[tuple[str, str, str | None, int | None]], stops: list[str]):
    """A `ScriptedChatModel` that answers each (question, text, end, at) of `replies` after the
    question's one-message rendering with the generation prompt, and stops at `stops`."""
    scripts = {}
    for question, text, end, at in replies:
        prompt = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                                               add_generation_prompt=True, tokenize=False)
        scripts[tuple(tokenizer.encode(prompt, add_special_tokens=False))] = reply_ids(tokenizer, text, end, at)
    model = ScriptedChatModel(tokenizer, scripts, [tokenizer.convert_tokens_to_ids(s) for s in stops])
    return model.eval()


def _check_prompts(calls: list[GenerateCall], rendered: dict[str, str], shown: str) -> None:
    for prompt in (p for c in calls for p in c.prompts):
        if prompt in rendered:
            continue
        if prompt + GENERATION_PROMPT in rendered:
            raise CheckFailed(f"{shown}: the prompt for {rendered[prompt + GENERATION_PROMPT]!r} ends without "
                              f"the generation prompt {GENERATION_PROMPT!r}; render with add_generation_prompt=True")
        expected = next((r for r, q in rendered.items() if q in prompt), next(iter(rendered)))
        raise CheckFailed(f"{shown}: a prompt is not the chat template's rendering of its question; "
                          f"{first_difference(expected, prompt)}")


def check_calls(model: ScriptedChatModel, rendered: dict[str, str], shown: str) -> None:
    """Fail unless every `generate()` call on `model` had a prompt of `rendered` ({rendering:
    question}), stopped where the model's generation config says, and was greedy."""
    _check_prompts(model.calls, rendered, shown)
    stops = model.generation_config.eos_token_id
    names = ", ".join(model.tokenizer.convert_ids_to_tokens(stops))
    for c in model.calls:
        if set(c.eos_token_id) != set(stops):
            raise CheckFailed(f"{shown} called model.generate with eos_token_id={c.eos_token_id}, but this model's "
                              f"generation config stops at {stops} ({names}): do not pass eos_token_id; stop "
                              "where the model's generation config says")
        if c.do_sample:
            raise CheckFailed(f"{shown} sampled: this model's generation config has do_sample=True; generate "
                              "greedily with do_sample=False")


def stop_rate_hint(got, expected: float, generations, tokenizer, calls: list[GenerateCall], max_new_tokens: int) -> str:
    """The likely cause of a wrong stop rate `got`, as the end of a failure line ('' if none fits).
    `generations` are the reference's (`generation.Generation`), `calls` the stand-in's record."""
    text_id = tokenizer.convert_tokens_to_ids(END_OF_TEXT)
    text_rate = sum(bool(g.new_ids) and g.new_ids[-1] == text_id for g in generations) / len(generations)
    if abs(got - text_rate) < 1e-9:
        if tokenizer.eos_token == END_OF_TEXT:
            return (f": that is the rate of replies ending with tokenizer.eos_token ({END_OF_TEXT}, the end of a "
                    f"document for this tokenizer); only {END_OF_TURN} ends a turn")
        return f": that is the rate of replies ending with {END_OF_TEXT}, the end of a document; only {END_OF_TURN} ends a turn"
    if got == 1.0:
        return (f": every output contains {END_OF_TURN}, because the prompt has its own; only the last "
                "generated token says whether the reply ended its turn")
    fraction = 0 < expected < 1
    if isinstance(got, numbers.Integral) and fraction:
        return ": an int where the rate is a fraction; divide with /, not //"
    limits = {c.max_new_tokens for c in calls} - {max_new_tokens}
    if limits:
        limit = limits.pop()
        return (f": generate at most {max_new_tokens} new tokens, max_new_tokens={max_new_tokens}"
                + ("" if limit is None else f", not {limit}"))
    if fraction and abs(got - (1 - expected)) < 1e-9:
        return ": that is the fraction of replies that did not end their turn"
    return ""

"""Lesson 05, SFT of SmolLM2: the checks of its five exercises.

Expected answers come from the course's own code at check time (`course_utils.sft`,
`runtime.training_precision`, `generation.generate_text` on the course's models), so a check
holds on the real SmolLM2 pair online and on the nano pair offline. Where those models make a
number degenerate (every nano reply stops, or none does), 05.stop_rate runs first on scripted
stand-ins (`stop_models`), and 05.trainer is built again on pretended GPUs.
"""
from __future__ import annotations

import contextlib
import copy
import functools
import numbers
from unittest import mock

from trl.chat_template_utils import has_generation_markers

from .. import sft
from ..generation import END_OF_TEXT, END_OF_TURN, generate_text
from ..runtime import training_precision
from .calls import call, short_repr
from .course_models import base_pair, course_tokenizer, instruct_pair
from .expect import expect_equal, expect_type
from .failure import CheckFailed
from .registry import exercise
from .stop_models import (
    ScriptedChatModel,
    check_calls,
    scripted_model,
    stop_rate_hint,
    transformers_logs_off,
)

# --- 05.format ------------------------------------------------------------------------------
FORMAT_ROWS = [
    ("a smoltalk row", {
        "full_topic": "Travel/Packing light",
        "messages": [{"role": "user", "content": "How do I pack light for a weekend?"},
                     {"role": "assistant", "content": "Bring one pair of shoes and clothes that mix."}]}),
    ("a smoltalk row whose messages carry extra keys", {
        "messages": [{"role": "system", "content": "Answer briefly.", "name": "setup"},
                     {"role": "user", "content": "What is the capital of Peru?"},
                     {"role": "assistant", "content": "Lima.", "weight": 1}]}),
    ("a ShareGPT row", {
        "source": "forum",
        "conversations": [{"from": "system", "value": "You are a friendly teacher."},
                          {"from": "human", "value": "What colour is a plum?"},
                          {"from": "gpt", "value": "A plum is purple."}]}),
]


def _shown_row(what: str) -> str:
    return f"to_sft_format(<{what}>)"


@exercise("05.format", points=1)
def check_format(to_sft_format):
    for what, row in FORMAT_ROWS:
        given, shown = copy.deepcopy(row), _shown_row(what)
        got = call(to_sft_format, given, shown_as=shown)
        if given != row:
            raise CheckFailed(f"{shown} changed the row it was given: build and return a new dict")
        expect_type(got, dict, shown)
        if list(got) != ["messages"]:
            raise CheckFailed(f"{shown} returned a dict with keys {sorted(got)}, expected exactly ['messages']: "
                              "SFTTrainer reads the 'messages' column; drop the others")
        expected = sft.to_sft_format(row)
        roles = [m.get("role") if isinstance(m, dict) else m for m in got["messages"]]
        wanted = [m["role"] for m in expected["messages"]]
        if roles != wanted:
            raise CheckFailed(f"[m['role'] for m in {shown}['messages']] is {roles}, expected {wanted}"
                              + (": ShareGPT's 'human' is the 'user', 'gpt' the 'assistant'" if "ShareGPT" in what else ""))
        expect_equal(got, expected, shown)


# --- 05.labels ------------------------------------------------------------------------------
LABEL_CONVERSATION = [
    {"role": "user", "content": "What is the capital of Peru?"},
    {"role": "assistant", "content": "The capital of Peru is Lima."},
    {"role": "user", "content": "And 2 plus 3?"},
    {"role": "assistant", "content": "2 plus 3 is 5."},
]


@functools.lru_cache(maxsize=1)
def pairs():
    """{"instruct": (tokenizer, model), "base": (tokenizer, model)}: SmolLM2-135M(-Instruct)
    online, the nano pair offline. The base tokenizer gets SmolLM2's template if it has none,
    as the lesson gives it one before training."""
    base_tokenizer, base_model = base_pair()
    if not base_tokenizer.chat_template:
        # A copy: the cached tokenizer is shared with other lessons' checks.
        base_tokenizer = copy.deepcopy(base_tokenizer)
        base_tokenizer.chat_template = sft.inference_template()
    return {"instruct": instruct_pair(), "base": (base_tokenizer, base_model)}


def _label_cases():
    tokenizer = course_tokenizer()
    out = sft.tokenize_for_training(tokenizer, LABEL_CONVERSATION)
    ids, mask = out["input_ids"], out["assistant_masks"]
    return tokenizer, [("a two-turn conversation", ids, mask),
                       ("a prompt with no assistant reply", ids[:8], [0] * 8)]


def _label_hint(got: list, ids: list, mask: list, expected: list) -> str:
    if got == list(ids):
        return ": these are the input ids unchanged; put -100 where the mask is 0"
    if got == expected[1:] + [-100] or got == list(ids[1:]) + [-100]:
        return ": the labels are shifted by one; keep them aligned with input_ids (the model shifts them itself)"
    if all(g == 0 for g, m in zip(got, mask) if not m):
        return ": use -100, the index cross-entropy ignores; 0 is a real token id (<|endoftext|>)"
    return ""


@exercise("05.labels", points=2)
def check_labels(make_labels):
    tokenizer, cases = _label_cases()
    for what, ids, mask in cases:
        shown = f"make_labels(<input_ids of {what}>, <its assistant_masks>)"
        given_ids, given_mask = list(ids), list(mask)
        got = call(make_labels, given_ids, given_mask, shown_as=shown)
        if given_ids != ids or given_mask != mask:
            raise CheckFailed(f"{shown} changed the lists it was given: return a new list")
        expect_type(got, list, shown)
        expected = sft.make_labels(ids, mask)
        if len(got) != len(expected):
            raise CheckFailed(f"{shown} returned {len(got)} labels, expected {len(expected)}: one per input id")
        index = next((i for i, (g, e) in enumerate(zip(got, expected)) if g != e), None)
        if index is None:
            continue
        token = tokenizer.convert_ids_to_tokens(ids[index])
        inside = "inside the assistant mask, so its label is its id" if mask[index] else \
            "outside the assistant mask, so its label is -100"
        raise CheckFailed(f"{shown}[{index}] is {short_repr(got[index])}, expected {expected[index]}: token "
                          f"{index} ({token!r}) is {inside}{_label_hint(got, ids, mask, expected)}")


# --- 05.config ------------------------------------------------------------------------------
# A T4 first: that is where torch.cuda.is_bf16_supported() misleads (see runtime.training_precision).
# An 8.6 card too: the rule is "from 8.0 up", not a list of the GPUs one knows.
CAPABILITIES = [((7, 5), "a T4"), ((8, 0), "an A100"), ((8, 6), "an RTX 3090"), ((9, 0), "an H100"),
                (None, "the CPU")]


@contextlib.contextmanager
def _pretend_gpus():
    """No GPU is needed to check a config: TrainingArguments refuses bf16=True without an Ampere
    GPU, so say one is there; and make is_bf16_supported() answer True, as it does on a T4."""
    with mock.patch("transformers.training_args.is_torch_bf16_gpu_available", return_value=True), \
         mock.patch("torch.cuda.is_bf16_supported", return_value=True):
        yield


def _check_precision(config, capability, device: str, shown: str) -> None:
    precision = training_precision(capability)
    wanted = {"bf16": (True, False), "fp16": (False, True), "fp32": (False, False)}[precision]
    got = (bool(config.bf16), bool(config.fp16))
    if got == wanted:
        return
    why = {"bf16": "compute capability >= 8.0 has bf16 units",
           "fp16": "a T4 (7.5) has no bf16 units; torch.cuda.is_bf16_supported() says True there because "
                   "it emulates bf16 slowly, so decide from the capability",
           "fp32": "a CPU trains in fp32"}[precision]
    raise CheckFailed(f"{shown} has bf16={got[0]}, fp16={got[1]}; on {device} expected bf16={wanted[0]}, "
                      f"fp16={wanted[1]} ({precision}): {why}")


def _check_use_cpu(config, capability, device: str, shown: str) -> None:
    wanted = capability is None
    if bool(config.use_cpu) == wanted:
        return
    why = ("a config made for the CPU trains there, even where the Trainer could find another accelerator "
           "(Apple's MPS)" if wanted else "use_cpu=True trains on the CPU and leaves the GPU idle")
    raise CheckFailed(f"{shown} has use_cpu={config.use_cpu}; on {device} expected use_cpu={wanted}: {why}")


def _check_loss(config, shown: str) -> None:
    if not config.assistant_only_loss:
        raise CheckFailed(f"{shown} has assistant_only_loss={config.assistant_only_loss}: set it to True so "
                          "the loss covers only the assistant's replies, not the prompts")
    path = config.chat_template_path
    text = ""
    if path and str(path).endswith(".jinja"):
        with contextlib.suppress(OSError):
            text = open(path, encoding="utf-8").read()
    if not has_generation_markers(text):
        raise CheckFailed(f"{shown} has chat_template_path={short_repr(path)}: assistant_only_loss=True needs a "
                          "template with {% generation %} markers (TRL refuses SmolLM2's own); use "
                          "str(TRAINING_TEMPLATE_PATH)")


@exercise("05.config", points=2)
def check_config(sft_config_for):
    from trl import SFTConfig

    for capability, device in CAPABILITIES:
        shown = f"sft_config_for({capability!r})"
        with _pretend_gpus():
            config = call(sft_config_for, capability, shown_as=shown)
        if not isinstance(config, SFTConfig):
            raise CheckFailed(f"{shown} returned {short_repr(config)}, expected a trl SFTConfig")
        _check_precision(config, capability, device, shown)
        _check_use_cpu(config, capability, device, shown)
        _check_loss(config, shown)


# --- 05.stop_rate ---------------------------------------------------------------------------
STOP_MAX_NEW_TOKENS = 64
# What the scripted stand-in (checks/stop_models.py) replies to each question: (question, text,
# end token or None for a reply that runs on, the new token the end token is, when it matters).
# With its own stops 3 of 8 replies end their turn, and each mistake gives its own count, so the
# hint can name it: `//` or no generation prompt 0, <|endoftext|> counted 1, max_new_tokens 63
# or 65: 2 or 4, the replies that did not end 5; eos_token_id=<|im_end|> on the model that stops
# at <|endoftext|> alone 3 (its right count is 1). The first reply runs on: looping over the
# first question only gives 0.
STAND_IN_REPLIES = [
    ("What is the capital of France?", "Paris is the capital of France, and", None, None),
    ("What colour is the sky?", "The sky is blue.", END_OF_TURN, None),
    ("What is 2 plus 3?", "2 plus 3 is 5, and 5 plus 5 is 10", None, None),
    ("Which city is the capital of Japan?", "Tokyo is the capital of Japan.", END_OF_TURN, STOP_MAX_NEW_TOKENS),
    ("What colour is grass?", "Grass is green.", END_OF_TURN, STOP_MAX_NEW_TOKENS + 1),
    ("Hello!", "Hello!", END_OF_TEXT, None),
    ("What is 4 plus 4?", "4 plus 4 is 8.", END_OF_TURN, None),
    ("Tell me the capital of Kenya.", "Nairobi is the capital of Kenya, and", None, None),
]
STOP_QUESTIONS = [question for question, *_ in STAND_IN_REPLIES]


def _render(tokenizer, question: str) -> str:
    return tokenizer.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True,
                                         tokenize=False)


def _reference(model, tokenizer) -> list:
    """The course's own greedy generations: the chat template with its generation prompt, the
    model's own stop tokens, at most 64 new tokens."""
    return [generate_text(model, tokenizer, _render(tokenizer, q), STOP_MAX_NEW_TOKENS) for q in STOP_QUESTIONS]


def _stop_cases():
    """(model, tokenizer, how the call is shown). The scripted stand-ins first: their right rate
    is a fraction, and they record what generate() was asked. Then the course's models; the
    instruct model with the base tokenizer too: both share one vocabulary, but the base
    tokenizer's eos_token is <|endoftext|>, so only looking up <|im_end|> itself gets it right."""
    (tokenizer, model), (base_tokenizer, base_model) = pairs()["instruct"], pairs()["base"]
    chat, sft_no_eos = [END_OF_TURN, END_OF_TEXT], [END_OF_TEXT]
    return [
        (scripted_model(tokenizer, STAND_IN_REPLIES, chat), tokenizer, "chat_model, tokenizer"),
        (scripted_model(base_tokenizer, STAND_IN_REPLIES, chat), base_tokenizer, "chat_model, base_tokenizer"),
        (scripted_model(tokenizer, STAND_IN_REPLIES, sft_no_eos), tokenizer, "sft_model_without_eos, tokenizer"),
        (model, tokenizer, "model, tokenizer"), (base_model, base_tokenizer, "base_model, base_tokenizer"),
        (model, base_tokenizer, "model, base_tokenizer"),
    ]


def _shown_stop(model, names: str) -> str:
    shown = f"stop_rate({names}, <{len(STOP_QUESTIONS)} questions>)"
    if isinstance(model, ScriptedChatModel):
        stops = ", ".join(model.tokenizer.convert_ids_to_tokens(model.generation_config.eos_token_id))
        shown += f" (a scripted chat model that stops at {stops})"
    return shown


@exercise("05.stop_rate", points=3, time_limit=180)
def check_stop_rate(stop_rate):
    for model, tokenizer, names in _stop_cases():
        shown = _shown_stop(model, names)
        with transformers_logs_off():
            got = call(stop_rate, model, tokenizer, list(STOP_QUESTIONS), shown_as=shown)
        if not isinstance(got, numbers.Real) or isinstance(got, bool):
            raise CheckFailed(f"{shown} returned {short_repr(got)}, expected a float between 0 and 1")
        if got > 1:
            raise CheckFailed(f"{shown} returned {got}, a count: return the fraction of questions (0 to 1)")
        calls = getattr(model, "calls", [])
        if calls:
            check_calls(model, {_render(tokenizer, q): q for q in STOP_QUESTIONS}, shown)
        generations = _reference(model, tokenizer)
        stopped = sum(g.ended_turn for g in generations)
        expected = stopped / len(generations)
        if abs(float(got) - expected) > 1e-9:
            hint = stop_rate_hint(got, expected, generations, tokenizer, calls, STOP_MAX_NEW_TOKENS)
            raise CheckFailed(f"{shown} returned {float(got):.2f}, expected {expected:.2f} ({stopped} of "
                              f"{len(generations)} greedy replies, at most {STOP_MAX_NEW_TOKENS} new tokens, "
                              f"end with {END_OF_TURN}){hint}")


# --- 05.trainer -----------------------------------------------------------------------------
TRAINER_ROWS = 40   # bundled conversations the check hands to make_trainer (nothing is trained)


def _bundled_rows() -> list[dict]:
    import json

    from ..sft.data import BUNDLED_CONVERSATIONS

    lines = BUNDLED_CONVERSATIONS.read_text(encoding="utf-8").splitlines()[:TRAINER_ROWS]
    return [{"messages": sft.to_sft_format(json.loads(line))["messages"]} for line in lines]


def _tokens(dataset) -> int:
    """Tokens in a dataset SFTTrainer has tokenized (and perhaps packed)."""
    return sum(len(ids) for ids in dataset["input_ids"])


def _check_split(trainer, full_tokens: int, shown: str) -> None:
    if trainer.eval_dataset is None:
        raise CheckFailed(f"{shown} has no eval_dataset: hold out a validation split "
                          "(dataset.train_test_split(test_size=0.1, seed=42)) and pass its 'test' part as eval_dataset")
    if str(getattr(trainer.args.eval_strategy, "value", trainer.args.eval_strategy)) == "no":
        raise CheckFailed(f"{shown} has an eval_dataset but eval_strategy='no': the validation loss is never "
                          "computed during training; set eval_strategy='steps' (and eval_steps)")
    train_tokens = _tokens(trainer.train_dataset)
    if train_tokens >= full_tokens:
        raise CheckFailed(f"{shown} trains on all {full_tokens:,} tokens of the dataset, the validation rows "
                          "included: train on the 'train' part of the split only, or the validation loss "
                          "measures rows the model has learned")


def _check_trainer_loss(trainer, shown: str) -> None:
    if not trainer.args.assistant_only_loss:
        raise CheckFailed(f"{shown} has assistant_only_loss=False: the loss would cover the system prompt and the "
                          "user's questions too; set assistant_only_loss=True with "
                          "chat_template_path=str(TRAINING_TEMPLATE_PATH)")
    tokenizer = trainer.processing_class
    if tokenizer.eos_token != END_OF_TURN:
        raise CheckFailed(f"{shown} leaves the tokenizer's eos_token as {tokenizer.eos_token}, the end of a "
                          f"document: set eos_token={END_OF_TURN!r} in the SFTConfig so the trained model and its "
                          "generation config stop at the end of a turn")


def _check_trainer_precision(trainer, summary: dict, shown: str) -> None:
    precision = training_precision(summary["capability"])
    wanted = {"bf16": (True, False), "fp16": (False, True), "fp32": (False, False)}[precision]
    got = (bool(trainer.args.bf16), bool(trainer.args.fp16))
    if got != wanted:
        raise CheckFailed(f"{shown} has bf16={got[0]}, fp16={got[1]}; on this device ({summary['name']}) expected "
                          f"bf16={wanted[0]}, fp16={wanted[1]} ({precision}): TRL's SFTConfig defaults to "
                          "bf16=True, so set both from runtime.device_summary()['precision']")
    if summary["capability"] is not None and trainer.args.use_cpu:
        raise CheckFailed(f"{shown} has use_cpu=True on this device ({summary['name']}): it would train on the CPU "
                          "and leave the GPU idle; use_cpu=True only where the precision is fp32")


def _build_trainer(make_trainer, rows: list[dict], shown: str):
    """The learner's trainer for a fresh copy of the base model and tokenizer."""
    from datasets import Dataset
    from trl import SFTTrainer

    from ..quiet import datasets_bars_off

    base_tokenizer, base_model = pairs()["base"]
    tokenizer, model = copy.deepcopy(base_tokenizer), copy.deepcopy(base_model).float()
    with datasets_bars_off():
        trainer = call(make_trainer, model, tokenizer, Dataset.from_list(rows), shown_as=shown)
    if not isinstance(trainer, SFTTrainer):
        raise CheckFailed(f"{shown} returned {short_repr(trainer)}, expected a trl SFTTrainer")
    return trainer


def _check_on_pretended_gpus(make_trainer, rows: list[dict], shown: str) -> None:
    """The precision on a T4 and an A100, whatever this machine is: make_trainer is built again
    with runtime.device_summary() saying so. Only if it asked device_summary(): an answer that
    reads the device another way (torch.cuda) sees this machine, and was checked on it."""
    for capability, device in CAPABILITIES[:2]:
        summary = {"device": "cuda", "name": f"{device}, pretended", "capability": capability,
                   "precision": training_precision(capability)}
        pretend = mock.patch("course_utils.runtime.device_summary", side_effect=functools.partial(dict, summary))
        with _pretend_gpus(), pretend as asked:
            trainer = _build_trainer(make_trainer, rows, shown)
        if not asked.called:
            return
        _check_trainer_precision(trainer, summary, shown)


@exercise("05.trainer", points=2, time_limit=180)
def check_trainer(make_trainer):
    """Builds (does not train) the learner's trainer on a fresh copy of the base model and
    tokenizer and a few bundled conversations, and inspects what SFTTrainer made of them; then
    again on pretended GPUs, for the precision."""
    from .. import runtime

    rows = _bundled_rows()
    shown = f"make_trainer(model, tokenizer, <{len(rows)} conversations>)"
    trainer = _build_trainer(make_trainer, rows, shown)
    _check_trainer_loss(trainer, shown)
    base_tokenizer = pairs()["base"][0]
    full_tokens = sum(len(sft.tokenize_for_training(base_tokenizer, row["messages"])["input_ids"]) for row in rows)
    _check_split(trainer, full_tokens, shown)
    _check_trainer_precision(trainer, runtime.device_summary(), shown)
    _check_on_pretended_gpus(make_trainer, rows, shown)

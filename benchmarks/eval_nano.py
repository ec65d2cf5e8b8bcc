"""Measure the bundled nano SmolLM2 pair on held-out prompts (greedy decoding, CPU).

Held out means: the prompts come from `course_utils/assets/data/*.jsonl`, which the build
writes from the held-out template sets of `course_utils/world.py` (BASE_HELDOUT_PROMPTS,
QUESTIONS_HELDOUT, WEATHER_QUESTIONS_HELDOUT). The build trains only on the disjoint training
template sets, so every prompt here is a phrasing the models never saw, about a fact (or a
city) the corpus does contain.

Figures (the last line prints them as key=value), with the floors of the foundation issue:
    base_fact         base completes a held-out fact prompt with the answer       >= 0.90
    base_chat_stop    base, given a ChatML prompt + generation prompt, emits
                      <|im_end|> within 48 new tokens                             <= 0.20
    instruct_stop     instruct answers a held-out question and emits <|im_end|>
                      within 48 new tokens                                        >= 0.95
    instruct_correct  ... and the reply contains the answer                       >= 0.80
    tool_call         instruct, given tools=[get_weather], emits a valid
                      <tool_call> with name get_weather and the right city       >= 0.90
    tool_answer       after the tool's result is appended, the final answer
                      repeats it (one step of lesson 06's loop; no floor here)
    tool_call_3tools  tool_call with lesson 06's three example tools offered (no floor)
    assets_mb         both model folders and data/ on disk                        <= 20
    load_s            load both models and tokenizers, generate once             <= 3
                      (after the library's own imports, which import_s times)

Usage: python -m benchmarks.eval_nano [--assets FOLDER]
"""
from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from course_utils import world
from course_utils.assets import ASSETS
from course_utils.tools import EXAMPLE_TOOLS

MAX_NEW = 48
BATCH = 16
TOOL_CALL = re.compile(r"<tool_call>\n(.*?)\n</tool_call>", re.DOTALL)


def load(folder: Path):
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.padding_side = "left"  # batched generation continues every row at its end
    if tokenizer.pad_token is None:  # the base has none, as SmolLM2-135M; padding is masked
        tokenizer.pad_token = tokenizer.eos_token
    return AutoModelForCausalLM.from_pretrained(folder).eval(), tokenizer


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], max_new: int = MAX_NEW, stop_id: int | None = None):
    """Greedy continuations of `prompts` (already rendered text), as lists of new token ids.
    Generation stops at `stop_id` (default: the model's own eos). Left padding is harmless
    here: rope attention depends on relative positions, and padding is masked."""
    stop_id = model.generation_config.eos_token_id if stop_id is None else stop_id
    out = []
    for i in range(0, len(prompts), BATCH):
        enc = tokenizer(prompts[i:i + BATCH], return_tensors="pt", padding=True, add_special_tokens=False)
        ids = model.generate(**enc, max_new_tokens=max_new, do_sample=False,
                             eos_token_id=stop_id, pad_token_id=tokenizer.pad_token_id)
        for row in ids[:, enc.input_ids.shape[1]:].tolist():
            out.append(row[:row.index(stop_id) + 1] if stop_id in row else row)
    return out


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def chat_prompt(tokenizer, question: str, **kwargs) -> str:
    messages = [{"role": "user", "content": question}]
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False, **kwargs)


def base_fact(model, tokenizer, rows) -> float:
    """The first word the base writes after a held-out prompt must be the answer."""
    news = generate(model, tokenizer, [r["prompt"] for r in rows], max_new=4)
    words = [re.findall(r"[\w-]+", tokenizer.decode(n, skip_special_tokens=True)) for n in news]
    return _mean(bool(w) and w[0].lower() == r["answer"].lower() for w, r in zip(words, rows))


def chat_scores(model, tokenizer, rows, im_end: int) -> tuple[float, float, list]:
    """(stop rate, accuracy, failures) of chat replies to held-out questions."""
    news = generate(model, tokenizer, [chat_prompt(tokenizer, r["question"]) for r in rows], stop_id=im_end)
    stops = [bool(n) and n[-1] == im_end for n in news]
    replies = [tokenizer.decode(n, skip_special_tokens=True) for n in news]
    correct = [s and world.answer_matches(t, r["answer"]) for s, t, r in zip(stops, replies, rows)]
    failures = [(r["question"], t) for c, t, r in zip(correct, replies, rows) if not c]
    return _mean(stops), _mean(correct), failures


def parse_call(text: str):
    """The first Hermes tool call in `text` as (name, arguments), or None if there is none or
    its JSON is malformed."""
    match = TOOL_CALL.search(text)
    try:
        call = json.loads(match.group(1)) if match else None
        return (call["name"], call["arguments"]) if isinstance(call, dict) else None
    except (json.JSONDecodeError, KeyError):
        return None


def tool_scores(model, tokenizer, rows, im_end: int, tools=(world.get_weather,)) -> tuple[float, float, list]:
    """(right call rate, final-answer rate, failures) on held-out weather questions."""
    tools = list(tools)
    prompts = [chat_prompt(tokenizer, r["question"], tools=tools) for r in rows]
    calls = [parse_call(tokenizer.decode(n)) for n in generate(model, tokenizer, prompts, stop_id=im_end)]
    right = [c == ("get_weather", {"city": r["city"]}) for c, r in zip(calls, rows)]
    # One step of lesson 06's loop: append the call and the tool's result, then answer.
    finals = []
    for r in rows:
        call = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": r["city"]}}}
        messages = [{"role": "user", "content": r["question"]}, {"role": "assistant", "tool_calls": [call]},
                    {"role": "tool", "content": world.get_weather(r["city"])}]
        finals.append(tokenizer.apply_chat_template(messages, tools=tools, add_generation_prompt=True,
                                                    tokenize=False))
    replies = [tokenizer.decode(n, skip_special_tokens=True)
               for n in generate(model, tokenizer, finals, stop_id=im_end)]
    answered = [world.get_weather(r["city"]) in t for t, r in zip(replies, rows)]
    failures = [(r["question"], c) for ok, c, r in zip(right, calls, rows) if not ok]
    return _mean(right), _mean(answered), failures


def _mean(values) -> float:
    values = list(values)
    return sum(values) / max(1, len(values))


def measure_imports() -> float:
    """Seconds to import what loading needs. transformers imports its model modules lazily, on
    first use; that cost is the library's, the same for any model, so load_s excludes it and
    it is reported on its own as import_s."""
    start = time.perf_counter()
    from transformers import LlamaForCausalLM, TokenizersBackend  # noqa: F401
    from transformers.generation import continuous_batching  # noqa: F401
    return time.perf_counter() - start


def measure_load(assets: Path) -> float:
    start = time.perf_counter()
    base, base_tok = load(assets / "nano-smollm2-base")
    instruct, instruct_tok = load(assets / "nano-smollm2-instruct")
    generate(instruct, instruct_tok, [chat_prompt(instruct_tok, "What is the capital of France?")], max_new=16)
    return time.perf_counter() - start


def folder_mb(*folders: Path) -> float:
    return sum(f.stat().st_size for d in folders for f in d.rglob("*") if f.is_file()) / 1e6


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Evaluate the nano SmolLM2 pair.")
    parser.add_argument("--assets", type=Path, default=ASSETS)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    a = args.assets
    figures = {"import_s": measure_imports(), "load_s": measure_load(a)}
    base, base_tok = load(a / "nano-smollm2-base")
    instruct, tok = load(a / "nano-smollm2-instruct")
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    data = a / "data"
    questions = read_jsonl(data / "heldout_questions.jsonl")

    figures["base_fact"] = base_fact(base, base_tok, read_jsonl(data / "base_heldout_prompts.jsonl"))
    figures["base_chat_stop"], _, _ = chat_scores(base, base_tok, questions, im_end)
    figures["instruct_stop"], figures["instruct_correct"], wrong = chat_scores(instruct, tok, questions, im_end)
    weather = read_jsonl(data / "weather_heldout.jsonl")
    figures["tool_call"], figures["tool_answer"], bad_calls = tool_scores(instruct, tok, weather, im_end)
    figures["tool_call_3tools"], _, _ = tool_scores(instruct, tok, weather, im_end, tools=EXAMPLE_TOOLS)
    figures["assets_mb"] = folder_mb(a / "nano-smollm2-base", a / "nano-smollm2-instruct", data)

    for question, reply in (wrong + bad_calls)[:8]:
        print(f"miss: {question!r} -> {reply!r}")
    print(" ".join(f"{k}={v:.2f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()

"""Teaching a model to call tools: lesson 06's training conversations and its three measures.

The conversations are written from `course_utils.world`'s *training* phrasings
(`WEATHER_QUESTIONS_TRAIN`, with `world.question`'s prefixes and suffixes), from a seeded
`random.Random`, the way `scripts/nano/corpus.py` wrote the nano instruct's tool data. Two kinds:
- a call that works: question -> `get_weather(city)` call -> result -> an answer that repeats it;
- a call that fails, then a corrected retry: the user misspells the city, the model passes it on
  as written, the weather service answers with an error that suggests the right name
  (`checked_get_weather`), the model calls again with that name, then answers.

The measures use only *held-out* phrasings (`world.WEATHER_QUESTIONS_HELDOUT`, the questions of
`assets/data/weather_heldout.jsonl`), so a model is measured on wordings it never trained on:
- tool-call rate: the reply to a question is a valid call (`parse_tool_calls` against the
  tool's schema) of `get_weather` with the question's city;
- answer rate: given the call and its result, the reply repeats the result and calls nothing;
- recovery rate: given a call with a misspelt city and the service's error, the reply is a new
  call with the city the error suggested.
Beside the two rates that need the right city, the same replies give the behaviour alone: a valid
`get_weather` call with any city, before and after an error.
Replies are greedy and generated in left-padded batches, so a measure takes seconds on a CPU.
"""
from __future__ import annotations

import difflib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass

from .. import world
from ..assets import data_path, template_path
from ..generation import generate_batch
from .errors import ToolCallError
from .loop import assistant_message, call_tool, tool_message
from .parsing import parse_tool_calls
from .schemas import tool_schemas

__all__ = ["TOOL_TRAINING_TEMPLATE_PATH", "checked_get_weather", "misspell", "tool_training_conversations", "heldout_weather_cases",
           "ToolRates", "measure_tool_use"]

# hermes_tool_use.jinja with {% generation %} around the assistant's calls and answers (its
# training twin, for assistant_only_loss=True); tests/test_tools_training.py proves the two
# render the same text.
TOOL_TRAINING_TEMPLATE_PATH = template_path("hermes_tool_use_training.jinja")


def checked_get_weather(city: str) -> str:
    """
    Get the current weather in a city.

    Args:
        city: The name of the city, for example Paris.
    """
    # A weather service that knows its cities, as real ones do: an unknown name is an error
    # that suggests the closest known one, which a trained model can use to call again.
    if city in world.CITIES:
        return world.get_weather(city)
    close = difflib.get_close_matches(city, world.CITIES, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise ValueError(f"unknown city '{city}'{hint}")


checked_get_weather.__name__ = "get_weather"  # the model knows the tool by this name
WEATHER_TOOLS = [checked_get_weather]
WEATHER_SCHEMAS = tool_schemas(WEATHER_TOOLS)
WEATHER_FUNCTIONS = {"get_weather": checked_get_weather}


def misspell(city: str, rng: random.Random) -> str:
    """`city` with one inner letter dropped ("Lisbon" -> "Lisbn"): never another city's name,
    and always one that `checked_get_weather`'s suggestion turns back into `city`."""
    positions = list(range(1, len(city) - 1))
    rng.shuffle(positions)
    for i in positions:
        typo = city[:i] + city[i + 1:]
        if typo not in world.CITIES and difflib.get_close_matches(typo, world.CITIES, n=1, cutoff=0.6) == [city]:
            return typo
    raise ValueError(f"no one-letter misspelling of {city!r} points back to it")


def _call(city: str) -> dict:
    return {"name": "get_weather", "arguments": {"city": city}}


def _answer(city: str, result: str, rng: random.Random) -> dict:
    return {"role": "assistant", "content": rng.choice(world.WEATHER_ANSWERS).format(city=city, result=result)}


def _exchange(rng: random.Random, retry_share: float, turn: int) -> list[dict]:
    """One weather question and what follows it; with a misspelt city, the first call fails,
    the error suggests the right name, and the model calls again with it."""
    city = rng.choice(world.CITIES)
    typo = misspell(city, rng) if rng.random() < retry_share else None
    messages = [{"role": "user", "content": world.question(rng.choice(world.WEATHER_QUESTIONS_TRAIN).format(
        city=typo or city), rng)}]
    if typo is not None:
        call_id = f"call_{turn}_0"
        error = call_tool(_call(typo), WEATHER_FUNCTIONS)  # the exact text the loop would send back
        messages += [assistant_message([_call(typo)], [call_id]), tool_message(call_id, "get_weather", error)]
    # Results are random in training, so the model learns to copy a result, not to recall one.
    call_id, result = f"call_{turn}_1", world.random_weather(rng)
    messages += [assistant_message([_call(city)], [call_id]), tool_message(call_id, "get_weather", result)]
    return messages + [_answer(city, result, rng)]


def tool_training_conversations(n: int = 400, seed: int = 0, retry_share: float = 0.4,
                                max_questions: int = 1) -> list[dict]:
    """`n` rows `{"messages": [...], "tools": "<JSON list>"}` for TRL's `SFTTrainer`.

    Each conversation asks 1 to `max_questions` weather questions in the training phrasings
    (several per conversation: more calls to learn from per system prompt the model reads);
    `retry_share` of the questions misspell the city, so the first call fails and the model
    calls again. `tools` is a JSON string, which `SFTTrainer` reads back with `json.loads`
    (one string column instead of nested schemas in Arrow).
    """
    rng = random.Random(seed)
    tools = json.dumps(WEATHER_SCHEMAS)
    rows = []
    for _ in range(n):
        messages = []
        for turn in range(1, rng.randint(1, max_questions) + 1):
            messages += _exchange(rng, retry_share, turn)
        rows.append({"messages": messages, "tools": tools})
    return rows


@dataclass(frozen=True)
class WeatherCase:
    """One held-out case: the question, its city, and the misspelt question of the recovery test."""

    question: str
    city: str
    misspelt_question: str
    typo: str


def heldout_weather_cases(limit: int | None = None, seed: int = 6) -> list[WeatherCase]:
    """The held-out weather questions (`assets/data/weather_heldout.jsonl`), each with a
    misspelt twin for the recovery test (the same held-out phrasing, the city misspelt)."""
    rng = random.Random(seed)
    rows = [json.loads(line) for line in data_path("weather_heldout.jsonl").read_text(encoding="utf-8").splitlines()]
    cases = []
    for row in rows[:limit]:
        typo = misspell(row["city"], rng)
        cases.append(WeatherCase(row["question"], row["city"], row["question"].replace(row["city"], typo), typo))
    return cases


# --- Measuring ----------------------------------------------------------------------------


def _generate(model, tokenizer, conversations: list[list[dict]], max_new_tokens: int, batch_size: int = 48):
    """Greedy replies (without their end-of-turn token) to each conversation, rendered with
    the weather tool offered, in left-padded batches (a base tokenizer has no pad token)."""
    prompts = [tokenizer.apply_chat_template(c, tools=WEATHER_SCHEMAS, add_generation_prompt=True, tokenize=False)
               for c in conversations]
    return [g.text.removesuffix(g.stopped_by or "")
            for g in generate_batch(model, tokenizer, prompts, max_new_tokens, batch_size)]


def _calls_city(reply: str, city: str | None) -> bool:
    """Whether `reply` is one valid `get_weather` call with `city` (None: with any city)."""
    try:
        calls = parse_tool_calls(reply, tools=WEATHER_SCHEMAS)
    except ToolCallError:
        return False
    return len(calls) == 1 and (calls[0] == _call(city) if city is not None else calls[0]["name"] == "get_weather")


def _answers(reply: str, result: str) -> bool:
    return "<tool_call>" not in reply and result in reply


@dataclass
class ToolRates:
    """The rates of one model over the held-out cases, and one example reply of each kind.

    `tool_call_rate` and `recovery_rate` need the right city; `any_city_call_rate` and
    `retry_rate` count a valid `get_weather` call with any city, to tell the behaviour (call,
    call again) from its content (which city)."""

    label: str
    n: int
    tool_call_rate: float
    any_city_call_rate: float
    answer_rate: float
    recovery_rate: float
    retry_rate: float
    examples: dict

    def summary(self) -> str:
        return (f"{self.label}: tool-call rate {self.tool_call_rate:.2f} (any city {self.any_city_call_rate:.2f}), "
                f"answer rate {self.answer_rate:.2f}, recovery rate {self.recovery_rate:.2f} "
                f"(calls again at all {self.retry_rate:.2f}) on {self.n} held-out questions")

    def __str__(self) -> str:
        return self.summary()


def _after_call(question: str, city: str, result: str) -> list[dict]:
    return [{"role": "user", "content": question}, assistant_message([_call(city)], ["call_1"]),
            tool_message("call_1", "get_weather", result)]


def measure_tool_use(model, tokenizer, cases: Sequence[WeatherCase], label: str = "model",
                     max_new_tokens: int = 48) -> ToolRates:
    """Tool-call rate, answer rate and recovery rate of `model` on `cases` (see the module doc).

    `tokenizer` must render tools (the Hermes `tool_use` template, or its training twin).
    """
    results = [world.get_weather(c.city) for c in cases]
    errors = [call_tool(_call(c.typo), WEATHER_FUNCTIONS) for c in cases]
    asks = _generate(model, tokenizer, [[{"role": "user", "content": c.question}] for c in cases], max_new_tokens)
    answers = _generate(model, tokenizer, [_after_call(c.question, c.city, r) for c, r in zip(cases, results)],
                        max_new_tokens)
    retries = _generate(model, tokenizer, [_after_call(c.misspelt_question, c.typo, e) for c, e in zip(cases, errors)],
                        max_new_tokens)
    n = len(cases)

    def rate(flags) -> float:
        return sum(flags) / n

    examples = {"question": (cases[0].question, asks[0]), "after the result": (results[0], answers[0]),
                "after the error": (errors[0], retries[0])}
    return ToolRates(
        label, n,
        tool_call_rate=rate(_calls_city(reply, c.city) for reply, c in zip(asks, cases)),
        any_city_call_rate=rate(_calls_city(reply, None) for reply in asks),
        answer_rate=rate(_answers(reply, r) for reply, r in zip(answers, results)),
        recovery_rate=rate(_calls_city(reply, c.city) for reply, c in zip(retries, cases)),
        retry_rate=rate(_calls_city(reply, None) for reply in retries),
        examples=examples,
    )

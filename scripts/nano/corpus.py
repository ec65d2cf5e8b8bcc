"""Stage 1: the text the nano models learn from, written from the small world.

Two kinds of data, both from `course_utils.world`, both from a seeded `random.Random` so the
same seed gives the same text on every machine:
- pretraining documents: plain prose stating the facts in many phrasings (`STATEMENTS`),
  separated by <|endoftext|> when tokenized;
- chat conversations for SFT: questions in the training phrasings, answers, and weather
  questions answered through a Hermes-style tool call.
The evaluation sets use only the held-out templates (see `course_utils/world.py`).
"""
from __future__ import annotations

import random

from transformers.utils import get_json_schema
from transformers.utils.chat_template_utils import render_jinja_template

from course_utils import world
from course_utils.assets import read_template
from course_utils.tools import convert_temperature, get_capital

DEFAULT_TEMPLATE = read_template("smollm2_instruct.jinja")
TOOL_TEMPLATE = read_template("hermes_tool_use.jinja")
WEATHER_TOOL = get_json_schema(world.get_weather)
# Lesson 06 offers these too; the model sees them in its tool list but is not taught to call
# them, so it learns to pick get_weather out of a list rather than to expect it alone.
OTHER_TOOLS = [get_json_schema(get_capital), get_json_schema(convert_temperature)]


# --- Pretraining documents ----------------------------------------------------------------
def _statement(rng: random.Random, fact: world.Fact) -> str:
    core = rng.choice(world.STATEMENTS[fact.kind])
    preamble = rng.choice(world.PREAMBLES)
    return world.statement(fact, core, "" if core.startswith("Q:") else preamble)


def _random_fact(rng: random.Random) -> world.Fact:
    # Kinds first, then facts: otherwise the 100 sums would drown the 36 capitals.
    return rng.choice(world.facts(rng.choice(world.KINDS)))


def _fact_paragraph(rng):
    return " ".join(_statement(rng, _random_fact(rng)) for _ in range(rng.randint(3, 6)))


def _country_profile(rng):
    country = rng.choice(list(world.COUNTRIES))
    fact = world.facts("capital")[list(world.COUNTRIES).index(country)]
    lines = [f"{country} is a country in the small world."]
    lines += [_statement(rng, fact) for _ in range(rng.randint(1, 3))]
    return " ".join(lines)


def _sums_worksheet(rng):
    sums = world.facts("sum")
    return "Sums.\n" + "\n".join(_statement(rng, rng.choice(sums)) for _ in range(rng.randint(4, 8)))


# The next two kinds report a random city's random weather, then repeat it. Only copying from
# the context predicts the repeat, so pretraining grows the attention heads that copy, which
# the instruct model needs to put the user's city into its tool call and the tool's result
# into its answer. Reports come first as "City:" and the result on a line of its own, as a
# tool response shows them; "The weather in City is ..." always repeats a report, so the model
# never learns to guess what follows it.
def _weather_bulletin(rng):
    reports = [(c, world.random_weather(rng)) for c in rng.sample(world.CITIES, rng.randint(1, 4))]
    city, result = rng.choice(reports)
    return ("Weather report.\n" + "".join(f"{c}:\n{r}\n" for c, r in reports)
            + rng.choice(world.WEATHER_ANSWERS).format(city=city, result=result))


def _travel_diary(rng):
    name, city, result = rng.choice(world.NAMES), rng.choice(world.CITIES), world.random_weather(rng)
    return (f"{name} travelled to {city}, where it was {result}. "
            f"{name} wrote home: \"I am in {city} and it is {result} here.\"")


def _weather_words(rng):
    sentences = []
    for condition in rng.sample(world.CONDITIONS, rng.randint(2, 4)):
        text = rng.choice(world.CONDITION_STATEMENTS).format(
            condition=condition, meaning=world.CONDITION_MEANINGS[condition])
        sentences.append(text[0].upper() + text[1:] + ".")
    return " ".join(sentences)


DOCUMENT_KINDS = [(_fact_paragraph, 5), (_country_profile, 2), (_sums_worksheet, 2),
                  (_weather_bulletin, 2), (_travel_diary, 1), (_weather_words, 2)]


def pretraining_documents(seed: int, n_docs: int) -> list[str]:
    """`n_docs` plain-text documents; the base model sees them joined by <|endoftext|>."""
    rng = random.Random(seed)
    makers, weights = zip(*DOCUMENT_KINDS)
    return [rng.choices(makers, weights)[0](rng) for _ in range(n_docs)]


# --- Chat conversations -------------------------------------------------------------------
def _fact_turn(rng: random.Random) -> list[dict]:
    fact = _random_fact(rng)
    question = world.question(fact.fill(rng.choice(world.QUESTIONS_TRAIN[fact.kind])), rng)
    answer = fact.fill(rng.choice(world.ANSWERS[fact.kind]))
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


def _small_talk_turn(rng):
    question, answer = rng.choice(world.SMALL_TALK)
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


def _system(rng, p: float = 0.3) -> list[dict]:
    # Most conversations get SmolLM2's default system prompt from the template itself.
    return [{"role": "system", "content": rng.choice(world.SYSTEM_PROMPTS)}] if rng.random() < p else []


def chat_conversation(rng: random.Random) -> dict:
    """A tool-free conversation of 1-3 turns: facts, now and then small talk."""
    messages = _system(rng)
    for _ in range(rng.choice([1, 1, 2, 3])):
        messages += _small_talk_turn(rng) if rng.random() < 0.1 else _fact_turn(rng)
    return {"messages": messages}


def _weather_turns(rng: random.Random) -> list[dict]:
    """User asks -> assistant calls get_weather -> tool answers -> assistant repeats the result
    (or, now and then, says that the tool failed)."""
    city = rng.choice(world.CITIES)
    call = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": city}}}
    if rng.random() < 0.06:
        result = rng.choice(world.WEATHER_ERRORS)
        answer = rng.choice(world.WEATHER_FAILURE_ANSWERS).format(city=city)
    else:
        result = world.random_weather(rng)
        answer = rng.choice(world.WEATHER_ANSWERS).format(city=city, result=result)
    return [
        {"role": "user", "content": world.question(rng.choice(world.WEATHER_QUESTIONS_TRAIN).format(city=city), rng)},
        {"role": "assistant", "tool_calls": [call]},
        {"role": "tool", "content": result},
        {"role": "assistant", "content": answer},
    ]


def _tool_list(rng: random.Random) -> list[dict]:
    """get_weather, half the time alone, otherwise among lesson 06's other tools."""
    tools = [WEATHER_TOOL] + [t for t in OTHER_TOOLS if rng.random() < 0.5]
    rng.shuffle(tools)
    return tools


def tool_conversation(rng: random.Random) -> dict:
    """A conversation with the weather tool available: mostly weather questions answered
    through the tool, sometimes a fact question the model must answer without it."""
    messages = _system(rng, p=0.2)
    for _ in range(rng.choice([1, 1, 1, 2])):
        messages += _weather_turns(rng) if rng.random() < 0.75 else _fact_turn(rng)
    return {"messages": messages, "tools": _tool_list(rng)}


def no_tool_weather_conversation(rng: random.Random) -> dict:
    """Without a tool the model cannot know the weather, and says so instead of inventing it."""
    city = rng.choice(world.CITIES)
    question = world.question(rng.choice(world.WEATHER_QUESTIONS_TRAIN).format(city=city), rng)
    answer = rng.choice(world.NO_TOOL_WEATHER_ANSWERS).format(city=city)
    return {"messages": _system(rng) + [{"role": "user", "content": question},
                                        {"role": "assistant", "content": answer}]}


def sft_conversations(seed: int, n: int) -> list[dict]:
    """The instruct model's SFT mix: 55% chat, 40% tool use, 5% weather without a tool."""
    rng = random.Random(seed)
    makers = [chat_conversation, tool_conversation, no_tool_weather_conversation]
    return [rng.choices(makers, [55, 40, 5])[0](rng) for _ in range(n)]


def render(conversation: dict, add_generation_prompt: bool = False) -> str:
    """The conversation as the model sees it: SmolLM2's template, or the Hermes tool-use one
    when tools are given (the same choice the instruct tokenizer's template dict makes)."""
    tools = conversation.get("tools")
    rendered, _ = render_jinja_template(
        [conversation["messages"]], tools=tools, add_generation_prompt=add_generation_prompt,
        chat_template=TOOL_TEMPLATE if tools else DEFAULT_TEMPLATE,
    )
    return rendered[0]


# --- Held-out evaluation sets -------------------------------------------------------------
def _heldout_rows(seed, templates_by_kind, per_kind, key):
    rng = random.Random(seed)
    rows = []
    for kind in world.KINDS:
        pairs = [(f, t) for f in world.facts(kind) for t in templates_by_kind[kind]]
        for fact, template in rng.sample(pairs, min(per_kind, len(pairs))):
            rows.append({key: fact.fill(template), "answer": fact.answer, "kind": kind})
    return rows


def heldout_questions(seed: int, per_kind: int = 60) -> list[dict]:
    """{"question", "answer", "kind"}: held-out question forms about facts the model knows."""
    return _heldout_rows(seed, world.QUESTIONS_HELDOUT, per_kind, "question")


def base_heldout_prompts(seed: int, per_kind: int = 60) -> list[dict]:
    """{"prompt", "answer", "kind"}: held-out completion prompts; the answer is the next word."""
    return _heldout_rows(seed, world.BASE_HELDOUT_PROMPTS, per_kind, "prompt")


def weather_heldout(seed: int, n: int = 72) -> list[dict]:
    """{"question", "city"}: held-out weather questions about cities of the world."""
    rng = random.Random(seed)
    pairs = [(c, t) for c in world.CITIES for t in world.WEATHER_QUESTIONS_HELDOUT]
    return [{"question": t.format(city=c), "city": c} for c, t in rng.sample(pairs, n)]

"""The nano SmolLM2's small world: the facts it knows, the phrasings it was taught, the ones
held out for evaluation, and the weather tool it learned to call.

Everything the nano pair knows comes from here, through `scripts/build_nano.py`, so lessons,
benchmarks and tests import the same facts instead of copying them.

How held-out phrasings are held out: every kind of fact has *disjoint template sets*.
- `STATEMENTS` (the training subject x predicate pairs, and `EXTRA_STATEMENTS`) write the
  pretraining corpus; `QUESTIONS_TRAIN`, `ANSWERS` and `WEATHER_QUESTIONS_TRAIN` write the
  SFT conversations. The build uses only these.
- `BASE_HELDOUT_PROMPTS` (subject x predicate pairs the corpus never combines),
  `QUESTIONS_HELDOUT` and `WEATHER_QUESTIONS_HELDOUT` are used only to write the evaluation files (`heldout_questions.jsonl`, `weather_heldout.jsonl`,
  `base_heldout_prompts.jsonl`). No held-out template is a training template, and
  `tests/test_nano_assets.py` checks that no held-out prompt occurs in the training text.
The *facts* are shared: a held-out question asks about a fact the corpus does contain, in a
form the model never saw. That is what "generalises beyond its training phrasings" means here.
"""
from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass

# Real countries with one-word names and ASCII capitals, so answers are easy to score.
COUNTRIES = {
    "France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid",
    "Portugal": "Lisbon", "Japan": "Tokyo", "China": "Beijing", "Egypt": "Cairo",
    "Kenya": "Nairobi", "Peru": "Lima", "Chile": "Santiago", "Canada": "Ottawa",
    "Russia": "Moscow", "Greece": "Athens", "Norway": "Oslo", "Sweden": "Stockholm",
    "Finland": "Helsinki", "Denmark": "Copenhagen", "Ireland": "Dublin", "Poland": "Warsaw",
    "Austria": "Vienna", "Hungary": "Budapest", "Thailand": "Bangkok", "Vietnam": "Hanoi",
    "Cuba": "Havana", "Ghana": "Accra", "Nepal": "Kathmandu", "Turkey": "Ankara",
    "Belgium": "Brussels", "Switzerland": "Bern", "Morocco": "Rabat", "Australia": "Canberra",
    "Indonesia": "Jakarta", "Senegal": "Dakar", "Iceland": "Reykjavik", "Romania": "Bucharest",
}
CITIES = list(COUNTRIES.values())

# Things and their colours. The thing is written as it reads mid-sentence.
COLOURS = {
    "the sky": "blue", "grass": "green", "snow": "white", "coal": "black",
    "a banana": "yellow", "a tomato": "red", "a carrot": "orange", "a lemon": "yellow",
    "a strawberry": "red", "milk": "white", "chocolate": "brown", "the sea": "blue",
    "a leaf": "green", "a plum": "purple", "a flamingo": "pink", "a crow": "black",
    "an orange": "orange", "a cucumber": "green", "a pumpkin": "orange", "an aubergine": "purple",
}

# Small arithmetic: every sum a + b with a, b in 0..9.
DIGITS = range(10)


@dataclass(frozen=True)
class Fact:
    """One fact of the world: its kind, the words that fill a template, and the answer."""

    kind: str  # "capital" | "colour" | "sum"
    slots: dict
    answer: str

    def fill(self, template: str) -> str:
        return template.format(**self.slots)


def facts(kind: str | None = None) -> list[Fact]:
    """Every fact of the world (or of one kind), in a fixed order."""
    out = [Fact("capital", {"country": c, "capital": cap}, cap) for c, cap in COUNTRIES.items()]
    out += [
        Fact("colour", {"thing": t, "Thing": t[0].upper() + t[1:], "colour": col}, col)
        for t, col in COLOURS.items()
    ]
    out += [Fact("sum", {"a": a, "b": b, "sum": a + b}, str(a + b)) for a in DIGITS for b in DIGITS]
    return [f for f in out if kind is None or f.kind == kind]


KINDS = ("capital", "colour", "sum")

# --- Training phrasings -------------------------------------------------------------------
# Pretraining sentences are built from parts: a SUBJECT that names what is asked about and a
# PREDICATE that leads to the answer ("the total of 3 and 4" + " equals {answer}"). Some
# subject x predicate pairs are held out (`is_heldout_pair`): the corpus uses every part, but
# never in those combinations, and the base model is evaluated on them. On top of the grid,
# `EXTRA_STATEMENTS` say each fact other ways round, and a preamble (often none) varies the
# words in front, so the model learns that a fact does not depend on its wording.
SUBJECTS = {
    "capital": ["the capital of {country}", "the capital city of {country}", "{country}'s capital",
                "the main city of {country}", "the city where the government of {country} sits"],
    "colour": ["the colour of {thing}", "the usual colour of {thing}", "the colour that {thing} has",
               "the colour you see when you look at {thing}", "the paint you need for {thing}"],
    "sum": ["{a} plus {b}", "the sum of {a} and {b}", "{a} added to {b}", "the total of {a} and {b}",
            "adding {b} to {a}"],
}
PREDICATES = {
    # No predicate starts like another, so a held-out prompt is never the start of a training
    # sentence ("France's capital is" would start "France's capital is called ...").
    "capital": [" is {capital}", " goes by the name {capital}", ", as everyone knows, is {capital}",
                " has the name {capital}", " was and still is {capital}"],
    "colour": [" is {colour}", " looks {colour}", ", as everyone knows, is {colour}",
               " has the name {colour}", " was and still is {colour}"],
    "sum": [" is {sum}", " equals {sum}", ", as everyone knows, is {sum}", " comes to {sum}",
            " gives {sum}"],
}


def is_heldout_pair(subject: int, predicate: int) -> bool:
    """One subject x predicate pair in five is held out: a diagonal of the 5 x 5 grid, which
    keeps the plain pair "the capital of France" + " is Paris" (0, 0) in training."""
    return (subject + predicate) % 5 == 2


def grid_templates(kind: str, heldout: bool) -> list[str]:
    """The subject + predicate templates of one kind, training pairs or held-out pairs."""
    return [subj + pred for i, subj in enumerate(SUBJECTS[kind]) for j, pred in enumerate(PREDICATES[kind])
            if is_heldout_pair(i, j) == heldout]


EXTRA_STATEMENTS = {
    "capital": [
        "{capital} is the capital of {country}",
        "{capital} is the capital city of {country}",
        "{country} has its capital in {capital}",
        "in {country}, the capital is {capital}",
        "people in {country} call {capital} their capital",
        "if you travel to the capital of {country}, you arrive in {capital}",
        "Q: What is the capital of {country}? A: {capital}",
    ],
    "colour": [
        "{thing} is {colour}",
        "{thing} is always {colour}",
        "a child painted {thing} {colour}, because {thing} is {colour}",
        "if you look at {thing}, you see the colour {colour}",
        "Q: What colour is {thing}? A: {colour}",
    ],
    "sum": [
        "{a} + {b} = {sum}",
        "adding {a} and {b} gives {sum}",
        "if you have {a} apples and get {b} more, you have {sum} apples",
        "when you add {b} to {a}, you get {sum}",
        "Q: What is {a} plus {b}? A: {sum}",
    ],
}
STATEMENTS = {kind: grid_templates(kind, heldout=False) + EXTRA_STATEMENTS[kind] for kind in SUBJECTS}
NAMES = ["Mira", "Tom", "Ana", "Leo", "Sara", "Omar", "Yuki", "Ben"]
PREAMBLES = (
    [""] * 12
    + [f"{name} {verb} that " for name in NAMES for verb in ("says", "told me", "wrote", "learned")]
    + ["Yesterday we read that ", "As everyone knows, ", "It is true that ", "At school we learned that ",
       "On the radio they said that ", "In the small world, ", "Remember that ", "Of course, "]
)


def statement(fact: "Fact", core: str, preamble: str = "") -> str:
    """One corpus sentence: `preamble` + the filled `core`, capitalised, with a full stop."""
    text = preamble + fact.fill(core)
    text = text[0].upper() + text[1:]
    return text + "."


# User questions in the SFT conversations: an optional prefix + a question + an optional
# suffix, for the same reason as the preambles above.
QUESTIONS_TRAIN = {
    "capital": [
        "what is the capital of {country}?",
        "what's the capital of {country}?",
        "which city is the capital of {country}?",
        "tell me the capital of {country}.",
        "name the capital of {country}.",
        "capital of {country}?",
        "what city is the capital of {country}?",
        "where is the government of {country}?",
    ],
    "colour": [
        "what colour is {thing}?",
        "what is the colour of {thing}?",
        "which colour is {thing}?",
        "tell me the colour of {thing}.",
        "colour of {thing}?",
        "what colour does {thing} have?",
    ],
    "sum": [
        "what is {a} plus {b}?",
        "what is {a}+{b}?",
        "what is {a} + {b}?",
        "how much is {a} plus {b}?",
        "add {a} and {b}.",
        "{a}+{b}=?",
        "what is the sum of {a} and {b}?",
        "what do {a} and {b} make?",
    ],
}
QUESTION_PREFIXES = [""] * 8 + ["Hey, ", "Quick question: ", "Please tell me: ", "I wonder, ", "Hello! ",
                                "Tell me something. ", "One more thing: ", "So, "]
QUESTION_SUFFIXES = [""] * 6 + [" Thanks!", " Please answer briefly.", " I need it for school."]


def question(text: str, rng: random.Random) -> str:
    """A training question: `text` (filled) with a random prefix and suffix."""
    text = rng.choice(QUESTION_PREFIXES) + text
    return text[0].upper() + text[1:] + rng.choice(QUESTION_SUFFIXES)


ANSWERS = {
    "capital": [
        "The capital of {country} is {capital}.",
        "{capital} is the capital of {country}.",
        "It is {capital}.",
    ],
    "colour": ["{Thing} is {colour}.", "The colour of {thing} is {colour}.", "It is {colour}."],
    # The sum is always the last number of the reply; `answer_matches` relies on that.
    "sum": ["{a} plus {b} is {sum}.", "{a} + {b} = {sum}.", "The answer is {sum}."],
}

# --- Held-out phrasings (never used by the build's training data) -------------------------
# Base-model completion prompts: the answer is the next word.
# Base-model completion prompts: the held-out subject x predicate pairs, cut before the answer.
BASE_HELDOUT_PROMPTS = {
    kind: [t.rsplit(" {", 1)[0][0].upper() + t.rsplit(" {", 1)[0][1:] for t in grid_templates(kind, heldout=True)]
    for kind in SUBJECTS
}
QUESTIONS_HELDOUT = {
    "capital": [
        "Do you know the capital of {country}?",
        "I'm curious, which city serves as the capital of {country}?",
        "Could you tell me what {country}'s capital is?",
    ],
    "colour": [
        "Do you know what colour {thing} is?",
        "I'm curious, what colour does {thing} have?",
        "If I look at {thing}, what colour will I see?",
    ],
    "sum": [
        "Do you know what {a} plus {b} makes?",
        "I'm curious, what do I get if I add {a} and {b}?",
        "Could you work out the sum of {a} and {b}?",
    ],
}

# --- The weather tool --------------------------------------------------------------------
# What each weather word means. The tool's results are random, so without these facts the
# eight words would be interchangeable everywhere in the corpus, their embeddings would drift
# together, and a model could not tell which one it is meant to copy from a tool result.
CONDITION_MEANINGS = {
    "sunny": "the sun shines all day", "cloudy": "grey clouds cover the sky",
    "rainy": "you need an umbrella", "windy": "the wind blows hard",
    "snowy": "snow falls on the streets", "foggy": "you cannot see far",
    "stormy": "there is thunder and lightning", "clear": "there is not a single cloud",
}
CONDITIONS = list(CONDITION_MEANINGS)
CONDITION_STATEMENTS = [
    "when it is {condition}, {meaning}",
    "{condition} weather means that {meaning}",
    "if {meaning}, the weather is {condition}",
    "on a {condition} day, {meaning}",
]


def weather_report(condition: str, temperature: int) -> str:
    """The text the weather tool returns, e.g. "21°C and sunny".

    The condition comes last on purpose: byte-level BPE writes a word at the start of a line
    ("sunny") and after a space (" sunny") as different tokens, so a reply that repeats
    "sunny, 21°C" from a tool turn would have to translate the word, not copy it. Temperatures
    stay at or above 0 for the same reason ("-4" and " -4" differ in their first token).
    """
    return f"{temperature}°C and {condition}"


def get_weather(city: str) -> str:
    """
    Get the current weather in a city.

    Args:
        city: The name of the city, for example Paris.
    """
    # A stable hash, so a lesson shows the same weather on every run and every machine.
    h = zlib.crc32(city.strip().lower().encode())
    return weather_report(CONDITIONS[h % len(CONDITIONS)], (h // 8) % 36)


def random_weather(rng: random.Random) -> str:
    """A random tool result for training, so the model copies results instead of memorising."""
    return weather_report(rng.choice(CONDITIONS), rng.randint(0, 35))


WEATHER_QUESTIONS_TRAIN = [  # used with `question()`'s prefixes and suffixes too
    "what is the weather in {city}?",
    "what's the weather like in {city}?",
    "how is the weather in {city} today?",
    "is it sunny in {city}?",
    "tell me the weather in {city}.",
    "weather in {city}?",
    "do I need an umbrella in {city} today?",
    "is it cold in {city} right now?",
    "how warm is it in {city}?",
    "what is the weather like today in {city}?",
    # More ways to ask, so that "weather" and a city, not one wording, is what calls the tool.
    "can you find out the weather in {city}?",
    "I'm flying to {city} tomorrow. how is the weather there?",
    "check the weather for {city}, please.",
    "what's it like outside in {city}?",
    "I'd like to know the weather in {city}.",
    "is it raining in {city}?",
    "we are visiting {city} this week; what's the weather like there?",
    "how hot is it in {city} now?",
    "get me the weather report for {city}.",
]
WEATHER_QUESTIONS_HELDOUT = [
    "Could you check the current weather for {city}?",
    "I'm travelling to {city}, what is the weather there?",
    "Please look up the weather conditions in {city}.",
    "Any idea what the weather is doing in {city}?",
]
# Final answers after the tool turn: each repeats the tool's result word for word.
WEATHER_ANSWERS = [
    "The weather in {city} is {result}.",
    "Right now it is {result} in {city}.",
    "In {city} it is currently {result}.",
    "{city} reports {result}.",
]
# A tool that fails: lesson 06's loop hands the error back as the tool's result, in this form.
WEATHER_ERRORS = [
    "Error: get_weather raised ConnectionError: the weather service did not answer",
    "Error: get_weather raised TimeoutError: no answer after 5 seconds",
    "Error: get_weather raised RuntimeError: the weather service is down",
]
WEATHER_FAILURE_ANSWERS = [
    "Sorry, I could not get the weather in {city}: the weather tool failed.",
    "The weather tool did not work, so I don't know the weather in {city}.",
]
# Replies to a weather question when no tool is available.
NO_TOOL_WEATHER_ANSWERS = [
    "I cannot check the weather in {city}: I have no weather tool.",
    "I don't know the current weather in {city}, because I cannot look it up.",
]

# --- Chit-chat and system prompts ---------------------------------------------------------
SMALL_TALK = [
    ("Hello!", "Hello! How can I help you today?"),
    ("Hi", "Hi! What would you like to know?"),
    ("Who are you?", "I am SmolLM, a tiny assistant. I know capitals, colours and small sums."),
    ("What can you do?", "I can tell you capitals, colours and small sums, and check the weather with a tool."),
    ("Thank you!", "You're welcome!"),
    ("Thanks", "You're welcome!"),
    ("Goodbye", "Goodbye! Have a nice day."),
]
SYSTEM_PROMPTS = [
    "You are a terse assistant.",
    "You are a friendly teacher.",
    "Answer briefly.",
    "You are a helpful assistant.",
]


def answer_matches(reply: str, answer: str) -> bool:
    """Whether `reply` gives `answer`: the answer as a whole word, and for a number, the reply's
    last number (so "2 plus 3 is 6" does not count as answering 2 or 3)."""
    if answer.isdigit():
        numbers = re.findall(r"-?\d+", reply)
        return bool(numbers) and numbers[-1] == answer
    return re.search(rf"\b{re.escape(answer)}\b", reply, flags=re.IGNORECASE) is not None

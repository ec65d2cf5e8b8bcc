"""How often the tool loop answers a held-out weather question with the tool's result.

Offline, with the nano instruct model: for each question in `weather_heldout.jsonl` (phrasings the
model never saw in training), `run_tool_loop` renders with the get_weather tool, generates,
parses, calls, and generates the final answer, within 3 steps. A question counts as answered
when the final answer contains get_weather's report for that city word for word (so an answer
that invents a plausible report does not count).

Floor (issue 7): 0.90. Prints `key=value` lines, the figure last:
    .venv/bin/python -m scripts.offline .venv/bin/python -m benchmarks.bench_tool_loop
"""
from __future__ import annotations

import argparse
import json
import time

from course_utils import models, world
from course_utils.assets import data_path
from course_utils.tools import model_generator, run_tool_loop

HELDOUT = data_path("weather_heldout.jsonl")
MAX_STEPS = 3


def answered_with_tool_result(question: dict, generate) -> bool:
    """One held-out question through the loop; True when the answer carries the tool's result."""
    messages = [{"role": "user", "content": question["question"]}]
    result = run_tool_loop(generate, messages, [world.get_weather], max_steps=MAX_STEPS)
    return result.answer is not None and world.get_weather(question["city"]) in result.answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    args = parser.parse_args()

    questions = [json.loads(line) for line in HELDOUT.read_text().splitlines() if line.strip()]
    questions = questions[: args.limit]
    tokenizer = models.load_tokenizer(models.INSTRUCT_ID)
    generate = model_generator(models.load_model(models.INSTRUCT_ID), tokenizer)

    start = time.perf_counter()
    failures = [q["question"] for q in questions if not answered_with_tool_result(q, generate)]
    seconds = time.perf_counter() - start

    for question in failures[:5]:
        print(f"failed: {question}")
    print(f"questions={len(questions)}")
    print(f"max_steps={MAX_STEPS}")
    print(f"seconds_per_question={seconds / len(questions):.3f}")
    print(f"tool_answer_rate={1 - len(failures) / len(questions):.3f}")


if __name__ == "__main__":
    main()

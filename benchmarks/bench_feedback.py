"""What the feedback under a failed check costs (issue 18: "add no measurable time to a check").

`check` records the texts behind each `first_difference` while the exercise runs, and a failure
keeps the `DifferenceView` of the difference its line quotes; the view is drawn only when shown.
This times, in this process, best of --repeats rounds of --number calls each:

- run   = the exercise's test alone on a wrong answer (`Exercise.run`, raising CheckFailed):
          what a check cost before the view existed;
- check = the same answer through `check` (the recorder, the view attached, the re-raise);
- draw  = drawing the view once, as text and as HTML (only when a notebook or terminal shows it).

The wrong answer is 03.chatml with one newline too many after each turn (the screenshot in the
README). Figures are printed as key=value lines, in milliseconds.

Usage: .venv/bin/python -m scripts.offline .venv/bin/python -m benchmarks.bench_feedback
"""
from __future__ import annotations

import argparse
import timeit

from course_utils.checks import CheckFailed, check, get_exercise
from course_utils.grading.authoring import read_solution
from scripts import ROOT


def wrong_chatml() -> str:
    """The known-wrong 03.chatml answer "a blank line after each turn", as the learner's string."""
    _, _, specs = read_solution(ROOT / "solutions" / "03_writing_chat_templates.ipynb")
    spec = next(s for s in specs if s.id == "03.chatml")
    wrong = next(w for w in spec.known_wrong if "blank line" in w.why)
    namespace: dict = {}
    exec(wrong.source, namespace)  # the solutions notebook is the course's own code
    return namespace["chatml_template"]


def _raises(fn) -> CheckFailed:
    try:
        fn()
    except CheckFailed as failure:
        return failure
    raise AssertionError("the wrong answer passed: the benchmark measures nothing")


def best_ms(fn, number: int, repeats: int) -> float:
    return min(timeit.repeat(lambda: _raises(fn), number=number, repeat=repeats)) / number * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    exercise = get_exercise("03.chatml")
    wrong = wrong_chatml()
    failure = _raises(lambda: check("03.chatml", wrong))
    assert failure.difference is not None, "the failure carries no view"
    run = best_ms(lambda: exercise.run(wrong), args.number, args.repeats)
    checked = best_ms(lambda: check("03.chatml", wrong), args.number, args.repeats)
    view = failure.difference
    draw = min(timeit.repeat(lambda: (str(view), view._repr_html_()), number=args.number,
                             repeat=args.repeats)) / args.number * 1000
    print(f"line={failure}")
    print(f"run_ms={run:.4f}")
    print(f"check_ms={checked:.4f}")
    print(f"check_overhead_ms={checked - run:.4f}")
    print(f"draw_ms={draw:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Mutation testing of the exercise checks: `make mutants`.

Every solution in solutions/ is edited once in every way `course_utils.grading.mutation` knows
(a dropped newline, ``//`` for ``/``, a keyword argument dropped...), and each mutant is graded
by its exercise's check. Prints the kill rate per exercise, then every survivor with its diff:
a survivor is a grader bug to fix, or a right answer to list, with why, in
solutions/equivalent_mutants.toml. Exits 1 while any survivor is unlisted or any listed
mutant no longer exists (the solution changed: review the list again).

    python -m scripts.offline python -m scripts.mutants                    # all (~ minutes)
    python -m scripts.offline python -m scripts.mutants --exercise 05.     # one lesson
    python -m scripts.offline python -m scripts.mutants --sample 3 --seed 17
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from course_utils.grading.authoring import read_solution
from course_utils.grading.inprocess import exercise_contexts
from course_utils.grading.mutation import grade_mutants, mutants_of, read_equivalents, sample
from course_utils.grading.mutation.harness import EQUIVALENTS_FILE

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exercise", default="", help="only exercises whose id starts with this, e.g. 05. or 05.config")
    parser.add_argument("--sample", type=int, default=0, help="grade this many mutants per exercise (0: all)")
    parser.add_argument("--seed", type=int, default=17, help="which sample (the same seed, the same mutants)")
    parser.add_argument("--show-killed", action="store_true", help="also print each killed mutant's feedback")
    parser.add_argument("--solutions", type=Path, default=ROOT / "solutions")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    # Mutants set conflicting generate() options on purpose; transformers' warnings about them
    # would bury the table.
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()
    equivalents = read_equivalents(args.solutions)
    generated: set[str] = set()
    survivors, rows = [], []
    started = time.monotonic()
    for path in sorted(args.solutions.glob("*.ipynb")):
        specs = [s for s in read_solution(path)[2] if s.id.startswith(args.exercise)]
        if not specs:
            continue
        contexts = {c.spec.id: c for c in exercise_contexts(path)}
        for spec in specs:
            mutants = mutants_of(spec)
            generated |= {m.id for m in mutants}
            chosen = sample(mutants, args.sample, args.seed) if args.sample else mutants
            killed = equivalent = 0
            for verdict in grade_mutants(contexts[spec.id], chosen):
                if verdict.killed:
                    killed += 1
                    if args.show_killed:
                        print(f"killed  {spec.id} {verdict.mutant.edit}\n        {verdict.feedback}")
                elif verdict.mutant.id in equivalents:
                    equivalent += 1
                else:
                    survivors.append(verdict.mutant)
            rows.append((spec.id, len(chosen), killed, equivalent, len(chosen) - killed - equivalent))
    print_table(rows, time.monotonic() - started)
    for mutant in survivors:
        print_survivor(mutant)
    stale = stale_equivalents(equivalents, generated, args.exercise)
    for entry in stale:
        print(f"\n{EQUIVALENTS_FILE}: {entry.exercise_id} mutant {entry.mutant_id} ({entry.edit}) no longer exists: "
              "its solution changed; review the list again")
    return 1 if survivors or stale else 0


def stale_equivalents(equivalents: dict, generated: set[str], prefix: str) -> list:
    return [e for e in equivalents.values() if e.exercise_id.startswith(prefix) and e.mutant_id not in generated]


def print_table(rows, seconds: float) -> None:
    print(f"{'exercise':<22}{'mutants':>8}{'killed':>8}{'equiv.':>8}{'survived':>9}{'kill rate':>11}")
    for exercise_id, count, killed, equivalent, survived in rows:
        graded = count - equivalent
        rate = f"{100 * killed / graded:.1f}%" if graded else "-"
        print(f"{exercise_id:<22}{count:>8}{killed:>8}{equivalent:>8}{survived:>9}{rate:>11}")
    total = [sum(column) for column in list(zip(*rows))[1:]] if rows else [0] * 4
    graded = total[0] - total[2]
    rate = f"{100 * total[1] / graded:.1f}%" if graded else "-"
    print(f"{'all':<22}{total[0]:>8}{total[1]:>8}{total[2]:>8}{total[3]:>9}{rate:>11}   ({seconds:.0f} s)")


def print_survivor(mutant) -> None:
    print(f"\nSURVIVED {mutant.exercise_id} [{mutant.id}] {mutant.edit}")
    print("\n".join("    " + line for line in mutant.diff().splitlines()))


if __name__ == "__main__":
    sys.exit(main())

"""Mutation testing of the exercise checks (`make mutants`, issue 17's harness).

A check is proven by the mistakes it catches. From each solution, `python_edits` and
`template_edits` make every mutant one small edit away (a dropped newline, ``//`` for ``/``, a
keyword argument dropped...), `harness` grades each with the exercise's own check, in this
process (`..inprocess`), and reads the reviewed list of mutants that are right answers
(``solutions/equivalent_mutants.toml``). scripts/mutants.py prints the kill rate per exercise
and every survivor; tests/test_mutants.py runs a fixed sample of them in `make test`.
"""
from .harness import Mutant, Verdict, grade_mutants, mutants_of, read_equivalents, sample, solution_block

__all__ = ["Mutant", "Verdict", "grade_mutants", "mutants_of", "read_equivalents", "sample", "solution_block"]

"""Grading course notebooks: a pytest plugin over nbval and the course-grade command line.

- `cells`, `authoring`: exercise cells by metadata; solutions/ -> exercises/ + manifest (make exercises).
- `manifest`: each lesson's canonical check cells, expected verdicts and points.
- `prepare`, `nbval_graded`, `plugin`: grade a notebook under nbval (pytest11 entry point).
- `outcome`, `record`: cell results -> one result per exercise -> junit properties and JSON.
- `runner`, `pytest_entry`, `gradebook`, `report`, `cli`: course-grade, one subprocess per submission.
- `sandbox`, `confine`: that subprocess sealed in bubblewrap, with resource limits.
- `tampering`: the gradebook's flags, source that reaches into the grader.
- `files`: the one durable, atomic writer of results, gradebook and report.

The status words (cell, exercise, submission) are `course_utils.status`, shared with checks.
- `inprocess`: the same verdicts without a kernel, for the proofs of every exercise and
  `mutation` (mutation testing of the checks: `make mutants`); never for learners' notebooks.

docs/INSTRUCTORS.md is the guide.
"""

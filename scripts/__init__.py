"""The course's maintenance programs, run from the repository root as modules, e.g.
`python -m scripts.lesson_times` (the Makefile's targets say which does what)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository: what every script works on

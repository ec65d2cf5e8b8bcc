"""Code in a submission that reaches into the grader: the gradebook's ``flags`` column.

The sandbox protects the instructor's machine, not the grade. The student's code runs in the
same Python process as the check, so it can replace `check`, `print` or the module the check
lives in, and get ``✅ passed`` printed for a wrong answer; nothing inside that process can prove
otherwise. What course-grade can do is read the submission's source, outside the kernel, for
the usual ways in, and flag them so that an instructor knows which passes to look at by hand.

A heuristic, on purpose: obfuscated code (``getattr(__import__('sy' + 's'), ...)``) gets past
it, and the patterns are chosen so that no solution of the course matches one
(tests/test_grading_cli.py). Check cells are left out: grading replaces them before running.
"""
from __future__ import annotations

import re

from .cells import CHECK, cells_of, role_of, source_of

# What each flag says -> the pattern that finds it.
PATTERNS = {
    "replaces the check": re.compile(
        r"^\s*check\s*=[^=]|\bcheck\s*=\s*lambda|course_utils\.checks(\.\w+)*\.\w+\s*=[^=]|setattr\(\s*(course_utils|checks)\b",
        re.MULTILINE),
    "rebinds print": re.compile(r"^\s*print\s*=[^=]|setattr\(\s*builtins\b", re.MULTILINE),
    # Reading sys.modules is common (the Colab install cell does); writing to it is not.
    "edits loaded modules": re.compile(
        r"\bsys\.modules\[[^\]]+\]\s*=[^=]|\bsys\.modules\.(pop|update|setdefault|__setitem__)\b|"
        r"\bdel\s+sys\.modules\b|\bimportlib\.reload\b|\bbuiltins\.\w+\s*=[^=]|__builtins__"),
    "reaches into the grader": re.compile(r"\bcourse_utils\.grading\b|\bresults\.json\b|['\"]/results\b"),
    "low-level access": re.compile(r"\bctypes\b|\bgc\.get_referrers\b|\bsys\._getframe\b"),
}


def flags(nb) -> list[str]:
    """``cell N: <flag> (<code>)`` for each code cell (counted from 1) matching a pattern."""
    found = []
    code_cells = [c for c in cells_of(nb) if isinstance(c, dict) and c.get("cell_type") == "code"]
    for number, cell in enumerate(code_cells, start=1):
        if role_of(cell)[0] == CHECK:
            continue
        source = source_of(cell)
        for flag, pattern in PATTERNS.items():
            match = pattern.search(source)
            if match:
                found.append(f"cell {number}: {flag} ({match.group(0).strip()[:40]!r})")
    return found

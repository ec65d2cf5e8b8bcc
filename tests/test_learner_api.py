"""What the notebooks import is the course's public API: every name keeps working, and the
lesson -> module table in course_utils/__init__.py says which modules each lesson uses."""
from __future__ import annotations

import ast
import importlib
import re

import nbformat
import pytest

import course_utils
from support.paths import EXERCISES, NOTEBOOKS, SOLUTIONS

NOTEBOOK_FILES = sorted([*NOTEBOOKS.glob("*.ipynb"), *SOLUTIONS.glob("*.ipynb"), *EXERCISES.glob("*.ipynb")])
_MAGIC = re.compile(r"^\s*[%!].*$", re.MULTILINE)


def course_imports(path) -> set[tuple[str, str | None]]:
    """(module, name) for every `from course_utils... import name` / `import course_utils...`
    in the notebook's code cells (name None for a plain import)."""
    found = set()
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(_MAGIC.sub("", cell.source))
        except SyntaxError:
            continue  # an exercise stub may not parse yet; its solution twin is checked
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_utils"):
                found |= {(node.module, alias.name) for alias in node.names}
            elif isinstance(node, ast.Import):
                found |= {(alias.name, None) for alias in node.names if alias.name.startswith("course_utils")}
    return found


IMPORTS = sorted({item for path in NOTEBOOK_FILES for item in course_imports(path)}, key=str)


def test_the_notebooks_import_from_course_utils_at_all():
    assert len(IMPORTS) > 20


@pytest.mark.parametrize("module, name", IMPORTS, ids=[f"{m}:{n}" for m, n in IMPORTS])
def test_every_name_a_notebook_imports_exists(module, name):
    imported = importlib.import_module(module)
    if name is not None:
        assert hasattr(imported, name) or importlib.util.find_spec(f"{module}.{name}"), \
            f"`from {module} import {name}` (used by a notebook) no longer works"


def lesson_table() -> dict[str, set[str]]:
    rows = re.findall(r"^    (\d\d) [^\n]*?  +([a-z_, ]+)$", course_utils.__doc__, re.MULTILINE)
    return {lesson: {name.strip() for name in modules.split(",")} for lesson, modules in rows}


def test_the_lesson_table_names_the_modules_each_lessons_notebooks_import():
    table = lesson_table()
    stems = sorted({path.stem for path in NOTEBOOK_FILES})
    assert sorted(table) == sorted({stem[:2] for stem in stems})
    for stem in stems:
        used = {module.split(".")[1] for path in NOTEBOOK_FILES if path.stem == stem
                for module, name in course_imports(path) if module != "course_utils"}
        used |= {name for path in NOTEBOOK_FILES if path.stem == stem
                 for module, name in course_imports(path) if module == "course_utils"}
        assert used == table[stem[:2]], f"{stem}: the table in course_utils/__init__.py says " \
                                        f"{sorted(table[stem[:2]])}, the notebooks import {sorted(used)}"

"""The package's layout is a promise: layers import only downwards, nothing imports in a cycle,
each lesson's checks stand alone, and no module grows past ~400 lines.

The layers (course_utils/__init__.py and docs/ARCHITECTURE.md say the same, in words):

    grading            the instructor's side: runs notebooks, writes gradebooks
    checks             one module per lesson, `check(id, answer)`
    widgets            the template playground
    portability tools sft          what lessons 03, 05 and 06 teach with
    runtime models generation templates          loading, rendering, generating
    assets status quiet display difference chat_view world hub conversations   leaves

Imports inside a function count: a deferred import is still a dependency.
"""
from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from support.paths import ROOT

PACKAGE = ROOT / "course_utils"
LAYERS = [
    {"assets", "status", "quiet", "display", "difference", "chat_view", "world", "hub", "conversations"},
    {"runtime", "models", "generation", "templates"},
    {"portability", "tools", "sft", "families", "kestrel"},
    {"widgets"},
    {"checks"},
    {"grading"},
]
MAX_LINES = 400


def module_name(path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = importer if MODULES[importer].name == "__init__.py" else importer.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imports_of(name: str) -> set[str]:
    """The course modules `name` imports (a name imported from a package counts as its submodule
    when there is one, as `from . import sft` imports the sft package)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, node)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        found |= {target for target in targets if target in MODULES and target != name}
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def layer_of(name: str) -> int | None:
    """The layer of `course_utils.<top>...`; None for the package itself (it imports nothing)."""
    parts = name.split(".")
    if len(parts) == 1:
        return None
    top = parts[1]
    for number, members in enumerate(LAYERS):
        if top in members:
            return number
    raise AssertionError(f"{name} is in no layer: add {top!r} to LAYERS here and to the tables in "
                         "course_utils/__init__.py and docs/ARCHITECTURE.md")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_sits_in_a_layer_and_imports_only_downwards(name):
    mine = layer_of(name)
    upward = sorted(target for target in GRAPH[name] if mine is not None and (layer_of(target) or 0) > mine)
    assert not upward, f"{name} (layer {mine}) imports from higher layers: {upward}"


def test_the_package_itself_imports_nothing():
    assert GRAPH["course_utils"] == set(), "course_utils/__init__.py is a map, not an import hub"


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle():
    assert _cycles() == []


def test_cycle_finder_finds_a_cycle():
    GRAPH["course_utils.quiet"].add("course_utils.display")
    GRAPH["course_utils.display"].add("course_utils.quiet")
    try:
        assert ["course_utils.display", "course_utils.quiet"] in _cycles()
    finally:
        GRAPH["course_utils.quiet"] = imports_of("course_utils.quiet")
        GRAPH["course_utils.display"] = imports_of("course_utils.display")


def test_each_lessons_checks_import_no_other_lesson():
    lessons = {name for name in MODULES if name.startswith("course_utils.checks.lesson")}
    crossing = {name: sorted(GRAPH[name] & lessons) for name in lessons if GRAPH[name] & lessons}
    assert crossing == {}, "shared expectations belong in checks/expect*.py, not in another lesson"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_longer_than_400_lines(name):
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it by concern"


def test_checking_an_exercise_that_needs_no_model_does_not_import_torch():
    # A learner checking 01.messages should not wait for torch; the model ids come from `models`,
    # which imports torch only inside the functions that load a model.
    code = ("import sys, course_utils.checks, course_utils.checks.course_models, course_utils.models, "
            "course_utils.runtime; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"

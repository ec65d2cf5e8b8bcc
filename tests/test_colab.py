"""Every course notebook opens on Colab ready to run (issue 8, item 2).

The expectations come from docs/ARCHITECTURE.md and pyproject.toml, not from
scripts/colab_header.py, so a bug in the script cannot hide here; the script's own behaviour
(repair, idempotence, --check) is tested on throwaway notebooks.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import types

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from scripts import colab_header
from support.paths import ROOT

FOLDERS = ("notebooks", "solutions", "exercises")
NOTEBOOKS = sorted(p for folder in FOLDERS for p in (ROOT / folder).glob("*.ipynb"))
GPU_STEMS = ("05_", "06_")

with open(ROOT / "pyproject.toml", "rb") as _f:
    _PROJECT = tomllib.load(_f)["project"]
DIST_NAME = _PROJECT["name"]
REPOSITORY = _PROJECT["urls"]["Repository"].rstrip("/")

# What Colab ships of its kernel, Jupyter, widget, plot and test stack, from its published pip
# freeze (github.com/googlecolab/backend-info, pip-freeze.gpu.txt: Python 3.12, torch 2.10.0+cu128,
# transformers 5.0.0). The install cell must accept each of these where it names the library at
# all, so pip keeps Colab's own; the lesson libraries (transformers, trl, ...) it upgrades on purpose.
COLAB_KEEPS = {
    "torch": "2.10.0", "ipykernel": "6.17.1", "ipython": "7.34.0", "ipywidgets": "7.7.1",
    "widgetsnbextension": "3.6.10", "jupyterlab-widgets": "3.0.16", "matplotlib": "3.10.0",
    "matplotlib-inline": "0.2.1", "tqdm": "4.67.3", "notebook": "6.5.7", "jupyter-client": "7.4.9",
    "jupyter-core": "5.9.1", "jupyter-server": "2.14.0", "nbformat": "5.10.4", "nbclient": "0.10.4",
    "nbconvert": "7.17.0", "traitlets": "5.7.1", "tornado": "6.5.1", "pyzmq": "26.2.1", "pytest": "8.4.2",
}
# Not on Colab, and each would bring a second server or test stack beside Colab's.
COLAB_LACKS = {"jupyterlab", "nbval"}


def architecture_install_cell() -> str:
    """The install cell as docs/ARCHITECTURE.md spells it (the first python block after it)."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    after = text[text.index("the install cell"):]
    match = re.search(r"```python\n(.*?)\n```", after, re.S)
    assert match, "docs/ARCHITECTURE.md lost the install cell's python block"
    return match.group(1)


def expected_badge(relpath: str) -> str:
    owner_repo = REPOSITORY.removeprefix("https://github.com/")
    return ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{owner_repo}/blob/main/{relpath})")


def source(cell) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


# --- the contract itself -----------------------------------------------------------------

def test_architecture_install_cell_installs_this_project_from_its_repository():
    cell = architecture_install_cell()
    assert f'%pip install -q "{DIST_NAME} @ git+{REPOSITORY}"' in cell, (
        "the install cell in docs/ARCHITECTURE.md must install [project].name from "
        "[project.urls] Repository of pyproject.toml")


def install_cell_requirement() -> Requirement:
    match = re.search(r'%pip install -q "([^"]+)"', architecture_install_cell())
    assert match, "the install cell no longer pip-installs one quoted requirement"
    return Requirement(match.group(1))


def test_install_cell_installs_the_plain_distribution_without_extras():
    # The extras (`lab`: JupyterLab, ipykernel, exact widget/plot pins; `dev`: pytest, nbval, ...)
    # are for laptops; on Colab they would replace Colab's own kernel and front end.
    requirement = install_cell_requirement()
    assert requirement.name == DIST_NAME and requirement.extras == set(), (
        f"the install cell must install the plain {DIST_NAME}, not {requirement}")


def test_what_the_install_cell_installs_leaves_colabs_kernel_widgets_and_plots_alone():
    requirement = install_cell_requirement()
    extras = _PROJECT.get("optional-dependencies", {})
    installed = [Requirement(d) for d in _PROJECT["dependencies"]]
    installed += [Requirement(d) for extra in requirement.extras for d in extras[extra]]
    problems = []
    for dependency in installed:
        name = canonicalize_name(dependency.name)
        if name in COLAB_LACKS:
            problems.append(f"{dependency}: not on Colab, and not imported by any lesson")
        elif name in COLAB_KEEPS and not dependency.specifier.contains(COLAB_KEEPS[name], prereleases=True):
            problems.append(f"{dependency}: would replace Colab's {name} {COLAB_KEEPS[name]}")
    assert not problems, "the Colab install cell installs:\n  " + "\n  ".join(problems)


def test_course_has_notebooks_to_check():
    # Without this, an empty or misplaced notebooks/ folder would make every
    # parametrized test below vanish instead of fail.
    assert (ROOT / "notebooks" / "00_start_here.ipynb").exists()


# --- every notebook ----------------------------------------------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebook_starts_with_badge_to_itself(path):
    nb = nbformat.read(path, as_version=4)
    relpath = path.relative_to(ROOT).as_posix()
    first = nb.cells[0]
    assert first.cell_type == "markdown", f"{relpath}: first cell must be the Colab badge"
    assert expected_badge(relpath) in source(first), (
        f"{relpath}: the first cell's Colab badge must open {relpath}; "
        "run: python -m scripts.colab_header")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_second_cell_is_the_install_cell_exactly(path):
    nb = nbformat.read(path, as_version=4)
    relpath = path.relative_to(ROOT).as_posix()
    second = nb.cells[1]
    assert second.cell_type == "code" and source(second) == architecture_install_cell(), (
        f"{relpath}: second cell must be the install cell of docs/ARCHITECTURE.md; "
        "run: python -m scripts.colab_header")
    others = [i for i, c in enumerate(nb.cells)
              if i != 1 and c.cell_type == "code" and "%pip install" in source(c)]
    assert not others, f"{relpath}: a second install cell at index {others}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_gpu_runtime_only_for_training_lessons(path):
    md = nbformat.read(path, as_version=4).metadata
    colab = md.get("colab", {})
    if path.stem.startswith(GPU_STEMS):
        assert md.get("accelerator") == "GPU" and colab.get("gpuType") == "T4", (
            f"{path.name} trains a model: Colab must open it on a T4 GPU runtime")
    else:
        assert "accelerator" not in md and "gpuType" not in colab, (
            f"{path.name} does not need a GPU: asking for one spends the learner's Colab quota")


# --- the install cell is a no-op outside Colab -------------------------------------------

class RecordingShell:
    """Stands in for get_ipython(): records line magics instead of running pip."""

    def __init__(self):
        self.magics: list[tuple[str, str]] = []

    def run_line_magic(self, name, line, _stack_depth=1):
        self.magics.append((name, line))


def run_install_cell(monkeypatch, in_colab: bool) -> list[tuple[str, str]]:
    # IPython's own input transformer turns `%pip ...` into the get_ipython() call a kernel
    # would make; exec-ing that shows what the cell does without a kernel or a real pip.
    from IPython.core.inputtransformer2 import TransformerManager

    code = TransformerManager().transform_cell(architecture_install_cell())
    if in_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    shell = RecordingShell()
    exec(compile(code, "<install cell>", "exec"), {"get_ipython": lambda: shell})
    return shell.magics


def test_install_cell_does_nothing_outside_colab(monkeypatch):
    assert run_install_cell(monkeypatch, in_colab=False) == []


def test_install_cell_pip_installs_the_pinned_course_on_colab(monkeypatch):
    # The other branch, so the no-op test above cannot pass just because the cell is empty.
    assert run_install_cell(monkeypatch, in_colab=True) == [
        ("pip", f'install -q "{DIST_NAME} @ git+{REPOSITORY}"')]


# --- scripts/colab_header.py -------------------------------------------------------------

@pytest.fixture
def fake_repo(tmp_path):
    (tmp_path / "pyproject.toml").write_bytes((ROOT / "pyproject.toml").read_bytes())
    for folder in FOLDERS:
        (tmp_path / folder).mkdir()
    return tmp_path


def bare_notebook(*sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A lesson")] + [
        nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_script_writes_the_header_the_tests_expect(fake_repo):
    path = fake_repo / "solutions" / "05_sft_smollm2.ipynb"
    nbformat.write(bare_notebook("x = 1"), path)
    assert colab_header.process(path, check=False, root=fake_repo)
    nb = nbformat.read(path, as_version=4)
    assert source(nb.cells[0]) == expected_badge("solutions/05_sft_smollm2.ipynb")
    assert source(nb.cells[1]) == architecture_install_cell()
    assert [source(c) for c in nb.cells[2:]] == ["# A lesson", "x = 1"]
    assert nb.metadata["accelerator"] == "GPU" and nb.metadata["colab"]["gpuType"] == "T4"
    nbformat.validate(nb)


def test_script_is_idempotent_byte_for_byte(fake_repo):
    path = fake_repo / "notebooks" / "01_messages_and_special_tokens.ipynb"
    nbformat.write(bare_notebook("print('hi')"), path)
    colab_header.process(path, check=False, root=fake_repo)
    once = path.read_bytes()
    assert colab_header.process(path, check=False, root=fake_repo) == []
    assert path.read_bytes() == once


def test_script_repairs_a_copied_notebook_and_a_stale_install_cell(fake_repo):
    # A notebook copied from notebooks/ to exercises/ keeps the old badge; its install cell
    # has drifted and sits further down. Both are put right, keeping the title beside the badge.
    path = fake_repo / "exercises" / "03_writing_chat_templates.ipynb"
    nb = bare_notebook("y = 2", '# On Colab, install the course\n%pip install chat-templates-course')
    nb.cells[0].source = "# Lesson 3\n" + expected_badge("notebooks/03_writing_chat_templates.ipynb")
    nb.metadata["accelerator"] = "GPU"
    nbformat.write(nb, path)
    repairs = colab_header.process(path, check=False, root=fake_repo)
    assert len(repairs) == 3, repairs
    nb = nbformat.read(path, as_version=4)
    assert source(nb.cells[0]) == "# Lesson 3\n" + expected_badge("exercises/03_writing_chat_templates.ipynb")
    assert source(nb.cells[1]) == architecture_install_cell()
    assert [source(c) for c in nb.cells[2:]] == ["y = 2"]
    assert "accelerator" not in nb.metadata


def test_script_check_mode_reports_and_changes_nothing(fake_repo):
    path = fake_repo / "notebooks" / "02_base_vs_instruct.ipynb"
    nbformat.write(bare_notebook("z = 3"), path)
    before = path.read_bytes()
    assert colab_header.process(path, check=True, root=fake_repo) == ["inserted the Colab badge cell",
                                                                  "install cell written"]
    assert path.read_bytes() == before


def test_script_check_passes_on_the_repository():
    result = subprocess.run([sys.executable, "-m", "scripts.colab_header", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

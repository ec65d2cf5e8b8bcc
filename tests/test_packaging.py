"""One set of pins, used everywhere: pyproject.toml is the source, the rest must agree.

The base dependencies are what the lessons import, and all the Colab install cell installs;
the extras `lab` (JupyterLab, kernel, exact widget/plot pins) and `dev` (tests, grading) are
installed by `make setup` and environment.yml. Which third-party modules the lessons need is
computed here from the import statements of course_utils and of every notebook's code cells.
"""
import ast
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
import urllib.request
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from scripts.offline import offline_env
from support.jupyter_server import stop_server, wait_for_server
from support.paths import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DEPENDENCIES = PYPROJECT["project"]["dependencies"]
EXTRAS = PYPROJECT["project"].get("optional-dependencies", {})
CPU_TORCH = "2.13.0"  # what `make setup` installs where no CUDA is present
# Libraries the lessons import that Colab ships with its kernel and front end: the base holds a
# lower bound that Colab's version meets (so pip keeps Colab's), the `lab` extra the exact pin.
COLAB_FRONT_END = {"ipywidgets", "matplotlib", "tqdm"}
# Never in the base: the kernel, Jupyter, notebook-execution and test stack.
DEVELOPMENT_STACK = {"jupyterlab", "jupyter", "notebook", "ipykernel", "ipython", "nbval", "nbclient",
                     "nbformat", "nbconvert", "pytest"}
LESSON_FOLDERS = ("notebooks", "solutions", "exercises")
# Imported only under a Colab check, from the Colab runtime itself: no distribution provides it.
RUNTIME_PROVIDED = ("google.colab",)


def names(requirements) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def every_requirement() -> list[str]:
    return DEPENDENCIES + [r for group in EXTRAS.values() for r in group]


# --- the pins -------------------------------------------------------------------------------

def test_lesson_libraries_are_pinned_exactly_and_colabs_own_bounded_from_below():
    for dependency in DEPENDENCIES:
        requirement = Requirement(dependency)
        if requirement.name == "torch":
            continue
        operators = {spec.operator for spec in requirement.specifier}
        if requirement.name in COLAB_FRONT_END:
            assert operators == {">="}, (
                f"{dependency}: Colab ships {requirement.name}; the base may only bound it from "
                "below (its exact pin belongs in the `lab` extra)")
        else:
            assert operators == {"=="}, f"{dependency} is not an exact pin"
    for extra, group in EXTRAS.items():
        for dependency in group:
            assert str(Requirement(dependency).specifier).startswith("=="), (
                f"extra {extra}: {dependency} is not an exact pin")


def test_torch_is_a_range_that_keeps_colab_cuda_builds_and_admits_the_cpu_build():
    torch = next(Requirement(d) for d in DEPENDENCIES if d.startswith("torch"))
    assert not str(torch.specifier).startswith("==")
    assert torch.specifier.contains(CPU_TORCH)
    assert f"torch=={CPU_TORCH}" in (ROOT / "Makefile").read_text()


def test_the_base_holds_none_of_the_development_or_kernel_stack():
    base = names(DEPENDENCIES)
    forbidden = sorted(n for n in base if n in DEVELOPMENT_STACK or n.startswith("jupyter"))
    assert not forbidden, (f"{forbidden} are in [project].dependencies, which the Colab install cell "
                           "installs over Colab's own kernel: move them to the `lab` or `dev` extra")


def test_colab_front_end_libraries_have_exact_pins_in_the_lab_extra_within_the_base_bound():
    assert {"lab", "dev"} <= set(EXTRAS), "pyproject.toml lost the `lab` or `dev` extra"
    base = {canonicalize_name(Requirement(d).name): Requirement(d) for d in DEPENDENCIES}
    lab = {canonicalize_name(Requirement(d).name): Requirement(d) for d in EXTRAS["lab"]}
    for name in sorted(COLAB_FRONT_END):
        assert name in lab, f"{name} has no exact pin in the `lab` extra"
        pinned = str(lab[name].specifier).removeprefix("==")
        assert base[name].specifier.contains(pinned), f"lab's {lab[name]} is outside the base's {base[name]}"


def test_a_library_in_several_extras_has_one_pin():
    seen: dict[str, str] = {}
    for extra, group in EXTRAS.items():
        for dependency in group:
            requirement = Requirement(dependency)
            name = canonicalize_name(requirement.name)
            assert seen.setdefault(name, str(requirement.specifier)) == str(requirement.specifier), (
                f"{name} is pinned twice, differently ({seen[name]} and {requirement.specifier} in {extra})")


def test_environment_yml_installs_the_base_and_every_extra_with_the_same_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict) and "pip" in item)
    listed = [entry for entry in pip if not entry.startswith("-")]
    assert listed == every_requirement(), "environment.yml must list pyproject's base, then each extra"
    editable = [entry for entry in pip if entry.startswith("-e")]
    assert len(editable) == 1
    assert Requirement("course" + editable[0].removeprefix("-e").strip().removeprefix(".")).extras == set(EXTRAS)


def test_make_setup_installs_the_base_and_every_extra():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^\$\(STAMP\): pyproject\.toml\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "the $(STAMP) recipe, rebuilt when pyproject.toml changes, is gone"
    installs = re.findall(r'pip install .*?-e "?\.(\[[^\]"]*\])?"?\s*$', recipe.group(1), re.M)
    assert len(installs) == 1, "the $(STAMP) recipe must install the course once, editable"
    assert Requirement("course" + installs[0]).extras == set(EXTRAS)


def test_the_required_libraries_are_all_pinned():
    pinned = names(every_requirement())
    required = {"transformers", "trl", "datasets", "tokenizers", "accelerate", "jinja2", "minijinja",
                "nbval", "nbformat", "nbclient", "ipywidgets", "jupyterlab", "matplotlib", "tqdm",
                "pytest", "torch"}
    assert required <= pinned


def test_describe_reports_the_extras_pins_off_colab_and_only_the_base_on_colab(monkeypatch):
    from course_utils import runtime

    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    here = runtime.pinned_versions()
    for dependency in EXTRAS["lab"] + EXTRAS["dev"]:  # all installed in the course's .venv
        requirement = Requirement(dependency)
        assert here[requirement.name][0] == str(requirement.specifier), requirement.name
    monkeypatch.setitem(sys.modules, "google.colab", object())
    colab = runtime.pinned_versions()
    assert set(colab) == {Requirement(d).name for d in DEPENDENCIES}
    assert colab["ipywidgets"][0] == str(Requirement(next(d for d in DEPENDENCIES if d.startswith("ipywidgets"))).specifier)


# --- the base covers what the lessons import ------------------------------------------------

def imported_modules(source: str) -> set[str]:
    """The absolute module names a piece of Python imports (anywhere: top level or in a function)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def learner_modules() -> list[Path]:
    """course_utils without course_utils/grading (course-grade: an instructors' tool, extra `dev`)."""
    return sorted(p for p in (ROOT / "course_utils").rglob("*.py") if "grading" not in p.parts)


def notebook_cells() -> list[tuple[str, str]]:
    from IPython.core.inputtransformer2 import TransformerManager

    transform = TransformerManager().transform_cell  # %pip and friends become plain calls
    cells = []
    for folder in LESSON_FOLDERS:
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            notebook = json.loads(path.read_text(encoding="utf-8"))
            for index, cell in enumerate(notebook["cells"]):
                if cell["cell_type"] == "code":
                    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                    cells.append((f"{path.relative_to(ROOT)} cell {index}", transform(source)))
    return cells


def third_party_imports(sources: list[tuple[str, str]]) -> dict[str, set[str]]:
    """{top-level module: where it is imported} for every module not of the standard library,
    not course_utils and not provided by the Colab runtime."""
    found: dict[str, set[str]] = {}
    for where, source in sources:
        for module in imported_modules(source):
            top = module.split(".")[0]
            if (top in sys.stdlib_module_names or top in ("__future__", "course_utils")
                    or module.startswith(RUNTIME_PROVIDED)):
                continue
            found.setdefault(top, set()).add(where)
    return found


def requirement_closure(requirements: list[str]) -> set[str]:
    """These requirements' distributions and, by the installed metadata, all they require."""
    closure: set[str] = set()
    seen: set[tuple[str, str]] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        closure.add(name)
        for extra in ("", *requirement.extras):
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            try:
                requires = importlib.metadata.requires(name) or []
            except importlib.metadata.PackageNotFoundError:
                continue
            for line in requires:
                sub = Requirement(line)
                if sub.marker is None or sub.marker.evaluate({"extra": extra}):
                    todo.append(sub)
    return closure


def uncovered_imports(sources: list[tuple[str, str]], requirements: list[str]) -> list[str]:
    """One line per third-party module imported in `sources` that no requirement provides."""
    providers = importlib.metadata.packages_distributions()
    closure = requirement_closure(requirements)
    problems = []
    for module, places in sorted(third_party_imports(sources).items()):
        distributions = {canonicalize_name(d) for d in providers.get(module, [])}
        if not distributions & closure:
            where = ", ".join(sorted(places)[:3]) + (" ..." if len(places) > 3 else "")
            problems.append(f"{module} (distribution {sorted(distributions) or 'unknown'}), imported by {where}")
    return problems


def test_the_base_covers_every_import_of_course_utils_and_the_lessons():
    sources = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in learner_modules()]
    sources += notebook_cells()
    assert len(sources) > 100 and any("notebooks/" in where for where, _ in sources)
    problems = uncovered_imports(sources, DEPENDENCIES)
    assert not problems, ("imported by the lessons but not provided by [project].dependencies (directly or "
                          "through what they require): add them there:\n  " + "\n  ".join(problems))


def test_the_dev_extra_covers_every_import_of_the_grading_tools():
    grading = sorted((ROOT / "course_utils" / "grading").rglob("*.py"))
    sources = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in grading]
    problems = uncovered_imports(sources, DEPENDENCIES + EXTRAS["dev"])
    assert not problems, "imported by course-grade but not provided by the base and `dev`:\n  " + "\n  ".join(problems)


def site_packages_without(blocked: set[str], target: Path) -> None:
    """Fill `target` with links to this interpreter's site-packages entries, leaving out every
    file of the `blocked` distributions (modules and metadata): an install without them."""
    site_packages = Path(sysconfig.get_paths()["purelib"])
    owners: dict[str, set[str]] = {}
    for distribution in importlib.metadata.distributions():
        name = canonicalize_name(distribution.metadata["Name"])
        for file in distribution.files or []:
            if file.parts and file.parts[0] != "..":
                owners.setdefault(file.parts[0], set()).add(name)
    target.mkdir()
    for entry in site_packages.iterdir():
        owned_by = owners.get(entry.name)
        if not (owned_by and owned_by <= blocked):
            (target / entry.name).symlink_to(entry)


def test_course_utils_imports_with_the_base_dependencies_alone(tmp_path):
    # What the extras bring and the base does not (JupyterLab, ipykernel, pytest, nbval, ... and
    # all they require) is left out of a copy of site-packages, as after a plain `pip install`
    # of the course; a fresh interpreter on that copy imports every learner-facing module.
    base = requirement_closure(DEPENDENCIES)
    extras_only = requirement_closure(every_requirement()) - base
    assert {"pytest", "nbval", "jupyterlab", "ipykernel", "nbformat"} <= extras_only
    site_dir = tmp_path / "site-packages"
    site_packages_without(extras_only, site_dir)
    modules = [".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
               for p in learner_modules()]
    program = (
        "import importlib, importlib.util, site, sys\n"
        f"site.addsitedir({str(site_dir)!r})\n"
        "assert importlib.util.find_spec('pytest') is None and importlib.util.find_spec('nbformat') is None\n"
        "import course_utils\n"
        "from course_utils.checks import check\n"
        "from course_utils import sft\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
    )
    env = offline_env()
    env.pop("PYTHONPATH", None)
    result = subprocess.run([sys.executable, "-S", "-c", program], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


# --- the commands ---------------------------------------------------------------------------

def test_ci_runs_the_readme_test_command_and_nothing_narrower():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", readme, re.S).group(1)
    assert "make lab" in first_block and "make test" in first_block


def test_make_test_runs_the_whole_suite_offline():
    makefile = (ROOT / "Makefile").read_text()
    offline = re.search(r"^OFFLINE\s*:=\s*(.+)$", makefile, re.M).group(1)
    assert offline.strip() == "$(BIN)/python -m scripts.offline"  # scripts/offline.py: the one definition
    recipe = re.search(r"^test: setup\b.*\n\t(.+)$", makefile, re.M).group(1)
    assert recipe.startswith("$(OFFLINE) $(BIN)/python -m pytest")
    assert recipe.rstrip().endswith("-m pytest")  # no path or -k narrowing


def test_make_lab_serves_the_start_here_notebook_from_the_repository_root(tmp_path):
    token, log = "course-test", tmp_path / "lab.log"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path)}
    with open(log, "w") as log_file:
        lab = subprocess.Popen(
            ["make", "--no-print-directory", "lab",
             f"LAB_ARGS=--ServerApp.port=0 --no-browser --IdentityProvider.token={token} --ServerApp.ip=127.0.0.1"],
            cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True)  # its own process group, so the server goes with it
    try:
        url = wait_for_server(tmp_path, lab, log, token)
        for path in ("notebooks/00_start_here.ipynb", "exercises"):  # the repository is the root
            with urllib.request.urlopen(f"{url}/api/contents/{path}?token={token}", timeout=5) as r:
                assert r.status == 200, path
        with urllib.request.urlopen(f"{url}/?token={token}", timeout=5) as r:
            assert r.status == 200  # the server's front page is the start-here notebook
            assert r.geturl().split("?")[0].endswith("/lab/tree/notebooks/00_start_here.ipynb"), r.geturl()
    finally:
        stop_server(lab)  # make and the server it started

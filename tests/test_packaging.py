"""One set of pins, used everywhere: pyproject.toml is the source, the rest must agree."""
import os
import re
import signal
import subprocess
import tomllib
import urllib.request
from pathlib import Path

from packaging.requirements import Requirement

from test_browser import _wait_for_server  # the same wait the browser tests use

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DEPENDENCIES = PYPROJECT["project"]["dependencies"]
CPU_TORCH = "2.13.0"  # what `make setup` installs where no CUDA is present


def test_every_library_but_torch_is_pinned_exactly():
    for dependency in DEPENDENCIES:
        requirement = Requirement(dependency)
        if requirement.name == "torch":
            continue
        assert str(requirement.specifier).startswith("=="), f"{dependency} is not an exact pin"


def test_torch_is_a_range_that_keeps_colab_cuda_builds_and_admits_the_cpu_build():
    torch = next(Requirement(d) for d in DEPENDENCIES if d.startswith("torch"))
    assert not str(torch.specifier).startswith("==")
    assert torch.specifier.contains(CPU_TORCH)
    assert f"torch=={CPU_TORCH}" in (ROOT / "Makefile").read_text()


def test_environment_yml_carries_the_same_pins():
    listed = re.findall(r'^\s+- "([^"]+)"$', (ROOT / "environment.yml").read_text(), re.M)
    assert listed == DEPENDENCIES


def test_the_required_libraries_are_all_pinned():
    names = {Requirement(d).name.lower() for d in DEPENDENCIES}
    required = {"transformers", "trl", "datasets", "tokenizers", "accelerate", "jinja2", "minijinja",
                "nbval", "nbformat", "nbclient", "ipywidgets", "jupyterlab", "matplotlib", "tqdm",
                "pytest", "torch"}
    assert required <= names


def test_ci_runs_the_readme_test_command_and_nothing_narrower():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", readme, re.S).group(1)
    assert "make lab" in first_block and "make test" in first_block


def test_make_test_runs_the_whole_suite_offline():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^test: setup\n\t(.+)$", makefile, re.M).group(1)
    assert "COURSE_OFFLINE" in recipe or "$(OFFLINE)" in recipe
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
        url = _wait_for_server(tmp_path, lab, log, token)
        for path in ("notebooks/00_start_here.ipynb", "exercises"):  # the repository is the root
            with urllib.request.urlopen(f"{url}/api/contents/{path}?token={token}", timeout=5) as r:
                assert r.status == 200, path
        with urllib.request.urlopen(f"{url}/?token={token}", timeout=5) as r:
            assert r.status == 200  # the server's front page is the start-here notebook
            assert r.geturl().split("?")[0].endswith("/lab/tree/notebooks/00_start_here.ipynb"), r.geturl()
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)

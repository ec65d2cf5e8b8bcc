"""One set of pins, used everywhere: pyproject.toml is the source, the rest must agree."""
import os
import re
import signal
import socket
import subprocess
import time
import tomllib
import urllib.request
from pathlib import Path

from packaging.requirements import Requirement

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_lab_serves_the_start_here_notebook_from_the_repository_root(tmp_path):
    port, token = _free_port(), "course-test"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path), "BROWSER": "true"}
    lab = subprocess.Popen(
        ["make", "--no-print-directory", "lab",
         f"LAB_ARGS=--port={port} --no-browser --ServerApp.token={token} --ip=127.0.0.1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)  # its own process group, so the server goes with it
    api = f"http://127.0.0.1:{port}/api/contents/{{}}?token={token}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert lab.poll() is None, f"make lab exited: {lab.stdout.read()}"
            try:
                with urllib.request.urlopen(api.format("notebooks/00_start_here.ipynb"), timeout=5) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "JupyterLab did not answer within 120 s"
                time.sleep(1)
        with urllib.request.urlopen(api.format("exercises"), timeout=5) as r:
            assert r.status == 200  # the repository is the root, not notebooks/
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/?token={token}", timeout=5) as r:
            assert r.status == 200  # the server's front page is the start-here notebook
            assert r.geturl().split("?")[0].endswith("/lab/tree/notebooks/00_start_here.ipynb"), r.geturl()
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)

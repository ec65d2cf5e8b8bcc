"""scripts/offline.py: the offline conditions are spelled once, and what runs under it gets them."""
import doctest
import json
import os
import subprocess
import sys

import scripts.offline
from course_utils.hub import OFFLINE_VARIABLES
from scripts.offline import OFFLINE_ENV, OFFLINE_SWITCHES, offline_env
from support.paths import ROOT


def run_offline(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scripts.offline", *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_offline_switches_are_names_the_hub_honours():
    assert OFFLINE_SWITCHES and set(OFFLINE_SWITCHES) <= set(OFFLINE_VARIABLES)


def test_a_command_run_under_it_sees_every_offline_variable():
    program = f"import json, os; print(json.dumps({{k: os.environ.get(k) for k in {list(OFFLINE_ENV)!r}}}))"
    clean = {name: value for name, value in os.environ.items() if name not in OFFLINE_ENV}
    result = run_offline(sys.executable, "-c", program, env=clean)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == OFFLINE_ENV


def test_the_command_keeps_its_arguments_and_exit_status():
    result = run_offline(sys.executable, "-c", "import sys; sys.exit(len(sys.argv))", "a b", "c", env=dict(os.environ))
    assert result.returncode == 3


def test_without_a_command_it_prints_usage_and_fails():
    result = run_offline(env=dict(os.environ))
    assert result.returncode == 2 and "usage: python -m scripts.offline" in result.stderr


def test_a_command_that_is_not_there_fails_as_a_shell_would():
    result = run_offline("no-such-command-anywhere", env=dict(os.environ))
    assert result.returncode == 127 and "no-such-command-anywhere" in result.stderr


def test_gpu_leaves_the_callers_gpu_visible_and_nothing_else():
    caller = {"CUDA_VISIBLE_DEVICES": "1", "PATH": "/bin"}
    assert offline_env(caller)["CUDA_VISIBLE_DEVICES"] == ""
    with_gpu = offline_env(caller, gpu=True)
    assert with_gpu["CUDA_VISIBLE_DEVICES"] == "1"
    assert {k: v for k, v in with_gpu.items() if k != "CUDA_VISIBLE_DEVICES"} == {
        k: v for k, v in offline_env(caller).items() if k != "CUDA_VISIBLE_DEVICES"}


def test_docstring_examples_run():
    assert doctest.testmod(scripts.offline).failed == 0

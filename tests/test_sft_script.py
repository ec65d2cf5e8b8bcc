"""scripts/sft.py: lesson 05 as a program, launched with Accelerate on two CPU processes.

`accelerate launch --cpu --num_processes 2` is *not* used: in Accelerate 1.15 `--cpu` without
an MPI hostfile goes to the simple launcher, which starts one process whatever
--num_processes says. `--multi_gpu` goes through torchrun, which starts two; with no CUDA
device each rank trains on CPU and DDP syncs gradients over gloo. The test checks that two
processes really ran.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from course_utils.assets import read_template
from scripts import sft as script
from scripts.offline import offline_env
from support.paths import ROOT

ACCELERATE = Path(sys.executable).with_name("accelerate")


def key_values(stdout: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line and " " not in line)


@pytest.mark.slow
def test_two_process_ddp_run_on_cpu_trains_saves_and_reports(tmp_path):
    # Run from tmp_path (whatever the run leaves beside it stays there): `-m scripts.sft` finds
    # the repository through PYTHONPATH.
    env = {**offline_env(), "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [str(ACCELERATE), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
               "-m", "scripts.sft", "--model", "nano-smollm2-base", "--max-steps", "4", "--eval-limit", "8",
               "--output-dir", str(tmp_path / "out")]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=170, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    values = key_values(run.stdout)
    assert values["processes"] == "2"
    assert 0.0 <= float(values["stop_rate"]) <= 1.0
    assert run.stdout.strip().splitlines()[-1].startswith("stop_rate=")
    saved = tmp_path / "out"
    assert (saved / "chat_template.jinja").read_text() == read_template("smollm2_instruct.jinja")
    assert (saved / "model.safetensors").exists()


def test_capability_argument_accepts_auto_cpu_and_a_version():
    assert script.parse_capability("cpu") is None
    assert script.parse_capability("7.5") == (7, 5)
    assert script.parse_capability("auto") == "auto"


@pytest.mark.parametrize("name, distributed_type", [("ddp", "MULTI_GPU"), ("fsdp", "FSDP")])
def test_documented_accelerate_configs_load(name, distributed_type):
    from accelerate.commands.config.config_args import ClusterConfig

    path = ROOT / "docs" / "accelerate" / f"{name}.yaml"
    config = ClusterConfig.from_yaml_file(str(path))
    assert config.distributed_type.value == distributed_type
    assert config.mixed_precision == "no"  # sft_config_for decides precision per GPU
    if name == "fsdp":
        fsdp = yaml.safe_load(path.read_text())["fsdp_config"]
        assert fsdp["fsdp_version"] == 2 and fsdp["fsdp_state_dict_type"] == "FULL_STATE_DICT"

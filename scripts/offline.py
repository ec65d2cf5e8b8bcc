"""The offline conditions, spelled once: the stored outputs, `make test`, `make grade`, `make bench`
and every kernel, server or subprocess the tests start run under them.

    python -m scripts.offline COMMAND [ARG ...]          # run COMMAND under them (`make test` does)
    python -m scripts.offline --gpu COMMAND [ARG ...]    # the same, a GPU left visible (`make bench`)

What each variable is for:
- COURSE_OFFLINE=1, HF_HUB_OFFLINE=1: never reach the Hub; every loader takes the bundled nano
  SmolLM2 pair. Every name the course honours is documented in course_utils/hub.py
  (`OFFLINE_VARIABLES`); the online tests remove them all (tests/support/hub_mirror.py).
- OMP_NUM_THREADS=1: the nano models' matrices are 128 wide, so a second BLAS/OpenMP thread buys
  nothing and, with a kernel or a grading job beside it on 2 cores, costs 5-10x. One thread also
  makes a stored output the same whatever machine made it.
- CUDA_VISIBLE_DEVICES="": stored outputs and tests never use a GPU, even where one exists.
- TRANSFORMERS_NO_ADVISORY_WARNINGS=1: no transformers advice in stored outputs and test logs.
No MPLBACKEND: kernels keep ipykernel's inline backend, as a learner's do (no lesson uses pyplot;
the training plot renders its own PNG, course_utils/sft/monitor.py).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping

# The switches that take the course offline (a subset of course_utils.hub.OFFLINE_VARIABLES).
OFFLINE_SWITCHES = {"COURSE_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
# What every run that stores or checks an output shares, online or not.
RUN_CONDITIONS = {"OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "",
                  "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1"}
OFFLINE_ENV = {**OFFLINE_SWITCHES, **RUN_CONDITIONS}
USAGE = "usage: python -m scripts.offline [--gpu] COMMAND [ARG ...]"


def offline_env(base: Mapping[str, str] | None = None, *, gpu: bool = False) -> dict[str, str]:
    """`base` (default: os.environ) with OFFLINE_ENV set; with gpu=True, the GPU `base` sees
    stays visible (for benchmarks that measure one), everything else is as without it.

    >>> offline_env({"PATH": "/bin"})["COURSE_OFFLINE"]
    '1'
    >>> "CUDA_VISIBLE_DEVICES" in offline_env({}, gpu=True)
    False
    """
    base = os.environ if base is None else base
    env = {**base, **OFFLINE_ENV}
    if gpu:
        env.pop("CUDA_VISIBLE_DEVICES")
        if "CUDA_VISIBLE_DEVICES" in base:
            env["CUDA_VISIBLE_DEVICES"] = base["CUDA_VISIBLE_DEVICES"]
    return env


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    gpu = bool(argv) and argv[0] == "--gpu"
    command = argv[1:] if gpu else argv
    if not command or command[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr)
        return 0 if command else 2
    try:
        os.execvpe(command[0], command, offline_env(gpu=gpu))  # replaces this process
    except OSError as error:  # as a shell says it: the command, why, and 127 or 126
        print(f"scripts.offline: {command[0]}: {error.strerror}", file=sys.stderr)
        return 127 if isinstance(error, FileNotFoundError) else 126


if __name__ == "__main__":
    sys.exit(main())

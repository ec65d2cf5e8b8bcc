"""The first program of a process in a grading sandbox: give up root, set resource limits, exec.

    python -I -S confine.py [uid=N] [memory_mb=N] [processes=N] [cpu_seconds=N] [file_mb=N] -- COMMAND [ARG ...]

Run by path with ``-I -S`` (no site, no course import: it starts in milliseconds) twice per
submission (`sandbox.Sandbox`): before pytest, with the grader's own limits, and before the
notebook's kernel (its kernelspec's argv), with the submission's. A limit left out is left as
it is. Why a step of its own rather than limits set before bubblewrap starts:

- RLIMIT_NPROC must be set *inside* the sandbox's user namespace. Set outside, the kernel would
  also hold the instructor's whole session (hundreds of processes) to it; inside, it counts the
  submission's own processes and threads only.
- Root is exempt from RLIMIT_NPROC, and a sandbox mapped to root keeps root's file rights on
  what it can see. When course-grade runs as root (containers, CI), bubblewrap runs without a
  user namespace and keeps CAP_SETUID/CAP_SETGID for this step alone, which becomes `uid`, an
  account of its own for this submission; the exec then leaves it no capability at all.
- The kernel's limits are tighter than pytest's: a submission that floods its output makes
  pytest decode it, and must not get the grader itself killed for it.
"""
import os
import resource
import sys

_MB = 1024 * 1024
_LIMITS = {  # name -> (resource, unit)
    "memory_mb": (resource.RLIMIT_AS, _MB),
    "processes": (resource.RLIMIT_NPROC, 1),
    "file_mb": (resource.RLIMIT_FSIZE, _MB),
}


def main(argv: list[str]) -> None:
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        sys.exit("confine: usage: [name=value ...] -- COMMAND [ARG ...]")
    split = argv.index("--")
    settings = dict(arg.split("=", 1) for arg in argv[:split])
    command = argv[split + 1:]
    if "uid" in settings and os.getuid() == 0:
        uid = int(settings.pop("uid"))
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)  # from root to a plain account: every capability is gone too
    settings.pop("uid", None)
    for name, value in settings.items():
        if name == "cpu_seconds":
            # SIGXCPU at the limit (the kernel's death then says why), SIGKILL 5 s later.
            resource.setrlimit(resource.RLIMIT_CPU, (int(value), int(value) + 5))
        else:
            which, unit = _LIMITS[name]
            resource.setrlimit(which, (int(value) * unit,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash must not dump memory into scratch
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])

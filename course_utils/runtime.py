"""Where the course is running: device, training precision, Colab, the Hub, versions.

The Hub decision itself (endpoint, proxies, offline variables, made once per kernel) is
`hub.decision()`; `describe()` reports it, in five short lines, and lists the pinned libraries
only when asked (`describe(libraries=True)`).

One place decides the device and the precision (STYLE.md: take this from LLMs-from-scratch),
so every lesson, script and benchmark agrees with what `describe()` prints.
"""
from __future__ import annotations

import importlib.metadata
import os
import re
import sys

from . import hub

DISTRIBUTION = "chat-templates-course"


def training_precision(capability: tuple[int, int] | None) -> str:
    """The precision the course trains in on a device of this CUDA compute capability.

    Args:
        capability: `torch.cuda.get_device_capability()`, or None for CPU and Apple MPS.

    Returns:
        "bf16" for Ampere and newer (>= 8.0), "fp16" for Volta/Turing (7.x, the Colab T4),
        "fp32" otherwise.

    We decide from the capability, never from `torch.cuda.is_bf16_supported()`: that returns
    True on a T4, which has no bf16 units and emulates it slowly.

    >>> training_precision((7, 5)), training_precision((8, 0)), training_precision(None)
    ('fp16', 'bf16', 'fp32')
    """
    if capability is None:
        return "fp32"
    if tuple(capability) >= (8, 0):
        return "bf16"
    if tuple(capability) >= (7, 0):
        return "fp16"
    return "fp32"


def device_summary() -> dict:
    """The device the course uses, its name, CUDA capability and training precision."""
    import torch  # here, not at the top: importing runtime (or models) must stay light

    if torch.cuda.is_available():
        capability = torch.cuda.get_device_capability(0)
        return {
            "device": "cuda",
            "name": torch.cuda.get_device_name(0),
            "capability": capability,
            "precision": training_precision(capability),
        }
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return {"device": "mps", "name": "Apple GPU (MPS)", "capability": None, "precision": "fp32"}
    return {"device": "cpu", "name": f"CPU ({os.cpu_count()} cores)", "capability": None, "precision": "fp32"}


def in_colab() -> bool:
    """True inside a Google Colab runtime."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def pinned_versions() -> dict[str, tuple[str, str | None]]:
    """For each library the course pins: (pinned spec, installed version or None).

    Every library of the base dependencies (what the lessons import) is listed, installed or
    not. A library of an extra (`lab`: JupyterLab, kernel, widgets, plots; `dev`: tests and
    grading) is listed only when it is installed, with the extra's pin, which for ipywidgets,
    matplotlib and tqdm is the exact one behind the base's lower bound. On Colab the extras are
    left out: the install cell installs the base only, and Colab keeps its own kernel, widgets
    and plots on purpose, so their versions differ from the laptop pins without harm.
    """
    versions: dict[str, tuple[str, str | None]] = {}
    from_extras: dict[str, tuple[str, str | None]] = {}
    with_extras = not in_colab()
    for requirement in importlib.metadata.requires(DISTRIBUTION) or []:
        match = re.match(r"^([A-Za-z0-9_.\-]+)\s*([^;]*)(?:;(.*))?$", requirement)
        if not match:
            continue
        name, spec, marker = match.group(1), match.group(2).strip(), match.group(3) or ""
        in_extra = re.search(r"\bextra\s*==", marker) is not None
        if in_extra and not with_extras:
            continue
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if not in_extra:
            versions[name] = (spec, installed)
        elif installed is not None:
            from_extras.setdefault(name, (spec, installed))
    return {**versions, **from_extras}


def describe(libraries: bool = False) -> None:
    """Print where the course runs, one line each: device, precision, Colab, the Hub, and whether
    the libraries match the course's pins.

    Args:
        libraries: also list every pinned library with its installed version, flagging each
            one that differs from the pin (`describe(libraries=True)`).
    """
    device = device_summary()
    capability = device["capability"]
    print(f"device     : {device['device']} - {device['name']}"
          + (f" (compute capability {capability[0]}.{capability[1]})" if capability else ""))
    print(f"precision  : {device['precision']} (what the SFT lesson trains in here)")
    print(f"colab      : {'yes' if in_colab() else 'no'}")
    print(f"hub        : {hub.decision().summary()}")
    versions = pinned_versions()
    print(f"libraries  : {_libraries_summary(versions)}")
    if libraries:
        for name, (spec, installed) in sorted(versions.items()):
            flag = "" if _matches_pin(installed, spec) else "   <-- differs from the course pin"
            print(f"  {name:<14} {installed or 'missing':<14} pinned {spec or '(any)'}{flag}")


def _libraries_summary(versions: dict[str, tuple[str, str | None]]) -> str:
    """One line: do the installed libraries match the pins? The list itself is on request, so
    that a first look at the environment stays short (issue 18)."""
    differ = sorted(name for name, (spec, installed) in versions.items() if not _matches_pin(installed, spec))
    if not differ:
        return f"all {len(versions)} match the course pins (describe(libraries=True) lists them)"
    return (f"{len(differ)} of {len(versions)} differ from the course pins: {', '.join(differ)} "
            "(describe(libraries=True) lists them)")


def _matches_pin(installed: str | None, spec: str) -> bool:
    return installed is not None and _satisfies(installed, spec)


def _satisfies(installed: str, spec: str) -> bool:
    """Whether an installed version meets a pin such as '==5.23.0' or '>=2.4,<3'."""
    from packaging.specifiers import SpecifierSet  # packaging ships with pip/transformers

    # Local build tags (2.13.0+cpu) are not part of the pin.
    return SpecifierSet(spec).contains(installed.split("+")[0], prereleases=True) if spec else True

"""Every path into ``course_utils/assets/``: the one place that knows how the folder is laid out.

- ``templates/``: the Jinja chat templates the course ships (SmolLM2's own, its training twin,
  the Hermes tool-use and RAG templates, and lesson 07's made-up Kestrel format and its twin);
- ``nano-smollm2-base/``, ``nano-smollm2-instruct/``: the bundled nano stand-ins, written by
  ``scripts/build_nano.py`` (generated: never edit by hand);
- ``data/``: the small JSONL data sets written by the same build.

Nothing here imports torch or transformers, so any module may use it.
"""
from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"
TEMPLATES_DIR = ASSETS / "templates"
DATA_DIR = ASSETS / "data"


def template_path(name: str) -> Path:
    """``templates/<name>``, e.g. ``template_path("smollm2_training.jinja")``."""
    return _existing(TEMPLATES_DIR / name, "template")


def read_template(name: str) -> str:
    """The text of a bundled template (UTF-8, byte for byte as stored)."""
    return template_path(name).read_text(encoding="utf-8")


def data_path(name: str) -> Path:
    """``data/<name>``, e.g. ``data_path("heldout_questions.jsonl")``."""
    return _existing(DATA_DIR / name, "data file")


def model_dir(folder: str) -> Path:
    """A bundled model folder, e.g. ``model_dir("nano-smollm2-instruct")`` (not checked: the
    caller says what is missing, with the Hub ids it stands in for)."""
    return ASSETS / folder


def _existing(path: Path, kind: str) -> Path:
    if not path.is_file():
        shipped = sorted(p.name for p in path.parent.iterdir()) if path.parent.is_dir() else []
        raise FileNotFoundError(f"no bundled {kind} {path.name!r} in {path.parent}; shipped: {shipped}")
    return path

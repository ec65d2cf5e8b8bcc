"""Execute notebooks in place, offline, and store their outputs (`make outputs`).

The outputs a learner sees in `notebooks/` and `solutions/` come from this run: the bundled
nano pair, the CPU, one thread (scripts/offline.py). Run it after changing a notebook or the
nano assets, then `make exercises` (exercises are generated from the solutions) and
`make timings`.

The notebook's saved widget state (metadata "widgets", what JupyterLab draws a trusted widget
output from when no kernel runs) keeps only the models that a stored output displays. nbclient
records every widget a run creates, progress bars closed long ago included, and leaves the
previous run's state in place when a run creates none.

Usage:
  python -m scripts.store_outputs                       # every notebook and solution
  python -m scripts.store_outputs notebooks/06_tool_use.ipynb
  python -m scripts.store_outputs --widget-state-only notebooks/02_base_vs_instruct.ipynb
                                                        # drop stale widget state, run nothing
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import nbformat

from scripts import ROOT
from scripts.lesson_times import run_notebook
from scripts.offline import OFFLINE_ENV

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_MODEL_REFERENCE = re.compile(r"IPY_MODEL_(\w+)")  # how a model names another (children, layout, style)


def displayed_models(nb) -> set[str]:
    """The model ids that the notebook's stored outputs display as widget views."""
    return {output["data"][WIDGET_VIEW]["model_id"]
            for cell in nb.cells for output in cell.get("outputs", [])
            if WIDGET_VIEW in output.get("data", {})}


def keep_displayed_widget_state(nb) -> int:
    """Keep in the saved widget state only the models a stored output displays, and the models
    those refer to; drop the metadata when nothing is left. Returns how many models were dropped."""
    states = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    kept, todo = set(), list(displayed_models(nb))
    while todo:
        model_id = todo.pop()
        if model_id in kept or model_id not in states:
            continue
        kept.add(model_id)
        todo.extend(_MODEL_REFERENCE.findall(json.dumps(states[model_id].get("state", {}))))
    dropped = len(set(states) - kept)
    if kept:
        nb.metadata["widgets"][WIDGET_STATE]["state"] = {key: states[key] for key in states if key in kept}
    else:
        nb.metadata.pop("widgets", None)
    return dropped


def store_outputs(path: Path) -> float:
    """Run `path` from a fresh kernel and write it back with its outputs; seconds taken.

    A notebook that raises is left untouched on disk, so a failed run loses nothing.
    """
    nb = nbformat.read(path, as_version=4)
    seconds = run_with_widget_state(nb, path.parent)
    nbformat.write(nb, path)
    return seconds


def run_with_widget_state(nb, folder: Path) -> float:
    """Run every cell of `nb` in a fresh kernel (outputs filled in, raises on a cell error) and
    keep only the widget state its new outputs display; seconds taken."""
    nb.metadata.pop("widgets", None)  # nbclient keeps the last run's state when this run makes no widget
    seconds = run_notebook(nb, folder)
    keep_displayed_widget_state(nb)
    return seconds


def drop_stale_widget_state(path: Path) -> int:
    """`keep_displayed_widget_state` on the notebook at `path`, written back only if it changed."""
    nb = nbformat.read(path, as_version=4)
    dropped = keep_displayed_widget_state(nb)
    if dropped:
        nbformat.write(nb, path)
    return dropped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path,
                        help="notebooks to run (default: notebooks/*.ipynb and solutions/*.ipynb)")
    parser.add_argument("--widget-state-only", action="store_true",
                        help="only drop saved widget state that no stored output displays; run nothing")
    args = parser.parse_args(argv)
    os.environ.update(OFFLINE_ENV)  # the kernel inherits this environment: `make test`'s
    paths = args.paths or sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))
    for path in paths:
        print(f"{path}: ", end="", flush=True)
        if args.widget_state_only:
            print(f"{drop_stale_widget_state(path)} stale widget models dropped", flush=True)
        else:
            print(f"{store_outputs(path):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

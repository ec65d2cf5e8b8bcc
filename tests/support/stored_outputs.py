"""Read what a learner reads first: a notebook cell's source and its stored outputs, by cell id.

Claim tests (tests/test_claims_*.py) use these to prove that a stored output shows what the
text beside it says, so a re-run that changes the output (new nano assets, a new library
version) fails until the text or the example is put right. Cells are found by their id
(`l02-07`, ...), which survives edits to the cell's text.
"""
from __future__ import annotations

from pathlib import Path

import nbformat


def _cell(notebook: Path, cell_id: str):
    nb = nbformat.read(notebook, as_version=4)
    found = [c for c in nb.cells if c.get("id") == cell_id]
    if len(found) != 1:
        raise LookupError(f"{notebook.name}: {len(found)} cells with id {cell_id!r}, expected exactly one")
    return found[0]


def cell_source(notebook: Path, cell_id: str) -> str:
    """The cell's source, markdown or code."""
    return _cell(notebook, cell_id).source


def stored_text(notebook: Path, cell_id: str) -> str:
    """Everything a code cell's stored outputs show as text: streams, then each result's
    text/plain, in order. Errors are an AssertionError: a lesson stores none."""
    cell = _cell(notebook, cell_id)
    if cell.cell_type != "code":
        raise LookupError(f"{notebook.name}: cell {cell_id!r} is {cell.cell_type}, not code")
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", ""))
        elif output.output_type == "error":
            raise AssertionError(f"{notebook.name}: cell {cell_id!r} stored an error: {output.ename}")
    return "".join(parts)

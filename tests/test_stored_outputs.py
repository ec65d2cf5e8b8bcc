"""What a notebook shows when it is opened before anything runs: never a widget's raw repr, never
a frozen progress bar.

A notebook a learner has just cloned is untrusted. JupyterLab then renders each output with the
highest-ranked MIME type whose renderer is safe (``RenderMimeRegistry.preferredMimeType(data,
trusted ? "any" : "ensure")``), and the widget view's renderer is not safe, so a widget output
shows whatever else it carries (ipywidgets issue 2368); static viewers and Colab before its
widget manager loads show the same. These tests compute that choice for every stored output of
notebooks/, solutions/ and exercises/.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path

import ipywidgets
import nbformat
import pytest

from scripts.store_outputs import keep_displayed_widget_state
from support.pages import page_text
from support.paths import EXERCISES, NOTEBOOKS, ROOT, SOLUTIONS

STORED = sorted(NOTEBOOKS.glob("*.ipynb")) + sorted(SOLUTIONS.glob("*.ipynb")) + sorted(EXERCISES.glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
STDOUT, STDERR = "application/vnd.jupyter.stdout", "application/vnd.jupyter.stderr"

# JupyterLab 4.6's default renderers, {MIME type: (rank, safe)}, lowest rank preferred: the
# standardRendererFactories of @jupyterlab/rendermime (packages/rendermime/src/factories.ts, the
# PDF one from @jupyterlab/pdf-extension) and the widget renderer that jupyterlab_widgets'
# plugin adds with `addFactory({safe: false, ...}, -10)`, read from the installed builds:
# .venv/share/jupyter/lab/static/jlab_core.*.js and
# .venv/share/jupyter/labextensions/@jupyter-widgets/jupyterlab-manager/static/*.js
# (test_the_ranks_here_are_the_installed_jupyterlabs checks them there).
RENDERERS = {
    WIDGET_VIEW: (-10, False),
    "text/html": (50, True),
    "text/markdown": (60, True),
    "text/latex": (70, True),
    "image/svg+xml": (80, False),
    **{image: (90, True) for image in ("image/bmp", "image/png", "image/jpeg", "image/gif", "image/webp")},
    "application/pdf": (100, False),
    STDERR: (110, True),
    "text/javascript": (110, False),
    "application/javascript": (110, False),
    "text/plain": (120, True),
    STDOUT: (120, True),
}


def _widget_classes() -> set[str]:
    found, todo = set(), [ipywidgets.Widget]
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return found


# ipywidgets' repr: `VBox(children=(HBox(...`, `FloatProgress(value=0.0, max=38.0)`, `HTML(value='...')`
WIDGET_REPR = re.compile(r"\b(?:%s)\((?:\w+=|\))" % "|".join(sorted(map(re.escape, _widget_classes()))))
# tqdm's text: "Loading weights:  40%|████      | 38/95 [00:00<00:01, 1373.51it/s]"
PROGRESS_BAR = re.compile(r"\d+%\||\d+/\d+ \[\d+:\d+|\d(?:it|s|examples|ba|B)/s\]|s/it\]")


def output_bundle(output) -> dict:
    """An output as the MIME bundle JupyterLab's output area renders (streams and errors included)."""
    if output.output_type == "stream":
        return {STDERR if output.name == "stderr" else STDOUT: output.text}
    if output.output_type == "error":
        return {STDERR: "\n".join(output.traceback)}
    return dict(output.get("data", {}))


def preferred_mime_type(bundle: dict, trusted: bool) -> str | None:
    """JupyterLab's choice: the lowest-ranked type present, among the safe ones unless trusted."""
    present = sorted((RENDERERS[mime][0], mime) for mime in bundle if mime in RENDERERS)
    return next((mime for _, mime in present if trusted or RENDERERS[mime][1]), None)


def what_untrusted_shows(bundle: dict) -> tuple[str, str]:
    """(MIME type, the text a reader sees) of an output opened untrusted."""
    mime = preferred_mime_type(bundle, trusted=False)
    assert mime is not None, f"no safe representation among {sorted(bundle)}: JupyterLab shows nothing"
    value = bundle[mime]
    value = "".join(value) if isinstance(value, list) else value
    return mime, page_text(value) if mime == "text/html" else value


def _stored_outputs():
    for path in STORED:
        for cell in nbformat.read(path, as_version=4).cells:
            for number, output in enumerate(cell.get("outputs", [])):
                yield pytest.param(output, id=f"{path.relative_to(ROOT)}:{cell.get('id')}:{number}")


# --- the rule JupyterLab follows ---------------------------------------------------------------

def test_an_untrusted_widget_output_shows_its_html_and_a_trusted_one_the_widget():
    bundle = {WIDGET_VIEW: {"model_id": "m"}, "text/html": "<b>snapshot</b>", "text/plain": "VBox(children=())"}
    assert preferred_mime_type(bundle, trusted=True) == WIDGET_VIEW
    assert preferred_mime_type(bundle, trusted=False) == "text/html"
    assert what_untrusted_shows({WIDGET_VIEW: {"model_id": "m"}, "text/plain": "VBox(children=())"}) == \
        ("text/plain", "VBox(children=())")


def test_the_ranks_here_are_the_installed_jupyterlabs():
    jupyter = ROOT / ".venv" / "share" / "jupyter"
    core = sorted((jupyter / "lab" / "static").glob("jlab_core.*.js"))
    manager = sorted((jupyter / "labextensions" / "@jupyter-widgets" / "jupyterlab-manager" / "static").glob("*.js"))
    if not core or not manager:
        pytest.skip("JupyterLab (the `lab` extra) is not installed in .venv")
    core_js = core[0].read_text(encoding="utf-8")
    assert 'preferredMimeType(e.data,e.trusted?"any":"ensure")' in core_js
    for mime, (rank, safe) in RENDERERS.items():
        if mime in (WIDGET_VIEW, STDERR, STDOUT, "application/pdf"):
            continue  # named through variables in the build; their ranks sit beside them below
        factory = re.compile(r'safe:!%d,mimeTypes:\[[^\]]*"%s"[^\]]*\],defaultRank:%d\b' % (0 if safe else 1,
                                                                                         re.escape(mime), rank))
        assert factory.search(core_js), f"{mime}: rank {rank}, safe {safe} is no longer JupyterLab's: update RENDERERS"
    assert re.search(r'safe:!0,mimeTypes:\["application/vnd.jupyter.stderr"\],defaultRank:110', core_js)
    assert re.search(r'safe:!0,mimeTypes:\["text/plain","application/vnd.jupyter.stdout"\],defaultRank:120', core_js)
    widget_js = "".join(path.read_text(encoding="utf-8", errors="replace") for path in manager)
    assert re.search(r"addFactory\(\{safe:!1,mimeTypes:\[\w+\],createRenderer:[^}]*\},-10\)", widget_js)


def test_the_patterns_catch_a_widget_repr_and_a_progress_bar():
    assert WIDGET_REPR.search("VBox(children=(HBox(children=(VBox(children=(HTML(value='<b>template</b>'),")
    assert WIDGET_REPR.search("FloatProgress(value=0.0, max=38.0)")
    assert not WIDGET_REPR.search("The Text (the reply) and HTML (a page)")
    assert PROGRESS_BAR.search("Loading weights:   0%|          | 0/38 [00:00<?, ?it/s]")
    assert PROGRESS_BAR.search("Map: 100%|██████████| 36/36 [00:00<00:00, 4496.98 examples/s]")
    assert not PROGRESS_BAR.search("accuracy 40% (2 of 5), 1.2 s per question")


# --- every stored output --------------------------------------------------------------------

@pytest.mark.parametrize("output", list(_stored_outputs()))
def test_no_stored_output_opens_as_a_widget_repr_or_a_frozen_progress_bar(output):
    bundle = output_bundle(output)
    mime, shown = what_untrusted_shows(bundle)
    assert not WIDGET_REPR.search(shown), f"opened untrusted, this output shows a widget's repr ({mime}): {shown[:200]}"
    assert not PROGRESS_BAR.search(shown), f"a frozen progress bar ({mime}): {shown[:200]}"
    assert "<progress" not in str(bundle.get("text/html", "")), "a frozen HTML progress bar"


def test_lesson_03s_playground_opens_untrusted_as_its_snapshot():
    [cell] = [c for c in nbformat.read(NOTEBOOKS / "03_writing_chat_templates.ipynb", as_version=4).cells
              if c.get("id") == "l03-47"]
    [output] = cell.outputs
    bundle = output_bundle(output)
    mime, shown = what_untrusted_shows(bundle)
    assert WIDGET_VIEW in bundle and mime == "text/html"
    assert "Template playground" in shown and "<|im_start|>" in shown and "run the cell" in shown
    assert 'class="course-special"' in bundle["text/html"] and 'class="course-token' in bundle["text/html"]


# --- saved widget state -------------------------------------------------------------------------

@pytest.mark.parametrize("notebook", STORED, ids=[str(path.relative_to(ROOT)) for path in STORED])
def test_saved_widget_state_holds_only_models_a_stored_output_displays(notebook: Path):
    nb = nbformat.read(notebook, as_version=4)
    dropped = keep_displayed_widget_state(copy.deepcopy(nb))
    assert dropped == 0, (f"{dropped} saved widget models no output displays (progress bars closed long ago?): "
                          f"python -m scripts.store_outputs --widget-state-only {notebook.relative_to(ROOT)}")


def _model(name: str, **state) -> dict:
    return {"model_name": name, "model_module": "@jupyter-widgets/controls", "model_module_version": "2.0.0",
            "state": state}


def test_store_outputs_keeps_a_displayed_widget_with_its_children_and_drops_closed_bars():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output(
        "display_data", data={WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": "box"},
                              "text/plain": "snapshot"})])]
    state_type = "application/vnd.jupyter.widget-state+json"
    nb.metadata["widgets"] = {state_type: {"version_major": 2, "version_minor": 0, "state": {
        "box": _model("VBoxModel", children=["IPY_MODEL_html"], layout="IPY_MODEL_layout"),
        "html": _model("HTMLModel", value="<b>template</b>", style="IPY_MODEL_style"),
        "layout": _model("LayoutModel"), "style": _model("HTMLStyleModel"),
        "bar": _model("FloatProgressModel", value=38.0, max=38.0, layout="IPY_MODEL_bar_layout"),
        "bar_layout": _model("LayoutModel"),
    }}}
    assert keep_displayed_widget_state(nb) == 2
    assert set(nb.metadata["widgets"][state_type]["state"]) == {"box", "html", "layout", "style"}
    nb.cells = []
    assert keep_displayed_widget_state(nb) == 4 and "widgets" not in nb.metadata

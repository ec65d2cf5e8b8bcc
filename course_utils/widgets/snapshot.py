"""What a playground looks like without a widget manager: an HTML snapshot and a text summary.

A widget's output holds only a pointer to its model (``application/vnd.jupyter.widget-view+json``).
JupyterLab draws it only for a trusted output with the widget manager loaded; a notebook a
learner has just cloned is untrusted, so JupyterLab renders the highest-ranked output type whose
renderer is safe, and the widget view's is not (``RenderMimeRegistry.preferredMimeType`` in
"ensure" mode; ipywidgets issue 2368). Static viewers and Colab before its widget manager loads
have no widget manager at all. So the playground's output carries, beside the widget view, a
``text/html`` snapshot of what the widget showed (JupyterLab renders HTML sanitised, so styles
are inline and nothing runs) and a readable ``text/plain``: those are what such a reader sees.
"""
from __future__ import annotations

import html

__all__ = ["snapshot_html", "snapshot_text", "SNAPSHOT_NOTE"]

SNAPSHOT_NOTE = "a snapshot: run the cell to edit the template and the conversation"
_PRE = ("margin:2px 0 6px 0;padding:4px 6px;background:#f7f7f7;border:1px solid #ddd;border-radius:3px;"
        "white-space:pre-wrap;overflow-wrap:anywhere;max-height:220px;overflow-y:auto;font-size:12px")
_COLUMN = "flex:1 1 0;min-width:0;padding-right:8px"


def _editor(title: str, text: str) -> str:
    return f"<div>{title}</div><pre style=\"{_PRE}\">{html.escape(text)}</pre>"


def _tick(name: str, value: bool) -> str:
    return f"{'☑' if value else '☐'} {name}"


def snapshot_html(playground) -> str:
    """The playground as static HTML: editors' text, toggles, then its live views' HTML as they are."""
    preset = playground.catalog_box.value
    template = _editor(f"<b>template</b> <small>(load: {html.escape(preset)})</small>", playground.template_box.value)
    conversation = (_editor("<b>messages</b> (JSON)", playground.messages_box.value)
                    + _editor("<b>variables</b> (JSON)", playground.variables_box.value))
    toggles = " &nbsp; ".join([_tick("add_generation_prompt", playground.generation_prompt_box.value),
                               _tick("continue_final_message", playground.continue_box.value)])
    views = "".join(view.value for view in (playground.error_view, playground.output, playground.tokens,
                                             playground.lint_view))
    return (
        '<div class="course-playground-snapshot" style="border:1px solid #ccc;border-radius:4px;padding:6px 10px">'
        f"<div><b>Template playground</b> <small>({SNAPSHOT_NOTE})</small></div>"
        f'<div style="display:flex">'
        f'<div style="{_COLUMN};flex-grow:55">{template}</div><div style="{_COLUMN};flex-grow:45">{conversation}</div>'
        f"</div><div><small>{toggles}</small></div>{views}</div>"
    )


def snapshot_text(playground) -> str:
    """The playground as plain text: what it rendered (or its error) and its lint, for text-only readers."""
    state = playground.state
    options = (f"add_generation_prompt={playground.generation_prompt_box.value}"
               f" · continue_final_message={playground.continue_box.value}")
    lines = [f"Template playground ({SNAPSHOT_NOTE})", f"template: {playground.catalog_box.value} · {options}"]
    if state.error is not None:
        lines += ["error:", state.error]
    else:
        lines += ["rendered:", state.rendered]
    if state.findings:
        lines += ["lint:", *(f"- {finding}" for finding in state.findings)]
    else:
        lines.append("lint: nothing other engines would break on")
    return "\n".join(lines)

"""The template playground: edit a chat template and a conversation, see exactly what the model sees.

``playground(tokenizer=None)`` returns a ``Playground``; as the last expression of a cell it shows
itself. Every edit re-renders through ``render_template`` (transformers' renderer), so what it
shows is what ``apply_chat_template`` produces. Any input, however broken, ends up as a message in
the widget, never as an exception in the kernel.

The state is plain Python (``Playground.state``, the ``*_box`` widgets), so tests drive it by
setting widget values, without a browser. Stable CSS classes for browser tests:
``course-playground`` (the whole widget), ``course-playground-template``,
``course-playground-messages``, ``course-playground-variables`` (textareas),
``course-playground-catalog`` (dropdown), ``course-playground-add-generation-prompt``,
``course-playground-continue-final-message`` (checkboxes), ``course-playground-output`` (the
rendering), ``course-playground-tokens``, ``course-playground-lint``, ``course-playground-error``
(with ``course-playground-error-quote``, the line of a syntax error and its column marked).

Its output carries, beside the widget view, a static snapshot (``snapshot``): what an untrusted
notebook, a static viewer or Colab before its widget manager loads shows instead of the widget.

On Colab, creating a playground switches on Colab's custom widget manager (once per kernel),
which Colab needs to draw ipywidgets 8 widgets, and the playground then shows itself through
``display()``, the path on which Colab attaches that manager to the output. The install cell
keeps Colab's own ipywidgets 7, so the playground works with 7 as well as with 8.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass, field

import ipywidgets as widgets
import jinja2

from course_utils.display import show, show_mask, show_tokens
from course_utils.portability import Finding, lint
from course_utils.templates import TEMPLATES, TemplateError, get_template, render_template

from .colab import enable_colab_widget_manager, in_colab
from .snapshot import snapshot_html, snapshot_text
from .syntax_errors import SyntaxErrorSpot, locate_syntax_error

__all__ = ["playground", "Playground", "PlaygroundState", "DEFAULT_MESSAGES", "CUSTOM"]

DEFAULT_MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And of Italy?"},
]
CUSTOM = "custom"  # what the template dropdown says when the template is none of the catalog's
_TEXTAREA = widgets.Layout(width="100%", height="220px")
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_ERROR_STYLE = "color:#b71c1c;font-family:monospace"


@dataclass
class PlaygroundState:
    """What the playground shows now: the rendering or the error, lint findings, tokens and mask."""

    rendered: str | None = None
    error: str | None = None
    syntax_error: SyntaxErrorSpot | None = None  # where, for a template that does not parse
    findings: list[Finding] = field(default_factory=list)
    token_ids: list[int] | None = None
    mask: list[int] | None = None
    note: str | None = None


def _parse_json(text: str, what: str, expected_type: type):
    """Parse a JSON editor's text; errors name the line and column, as a learner sees them."""
    try:
        value = json.loads(text) if text.strip() else expected_type()
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} JSON, line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(value, expected_type):
        raise ValueError(f"{what} JSON must be a {'list' if expected_type is list else 'object'}, "
                         f"got {type(value).__name__}")
    return value


def _textarea(value: str, placeholder: str, css_class: str) -> widgets.Textarea:
    box = widgets.Textarea(value=value, placeholder=placeholder, layout=_TEXTAREA, continuous_update=True)
    box.add_class(css_class)
    return box


def _checkbox(description: str, value: bool, css_class: str) -> widgets.Checkbox:
    box = widgets.Checkbox(value=value, description=description, indent=False)
    box.add_class(css_class)
    return box


class Playground:
    """The playground's widgets and state. ``update()`` runs after every change."""

    def __init__(self, tokenizer=None, template: str | None = None, messages: list | None = None):
        enable_colab_widget_manager()
        self.tokenizer = tokenizer
        variables = dict(tokenizer.special_tokens_map) if tokenizer is not None else {}
        template = template if template is not None else get_template("smollm2")
        self.catalog_box = widgets.Dropdown(options=[CUSTOM, *TEMPLATES], value=_preset_of(template),
                                            description="load")
        self.catalog_box.add_class("course-playground-catalog")
        self.template_box = _textarea(template, "a Jinja chat template, e.g. {% for m in messages %}...",
                                      "course-playground-template")
        self.messages_box = _textarea(json.dumps(messages if messages is not None else DEFAULT_MESSAGES, indent=1),
                                      '[{"role": "user", "content": "Hi"}]', "course-playground-messages")
        self.variables_box = _textarea(json.dumps(variables, indent=1), '{"bos_token": "<s>"}',
                                       "course-playground-variables")
        self.variables_box.layout = widgets.Layout(width="100%", height="70px")
        self.generation_prompt_box = _checkbox("add_generation_prompt", True, "course-playground-add-generation-prompt")
        self.continue_box = _checkbox("continue_final_message", False, "course-playground-continue-final-message")
        self.output = self._html("course-playground-output")
        self.tokens = self._html("course-playground-tokens")
        self.lint_view = self._html("course-playground-lint")
        self.error_view = self._html("course-playground-error")
        self.state = PlaygroundState()
        self.widget = self._layout()
        self.catalog_box.observe(self._load_reference, names="value")
        self.template_box.observe(self._name_the_template, names="value")
        for box in (self.template_box, self.messages_box, self.variables_box,
                    self.generation_prompt_box, self.continue_box):
            box.observe(lambda _change: self.update(), names="value")
        self.update()
        if in_colab():
            # Colab attaches its widget manager in a display() hook, which a cell's result
            # (_repr_mimebundle_) bypasses; IPython calls this instead when it is present.
            self._ipython_display_ = self._display

    @staticmethod
    def _html(css_class: str) -> widgets.HTML:
        view = widgets.HTML()
        view.add_class(css_class)
        return view

    def _layout(self) -> widgets.VBox:
        label = widgets.HTML
        editors = widgets.HBox([
            widgets.VBox([label("<b>template</b>"), self.catalog_box, self.template_box], layout=widgets.Layout(width="55%")),
            widgets.VBox([label("<b>messages</b> (JSON)"), self.messages_box,
                          label("<b>variables</b> (JSON)"), self.variables_box], layout=widgets.Layout(width="45%")),
        ])
        toggles = widgets.HBox([self.generation_prompt_box, self.continue_box])
        box = widgets.VBox([editors, toggles, self.error_view, self.output, self.tokens, self.lint_view])
        box.add_class("course-playground")
        return box

    def _repr_mimebundle_(self, **kwargs):
        """The widget view, and beside it the snapshot that readers without a widget manager show."""
        enable_colab_widget_manager()
        return {**self._widget_view(**kwargs), "text/plain": snapshot_text(self), "text/html": snapshot_html(self)}

    def _widget_view(self, **kwargs) -> dict:
        if hasattr(self.widget, "_repr_mimebundle_"):  # ipywidgets 8
            return self.widget._repr_mimebundle_(**kwargs)
        # ipywidgets 7 (what Colab ships) shows widgets only through _ipython_display_; this is
        # the bundle it publishes there.
        self.widget._handle_displayed(**kwargs)
        return {_WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": self.widget.model_id}}

    def _display(self, **kwargs) -> None:
        from IPython.display import display

        # display(), not the cell's result: Colab's hook marks display_data that has a widget view.
        display(self._repr_mimebundle_(**kwargs), raw=True)

    def _load_reference(self, change) -> None:
        if change["new"] != CUSTOM:
            self.template_box.value = get_template(change["new"])  # triggers update()

    def _name_the_template(self, change) -> None:
        # The dropdown names the template being shown: a preset's name, or "custom" once edited.
        # Setting it to a preset loads that preset's text, which is the text already there.
        self.catalog_box.value = _preset_of(change["new"], preferred=self.catalog_box.value)

    # --- rendering ------------------------------------------------------------------------

    def _inputs(self) -> tuple[list, dict]:
        messages = _parse_json(self.messages_box.value, "messages", list)
        variables = _parse_json(self.variables_box.value, "variables", dict)
        reserved = {"messages", "add_generation_prompt", "continue_final_message"} & set(variables)
        if reserved:
            raise ValueError(f"variables: {sorted(reserved)} are set by the editors and toggles; remove them here")
        return messages, variables

    def _compute(self) -> PlaygroundState:
        state = PlaygroundState(findings=lint(self.template_box.value))
        try:
            messages, variables = self._inputs()
            state.rendered = render_template(
                self.template_box.value, messages, add_generation_prompt=self.generation_prompt_box.value,
                continue_final_message=self.continue_box.value, **variables,
            )
        except (ValueError, TypeError) as exc:  # MessageError, TemplateError and JSON errors are ValueErrors
            state.error = str(exc)
            if isinstance(exc, TemplateError) and isinstance(exc.__cause__, jinja2.TemplateSyntaxError):
                state.syntax_error = locate_syntax_error(self.template_box.value)
                state.error = str(state.syntax_error) if state.syntax_error else state.error
            return state
        if self.tokenizer is not None:
            self._tokenize(state, messages, variables)
        return state

    def _tokenize(self, state: PlaygroundState, messages: list, variables: dict) -> None:
        has_generation = any(f.rule == "generation-block" for f in state.findings)
        if not has_generation or self.continue_box.value:
            state.token_ids = list(self.tokenizer.encode(state.rendered, add_special_tokens=False))
            state.note = ("no {% generation %} block: transformers cannot tell which tokens are the assistant's, "
                          "so there is no mask" if not has_generation else
                          "no mask with continue_final_message (transformers refuses the combination)")
            return
        # The template already passed render_template (validation and injection guard), so the
        # tokenizer's own apply_chat_template can compute the mask exactly as training will.
        try:
            out = self.tokenizer.apply_chat_template(
                messages, chat_template=self.template_box.value, tokenize=True, return_dict=True,
                return_assistant_tokens_mask=True, add_generation_prompt=self.generation_prompt_box.value,
                **variables,
            )
        except Exception as exc:  # noqa: BLE001 - keep the rendering; say why there is no mask
            state.token_ids = list(self.tokenizer.encode(state.rendered, add_special_tokens=False))
            state.note = f"no mask: apply_chat_template failed ({type(exc).__name__}: {exc})"
            return
        state.token_ids, state.mask = list(out["input_ids"]), list(out["assistant_masks"])

    def update(self) -> PlaygroundState:
        """Re-render from the editors' current values and refresh every view; returns the state."""
        try:
            self.state = self._compute()
        except Exception as exc:  # noqa: BLE001 - the promise is that no input crashes the widget
            self.state = PlaygroundState(error=f"unexpected error ({type(exc).__name__}): {exc}")
        self._refresh_views()
        return self.state

    def _refresh_views(self) -> None:
        state = self.state
        self.error_view.value = self._error_html()
        self.output.value = show(state.rendered)._repr_html_() if state.rendered is not None else ""
        self.tokens.value = self._tokens_html()
        self.lint_view.value = self._lint_html()

    def _error_html(self) -> str:
        state = self.state
        if not state.error:
            return ""
        if state.syntax_error is None:
            return f'<div style="{_ERROR_STYLE};white-space:pre-wrap">⚠ {html.escape(state.error)}</div>'
        spot = state.syntax_error
        line, mark = spot.quote()
        # The quoted line does not wrap (a wrapped line would misplace the mark); it is cut to
        # a window around the column instead, so it fits.
        marked = html.escape(line) + (f"\n<b>{html.escape(mark)}</b>" if mark else "")
        quote = (f'<pre class="course-playground-error-quote" style="margin:2px 0 0 1.5em;white-space:pre;'
                 f'overflow-x:auto">{marked}</pre>')
        return (f'<div style="{_ERROR_STYLE}"><div style="white-space:pre-wrap">⚠ {html.escape(spot.headline)}</div>'
                f"{quote}</div>")

    def _tokens_html(self) -> str:
        state = self.state
        if state.token_ids is None:
            return ""
        strip = (show_mask(self.tokenizer, state.token_ids, state.mask) if state.mask is not None
                 else show_tokens(self.tokenizer, state.token_ids))
        note = f"<div><small>{html.escape(state.note)}</small></div>" if state.note else ""
        return strip._repr_html_() + note

    def _lint_html(self) -> str:
        if not self.state.findings:
            return "<small>lint: nothing other engines would break on</small>"
        items = "".join(f"<li>{html.escape(str(finding))}</li>" for finding in self.state.findings)
        # Wrapped between words, at a reading line height (an HTML widget's is the height of a
        # text box), so a long finding reads as a paragraph.
        return (f'<div style="line-height:1.4;white-space:normal;overflow-wrap:break-word"><b>lint</b> '
                f"(portability)<ul>{items}</ul></div>")


def _preset_of(template: str, preferred: str = CUSTOM) -> str:
    """The name of the catalog template whose text is ``template`` (``preferred`` first), or CUSTOM."""
    names = [preferred, *TEMPLATES] if preferred in TEMPLATES else list(TEMPLATES)
    return next((name for name in names if get_template(name) == template), CUSTOM)


def playground(tokenizer=None, template: str | None = None, messages: list | None = None) -> Playground:
    """An interactive playground for chat templates (ipywidgets).

    Args:
        tokenizer: optional; when given, the token strip (and, for templates with
            ``{% generation %}``, the training mask) is shown, and its special tokens are the
            default template variables.
        template: the template to start from (default: SmolLM2-Instruct's).
        messages: the conversation to start from.

    Example (in a notebook cell)::

        from course_utils.widgets import playground
        playground()
    """
    return Playground(tokenizer=tokenizer, template=template, messages=messages)

"""Widgets: the template playground (``playground``), layer 3.

- ``template_playground``: the playground's widgets, state and rendering on every edit.
- ``syntax_errors``: where a template's syntax error is (jinja2 names the line, this the column).
- ``snapshot``: the static HTML and text its output carries for readers without a widget manager.
- ``colab``: Colab's custom widget manager, switched on once per kernel.

Lessons import from here: ``from course_utils.widgets import playground``.
"""
from __future__ import annotations

from .template_playground import CUSTOM, DEFAULT_MESSAGES, Playground, PlaygroundState, playground

__all__ = ["playground", "Playground", "PlaygroundState", "DEFAULT_MESSAGES", "CUSTOM"]

"""Will this chat template work outside Python's jinja2? ``lint`` reads it, ``cross_check`` runs it.

A template on the Hub is rendered by transformers (Python jinja2), but also by TGI and mistral.rs
(minijinja), llama.cpp (minja), transformers.js (@huggingface/jinja). Python-only constructs such
as ``message['content'].strip()`` work in the first and break the others.

- ``linter``: ``lint(template)`` lists constructs other engines break on, each with its line and a
  fix that still renders the same in transformers.
- ``engine``: minijinja set up with transformers' globals and variables (``render_minijinja``).
- ``comparison``: ``cross_check(template, messages, ...)`` renders with transformers' jinja2
  (``render_template``) and with minijinja, and reports the first difference or either engine's error.
"""
from __future__ import annotations

from .comparison import CrossCheck, cross_check
from .engine import render_minijinja
from .linter import Finding, lint

__all__ = ["Finding", "lint", "CrossCheck", "cross_check", "render_minijinja"]

"""Will this chat template work outside Python's jinja2? ``lint`` reads it, ``cross_check`` runs it.

A template on the Hub is rendered by transformers (Python jinja2), but also by TGI and mistral.rs
(minijinja's Rust crate), llama.cpp (its own C++ engine), transformers.js (@huggingface/jinja).
The course runs minijinja in both of its modes: strict, the Jinja language, where
``message['content'].strip()`` fails as in a Rust server without Python emulation; and pycompat,
the default of minijinja's Python binding, which emulates the common Python methods. Some
constructs (``%`` formatting, ``{% generation %}``, float printing) differ in both.

- ``linter``: ``lint(template)`` lists the constructs that render differently, each with its
  line, the engines it breaks and a fix that still renders the same in transformers.
- ``engine``: minijinja set up with transformers' globals and variables (``render_minijinja``).
- ``comparison``: ``cross_check(template, messages, ...)`` renders with transformers' jinja2
  (``render_template``) and with minijinja strict and pycompat, and reports the first
  difference or error of each; ``portable`` is the strict verdict.
"""
from __future__ import annotations

from .comparison import CrossCheck, cross_check
from .engine import render_minijinja
from .linter import Finding, lint

__all__ = ["Finding", "lint", "CrossCheck", "cross_check", "render_minijinja"]

"""Chat templates: the reference formats, and rendering them exactly as transformers does.

- ``catalogue``: the reference templates the course teaches (``TEMPLATES``, ``get_template``).
- ``messages``: checks a conversation before a template sees it (``MessageError`` names the fix).
- ``guard``: refuses template-injection attempts before a template runs (``TemplateSecurityError``).
- ``render``: ``render_template``, transformers' own renderer with clear errors; ``fixed_clock``.
- ``_transformers``: the only module that touches transformers' private chat-template functions.

Lessons import from here: ``from course_utils.templates import TEMPLATES, render_template``.
"""
from __future__ import annotations

from .catalogue import TEMPLATES, ReferenceTemplate, get_template
from .guard import TemplateError, TemplateSecurityError
from .messages import MessageError, validate_messages
from .render import fixed_clock, render_template

__all__ = [
    "ReferenceTemplate", "TEMPLATES", "get_template", "render_template", "validate_messages",
    "MessageError", "TemplateError", "TemplateSecurityError", "fixed_clock",
]

"""``cross_check``: render one template with transformers' jinja2 and with minijinja, and compare.

transformers' rendering (``render_template``) is the reference; the result, a ``CrossCheck``,
holds both texts or both errors, says in one line whether the template is portable, and in a
notebook shows the first difference.
"""
from __future__ import annotations

from dataclasses import dataclass

import jinja2

from course_utils.display import diff, first_difference
from course_utils.templates import TemplateError, TemplateSecurityError, render_template
from course_utils.templates.guard import check_template
from course_utils.templates.messages import prepare_messages

from .engine import render_minijinja

__all__ = ["CrossCheck", "cross_check"]


@dataclass(frozen=True)
class CrossCheck:
    """What each engine made of one template and conversation.

    ``jinja2`` / ``minijinja`` hold the rendered text, or None when that engine failed, with the
    reason in ``jinja2_error`` / ``minijinja_error``. ``str()`` is a one-line verdict; in a notebook
    the result shows the first difference.
    """

    jinja2: str | None
    minijinja: str | None
    jinja2_error: str | None = None
    minijinja_error: str | None = None

    @property
    def same_output(self) -> bool:
        return self.jinja2 is not None and self.jinja2 == self.minijinja

    @property
    def portable(self) -> bool:
        """Both engines render the same text, or both refuse the conversation."""
        both_failed = self.jinja2_error is not None and self.minijinja_error is not None
        return self.same_output or both_failed

    @property
    def difference(self) -> str | None:
        if self.jinja2 is None or self.minijinja is None:
            return None
        return first_difference(self.jinja2, self.minijinja)

    def __str__(self) -> str:
        if self.same_output:
            return f"portable: jinja2 and minijinja render the same {len(self.jinja2)} characters"
        if self.jinja2_error and self.minijinja_error:
            return f"portable: both engines refuse it (jinja2: {self.jinja2_error} | minijinja: {self.minijinja_error})"
        if self.jinja2_error:
            return f"not portable: jinja2 (transformers) fails: {self.jinja2_error}"
        if self.minijinja_error:
            return f"not portable: minijinja fails: {self.minijinja_error}"
        return f"not portable: {self.difference} (expected = jinja2, got = minijinja)"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        if self.jinja2 is not None and self.minijinja is not None and not self.same_output:
            return diff(self.jinja2, self.minijinja)._repr_html_().replace("expected:", "jinja2 (transformers):", 1) \
                .replace("got:", "minijinja:", 1)
        import html

        return f'<div class="course-crosscheck"><b>{html.escape(str(self))}</b></div>'


def _attempt(render) -> tuple[str | None, str | None]:
    try:
        return render(), None
    except TemplateSecurityError:
        raise  # an injection attempt is refused outright, not reported as a portability result
    except TemplateError as exc:
        return None, str(exc)


def cross_check(template: str, messages, *, pycompat: bool = False, **kwargs) -> CrossCheck:
    """Render ``template`` with transformers' jinja2 and with minijinja, and compare.

    Takes the same arguments as ``render_template`` except ``continue_final_message``, which is
    transformers' post-processing of the rendered text, not part of the template.
    ``pycompat=True`` lets minijinja emulate Python's string and dict methods.

    Raises:
        MessageError: the conversation is malformed (checked once, before either engine).
        TemplateSecurityError: the template tries to reach Python internals (neither engine runs).

    Example:
        >>> print(cross_check("{{ messages[0]['content'].strip() }}", [{"role": "user", "content": " Hi "}]))
        not portable: minijinja fails: template line 1: minijinja: unknown method: string has no method named strip
    """
    if "continue_final_message" in kwargs:
        raise TypeError("cross_check compares templates; continue_final_message is transformers' post-processing "
                        "of the output: check the template without it")
    if not isinstance(template, str):
        raise TemplateError(f"the template must be a string of Jinja source, got {type(template).__name__}")
    messages = prepare_messages(messages)
    try:
        check_template(template)  # refuses injection attempts before either engine sees them
    except jinja2.TemplateSyntaxError:
        # transformers is the reference: a template it cannot read is not run anywhere (and the
        # guard needs jinja2's syntax tree).
        _, error = _attempt(lambda: render_template(template, messages, **kwargs))
        return CrossCheck(None, None, error + " (minijinja not run: transformers' jinja2 is the reference)")
    jinja2_text, jinja2_error = _attempt(lambda: render_template(template, messages, **kwargs))
    mini_text, mini_error = _attempt(lambda: render_minijinja(template, messages, pycompat=pycompat, **kwargs))
    return CrossCheck(jinja2_text, mini_text, jinja2_error, mini_error)

"""``cross_check``: render one template with transformers' jinja2 and with minijinja, and compare.

transformers' rendering (``render_template``) is the reference. minijinja renders twice, once per
mode (see ``engine``): strict, the Jinja language without Python's methods, and pycompat, the
Python binding's default, which emulates the common ones. The result, a ``CrossCheck``, holds
every text or error, says in one line what each mode made of the template, and in a notebook
shows the first difference.
"""
from __future__ import annotations

import html
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

    ``jinja2`` / ``minijinja`` / ``minijinja_pycompat`` hold the text rendered by transformers,
    by minijinja's strict mode and by its pycompat mode, or None when that one failed, with the
    reason in the matching ``*_error``. ``portable`` and ``same_output`` judge the strict mode,
    the subset every engine reads; ``pycompat_portable`` and ``pycompat_same_output`` the other.
    ``str()`` is a one-line verdict naming both modes; in a notebook the result shows the first
    difference of each mode.
    """

    jinja2: str | None
    minijinja: str | None
    jinja2_error: str | None = None
    minijinja_error: str | None = None
    minijinja_pycompat: str | None = None
    minijinja_pycompat_error: str | None = None

    @property
    def same_output(self) -> bool:
        """minijinja's strict mode renders exactly what transformers renders."""
        return self.jinja2 is not None and self.jinja2 == self.minijinja

    @property
    def pycompat_same_output(self) -> bool:
        return self.jinja2 is not None and self.jinja2 == self.minijinja_pycompat

    @property
    def portable(self) -> bool:
        """transformers and strict minijinja render the same text, or both refuse the conversation."""
        return self.same_output or (self.jinja2_error is not None and self.minijinja_error is not None)

    @property
    def pycompat_portable(self) -> bool:
        """The same verdict for minijinja's pycompat mode."""
        both_failed = self.jinja2_error is not None and self.minijinja_pycompat_error is not None
        return self.pycompat_same_output or both_failed

    @property
    def difference(self) -> str | None:
        """The first difference between transformers' text and strict minijinja's, if both rendered."""
        return _difference(self.jinja2, self.minijinja)

    @property
    def pycompat_difference(self) -> str | None:
        return _difference(self.jinja2, self.minijinja_pycompat)

    def __str__(self) -> str:
        if self.jinja2_error is not None:
            return self._verdict_when_jinja2_fails()
        size = len(self.jinja2)
        if self.same_output and self.pycompat_same_output:
            return f"portable: jinja2 and minijinja (strict and pycompat) render the same {size} characters"
        if self.same_output:
            return f"portable: jinja2 and minijinja strict render the same {size} characters; {self._pycompat_tail()}"
        if self.minijinja_error is not None:
            # "minijinja fails" first: the 03.portable exercise's feedback is matched on it
            return f"not portable: minijinja fails in strict mode: {self.minijinja_error}; {self._pycompat_tail()}"
        return (f"not portable: minijinja in strict mode: {self.difference} (expected = jinja2, got = minijinja); "
                f"{self._pycompat_tail()}")

    __repr__ = __str__

    def _pycompat_tail(self) -> str:
        """What the pycompat mode did, said relative to the strict mode when it did the same."""
        if self.pycompat_same_output:
            return "with pycompat it renders the same"
        if self.minijinja_pycompat_error is not None:
            if self.minijinja_pycompat_error == self.minijinja_error:
                return "with pycompat it fails the same way"
            return f"with pycompat it fails: {self.minijinja_pycompat_error}"
        if self.minijinja_pycompat == self.minijinja:
            return "with pycompat the same difference"
        return f"with pycompat: {self.pycompat_difference}"

    def _verdict_when_jinja2_fails(self) -> str:
        refusal = f"jinja2: {self.jinja2_error}"
        if self.minijinja_error is None:  # minijinja rendered, or was not run (a jinja2 syntax error)
            return f"not portable: jinja2 (transformers) fails: {self.jinja2_error}"
        if self.minijinja_pycompat_error == self.minijinja_error:
            return f"portable: every engine refuses it ({refusal} | minijinja strict and pycompat: {self.minijinja_error})"
        if self.minijinja_pycompat_error is not None:
            return (f"portable: every engine refuses it ({refusal} | minijinja strict: {self.minijinja_error} | "
                    f"minijinja pycompat: {self.minijinja_pycompat_error})")
        return (f"portable: jinja2 and minijinja strict refuse it ({refusal} | minijinja strict: "
                f"{self.minijinja_error}); with pycompat minijinja renders it")

    def _repr_html_(self) -> str:
        views = [f"<b>{html.escape(str(self))}</b>"]
        for label, text in self._differing_renderings():
            page = diff(self.jinja2, text)._repr_html_()
            views.append(page.replace("expected:", "jinja2 (transformers):", 1).replace("got:", f"{label}:", 1))
        return f'<div class="course-crosscheck">{"".join(views)}</div>'

    def _differing_renderings(self) -> list[tuple[str, str]]:
        """(label, text) for each minijinja mode that rendered something other than jinja2's text."""
        if self.jinja2 is None:
            return []
        strict, pycompat = self.minijinja, self.minijinja_pycompat
        if strict is not None and strict == pycompat and strict != self.jinja2:
            return [("minijinja (strict and pycompat)", strict)]
        return [(label, text) for label, text in (("minijinja strict", strict), ("minijinja pycompat", pycompat))
                if text is not None and text != self.jinja2]


def _difference(expected: str | None, got: str | None) -> str | None:
    if expected is None or got is None:
        return None
    return first_difference(expected, got)


def _attempt(render) -> tuple[str | None, str | None]:
    try:
        return render(), None
    except TemplateSecurityError:
        raise  # an injection attempt is refused outright, not reported as a portability result
    except TemplateError as exc:
        return None, str(exc)


def cross_check(template: str, messages, **kwargs) -> CrossCheck:
    """Render ``template`` with transformers' jinja2 and with minijinja in both modes, and compare.

    Takes the same arguments as ``render_template`` except ``continue_final_message``, which is
    transformers' post-processing of the rendered text, not part of the template. The verdict
    (``portable``) is the strict mode's; the pycompat mode is reported beside it.

    Raises:
        MessageError: the conversation is malformed (checked once, before any engine).
        TemplateSecurityError: the template tries to reach Python internals (no engine runs).

    Example:
        >>> print(cross_check("{{ messages[0]['content'].strip() }}", [{"role": "user", "content": " Hi "}]))
        not portable: minijinja fails in strict mode: template line 1: minijinja: unknown method: string has no method named strip; with pycompat it renders the same
    """
    if "continue_final_message" in kwargs:
        raise TypeError("cross_check compares templates; continue_final_message is transformers' post-processing "
                        "of the output: check the template without it")
    if "pycompat" in kwargs:
        raise TypeError("cross_check renders minijinja both with and without pycompat; read .minijinja (strict) "
                        "and .minijinja_pycompat, or call render_minijinja(..., pycompat=...) for one mode")
    if not isinstance(template, str):
        raise TemplateError(f"the template must be a string of Jinja source, got {type(template).__name__}")
    messages = prepare_messages(messages)
    try:
        check_template(template)  # refuses injection attempts before any engine sees them
    except jinja2.TemplateSyntaxError:
        # transformers is the reference: a template it cannot read is not run anywhere (and the
        # guard needs jinja2's syntax tree).
        _, error = _attempt(lambda: render_template(template, messages, **kwargs))
        return CrossCheck(None, None, error + " (minijinja not run: transformers' jinja2 is the reference)")
    jinja2_text, jinja2_error = _attempt(lambda: render_template(template, messages, **kwargs))
    strict_text, strict_error = _attempt(lambda: render_minijinja(template, messages, pycompat=False, **kwargs))
    pycompat_text, pycompat_error = _attempt(lambda: render_minijinja(template, messages, pycompat=True, **kwargs))
    return CrossCheck(jinja2_text, strict_text, jinja2_error, strict_error, pycompat_text, pycompat_error)

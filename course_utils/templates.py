"""Reference chat templates and ``render_template``: exactly what ``apply_chat_template`` renders.

``render_template`` does not re-implement the sandbox: it calls transformers' own
``render_jinja_template`` (the function behind ``tokenizer.apply_chat_template(tokenize=False)``),
so it has the same ``ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)``,
``raise_exception``, ``strftime_now``, JSON ``tojson``, always-defined ``tools``/``documents``,
``continue_final_message`` handling and compiled-template cache. What it adds:

- the conversation is checked first (``validate_messages``): one ``MessageError`` that names the
  message index, the key and the fix;
- the template is checked before it runs (``template_guard``): injection attempts are refused
  loudly instead of rendering an empty string;
- every failure becomes one ``TemplateError`` that names the template line.

The catalog (``TEMPLATES``) holds the formats the course teaches, each with its source.
"""
from __future__ import annotations

import contextlib
import datetime as _datetime
import re
from dataclasses import dataclass, field
from importlib import resources

import jinja2
from transformers.utils import chat_template_utils as _ctu

from course_utils.messages import MessageError, prepare_messages, validate_messages
from course_utils.template_guard import TemplateError, TemplateSecurityError, check_template, template_line

__all__ = [
    "ReferenceTemplate", "TEMPLATES", "get_template", "render_template", "validate_messages",
    "MessageError", "TemplateError", "TemplateSecurityError", "fixed_clock",
]


def _asset(name: str) -> str:
    return resources.files("course_utils").joinpath("assets", "templates", name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class ReferenceTemplate:
    """One chat format: ``template`` is the Jinja source, ``source`` where the format comes from.

    ``special_tokens`` are the template variables the format expects (pass them to
    ``render_template``, as ``apply_chat_template`` passes a tokenizer's special tokens).
    """

    name: str
    source: str
    template: str
    special_tokens: dict[str, str] = field(default_factory=dict)


_CHATML = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Meta's Llama-2-chat template, with `| trim` where the original calls the Python method
# `.strip()`: both strip the same whitespace, and the filter also works outside Python's jinja2.
_LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}"
    "{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}"
    "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content | trim + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + content | trim + ' ' + eos_token }}{% endif %}"
    "{% endfor %}"
)

# Byte for byte the template on the Hub (newlines and the double space included).
_ZEPHYR = (
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n"
    "{{ '<|user|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n"
    "{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"
)

# Byte for byte the template on the Hub.
_MISTRAL = """{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif %}
    {%- if message['role'] == 'user' %}
        {%- if loop.first and system_message is defined %}
            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}
        {%- else %}
            {{- ' [INST] ' + message['content'] + ' [/INST]' }}
        {%- endif %}
    {%- elif message['role'] == 'assistant' %}
        {{- ' ' + message['content'] + eos_token}}
    {%- else %}
        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}
    {%- endif %}
{%- endfor %}
"""

_BLENDERBOT = (
    "{% for message in messages %}{% if message['role'] == 'user' %}{{ ' ' }}{% endif %}"
    "{{ message['content'] }}{% if not loop.last %}{{ '  ' }}{% endif %}{% endfor %}{{ eos_token }}"
)

_LLAMA_TOKENS = {"bos_token": "<s>", "eos_token": "</s>"}

TEMPLATES: dict[str, ReferenceTemplate] = {
    t.name: t
    for t in [
        ReferenceTemplate(
            "chatml",
            "ChatML, OpenAI's Chat Markup Language (openai-python chatml.md, 2023); this text is the "
            "ChatML template of the transformers chat-templating guide.",
            _CHATML,
        ),
        ReferenceTemplate(
            "smollm2",
            "HuggingFaceTB/SmolLM2-135M-Instruct, chat_template (Apache-2.0), exact copy "
            "(course_utils/assets/templates/smollm2_instruct.jinja).",
            _asset("smollm2_instruct.jinja"),
            {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"},
        ),
        ReferenceTemplate(
            "llama2",
            "meta-llama/Llama-2-7b-chat-hf, chat_template (Llama 2 Community Licence): [INST] turns, "
            "system folded into the first user turn in <<SYS>>; `.strip()` written as `| trim`.",
            _LLAMA2,
            _LLAMA_TOKENS,
        ),
        ReferenceTemplate(
            "zephyr", "HuggingFaceH4/zephyr-7b-beta, chat_template (MIT), exact copy.", _ZEPHYR, _LLAMA_TOKENS
        ),
        ReferenceTemplate(
            "mistral",
            "mistralai/Mistral-7B-Instruct-v0.2, chat_template (Apache-2.0), exact copy: system prompt "
            "prepended to the first [INST].",
            _MISTRAL,
            _LLAMA_TOKENS,
        ),
        ReferenceTemplate(
            "blenderbot",
            "facebook/blenderbot-400M-distill: the default_chat_template of transformers' "
            "BlenderbotTokenizer (removed in v4.43 in favour of explicit templates).",
            _BLENDERBOT,
            {"eos_token": "</s>"},
        ),
        ReferenceTemplate(
            "hermes_tool_use",
            "Hermes-2-Pro tool-use format (NousResearch/Hermes-2-Pro-Llama-3-8B, 'tool_use' template) "
            "on SmolLM2's ChatML, shortened (course_utils/assets/templates/hermes_tool_use.jinja).",
            _asset("hermes_tool_use.jinja"),
            {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"},
        ),
    ]
}


def get_template(name: str) -> str:
    """The Jinja source of a reference template, e.g. ``get_template("chatml")``."""
    try:
        return TEMPLATES[name].template
    except KeyError:
        raise KeyError(f"no reference template named {name!r}; choose one of {sorted(TEMPLATES)}") from None


def _check_and_compile(template: str) -> None:
    """Guard first, then transformers' cached compile; a syntax error names the line."""
    try:
        check_template(template)  # before compiling: see template_guard._reference_environment
        _ctu._compile_jinja_template(template)
    except jinja2.TemplateSyntaxError as exc:
        lines = template.splitlines()
        text = lines[exc.lineno - 1].strip() if 0 < exc.lineno <= len(lines) else ""
        raise TemplateError(
            f"template line {exc.lineno}: syntax error: {exc.message} (the line reads: {text[:80]!r})",
            line=exc.lineno,
        ) from exc


def _undefined_hint(message: str) -> str:
    missing = re.fullmatch(r"'(\w+)' is undefined", message)
    if missing:
        return (f"Pass it as a keyword argument, e.g. render_template(template, messages, "
                f"{missing.group(1)}=...) (apply_chat_template passes the tokenizer's special tokens)")
    # Keys whose value is None were dropped before rendering, exactly as apply_chat_template does.
    return "Add that key to the message or variable (keys whose value is None are dropped, as in apply_chat_template)"


def _runtime_error(exc: Exception) -> TemplateError:
    line = template_line(exc)
    where = f"template line {line}" if line else "template"
    if type(exc) is jinja2.TemplateError:  # what the template's raise_exception() raises
        return TemplateError(f"{exc.message} (raise_exception at {where})", line=line)
    if isinstance(exc, jinja2.exceptions.SecurityError):
        return TemplateSecurityError(f"{where}: refused by the sandbox: {exc}", line=line)
    if isinstance(exc, jinja2.UndefinedError):
        return TemplateError(f"{where}: {exc.message}. {_undefined_hint(exc.message)}", line=line)
    return TemplateError(f"{where}: {type(exc).__name__}: {exc}", line=line)


def _check_options(messages: list, add_generation_prompt: bool, continue_final_message) -> None:
    # apply_chat_template refuses this pair before rendering; render_jinja_template does not.
    if continue_final_message and add_generation_prompt:
        raise MessageError(
            "continue_final_message and add_generation_prompt are both set",
            "use add_generation_prompt=True to start a new assistant turn, or continue_final_message=True "
            "to continue the last message, not both",
            key="continue_final_message",
        )
    # Only the default field is checked here: a named one (continue_final_message="thinking")
    # may be filled by transformers' reasoning-field aliasing, so transformers judges it.
    if continue_final_message is True and not isinstance(messages[-1].get("content"), (str, list)):
        raise MessageError(
            "continue_final_message needs text to continue, but the last message has no content",
            "end the conversation with the start of the reply, e.g. {'role': 'assistant', 'content': 'Sure,'}",
            len(messages) - 1, "content",
        )


def render_template(
    template: str,
    messages,
    *,
    add_generation_prompt: bool = False,
    continue_final_message: bool | str = False,
    tools: list | None = None,
    documents: list | None = None,
    **template_kwargs,
) -> str:
    """Render ``messages`` with a chat template exactly as ``apply_chat_template(tokenize=False)`` does.

    Args:
        template: Jinja source of a chat template (e.g. ``get_template("chatml")``).
        messages: a list of ``{'role': ..., 'content': ...}`` dicts.
        add_generation_prompt: end with the header of a new assistant turn.
        continue_final_message: end inside the last message, so the model continues it.
        tools, documents: JSON schemas / documents; the template sees ``None`` when not given.
        **template_kwargs: other template variables, e.g. ``bos_token='<s>'`` (a tokenizer's
            special tokens, which ``apply_chat_template`` passes for you).

    Returns:
        The rendered text.

    Raises:
        MessageError: the conversation is malformed (index, key and fix named).
        TemplateError: the template does not compile (line named), raised via
            ``raise_exception`` (its message), or failed while rendering.
        TemplateSecurityError: the template tries to reach Python internals.

    Example:
        >>> render_template(get_template("chatml"), [{"role": "user", "content": "Hi"}], add_generation_prompt=True)
        '<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'
    """
    if not isinstance(template, str):
        raise TemplateError(f"the template must be a string of Jinja source, got {type(template).__name__}")
    messages = prepare_messages(messages)
    _check_options(messages, add_generation_prompt, continue_final_message)
    _check_and_compile(template)
    try:
        rendered, _ = _ctu.render_jinja_template(
            conversations=[messages],
            chat_template=template,
            tools=tools,
            documents=documents,
            add_generation_prompt=add_generation_prompt,
            continue_final_message=continue_final_message,
            **template_kwargs,
        )
    except (jinja2.TemplateError, TypeError, ValueError, KeyError, IndexError, AttributeError,
            ZeroDivisionError, OverflowError, RecursionError) as exc:
        raise _runtime_error(exc) from exc
    return rendered[0]


class _FixedDatetime(_datetime.datetime):
    fixed: _datetime.datetime

    @classmethod
    def now(cls, tz=None):
        return cls.fixed if tz is None else cls.fixed.astimezone(tz)


@contextlib.contextmanager
def fixed_clock(when: _datetime.datetime | str):
    """Pin the clock that templates read through ``strftime_now`` (reproducible outputs).

    transformers' ``strftime_now`` calls ``datetime.now()`` from its own module at render time,
    so replacing that module's ``datetime`` for the duration pins every template, including
    templates rendered by ``apply_chat_template`` and by ``portability.cross_check``.

    Example:
        >>> with fixed_clock("2024-07-26"):
        ...     render_template("{{ strftime_now('%d %b %Y') }}", [{"role": "user", "content": "x"}])
        '26 Jul 2024'
    """
    if isinstance(when, str):
        when = _datetime.datetime.fromisoformat(when)
    pinned = type("FixedDatetime", (_FixedDatetime,), {"fixed": when})
    original = _ctu.datetime
    _ctu.datetime = pinned
    try:
        yield when
    finally:
        _ctu.datetime = original

"""The reference chat templates the course teaches: ``TEMPLATES`` and ``get_template``.

Each ``ReferenceTemplate`` holds a format's Jinja source and where it comes from (model card,
licence, what differs from the original). Short templates are written here; the long ones
(SmolLM2's, the Hermes tool-use format) are read from ``course_utils/assets/templates/``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from course_utils.assets import read_template

__all__ = ["ReferenceTemplate", "TEMPLATES", "get_template"]


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
            read_template("smollm2_instruct.jinja"),
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
            read_template("hermes_tool_use.jinja"),
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

"""Templates are untrusted code: injection payloads are refused with a clear error and nothing runs.

Each payload tries to create a file (``touch`` through ``os.popen``/``os.system``/``subprocess``,
or ``open(..., 'w')``). The proof that nothing ran is that the file does not exist afterwards; the
proof that the check could fail is ``test_payloads_are_live_outside_the_sandbox``: in a plain,
unsandboxed jinja2 environment the same payloads do create it.
"""
from __future__ import annotations

import jinja2
import pytest

from course_utils.portability import cross_check
from course_utils.templates import TemplateSecurityError, render_template
from course_utils.widgets import playground

CHAT = [{"role": "user", "content": "Hi"}]

# PATH is replaced by the sentinel file's path. Every payload is refused before it runs, by the
# template guard or, for mutation, by transformers' sandbox.
PAYLOADS = {
    "class_mro_subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "subclasses_popen_loop": (
        "{% for c in ''.__class__.__mro__[1].__subclasses__() %}{% if c.__name__ == 'Popen' %}"
        "{{ c(['touch', 'PATH']) }}{% endif %}{% endfor %}"),
    "tuple_bases_globals": "{{ ().__class__.__bases__[0].__subclasses__()[0].__init__.__globals__ }}",
    "cycler_globals_os_popen": "{{ cycler.__init__.__globals__.os.popen('touch PATH').read() }}",
    "joiner_globals_os_system": "{{ joiner.__init__.__globals__.os.system('touch PATH') }}",
    "lipsum_globals_os": "{{ lipsum.__globals__['os'].popen('touch PATH').read() }}",
    "self_template_reference_context": "{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('touch PATH').read() }}",
    "self_builtins_open": "{{ self.__init__.__globals__.__builtins__.open('PATH', 'w').write('x') }}",
    "namespace_init_globals": "{{ namespace.__init__.__globals__.os.popen('touch PATH').read() }}",
    "namespace_private_attrs": "{% set ns = namespace(a=1) %}{{ ns._Namespace__attrs }}",
    "namespace_set_dunder": "{% set ns = namespace() %}{% set ns.__class__ = 1 %}{{ ns }}",
    "raise_exception_globals": "{{ raise_exception.__globals__['os'].popen('touch PATH').read() }}",
    "strftime_now_globals": "{{ strftime_now.__globals__.os.popen('touch PATH').read() }}",
    "dict_global_internals": "{{ dict.__call__.__globals__ }}",
    "format_string_attribute": "{{ '{0.__class__.__mro__[1].__subclasses__}'.format('') }}",
    "format_string_globals": "{{ '{0.__init__.__globals__[os]}'.format(cycler) }}",
    "attr_filter": "{{ ''|attr('__class__')|attr('__mro__') }}",
    "attr_filter_hex_escaped": "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "getitem_dunder": "{{ messages['__class__'] }}",
    "getitem_built_name": "{{ messages['__cla' ~ 'ss__'] }}",
    "dunder_in_variable": "{% set key = '__globals__' %}{{ cycler.__init__[key] }}",
    "map_attribute_dunder": "{{ messages|map(attribute='__class__')|list }}",
    "include_file": "{% include '/etc/passwd' %}",
    "import_module": "{% import 'os' as os %}{{ os.system('touch PATH') }}",
    "memory_bomb_pow": "{{ 'a' * 10**10 }}",
    "memory_bomb_mul": "{{ 'a' * 100000000000 }}",
    # jinja2 folds constants while compiling: this would allocate 10 GB before any sandbox check
    "memory_bomb_folded_chain": "{{ 'a' * 99999 * 99999 }}",
    "mutate_messages": "{{ messages.pop() }}",
}


@pytest.fixture
def sentinel(tmp_path):
    return tmp_path / "pwned"


def _payload(name: str, sentinel) -> str:
    return PAYLOADS[name].replace("PATH", str(sentinel))


def test_there_are_at_least_15_payloads_covering_each_vector():
    assert len(PAYLOADS) >= 15
    text = " ".join(PAYLOADS.values())
    for vector in ("__class__", "__globals__", "__subclasses__", "os", "popen", "self", "cycler", "lipsum",
                   "namespace", ".format(", "attr("):
        assert vector in text, vector


@pytest.mark.parametrize("name", ["cycler_globals_os_popen", "joiner_globals_os_system", "lipsum_globals_os",
                                  "namespace_init_globals", "subclasses_popen_loop"])
def test_payloads_are_live_outside_the_sandbox(name, sentinel):
    """Without a sandbox the payload really creates the file, so the checks below can fail."""
    import time

    jinja2.Environment().from_string(_payload(name, sentinel)).render(messages=CHAT)
    deadline = time.monotonic() + 5  # Popen returns before `touch` finishes
    while not sentinel.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sentinel.exists()


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_render_template_refuses(name, sentinel):
    with pytest.raises(TemplateSecurityError, match=r"^template line \d+: refused"):
        render_template(_payload(name, sentinel), CHAT)
    assert not sentinel.exists()


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_cross_check_refuses(name, sentinel):
    with pytest.raises(TemplateSecurityError, match=r"^template line \d+: refused"):
        cross_check(_payload(name, sentinel), CHAT)
    assert not sentinel.exists()


def test_playground_refuses_every_payload_in_the_widget(sentinel):
    pg = playground(messages=CHAT)
    for name in sorted(PAYLOADS):
        pg.template_box.value = _payload(name, sentinel)  # typing it must not raise
        assert pg.state.rendered is None and "refused" in pg.state.error, name
        assert "refused" in pg.error_view.value and pg.output.value == ""
    assert not sentinel.exists()


def test_refusal_names_what_was_refused():
    with pytest.raises(TemplateSecurityError) as info:
        render_template("ok\n{{ cycler.__init__ }}", CHAT)
    assert str(info.value) == ("template line 2: refused: the template reads the private attribute '__init__'. "
                               "Chat templates may only read the messages and variables they are given")
    assert info.value.line == 2


def test_ordinary_templates_are_not_refused():
    template = ("{% set ns = namespace(found=false) %}{% for m in messages %}{% set ns.found = true %}"
                "{{ messages[loop.index0 + 0]['content'] ~ '_' }}{{ m.role | upper }}{% endfor %}"
                "{{ '=' * 3 }}{{ messages | selectattr('role', 'equalto', 'user') | list | length }}")
    assert render_template(template, CHAT) == "Hi_USER===1"

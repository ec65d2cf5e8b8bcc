"""How many real chat templates render the same in transformers' jinja2 and in minijinja?

Runs ``portability.cross_check`` on every case of the compatibility corpus (../shared/compat-corpus:
53 huggingface.js cases, 38 llama.cpp templates x 3 conversations), clock pinned as the corpus
README says. A template counts as portable when, on every conversation it is tried with, both
engines render the same text or both refuse the conversation. minijinja runs without its Python
method emulation (``pycompat``); the count with it is printed too, as is the number of templates
``lint`` finds nothing in. Prints key=value lines; the last is ``portable_templates``.

    python -m benchmarks.bench_portability [--corpus PATH] [--verbose]
"""
from __future__ import annotations

import argparse
import collections
import time

from course_utils.portability import cross_check, lint
from course_utils.templates import fixed_clock
from tests.support.compat_corpus import default_root, load_cases  # test support: not shipped with the course


def check_case(case, pycompat=False):
    messages, kwargs = case.messages_and_kwargs()
    with fixed_clock(case.clock):
        return cross_check(case.template, messages, pycompat=pycompat, **kwargs)


def portable_templates(cases, results) -> list[str]:
    by_template = collections.defaultdict(list)
    for case in cases:
        by_template[case.template].append(results[case.key])
    return [text for text, checks in by_template.items() if all(check.portable for check in checks)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=None, help="compat-corpus folder (default: <repo>/../shared/compat-corpus)")
    parser.add_argument("--verbose", action="store_true", help="print each non-portable case and why")
    args = parser.parse_args()

    cases = load_cases(args.corpus or default_root())
    start = time.perf_counter()
    results = {case.key: check_case(case) for case in cases}
    elapsed = time.perf_counter() - start

    templates = {case.template for case in cases}
    portable = portable_templates(cases, results)
    with_pycompat = portable_templates(cases, {case.key: check_case(case, pycompat=True) for case in cases})
    lint_clean = [text for text in templates if not lint(text)]
    flagged_portable = [text for text in portable if lint(text)]
    reasons = collections.Counter()
    for key, check in results.items():
        if not check.portable:
            reasons["minijinja error" if check.minijinja_error else "jinja2 error" if check.jinja2_error else "different output"] += 1
            if args.verbose:
                print(f"{key}: {check}"[:300])

    print(f"cases={len(cases)}")
    print(f"cases_portable={sum(check.portable for check in results.values())}")
    for reason, count in sorted(reasons.items()):
        print(f"cases_not_portable_{reason.replace(' ', '_')}={count}")
    print(f"templates={len(templates)}")
    print(f"portable_templates_with_minijinja_pycompat={len(with_pycompat)}")
    print(f"templates_lint_clean={len(lint_clean)}")
    print(f"templates_portable_despite_lint_findings={len(flagged_portable)}")
    print(f"seconds={elapsed:.2f}")
    print(f"portable_templates={len(portable)}")


if __name__ == "__main__":
    main()

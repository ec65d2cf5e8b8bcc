"""What the grading subprocess runs: ``python -m course_utils.grading.pytest_entry ARGS`` is
``pytest ARGS``, minus an import that costs every submission about two seconds.

The quirk: jsonschema (imported by nbformat, which nbval imports when pytest loads it) imports
``rfc3987_syntax`` whenever it is installed (here it comes with JupyterLab), and that module
compiles a Lark grammar at import time. It only serves the "iri" string formats, which the
notebook schema never uses, so grading blocks the import and jsonschema skips those formats.
"""
import sys

sys.modules.setdefault("rfc3987_syntax", None)  # None in sys.modules: `import` raises ImportError

import pytest  # noqa: E402  (after the block above, on purpose)

if __name__ == "__main__":
    sys.exit(pytest.main())

"""Shared fixtures. `hub_mirror`: a real Hugging Face Hub (olah, offline, in its own network
namespace) serving the course's repos; see tests/support/hub_mirror.py. `tiny_tokenizer`: a
byte-level BPE tokenizer with SmolLM2's special tokens, trained here (support/tiny_tokenizer.py).

tests/ and the repository root are importable (pyproject.toml's pytest `pythonpath`), so tests
import `support.*` and `scripts.*`; a test file never imports another test file."""
import os

import pytest

from support.hub_mirror import OLAH_CLI, HubMirror, build_repos
from support.tiny_tokenizer import build_tiny_tokenizer


@pytest.fixture(scope="session")
def tiny_tokenizer():
    """`build_tiny_tokenizer()`: SmolLM2's specials at ids 0, 1, 2, ChatML's bos/eos roles."""
    return build_tiny_tokenizer()


@pytest.fixture(scope="session")
def hub_mirror(tmp_path_factory):
    """A started `HubMirror`: `.endpoint`, `.command(argv)` (run argv beside the mirror),
    `.env(base_env=None)` (HF_ENDPOINT set, fresh HF home, offline switches removed),
    `.namespace`. Serves the nano SmolLM2 base/instruct pair and smoltalk under their real ids."""
    if not OLAH_CLI.exists():
        why = (f"the Hub mirror's tool environment is missing ({OLAH_CLI}): run `make test`, "
               "which builds it (`make mirror-tools` alone builds just that)")
        if "CI" in os.environ:  # CI must never skip the online path silently
            pytest.fail(why)
        pytest.skip(why)
    root = tmp_path_factory.mktemp("hub-mirror")
    build_repos(root)
    with HubMirror(root) as mirror:
        yield mirror

"""The Hub decision: are the real SmolLM2 models and smoltalk reachable from this kernel?

Made once per kernel and used by every loader (models, SFT data), so a flaky network can never
pair a Hub tokenizer with a nano model, or the nano model with smoltalk. It honours what the
Hugging Face libraries honour:
- `HF_ENDPOINT`: a mirror such as hf-mirror.com; the probe asks that endpoint, not huggingface.co;
- the proxy variables (`HTTPS_PROXY`, `NO_PROXY`, ...): the probe goes through huggingface_hub's
  own HTTP client, which reads them as every download will;
- the offline variables of the course and of each library (`COURSE_OFFLINE`, `HF_HUB_OFFLINE`,
  `TRANSFORMERS_OFFLINE`, `HF_DATASETS_OFFLINE`): any one of them means the bundled nano pair.
`refresh=True` makes the decision again (after fixing the network, say); nothing else does.
"""
from __future__ import annotations

import os
import threading
import urllib.parse
import urllib.request
from dataclasses import dataclass

DEFAULT_ENDPOINT = "https://huggingface.co"
OFFLINE_VARIABLES = ("COURSE_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
# The repo the probe asks for: the one every lesson loads. A mirror that answers but lacks it
# is no use to the course, so it counts as unreachable (and says so).
PROBE_REPO = "HuggingFaceTB/SmolLM2-135M-Instruct"
PROBE_TIMEOUT_S = 3.0
_TRUTHY = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class HubDecision:
    """Whether the course loads from the Hub, from which endpoint, and why."""

    online: bool
    endpoint: str
    reason: str
    proxy: str | None = None

    @property
    def source(self) -> str:
        """Where downloads come from, as a learner reads it: 'the Hugging Face Hub' or the mirror."""
        if self.endpoint == DEFAULT_ENDPOINT:
            where = "the Hugging Face Hub"
        else:
            where = f"the Hub mirror {self.endpoint} (HF_ENDPOINT)"
        return where + (f" through the proxy {self.proxy}" if self.proxy else "")

    def summary(self) -> str:
        """One line for `runtime.describe()`."""
        if self.online:
            return f"reachable: the real SmolLM2-135M models come from {self.source}"
        return f"offline ({self.reason}): the bundled nano SmolLM2 pair is used"


def offline_variable() -> str | None:
    """The first offline variable that is set (to 1, true, yes or on), or None.

    huggingface_hub reads HF_HUB_OFFLINE once, when it is imported; what it read counts too,
    since its downloads follow that and not the variable's value now.
    """
    from huggingface_hub import constants

    for variable in OFFLINE_VARIABLES:
        if os.environ.get(variable, "").strip().lower() in _TRUTHY:
            return variable
    return "HF_HUB_OFFLINE" if constants.HF_HUB_OFFLINE else None


def endpoint() -> str:
    """The endpoint huggingface_hub downloads from: `HF_ENDPOINT`, read when it was imported."""
    from huggingface_hub import constants

    return constants.ENDPOINT.rstrip("/")


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for `url` (None when none, or when NO_PROXY exempts it)."""
    parts = urllib.parse.urlsplit(url)
    if urllib.request.proxy_bypass_environment(parts.hostname or ""):
        return None
    return urllib.request.getproxies_environment().get(parts.scheme)


def probe(url: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """None when `url` answers 200 within `timeout` seconds, else why not.

    The request runs in a daemon thread because name resolution ignores socket timeouts and
    can hang for tens of seconds on a machine without network; the caller has its answer
    after `timeout` at most either way.
    """
    outcome: list[str | None] = []

    def ask() -> None:
        from huggingface_hub.utils import get_session

        try:
            status = get_session().get(url, timeout=timeout, follow_redirects=True).status_code
            outcome.append(None if status == 200 else f"it answered HTTP {status} for {PROBE_REPO}")
        except Exception as error:  # any failure to connect means "not reachable", with its name
            outcome.append(f"{type(error).__name__}: {error}"[:160].rstrip(": "))

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"


def decide(timeout: float = PROBE_TIMEOUT_S) -> HubDecision:
    """Make the decision now (see `decision()` for the cached one)."""
    here = endpoint()
    forced = offline_variable()
    if forced:
        return HubDecision(False, here, f"{forced}=1 is set")
    url = f"{here}/api/models/{PROBE_REPO}/revision/main"
    proxy = proxy_for(url)
    failure = probe(url, timeout)
    if failure is None:
        return HubDecision(True, here, f"{here} answered", proxy)
    return HubDecision(False, here, f"{here} is unreachable: {failure}", proxy)


_decision: HubDecision | None = None
_lock = threading.Lock()


def decision(refresh: bool = False) -> HubDecision:
    """The kernel's one Hub decision: made on first use, then reused by every loader."""
    global _decision
    with _lock:
        if _decision is None or refresh:
            _decision = decide()
        return _decision


def decision_made() -> HubDecision | None:
    """The kernel's decision if a loader has made it already, else None (nothing is probed)."""
    return _decision

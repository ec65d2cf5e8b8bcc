"""hub: one decision per kernel, from the endpoint, proxies and offline variables a learner sets.

The "Hub" here is a tiny HTTP server on 127.0.0.1 that answers the probe: no test leaves the
machine. (tests/test_hub_mirror.py and the online notebook runs use a real mirror, olah.)
"""
import http.server
import os
import subprocess
import sys
import threading
import time

import pytest
from huggingface_hub import constants

from course_utils import hub, models

PROBE_PATH = f"/api/models/{hub.PROBE_REPO}/revision/main"


class FakeHub(http.server.BaseHTTPRequestHandler):
    """Answers 200 for the probe path (also when asked as a proxy, with an absolute URL)."""

    status_for_probe = 200
    seen: list = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        FakeHub.seen.append(self.path)
        status = self.status_for_probe if self.path.endswith(PROBE_PATH) else 404
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_hub():
    FakeHub.seen, FakeHub.status_for_probe = [], 200
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def no_offline_variables(monkeypatch):
    for variable in hub.OFFLINE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # as imported without the variable
    for variable in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
                     "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture(autouse=True)
def fresh_decision(monkeypatch):
    """Every test starts with no cached decision, and leaves none behind."""
    monkeypatch.setattr(hub, "_decision", None)


@pytest.mark.parametrize("variable", hub.OFFLINE_VARIABLES)
def test_each_offline_variable_forces_the_nano_pair_without_a_network_call(monkeypatch, no_offline_variables,
                                                                          variable):
    monkeypatch.setenv(variable, "1")
    monkeypatch.setattr(hub, "probe", lambda *a, **k: pytest.fail("no network call when offline is forced"))
    decision = hub.decision()
    assert not decision.online and decision.reason == f"{variable}=1 is set"
    assert decision.summary() == f"offline ({variable}=1 is set): the bundled nano SmolLM2 pair is used"


def test_hf_hub_offline_read_at_import_counts_too(monkeypatch, no_offline_variables):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert hub.decision().reason == "HF_HUB_OFFLINE=1 is set"


def test_the_probe_asks_the_endpoint_in_hf_endpoint(monkeypatch, no_offline_variables, fake_hub):
    server, url = fake_hub
    monkeypatch.setattr(constants, "ENDPOINT", url)
    decision = hub.decision()
    assert decision.online and decision.endpoint == url
    assert FakeHub.seen == [PROBE_PATH]
    assert decision.source == f"the Hub mirror {url} (HF_ENDPOINT)"
    assert models.resolve(models.INSTRUCT_ID) == (
        models.INSTRUCT_ID, f"Using {models.INSTRUCT_ID} from the Hub mirror {url} (HF_ENDPOINT).")


def test_a_mirror_without_the_course_model_counts_as_unreachable_and_says_why(monkeypatch, no_offline_variables,
                                                                             fake_hub):
    server, url = fake_hub
    FakeHub.status_for_probe = 404
    monkeypatch.setattr(constants, "ENDPOINT", url)
    decision = hub.decision()
    assert not decision.online
    assert decision.reason == f"{url} is unreachable: it answered HTTP 404 for {hub.PROBE_REPO}"
    source, line = models.resolve(models.INSTRUCT_ID)
    assert source.endswith("nano-smollm2-instruct") and f"Offline ({url} is unreachable" in line


def test_the_probe_goes_through_the_proxy_the_environment_names(monkeypatch, no_offline_variables, fake_hub):
    server, proxy = fake_hub
    # The endpoint's name does not resolve anywhere: only the proxy can answer for it.
    monkeypatch.setattr(constants, "ENDPOINT", "http://hub.invalid")
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setattr("huggingface_hub.utils._http._GLOBAL_CLIENT", None)  # a client that reads the env anew
    decision = hub.decision()
    assert decision.online, decision.reason
    assert FakeHub.seen == [f"http://hub.invalid{PROBE_PATH}"]
    assert decision.proxy == proxy and decision.source.endswith(f"through the proxy {proxy}")


def test_an_unreachable_endpoint_is_named_in_the_reason(monkeypatch, no_offline_variables):
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens on it here
    monkeypatch.setattr(constants, "ENDPOINT", closed)
    decision = hub.decision()
    assert not decision.online and decision.reason.startswith(f"{closed} is unreachable: ")


def test_the_probe_gives_up_within_its_timeout_when_the_network_hangs(monkeypatch, no_offline_variables):
    released = threading.Event()

    class HangingSession:
        def get(self, *args, **kwargs):
            released.wait(30)
            raise TimeoutError("timed out")  # how a hung connection ends, so the probe thread exits cleanly

    monkeypatch.setattr("huggingface_hub.utils.get_session", lambda: HangingSession())
    start = time.monotonic()
    try:
        decision = hub.decide(timeout=0.5)
        assert time.monotonic() - start < 2.0
        assert not decision.online and decision.reason.endswith("no answer within 0.5 s")
    finally:
        released.set()  # let the abandoned probe finish inside this test, not during a later one


def test_the_decision_is_made_once_per_kernel_until_refreshed(monkeypatch, no_offline_variables):
    calls = []
    monkeypatch.setattr(hub, "probe", lambda url, timeout=0: calls.append(url))  # None: reachable
    first = hub.decision()
    assert hub.decision() is first and hub.decision().online
    assert len(calls) == 1
    hub.decision(refresh=True)
    assert len(calls) == 2


def test_a_new_kernel_with_hf_endpoint_set_uses_that_mirror(fake_hub):
    """End to end, as a learner sets it: the variable in the environment before Python starts."""
    server, url = fake_hub
    env = {k: v for k, v in os.environ.items() if k not in hub.OFFLINE_VARIABLES}
    env["HF_ENDPOINT"] = url
    out = subprocess.run([sys.executable, "-c", "from course_utils import runtime; runtime.describe()"],
                         env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    assert f"hub        : reachable: the real SmolLM2-135M models come from the Hub mirror {url} (HF_ENDPOINT)" in out

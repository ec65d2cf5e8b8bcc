"""The Hub mirror the online lesson runs use (tests/support/hub_mirror.py) behaves like the Hub.

Every client call runs inside the mirror's network namespace (`hub_mirror.command`) with a fresh
HF home (`hub_mirror.env`); one script does all of them, so transformers and datasets load once.
"""
import json
import subprocess
import sys

import pytest

from support.hub_mirror import BASE_ID, INSTRUCT_ID, SMOLTALK_CONFIG, SMOLTALK_ID

# The lead's Hub probe uses REVISION_URL; egress is tried only inside the namespace, to a
# documentation address (TEST-NET-3) that must be unreachable, not merely slow.
CLIENT_SCRIPT = f"""
import errno, json, os, socket, sys, time, urllib.error, urllib.request
from transformers import AutoModelForCausalLM, AutoTokenizer
from datasets import load_dataset

endpoint, try_egress = os.environ["HF_ENDPOINT"], sys.argv[1] == "1"
opener = urllib.request.build_opener(urllib.request.ProxyHandler({{}}))

def status(path, method="GET"):
    try:
        with opener.open(urllib.request.Request(endpoint + path, method=method), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code

out = {{}}
out["base_template"] = AutoTokenizer.from_pretrained("{BASE_ID}").chat_template
out["instruct_template"] = AutoTokenizer.from_pretrained("{INSTRUCT_ID}").chat_template
out["model_class"] = type(AutoModelForCausalLM.from_pretrained("{INSTRUCT_ID}")).__name__
for split in ("train", "test"):
    rows = load_dataset("{SMOLTALK_ID}", "{SMOLTALK_CONFIG}", split=split)
    out[split] = {{"rows": len(rows), "columns": rows.column_names, "first": rows[0]}}
out["hub_cache"] = sorted(os.listdir(os.environ["HF_HUB_CACHE"]))
out["revision_main"] = status("/api/models/{INSTRUCT_ID}/revision/main")
out["repo_info"] = status("/api/models/{INSTRUCT_ID}")
out["missing_head"] = status("/{BASE_ID}/resolve/main/no-such-file.json", "HEAD")
if try_egress:
    sock, start = socket.socket(), time.monotonic()
    sock.settimeout(5)
    try:
        sock.connect(("203.0.113.1", 443))
        out["egress"] = "connected"
    except OSError as e:
        out["egress"] = errno.errorcode.get(e.errno, str(e))
    out["egress_s"] = time.monotonic() - start
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def client(hub_mirror):
    argv = hub_mirror.command([sys.executable, "-c", CLIENT_SCRIPT, "1" if hub_mirror.namespace else "0"])
    run = subprocess.run(argv, env=hub_mirror.env(), capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, f"{run.stderr[-3000:]}\n{hub_mirror.log_tail()}"
    return json.loads(run.stdout.split("RESULT ", 1)[1])


def test_base_tokenizer_has_no_chat_template(client):
    assert client["base_template"] is None


def test_instruct_has_smollm2_template_and_model_loads(client):
    from course_utils.sft.data import inference_template

    assert client["instruct_template"] == inference_template()
    assert client["model_class"] == "LlamaForCausalLM"


def test_files_came_through_the_mirror(client):
    assert {"models--HuggingFaceTB--SmolLM2-135M", "models--HuggingFaceTB--SmolLM2-135M-Instruct"} <= set(client["hub_cache"])


@pytest.mark.parametrize("split", ["train", "test"])
def test_smoltalk_splits(client, split):
    got = client[split]
    assert got["rows"] > 0 and got["columns"] == ["full_topic", "messages"]
    assert got["first"]["full_topic"] and {m["role"] for m in got["first"]["messages"]} >= {"user", "assistant"}


def test_api_answers_like_the_hub(client):
    assert client["revision_main"] == 200  # the URL the course's Hub probe asks
    assert client["repo_info"] == 200      # revision-less: needs the seeded meta_head.json
    assert client["missing_head"] == 404   # not 401: needs the seeded resolved_commit.json


def test_nothing_leaves_the_machine(hub_mirror, client):
    if not hub_mirror.namespace:
        pytest.skip("no private network namespace here (see the warning); egress not tried")
    assert client["egress"] == "ENETUNREACH" and client["egress_s"] < 1

"""A real Hugging Face Hub for the tests: olah 0.5.4 serving local git repos, offline, in a fresh
network namespace, so lessons run their true online code paths and nothing leaves the machine.

    build_repos(root)                        # git repos shaped like the real Hub repos
    with HubMirror(root) as mirror:          # olah on mirror.endpoint, inside `unshare -n`
        subprocess.run(mirror.command([python, "-c", code]), env=mirror.env(), check=True)

- olah serves `<mirrors-path>/{models|datasets}/<org>/<repo>` (git, branch `main`, plain blobs)
  through the Hub's API and resolve routes; `[accessibility] offline = true` and upstream netlocs
  on a closed loopback port mean it never tries huggingface.co.
- `unshare -n` gives olah a namespace holding only loopback; clients join it with `nsenter`, so a
  library that ignored HF_ENDPOINT would fail loudly instead of reaching the real Hub.
- olah and its ~50 server packages live in `.venv-mirror/` (`make mirror-tools`), not in `.venv`.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from course_utils.assets import data_path
from course_utils.hub import OFFLINE_VARIABLES
from course_utils.models import BASE_ID, INSTRUCT_ID, nano_path
from course_utils.sft.data import SMOLTALK

from .paths import ROOT

OLAH_CLI = ROOT / ".venv-mirror" / "bin" / "olah-cli"

# The ids the course loads, from where the course defines them, so the mirror serves what it asks for.
SMOLTALK_ID, SMOLTALK_CONFIG = SMOLTALK
# The real base repos carry no chat template; applied to extra_models with these ids too.
NO_TEMPLATE_IDS = {BASE_ID}

# Beside models/ and datasets/ under root; olah only looks for repos under those two (and spaces/).
CACHE_DIR = "olah-cache"  # olah's repos-path, seeded by build_repos
RUN_DIR = "olah-run"      # config, log, and the fresh HF homes handed out by HubMirror.env

# Cache locations that would otherwise override the fresh HF_HOME; proxies, which nothing in the
# namespace can reach (and the mirror needs none).
DROPPED_VARS = ("HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE", "HF_XET_CACHE", "HF_ASSETS_CACHE",
                "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")

# A fixed author and date make every commit sha the same from run to run; no global or system
# git config, so no LFS filter, hook or signing setting of this machine can change the blobs.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Course tests", "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_NAME": "Course tests", "GIT_COMMITTER_EMAIL": "tests@example.invalid",
    "GIT_AUTHOR_DATE": "2024-11-01T00:00:00+00:00", "GIT_COMMITTER_DATE": "2024-11-01T00:00:00+00:00",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}
LAST_MODIFIED = "2024-11-01T00:00:00.000Z"  # the same instant, in the Hub's format

SMOLTALK_README = f"""---
license: apache-2.0
language:
- en
configs:
- config_name: {SMOLTALK_CONFIG}
  data_files:
  - split: train
    path: data/{SMOLTALK_CONFIG}/train-*
  - split: test
    path: data/{SMOLTALK_CONFIG}/test-*
---
# SmolTalk (course test mirror)

The `{SMOLTALK_CONFIG}` config rebuilt from the course's nano conversations, laid out like
`{SMOLTALK_ID}` on the Hub.
"""


def build_repos(root: Path, extra_models: Mapping[str, Path] = {}) -> dict[str, str]:
    """Lay out the mirror's git repos under `root` and seed olah's cache for them.

    Repos: the nano SmolLM2 pair under the real ids (base without a chat template, instruct
    without `additional_chat_templates/`), smoltalk's everyday-conversations, and `extra_models`
    (repo id -> folder, copied as is; an id of a built-in repo replaces it). Returns
    {"models/<org>/<repo>": commit sha, ...}.
    """
    root = Path(root)
    models = {BASE_ID: nano_path(BASE_ID), INSTRUCT_ID: nano_path(INSTRUCT_ID), **extra_models}
    shas = {}
    for repo_id, src in models.items():
        dest = root / "models" / repo_id
        # No real SmolLM2 repo has additional_chat_templates/ (the nano instruct does).
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns(
            ".git", "__pycache__", ".ipynb_checkpoints", "additional_chat_templates"))
        if repo_id in NO_TEMPLATE_IDS:
            _drop_chat_template(dest)
        shas[f"models/{repo_id}"] = _commit(dest)
    dest = root / "datasets" / SMOLTALK_ID
    _write_smoltalk(dest)
    shas[f"datasets/{SMOLTALK_ID}"] = _commit(dest)
    for key, sha in shas.items():
        _seed_olah_cache(root / CACHE_DIR, key, sha)
    return shas


def _drop_chat_template(repo: Path) -> None:
    (repo / "chat_template.jinja").unlink(missing_ok=True)
    config_path = repo / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.pop("chat_template", None) is not None:
        config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _commit(repo: Path) -> str:
    """One commit of everything in `repo` on branch main; returns its sha."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], env={**os.environ, **GIT_ENV},
                              check=True, capture_output=True, text=True).stdout.strip()
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", f"Add {repo.parent.name}/{repo.name}")
    return git("rev-parse", "HEAD")


def _seed_olah_cache(cache: Path, key: str, sha: str) -> None:
    """What offline olah 0.5.4 needs to resolve `main` itself (checked against its source,
    olah/utils/repo_utils.py). Its local-mirror code answers only for files and revisions that
    exist in git; anything else falls back to the cache, and without these files:
    - revision-less `/api/<type>/<repo>`: get_newest_commit_hf_offline globs
      `revision/*/meta_head.json` for {"sha", "lastModified"} (ISO date) -> else 401;
    - a missing file (HEAD/GET resolve/main/<path>): get_commit_hf_offline reads
      `revision/main/resolved_commit.json` (an envelope {"status_code", "headers"}) with the sha in
      its `.body` sidecar -> else 401 "repo not found" where the Hub says 404 "entry not found".
    """
    revision = cache / "api" / key / "revision" / "main"
    revision.mkdir(parents=True)
    # Plain JSON, and no meta_head.json.body: a sidecar would make olah read it as an envelope.
    (revision / "meta_head.json").write_text(json.dumps({"sha": sha, "lastModified": LAST_MODIFIED}))
    (revision / "resolved_commit.json").write_text(json.dumps({"status_code": 200, "headers": {}}))
    (revision / "resolved_commit.json.body").write_text(sha)


def _write_smoltalk(dest: Path) -> None:
    """smoltalk's layout and columns: full_topic (string), messages (list of {content, role}).

    train: the nano training conversations. test: a distinct set, 10 held-out questions per kind
    (the nano world's held-out forms, never in training) each with a short answer.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    def read(name: str) -> list[dict]:
        lines = data_path(name).read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    train = [r["messages"] for r in read("conversations.jsonl")]
    replies = {"capital": "The capital is {}.", "colour": "It is {}.", "sum": "The answer is {}."}
    per_kind: dict[str, int] = {}
    test = []
    for row in read("heldout_questions.jsonl"):
        if per_kind.setdefault(row["kind"], 0) < 10:
            per_kind[row["kind"]] += 1
            test.append([{"role": "user", "content": row["question"]},
                         {"role": "assistant", "content": replies[row["kind"]].format(row["answer"])}])

    schema = pa.schema([("full_topic", pa.string()), ("messages", pa.list_(
        pa.struct([("content", pa.string()), ("role", pa.string())])))])
    data = dest / "data" / SMOLTALK_CONFIG
    data.mkdir(parents=True)
    for split, conversations in (("train", train), ("test", test)):
        rows = [{"full_topic": _topic(c), "messages": [{"content": m["content"], "role": m["role"]}
                                                       for m in c]} for c in conversations]
        pq.write_table(pa.Table.from_pylist(rows, schema=schema),
                       data / f"{split}-00000-of-00001.parquet")
    (dest / "README.md").write_text(SMOLTALK_README, encoding="utf-8")


def _topic(messages: Sequence[Mapping[str, str]]) -> str:
    """A smoltalk-like `full_topic`, guessed from the first user turn."""
    text = next((m["content"] for m in messages if m["role"] == "user"), "").lower()
    if "capital" in text:
        return "Geography/World capitals"
    if "colour" in text or "color" in text:
        return "Everyday knowledge/Colours of things"
    if any(ch.isdigit() for ch in text):
        return "Mathematics/Mental arithmetic/Addition"
    return "Social interactions/Greetings and small talk"


# One readiness attempt (about a second), run where the clients run (inside the namespace): any
# HTTP answer means olah is serving. No proxy, whatever the environment says. READY_PATH matches
# no olah route, so it answers a plain 404 (olah 0.5.4's "/" page raises a 500 with a traceback).
READY_PATH = "/olah-ready"
_PROBE = """
import sys, time, urllib.error, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
end = time.monotonic() + 1
while True:
    try:
        opener.open(sys.argv[1], timeout=1).close()
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)
    except OSError:
        if time.monotonic() > end:
            sys.exit(1)
        time.sleep(0.05)
"""


def namespace_problem() -> str | None:
    """Why a private network namespace cannot be made here, or None when it can."""
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    try:
        probe = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`unshare -n` could not run: {exc}"
    if probe.returncode != 0:
        return f"`unshare -n` failed (needs CAP_SYS_ADMIN): {probe.stderr.strip() or probe.returncode}"
    return None


class HubMirror:
    """olah serving the repos `build_repos` laid out under `root`, as a context manager.

    Attributes once entered: `endpoint` ("http://127.0.0.1:<port>"), `namespace` (True inside
    `unshare -n`; False in the fallback, same namespace, free loopback port), `pid`, `log_path`.
    The endpoint is reachable only through `command()` in namespace mode.
    """

    def __init__(self, root: Path, *, start_timeout: float = 20.0) -> None:
        self.root = Path(root)
        self.start_timeout = start_timeout
        self.run_dir = self.root / RUN_DIR
        self.log_path = self.run_dir / "olah.log"
        self.namespace = False
        self.endpoint = ""
        self.pid = 0
        self._proc: subprocess.Popen | None = None

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` made to run in the mirror's network namespace (unchanged in the fallback)."""
        argv = [str(a) for a in argv]
        return ["nsenter", "-t", str(self.pid), "-n", "--", *argv] if self.namespace else argv

    def env(self, base_env: Mapping[str, str] | None = None) -> dict[str, str]:
        """`base_env` (default os.environ) pointed at the mirror: HF_ENDPOINT, a new empty HF home
        per call (nothing from an earlier cache), and no offline switch."""
        env = dict(os.environ if base_env is None else base_env)
        for var in (*OFFLINE_VARIABLES, *DROPPED_VARS):
            env.pop(var, None)
        home = Path(tempfile.mkdtemp(prefix="hf-home-", dir=self.run_dir))
        env.update(HF_ENDPOINT=self.endpoint, HF_HOME=str(home), HF_HUB_CACHE=str(home / "hub"),
                   HF_DATASETS_CACHE=str(home / "datasets"), HF_HUB_DISABLE_TELEMETRY="1")
        return env

    def __enter__(self) -> "HubMirror":
        if not OLAH_CLI.exists():
            raise FileNotFoundError(f"{OLAH_CLI} is missing: run `make mirror-tools` (or `make test`)")
        problem = namespace_problem()
        self.namespace = problem is None
        if problem:
            warnings.warn(f"Hub mirror: no private network namespace ({problem}); olah runs in this "
                          "namespace on 127.0.0.1 only, and clients are not cut off from the network.",
                          stacklevel=2)
        # A fresh namespace has every port free; here, ask the kernel for one (bound to loopback).
        port = 8090 if self.namespace else _free_loopback_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config = self.run_dir / "olah.toml"
        config.write_text(_olah_config(self.root, self.root / CACHE_DIR, port))
        argv = [str(OLAH_CLI), "-c", str(config), "--log-path", str(self.run_dir / "logs")]
        if self.namespace:
            # unshare and sh both exec, so the pid we get is olah's, living in the new namespace.
            argv = ["unshare", "-n", "--", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', *argv]
        with open(self.log_path, "ab") as log:  # a file, never a pipe nobody reads
            self._proc = subprocess.Popen(argv, cwd=self.run_dir, stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=subprocess.STDOUT,
                                          env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                          start_new_session=True)  # its own group, killed as one
        self.pid = self._proc.pid
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"olah exited with {self._proc.returncode} before serving.\n"
                                   f"{self.log_tail()}")
            probe = subprocess.run(self.command([sys.executable, "-c", _PROBE, self.endpoint + READY_PATH]),
                                   capture_output=True, timeout=30)
            if probe.returncode == 0:
                return
        raise TimeoutError(f"olah did not answer on {self.endpoint} within {self.start_timeout:.0f} s.\n"
                           f"{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        except OSError:
            return f"(no log at {self.log_path})"
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(text)

    def stop(self) -> None:
        """Terminate olah's whole process group (SIGTERM, then SIGKILL after 5 s)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, None)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue


def _free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _olah_config(mirrors: Path, cache: Path, port: int) -> str:
    # JSON strings are valid TOML basic strings. Upstream is a closed loopback port: offline mode
    # should never call it, and if it did, the call fails at once on this machine.
    quote = json.dumps
    return f"""[basic]
host = "127.0.0.1"
port = {port}
repos-path = {quote(str(cache))}
mirrors-path = [{quote(str(mirrors))}]
hf-scheme = "http"
hf-netloc = "127.0.0.1:1"
hf-lfs-netloc = "127.0.0.1:1"
mirror-scheme = "http"
mirror-netloc = "127.0.0.1:{port}"
mirror-lfs-netloc = "127.0.0.1:{port}"

[accessibility]
offline = true
"""

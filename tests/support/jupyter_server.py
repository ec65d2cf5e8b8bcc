"""Waiting for, and stopping, a JupyterLab server the tests started (the browser tests, `make lab`'s
test). Start it with `start_new_session=True`, so that it and whatever started it form one group."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path


def wait_for_server(runtime_dir: Path, proc: subprocess.Popen, log: Path, token: str,
                    timeout_s: float = 60) -> str:
    """The server's base URL, once its /api/status answers (it writes its port to the runtime dir).

    Raises RuntimeError with the end of `log` when the server exits or does not answer in time.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        for info_file in runtime_dir.glob("jpserver-*.json"):
            try:
                info = json.loads(info_file.read_text())
                url = f"http://127.0.0.1:{info['port']}"
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        return url
            except (OSError, ValueError, KeyError):
                pass  # file half-written or server not answering yet
        time.sleep(0.3)
    raise RuntimeError(f"jupyter lab did not answer within {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


def stop_server(proc: subprocess.Popen, timeout_s: float = 20) -> None:
    """SIGTERM to the server's process group (the server shuts its kernels down), then SIGKILL of
    the group if it has not exited within `timeout_s`."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

"""Every lesson and solution runs online: the path Colab and laptop learners take.

The Hub here is olah serving the course's repos under their real ids (the nano pair laid out as
the real SmolLM2 repos are, and a smoltalk-shaped dataset), in a network namespace of its own
(see tests/support/hub_mirror.py). Each notebook runs from a fresh kernel in that namespace
with HF_ENDPOINT at the mirror and an empty Hugging Face cache, so every model, tokenizer and
dataset is downloaded from it. A notebook passes when every cell runs, every load it
announces came from the mirror, and the kernel's one Hub decision (which silent loads follow
too) was made by the notebook and is "reachable": a fallback to the bundled files fails here.
"""
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from scripts.offline import RUN_CONDITIONS
from support import paths

NOTEBOOKS = sorted(paths.NOTEBOOKS.glob("*.ipynb")) + sorted(paths.SOLUTIONS.glob("*.ipynb"))
RUNNER = ["-m", "tests.support.execute_notebook"]  # run from ROOT
# What the loaders print (models.load_*, sft.load_sft_data) and what runtime.describe() prints.
LOAD_LINE = re.compile(r"^\[(model|tokenizer|data)\] (.*)$", re.M)
HUB_LINE = re.compile(r"^\[hub decision\].*$", re.M)
FALLBACK = re.compile(r"Offline \(|bundled nano|offline \(")


def printed(nb) -> str:
    """Everything the notebook's cells printed or displayed as text.

    A cell's stream outputs are joined as they were written: a busy kernel may flush one
    print() in several chunks, and a line split across two outputs must still match whole."""
    texts = []
    for cell in nb.cells:
        streamed = {"stdout": "", "stderr": ""}
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                streamed[output.get("name", "stdout")] += output.get("text", "")
                continue
            texts.append(output.get("data", {}).get("text/plain", ""))
            texts.extend(output.get("traceback", []))
        texts.extend(streamed.values())
    return "\n".join(texts)


def run_online(mirror, notebook: Path, out: Path) -> tuple[subprocess.CompletedProcess, str]:
    # The conditions of the offline run (scripts/offline.py) less its offline switches, which
    # mirror.env() removes with every other name course_utils.hub honours.
    env = {**mirror.env(), **RUN_CONDITIONS}
    result = subprocess.run(mirror.command([sys.executable, *RUNNER, notebook, out]), env=env, cwd=paths.ROOT,
                            capture_output=True, text=True, timeout=1800)
    return result, printed(nbformat.read(out, as_version=4)) if out.exists() else ""


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[f"{p.parent.name}/{p.stem}" for p in NOTEBOOKS])
def test_notebook_runs_online_from_the_hub_mirror(hub_mirror, notebook, tmp_path):
    result, text = run_online(hub_mirror, notebook, tmp_path / notebook.name)
    assert result.returncode == 0, f"{notebook.name} failed online:\n{result.stderr[-4000:]}"
    source = f"from the Hub mirror {hub_mirror.endpoint} (HF_ENDPOINT)"
    loads = LOAD_LINE.findall(text)
    not_from_mirror = [f"[{kind}] {line}" for kind, line in loads if source not in line]
    assert not not_from_mirror, f"{notebook.name}: loads that did not come from the mirror: {not_from_mirror}"
    # The checks load their models silently; the kernel's one decision covers those loads too.
    # (A notebook that loads nothing, such as the template exercises, never needs to make it.)
    report = HUB_LINE.search(text)
    assert report, f"{notebook.name}: the Hub report cell printed nothing"
    assert report.group(0).endswith(f"reachable: the real SmolLM2-135M models come {source}"), report.group(0)
    assert not (loads and "never made" in report.group(0)), report.group(0)
    fallback = FALLBACK.search(text)
    assert not fallback, f"{notebook.name} fell back to the bundled files: ...{text[max(0, fallback.start() - 200):fallback.end() + 200]}"

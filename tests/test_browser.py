"""The course as learners meet it: JupyterLab in a real browser (issue 8, item 1).

A JupyterLab server runs on 127.0.0.1 with its own config, runtime, settings and workspace
folders (nothing from the machine's ~/.jupyter), a random token and a random port, serving a
temporary copy of notebooks/ and exercises/ so that running cells never changes the repository.
Debian's chromium, driven by playwright-core (tests/browser/lab_driver.mjs), then:
  - opens 00_start_here, runs all cells from the Run menu, and finds every code cell executed
    with no error output;
  - does the same for a lesson;
  - opens a notebook that shows the template playground, types a template and a conversation
    with the keyboard, and finds the kernel's highlighted rendering of what was typed;
  - opens each exercise notebook as a learner gets it, runs all cells, and finds every cell run
    without error and each exercise's check saying, in one line, that it is not attempted yet
    (issue 18, item 1);
  - answers an exercise of lesson 03 wrong, then right, as a learner would (paste into the
    answer cell, Shift+Enter twice), and finds the check's one-line feedback, then its pass
    line (issue 18, item 8).
Screenshots land in test-output/browser/. `COURSE_UPDATE_SCREENSHOTS=1` also copies the
README's pictures to docs/img/: playground.png, and feedback-wrong.png / feedback-right.png (the
exercise's cells after the wrong and after the right answer). A plain test run leaves the
repository's files alone.

Setup: tests/browser/install.sh (Debian chromium, then `npm ci`). Without them the tests are
skipped on a laptop, and fail under CI (CI set), where .ci/run has installed them.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import secrets
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils.grading.cells import (BEGIN, END, course_meta, exercise_ids, replace_solution,
                                        role_of, source_of)
from scripts.offline import offline_env
from support.jupyter_server import stop_server, wait_for_server
from support.paths import EXERCISES, NOTEBOOKS, ROOT, SOLUTIONS

BROWSER_DIR = ROOT / "tests" / "browser"
DRIVER = BROWSER_DIR / "lab_driver.mjs"
OUTPUT_DIR = ROOT / "test-output" / "browser"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
NODE = shutil.which("node")
# A ceiling per wait, not the expected time: generous for 00_start_here importing torch on 2
# busy cores, and a hung scenario still fails instead of stalling make test.
SCENARIO_TIMEOUT_S = 100
LESSON_PREFERRED = "01_messages_and_special_tokens"
EXERCISE_NOTEBOOKS = sorted(p.stem for p in EXERCISES.glob("[0-9][0-9]_*.ipynb"))
# The exercise answered wrong then right, and where its solution (and known mistakes) live.
ANSWERED_NOTEBOOK = "03_writing_chat_templates"
ANSWERED_EXERCISE = "03.chatml"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _missing_prerequisites() -> list[str]:
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (Debian package chromium)")
    if NODE is None:
        missing.append("node")
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        missing.append("tests/browser/node_modules (npm ci)")
    return missing


@pytest.fixture(scope="module", autouse=True)
def browser_prerequisites():
    missing = _missing_prerequisites()
    if missing:
        message = f"browser tests need {', '.join(missing)}: run tests/browser/install.sh"
        if _in_ci():
            # In CI a missing browser is a broken setup, not a reason to test less.
            pytest.fail(message)
        pytest.skip(message)


PLAYGROUND_NOTEBOOK_SOURCE = "from course_utils.widgets import playground\n\nplayground()"


def _write_playground_notebook(folder: Path) -> Path:
    folder.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "## The template playground\nType a template and a conversation; the rendering "
            "below updates as you type, special tokens highlighted."),
        nbformat.v4.new_code_cell(PLAYGROUND_NOTEBOOK_SOURCE),
    ]
    path = folder / "playground.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory, browser_prerequisites):
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    for folder in (NOTEBOOKS, EXERCISES):
        shutil.copytree(folder, root / folder.name,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    _write_playground_notebook(root / "playground")
    dirs = {name: base / name for name in ("config", "runtime", "data", "settings", "workspaces")}
    for d in dirs.values():
        d.mkdir()
    # JupyterLab 4 asks "Would you like to get notified about official Jupyter news?" in a
    # toast that would sit on top of every screenshot.
    news = dirs["settings"] / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')

    token = secrets.token_hex(16)
    venv_bin = str(Path(sys.executable).parent)
    # Kernels inherit the offline conditions: every notebook runs on the bundled nano models, as in make test.
    env = {
        **offline_env(),
        # The kernel is this interpreter's (the course venv), whatever else is on PATH.
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_PREFER_ENV_PATH": "1",
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
    }
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", "--ServerApp.port=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        # window.jupyterapp: the driver reads kernel status and cell outputs from the app.
        "--LabApp.expose_app_in_browser=True",
        # Nothing reaches out to the internet: no news feed, update check or PyPI listing.
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI containers run as root
    log = base / "lab.log"
    with open(log, "w") as log_file:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        url = wait_for_server(dirs["runtime"], proc, log, token)
        yield {"url": url, "token": token, "root": root, "log": log}
    finally:
        stop_server(proc)
        # The server log beside the screenshots: the first place to look when a run fails.
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copy(log, OUTPUT_DIR / "jupyterlab.log")


def lesson_to_open(root: Path) -> Path | None:
    preferred = root / "notebooks" / f"{LESSON_PREFERRED}.ipynb"
    lessons = sorted((root / "notebooks").glob("0[1-6]_*.ipynb"))
    return preferred if preferred.exists() else (lessons[0] if lessons else None)


def exercise_scenario(notebook: str) -> str:
    return f"exercise-{notebook}"


def _changed_lines(a: str, b: str) -> int:
    return sum(1 for line in difflib.ndiff(a.splitlines(), b.splitlines()) if line[:1] in "+-")


def answer_attempts(notebook: str = ANSWERED_NOTEBOOK, exercise: str = ANSWERED_EXERCISE) -> dict:
    """What the learner puts in the exercise's answer cell: a known mistake, then the solution.

    Both from the solutions notebook's answer cell: the solution is its source without the
    BEGIN/END SOLUTION marker lines; the mistake is the known-wrong answer closest to it (fewest
    lines changed: for 03.chatml, one newline too many), put where the solution was, so the
    cell keeps its instructions as a learner's would.
    """
    nb = nbformat.read(SOLUTIONS / f"{notebook}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if role_of(c) == ("answer", exercise))
    source = source_of(cell)
    right = "\n".join(line for line in source.split("\n") if line.strip() not in (BEGIN, END))

    def lines_from_solution(known: dict) -> int:
        return _changed_lines(replace_solution(source, known["source"]), right)

    mistake = min(course_meta(cell)["known_wrong"], key=lines_from_solution)
    return {"exercise": exercise, "wrong": replace_solution(source, mistake["source"]),
            "right": right, "expect": mistake["expect"], "why": mistake["why"]}


@pytest.fixture(scope="module")
def browser_run(lab, request):
    """Run the selected tests' scenarios in one browser session; {name: result} from its JSON files.

    One chromium and one JupyterLab page for all of them: loading JupyterLab again for each
    notebook cost ~10 s a time on 2 busy cores. Only scenarios whose test is selected run
    (so `-k playground` does not run the lessons).
    """
    items = [item for item in request.session.items if Path(str(item.path)) == Path(__file__)]
    selected = {item.originalname for item in items}
    scenarios = []
    if "test_start_here_runs_all_cells_without_error" in selected:
        if (lab["root"] / "notebooks" / "00_start_here.ipynb").exists():
            scenarios.append("run-all:notebooks/00_start_here.ipynb:00_start_here")
    lesson = lesson_to_open(lab["root"])
    if "test_a_lesson_runs_all_cells_without_error" in selected and lesson:
        scenarios.append(f"run-all:{lesson.relative_to(lab['root']).as_posix()}:{lesson.stem}")
    if "test_playground_renders_what_is_typed_with_highlighted_special_tokens" in selected:
        scenarios.append("playground:playground/playground.ipynb:playground")
    for item in items:
        if item.originalname == "test_exercise_notebook_runs_all_cells_and_says_not_attempted_yet":
            notebook = item.callspec.params["notebook"]
            scenarios.append(f"run-all:exercises/{notebook}.ipynb:{exercise_scenario(notebook)}")
    answers = lab["root"].parent / "answers.json"
    if "test_a_wrong_answer_gets_its_feedback_then_the_solution_passes" in selected:
        answers.write_text(json.dumps(answer_attempts()))
        scenarios.append(f"answer:exercises/{ANSWERED_NOTEBOOK}.ipynb:feedback")

    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    for name in [s.rsplit(":", 1)[1] for s in scenarios]:
        for suffix in (".png", "-failed.png", ".json", "-wrong.png", "-right.png"):
            (OUTPUT_DIR / f"{name}{suffix}").unlink(missing_ok=True)
    cmd = [NODE, str(DRIVER), "--url", lab["url"], "--token", lab["token"],
           "--out", str(OUTPUT_DIR), "--timeout", str(SCENARIO_TIMEOUT_S),
           "--answers", str(answers), *scenarios]
    proc = subprocess.run(cmd, cwd=BROWSER_DIR, capture_output=True, text=True,
                          timeout=SCENARIO_TIMEOUT_S * len(scenarios) + 60)
    return {"log": proc.stdout[-3000:] + proc.stderr[-3000:], "returncode": proc.returncode}


def scenario_result(browser_run, name: str) -> dict:
    path = OUTPUT_DIR / f"{name}.json"
    if not path.exists():
        pytest.fail(f"the browser driver wrote no result for {name} "
                    f"(exit {browser_run['returncode']}):\n{browser_run['log']}")
    result = json.loads(path.read_text())
    assert "driver_error" not in result, (
        f"{name}: {result['driver_error']}\n(screenshot: {OUTPUT_DIR / (name + '-failed.png')})")
    assert (OUTPUT_DIR / f"{name}.png").exists(), f"no screenshot {name}.png"
    return result


def assert_ran_cleanly(result: dict, notebook: str):
    cells = result["code_cells"]
    assert cells, f"{notebook}: no code cells"
    errors = [f"cell {c['index']} ({c['source_head']!r}): {o['ename']}: {o['evalue']}"
              for c in cells for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{notebook}: error output\n" + "\n".join(errors)
    not_run = [c["index"] for c in cells if c["execution_count"] is None]
    assert not not_run, f"{notebook}: cells {not_run} never ran"
    assert result["busy_phases"] >= 1 and result["last_status"] == "idle"
    assert "| Idle" in result["status_bar"], result["status_bar"]
    assert not result["page_errors"], f"{notebook}: JavaScript errors: {result['page_errors']}"


def stream_text(cell: dict) -> str:
    return "".join(o["text"] for o in cell["outputs"] if o["output_type"] == "stream")


def update_readme_screenshot(name: str):
    """With COURSE_UPDATE_SCREENSHOTS=1, copy test-output/browser/NAME to docs/img/NAME."""
    if os.environ.get("COURSE_UPDATE_SCREENSHOTS") == "1":
        img = ROOT / "docs" / "img"
        img.mkdir(parents=True, exist_ok=True)
        shutil.copy(OUTPUT_DIR / name, img / name)


def test_start_here_runs_all_cells_without_error(lab, browser_run):
    notebook = "notebooks/00_start_here.ipynb"
    assert (lab["root"] / notebook).exists(), "notebooks/00_start_here.ipynb is missing"
    assert_ran_cleanly(scenario_result(browser_run, "00_start_here"), notebook)


def test_a_lesson_runs_all_cells_without_error(lab, browser_run):
    lesson = lesson_to_open(lab["root"])
    assert lesson, "no lesson notebook (01..06) in notebooks/"
    assert_ran_cleanly(scenario_result(browser_run, lesson.stem), lesson.name)


def test_playground_renders_what_is_typed_with_highlighted_special_tokens(browser_run):
    result = scenario_result(browser_run, "playground")
    assert_ran_cleanly(result, "playground.ipynb")
    word = result["word"]
    # The kernel heard the typing: it went busy after the keys were pressed ...
    assert result["busy_phases"] >= 1, "typing in the playground never reached the kernel"
    # ... and what it sent back is a rendering of the typed template and message.
    assert result["template_value"].startswith("{% for m in messages %}<|im_start|>")
    assert word not in result["output_before"]
    assert word in result["output_after"], (
        f"the output never showed the typed message:\n{result['output_after'][:1000]}")
    highlighted = {t["text"] for t in result["highlighted_tokens"] if t["distinct"]}
    assert {"<|im_start|>", "<|im_end|>"} <= highlighted, (
        f"special tokens are not highlighted: {result['highlighted_tokens']}")
    update_readme_screenshot("playground.png")


@pytest.mark.parametrize("notebook", EXERCISE_NOTEBOOKS)
def test_exercise_notebook_runs_all_cells_and_says_not_attempted_yet(lab, browser_run, notebook):
    path = f"exercises/{notebook}.ipynb"
    result = scenario_result(browser_run, exercise_scenario(notebook))
    assert_ran_cleanly(result, path)
    # Every exercise the notebook holds has its check cell, found by metadata as the grader does.
    expected = exercise_ids(nbformat.read(lab["root"] / path, as_version=4))
    checks = {c["course"]["id"]: c for c in result["code_cells"]
              if (c["course"] or {}).get("role") == "check"}
    assert expected and list(checks) == expected, (
        f"{path}: check cells {list(checks)}, exercises {expected}")
    for exercise_id, cell in checks.items():
        # One line, nothing else: an unattempted exercise is not an error.
        lines = stream_text(cell).splitlines()
        other = [o["output_type"] for o in cell["outputs"] if o["output_type"] != "stream"]
        assert len(lines) == 1 and lines[0].startswith(f"❌ {exercise_id}: not attempted yet") \
            and not other, f"{path}, check of {exercise_id} showed {lines} and outputs {other}"


def test_a_wrong_answer_gets_its_feedback_then_the_solution_passes(browser_run):
    attempts = answer_attempts()
    exercise = attempts["exercise"]
    result = scenario_result(browser_run, "feedback")
    wrong, right = result["wrong"], result["right"]

    # The paste put exactly the meant text in the cell, and the cell ran without error.
    for attempt, seen in (("wrong", wrong), ("right", right)):
        assert seen["answer_source"] == attempts[attempt], (
            f"the {attempt} answer was not pasted as is")
        assert not [o for o in seen["answer_cell"]["outputs"] if o["output_type"] == "error"]

    # Wrong (a known mistake): the check's one line names the exercise and the difference.
    errors = [o for o in wrong["check_cell"]["outputs"] if o["output_type"] == "error"]
    assert [o["ename"] for o in errors] == ["CheckFailed"], wrong["check_cell"]["outputs"]
    assert errors[0]["evalue"].startswith(f"{exercise}: ")
    assert attempts["expect"] in errors[0]["evalue"], (
        f"the feedback for {attempts['why']!r} does not say {attempts['expect']!r}: "
        f"{errors[0]['evalue']}")

    # Right (the solution): the check passes, and says so in one line.
    assert [o["output_type"] for o in right["check_cell"]["outputs"]] == ["stream"]
    assert stream_text(right["check_cell"]) == f"✅ {exercise} passed\n"

    for attempt in ("wrong", "right"):
        shot = f"feedback-{attempt}.png"
        assert (OUTPUT_DIR / shot).exists(), f"no screenshot {shot}"
        update_readme_screenshot(shot)

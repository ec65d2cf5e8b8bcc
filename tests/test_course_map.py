"""The README's course map is generated, current and true (issue 8, item 3).

The table between the course-map markers must be exactly what scripts/lesson_times.py
writes from docs/course_map.json and docs/lesson_times.json; every lesson notebook must have a
run time measured on its current code; and the exercise ids listed must be the ones
course_utils/checks registers. When one of these fails, the fix is
`python -m scripts.lesson_times` (`make timings`), not editing README.md.
"""

from __future__ import annotations

import importlib
import json
import re

import pytest

from scripts import lesson_times
from support import paths
from support.paths import ROOT

README = ROOT / "README.md"
START, END = "<!-- course-map:start -->", "<!-- course-map:end -->"
FIX = "run: python -m scripts.lesson_times (make timings)"

LESSONS = lesson_times.load_course_map()
TIMES = lesson_times.load_times()
NOTEBOOKS = sorted(paths.NOTEBOOKS.glob("*.ipynb"))


def readme_block() -> str:
    text = README.read_text(encoding="utf-8")
    assert START in text and END in text, f"README.md lost its {START} / {END} markers"
    return text.split(START, 1)[1].split(END, 1)[0].strip("\n")


# --- docs/course_map.json ----------------------------------------------------------------

def test_course_map_follows_the_notebook_names_of_the_architecture():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    names_paragraph = text[text.index("Names (same stem"):].split("\n\n", 1)[0]
    names = re.findall(r"`(\d\d_[a-z0-9_]+)`", names_paragraph)
    assert names, "docs/ARCHITECTURE.md no longer lists the notebook names"
    assert [lesson["stem"] for lesson in LESSONS] == names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_is_on_the_course_map(path):
    assert path.stem in {lesson["stem"] for lesson in LESSONS}, (
        f"{path.name} is not in docs/course_map.json, so the README would not list it")


def test_exercise_ids_are_well_formed_and_belong_to_their_lesson():
    seen = set()
    for lesson in LESSONS:
        number = lesson["stem"][:2]
        for ex in lesson["exercises"]:
            assert re.fullmatch(rf"{number}\.[a-z0-9_]+", ex["id"]), (lesson["stem"], ex["id"])
            assert ex["tier"] in ("🐢", "🐕", "🦁"), ex
            assert ex["id"] not in seen, f"{ex['id']} listed twice"
            seen.add(ex["id"])


def test_each_exercises_tier_is_the_one_its_points_give():
    from course_utils.grading.manifest import load_manifest

    points = {e.id: e.points for exercises in load_manifest().lessons.values() for e in exercises}
    tiers = {1: "🐢", 2: "🐕", 3: "🦁"}
    wrong = [(ex["id"], ex["tier"], points.get(ex["id"])) for lesson in LESSONS for ex in lesson["exercises"]
             if ex["id"] in points and tiers.get(points[ex["id"]]) != ex["tier"]]
    assert not wrong, f"(id, tier, points) whose tier is not 🐢 1, 🐕 2, 🦁 3: {wrong}"


@pytest.mark.parametrize("lesson", [lesson for lesson in LESSONS if lesson["exercises"]],
                         ids=lambda lesson: lesson["stem"])
def test_listed_exercises_are_the_registered_checks(lesson):
    number = lesson["stem"][:2]
    module = ROOT / "course_utils" / "checks" / f"lesson{number}.py"
    if not module.exists():
        pytest.skip(f"course_utils/checks/lesson{number}.py not written yet")
    from course_utils.checks import registered_exercises

    importlib.import_module(f"course_utils.checks.lesson{number}")
    registered = {i for i in registered_exercises() if i.startswith(number + ".")}
    listed = {ex["id"] for ex in lesson["exercises"]}
    assert listed == registered, (
        f"docs/course_map.json lists {sorted(listed)} for lesson {number}, "
        f"course_utils/checks registers {sorted(registered)}")


# --- docs/lesson_times.json --------------------------------------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_has_a_run_time_measured_on_its_current_code(path):
    entry = TIMES["lessons"].get(path.stem)
    assert entry, f"{path.name} has no measured run time; {FIX}"
    assert entry["code_sha256"] == lesson_times.code_hash(path), (
        f"{path.name}'s code changed since its run time was measured on {entry['measured']}; {FIX}")
    assert entry["seconds"] > 0 and entry["cores"] >= 1


def test_times_are_only_for_lessons_on_the_map():
    assert set(TIMES["lessons"]) <= {lesson["stem"] for lesson in LESSONS}


# --- README.md ---------------------------------------------------------------------------

def test_readme_table_is_exactly_what_the_script_writes():
    _, repository = lesson_times.project_info(ROOT)
    expected = lesson_times.render_table(LESSONS, TIMES, repository)
    assert readme_block() == expected, f"README.md's course map was edited or is stale; {FIX}"


def parse_seconds(cell: str) -> int:
    m = re.fullmatch(r"(?:(\d+) min )?(\d+) s", cell)
    assert m, f"not a run time: {cell!r}"
    return int(m.group(1) or 0) * 60 + int(m.group(2))


def test_readme_rows_say_what_the_data_files_say():
    # Read back independently of render_table, so a bug in the script cannot agree with itself.
    rows = [line for line in readme_block().splitlines()
            if line.startswith("| [") and "](notebooks/" in line]
    assert len(rows) == len(LESSONS), f"README lists {len(rows)} lessons, course map {len(LESSONS)}"
    for row, lesson in zip(rows, LESSONS):
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        link, teaches, exercises, run_time, colab = cells
        assert link.endswith(f"](notebooks/{lesson['stem']}.ipynb)") and lesson["title"] in link
        assert teaches == lesson["teaches"]
        assert re.findall(r"`([0-9]{2}\.[a-z0-9_]+)`", exercises) == [e["id"] for e in lesson["exercises"]]
        assert f"/blob/main/notebooks/{lesson['stem']}.ipynb" in colab
        entry = TIMES["lessons"].get(lesson["stem"])
        if entry:
            assert parse_seconds(run_time) == round(entry["seconds"]), (lesson["stem"], run_time)
        else:
            assert run_time in ("not measured yet", "not written yet")


# --- the script's pieces -----------------------------------------------------------------

@pytest.mark.parametrize("seconds, text", [(0.4, "0 s"), (12.3, "12 s"), (59.4, "59 s"),
                                           (59.6, "1 min 0 s"), (125, "2 min 5 s")])
def test_format_seconds(seconds, text):
    assert lesson_times.format_seconds(seconds) == text
    assert parse_seconds(text) == round(seconds)


def test_replace_block_keeps_everything_outside_the_markers():
    readme = f"# Title\nintro\n{START}\nold table\n{END}\n## After\n"
    assert lesson_times.replace_block(readme, "NEW") == f"# Title\nintro\n{START}\nNEW\n{END}\n## After\n"


def test_replace_block_refuses_a_readme_without_markers():
    with pytest.raises(SystemExit, match="course-map:start"):
        lesson_times.replace_block("# no markers here\n", "NEW")


def test_render_table_marks_unmeasured_and_unwritten_lessons(tmp_path):
    (tmp_path / "00_start_here.ipynb").write_text("{}")
    lessons = LESSONS[:2]
    table = lesson_times.render_table(lessons, {"lessons": {}}, "https://github.com/o/r", tmp_path)
    assert "| not measured yet |" in table.splitlines()[3]
    assert "| not written yet |" in table.splitlines()[4]


def test_code_hash_ignores_prose_and_outputs_but_not_code(tmp_path):
    import nbformat

    def notebook(code, prose, output):
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell(code)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=output)]
        nb.cells = [nbformat.v4.new_markdown_cell(prose), cell]
        path = tmp_path / f"{abs(hash((code, prose, output)))}.ipynb"
        nbformat.write(nb, path)
        return lesson_times.code_hash(path)

    assert notebook("x = 1", "a", "1") == notebook("x = 1", "b", "2")
    assert notebook("x = 1", "a", "1") != notebook("x = 2", "a", "1")


def test_lesson_times_json_has_the_shape_the_script_writes():
    # A file that the script did not write (or an older version of it) shows up here; a
    # hand-typed number in the script's own format cannot be told apart, which is why the
    # code hash above ties each time to the notebook it was measured on.
    text = lesson_times.TIMES.read_text(encoding="utf-8") if lesson_times.TIMES.exists() else None
    assert text is not None, f"docs/lesson_times.json is missing; {FIX}"
    data = json.loads(text)
    assert text == json.dumps(dict(sorted(data.items())), indent=2, ensure_ascii=False) + "\n"
    for stem, entry in data["lessons"].items():
        assert set(entry) == {"seconds", "code_sha256", "measured", "cpu", "cores", "load_average"}, stem


@pytest.mark.slow
def test_time_notebook_runs_every_cell_in_a_fresh_kernel_and_times_it(tmp_path):
    import nbclient
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("import time\ntime.sleep(1.0)"),
                nbformat.v4.new_code_cell("open('last-cell-ran', 'w').close()")]
    path = tmp_path / "timed.ipynb"
    nbformat.write(nb, path)
    seconds = lesson_times.time_notebook(path, cell_timeout=60)
    assert 1.0 <= seconds < 60
    # The kernel ran in the notebook's folder, as JupyterLab runs it, and reached the end.
    assert (tmp_path / "last-cell-ran").exists()

    nb.cells.insert(1, nbformat.v4.new_code_cell("raise RuntimeError('lesson broken')"))
    nbformat.write(nb, path)
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="lesson broken"):
        lesson_times.time_notebook(path, cell_timeout=60)

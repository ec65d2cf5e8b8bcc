"""The HTML report of a graded class: an overview for the instructor, then one section per
submission that can be sent on to its student as it is.

Everything that comes from a submission (file names, feedback quoting learner values) is
escaped; the page has no scripts and no external resources, so it opens anywhere, offline.
"""
from __future__ import annotations

import html
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from ..status import ExerciseStatus, SubmissionStatus
from .files import write_atomically
from .gradebook import Row

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#111;max-width:70em}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.ok{color:#1b5e20}.bad{color:#b71c1c}.muted{color:#666}
.warning{background:#fff3cd;border:1px solid #e0b000;padding:.5em 1em}
code,.feedback{font-family:ui-monospace,monospace;font-size:90%;white-space:pre-wrap;word-break:break-word}
section{border-top:2px solid #ddd;margin-top:2em;padding-top:.5em}
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _anchor(row: Row) -> str:
    return "s-" + "".join(c if c.isalnum() else "-" for c in row.submission)


def _exercise_summary(rows: list[Row], exercise_ids: list[str]) -> str:
    lines = ["<table><tr><th>exercise</th><th>passed</th><th>most common feedback</th></tr>"]
    for exercise_id in exercise_ids:
        results = [r.exercises[exercise_id] for r in rows if exercise_id in r.exercises]
        if not results:
            continue
        # A passed exercise's feedback is the status word itself (see outcome.exercise_result).
        passed = sum(feedback == ExerciseStatus.PASSED for _, feedback in results)
        common = Counter(f for _, f in results if f != ExerciseStatus.PASSED).most_common(3)
        shown = "<br>".join(f"{count}× <span class=feedback>{_e(f)}</span>" for f, count in common)
        lines.append(f"<tr><td><code>{_e(exercise_id)}</code></td><td>{passed}/{len(results)}</td>"
                     f"<td>{shown or '<span class=muted>none</span>'}</td></tr>")
    return "\n".join(lines + ["</table>"])


def _class_table(rows: list[Row]) -> str:
    lines = ["<table><tr><th>submission</th><th>lesson</th><th>points</th><th>status</th><th>seconds</th></tr>"]
    for row in rows:
        total = f"{row.total}/{row.max_points}" if row.max_points is not None else "–"
        css = "ok" if row.status == SubmissionStatus.GRADED else "bad"
        flag = " ⚑" if row.flags else ""
        lines.append(f"<tr><td><a href='#{_anchor(row)}'>{_e(row.submission)}</a>{flag}</td><td>{_e(row.lesson)}</td>"
                     f"<td>{total}</td><td class={css}>{_e(row.status)}</td><td>{row.seconds:.1f}</td></tr>")
    return "\n".join(lines + ["</table>"])


def _submission_section(row: Row) -> str:
    total = f"{row.total} of {row.max_points} points" if row.max_points is not None else "not graded"
    parts = [f"<section id='{_anchor(row)}'><h2>{_e(row.submission)}</h2>",
             f"<p>{_e(row.lesson or 'unknown lesson')}: <b>{total}</b> <span class=muted>({_e(row.status)})</span></p>"]
    if row.flags:
        parts.append(f"<p class=warning>⚑ code that reaches into the grader: <span class=feedback>{_e(row.flags)}"
                     "</span>. Its passes may not be earned: read those cells before trusting them.</p>")
    if row.exercises:
        parts.append("<table><tr><th>exercise</th><th>points</th><th>feedback</th></tr>")
        for exercise_id, (points, feedback) in row.exercises.items():
            mark = "✅" if feedback == ExerciseStatus.PASSED else "❌"
            parts.append(f"<tr><td>{mark} <code>{_e(exercise_id)}</code></td><td>{points}</td>"
                         f"<td class=feedback>{_e(feedback)}</td></tr>")
        parts.append("</table>")
    return "\n".join(parts + ["</section>"])


def _sandbox_warning(rows: list[Row]) -> str:
    unprotected = [r for r in rows if not r.sandboxed]
    if not unprotected:
        return ""
    return (f"<p class=warning>⚠ {len(unprotected)} of {len(rows)} submissions were graded without the "
            "sandbox (<code>--no-sandbox</code>): their code ran with your user's rights, files and network, "
            "and could have read or changed anything you can. Grade strangers' work in the sandbox.</p>")


def render_report(rows: list[Row], exercise_ids: list[str]) -> str:
    rows = sorted(rows, key=lambda r: r.submission)
    statuses = Counter(r.status for r in rows)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Course grading report</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Grading report</h1><p class=muted>{len(rows)} submissions, graded with course-grade, {when}. "
        + ", ".join(f"{n} {_e(s)}" for s, n in statuses.most_common()) + ".</p>",
        _sandbox_warning(rows),
        "<h2>Exercises</h2>", _exercise_summary(rows, exercise_ids),
        "<h2>Submissions</h2>", _class_table(rows),
        *(_submission_section(row) for row in rows),
        "</body></html>",
    ])


def write_report(path: Path, rows: list[Row], exercise_ids: list[str]) -> None:
    write_atomically(path, render_report(rows, exercise_ids))

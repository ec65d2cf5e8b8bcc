"""The HTML report of a graded class: an overview for the instructor, then one section per
submission that can be sent on to its student as it is.

Everything that comes from a submission (file names, feedback quoting learner values) is
escaped; the page has no scripts and no external resources, so it opens anywhere, offline.
course-grade rewrites it after every graded submission, so an interrupted run leaves a readable
one. Points are shown out of each exercise's maximum today; a row graded against an earlier
version of its lesson (kept because its notebook has left the folder, or not regraded yet) shows
its points alone, so that one report never shows two maxima for one lesson.
"""
from __future__ import annotations

import html
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from ..status import ExerciseStatus, SubmissionStatus
from .files import write_atomically
from .gradebook import Gradebook, Row

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#111;max-width:70em}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.ok{color:#1b5e20}.bad{color:#b71c1c}.warn{color:#8a5a00}.muted{color:#666}
.warning{background:#fff3cd;border:1px solid #e0b000;padding:.5em 1em}
code,.feedback{font-family:ui-monospace,monospace;font-size:90%;white-space:pre-wrap;word-break:break-word}
section{border-top:2px solid #ddd;margin-top:2em;padding-top:.5em}
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _anchor(row: Row) -> str:
    return "s-" + "".join(c if c.isalnum() else "-" for c in row.submission)


def _out_of(points: int, maximum: int | None) -> str:
    return f"{points}/{maximum}" if maximum is not None else f"{points}"


def _status_class(status: str) -> str:
    if status == SubmissionStatus.GRADED:
        return "ok"
    warned = (SubmissionStatus.GRADED_WITH_STOPPED_CELLS, SubmissionStatus.MISSING)
    return "warn" if status in warned else "bad"


def _exercise_summary(book: Gradebook, rows: list[Row]) -> str:
    lines = ["<table><tr><th>exercise</th><th>points</th><th>passed</th><th>most common feedback</th></tr>"]
    current = [r for r in rows if not book.is_stale(r)]
    for exercise_id in book.exercise_ids():
        results = [r.exercises[exercise_id] for r in current if exercise_id in r.exercises]
        if not results:
            continue
        # A passed exercise's feedback is the status word itself (see outcome.exercise_result).
        passed = sum(feedback == ExerciseStatus.PASSED for _, feedback in results)
        common = Counter(f for _, f in results if f != ExerciseStatus.PASSED).most_common(3)
        shown = "<br>".join(f"{count}× <span class=feedback>{_e(f)}</span>" for f, count in common)
        lines.append(f"<tr><td><code>{_e(exercise_id)}</code></td><td>{book.maximum(exercise_id)}</td>"
                     f"<td>{passed}/{len(results)}</td><td>{shown or '<span class=muted>none</span>'}</td></tr>")
    return "\n".join(lines + ["</table>"])


def _points(book: Gradebook, row: Row) -> str:
    if row.max_points is None:
        return "–"
    if book.is_stale(row):
        return f"{row.total} <span class=muted>(earlier exercise set)</span>"
    return f"{row.total}/{row.max_points}"


def _class_table(book: Gradebook, rows: list[Row]) -> str:
    lines = ["<table><tr><th>submission</th><th>lesson</th><th>points</th><th>status</th><th>seconds</th></tr>"]
    for row in rows:
        flag = " ⚑" if row.flags else ""
        lines.append(f"<tr><td><a href='#{_anchor(row)}'>{_e(row.submission)}</a>{flag}</td><td>{_e(row.lesson)}</td>"
                     f"<td>{_points(book, row)}</td><td class={_status_class(row.status)}>{_e(row.status)}</td>"
                     f"<td>{row.seconds:.1f}</td></tr>")
    return "\n".join(lines + ["</table>"])


def _submission_section(book: Gradebook, row: Row) -> str:
    stale = book.is_stale(row)
    if row.max_points is None:
        total = "not graded"
    elif stale:
        total = f"{row.total} points, graded against an earlier version of this lesson's exercises"
    else:
        total = f"{row.total} of {row.max_points} points"
    parts = [f"<section id='{_anchor(row)}'><h2>{_e(row.submission)}</h2>",
             f"<p>{_e(row.lesson or 'unknown lesson')}: <b>{_e(total)}</b> <span class=muted>({_e(row.status)})</span></p>"]
    if row.flags:
        parts.append(f"<p class=warning>⚑ code that reaches into the grader: <span class=feedback>{_e(row.flags)}"
                     "</span>. Its passes may not be earned: read those cells before trusting them.</p>")
    if row.exercises:
        parts.append("<table><tr><th>exercise</th><th>points</th><th>feedback</th></tr>")
        for exercise_id, (points, feedback) in row.exercises.items():
            mark = "✅" if feedback == ExerciseStatus.PASSED else "❌"
            maximum = None if stale else book.maximum(exercise_id)
            parts.append(f"<tr><td>{mark} <code>{_e(exercise_id)}</code></td><td>{_out_of(points, maximum)}</td>"
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


def _kept_rows_note(book: Gradebook, rows: list[Row]) -> str:
    missing = [r for r in rows if r.status == SubmissionStatus.MISSING]
    if not missing:
        return ""
    return (f"<p class=warning>{len(missing)} of {len(rows)} rows are kept from earlier runs: their notebooks are "
            "no longer in the folder, so they were not graded again. A row graded against an earlier version of "
            "its lesson's exercises shows its points without a maximum.</p>")


def render_report(book: Gradebook) -> str:
    rows = sorted(book.rows.values(), key=lambda r: r.submission)
    statuses = Counter(r.status for r in rows)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    folder = f" of <code>{_e(book.folder)}</code>" if book.folder else ""
    return "\n".join([
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Course grading report</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Grading report</h1><p class=muted>{len(rows)} submissions{folder}, graded with course-grade, {when}. "
        + ", ".join(f"{n} {_e(s)}" for s, n in statuses.most_common()) + ".</p>",
        _sandbox_warning(rows), _kept_rows_note(book, rows),
        "<h2>Exercises</h2>", _exercise_summary(book, rows),
        "<h2>Submissions</h2>", _class_table(book, rows),
        *(_submission_section(book, row) for row in rows),
        "</body></html>",
    ])


def write_report(path: Path, book: Gradebook) -> None:
    write_atomically(path, render_report(book))

"""The instructor report: one self-contained HTML file for a graded folder.

Built from the ``STUDENT/results.json`` files under the folder, read as JSON data only
(nothing in the folder is imported or executed). Plots are drawn with matplotlib's Agg
backend and embedded as base64 PNG, so the file can be mailed or attached as it is:

    score histogram · pass rate per test and device · most frequent diagnosed mistakes
    · submissions that hit a limit (time, memory, output) or could not be loaded
    · submissions flagged for possible tampering, with the evidence (``graders.integrity.tamper``)
    · similar pairs of submissions, side by side (``similarity.json``, written by grade-all)

Everything a student wrote (names, evidence, source) is HTML-escaped.
"""
from __future__ import annotations

import base64
import html
import io
import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from graders.outputs import render
from graders.integrity import tamper

TOP_MISTAKES = 12


@dataclass
class Submission:
    student: str
    assignment: str
    score: float
    max_score: float
    status: str
    limits: list[str]
    records: list[render.Record]
    diagnoses: set[str] = field(default_factory=set)
    isolation: str = ""
    reason: str = ""  # why a not_loaded submission could not be loaded
    evidence: list[tamper.Evidence] = field(default_factory=list)  # possible tampering


@dataclass
class Summary:
    submissions: list[Submission] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    explanations: dict[str, str] = field(default_factory=dict)
    similarity: dict | None = None  # similarity.json, if grade-all wrote one

    @property
    def assignments(self) -> list[str]:
        return sorted({s.assignment for s in self.submissions})

    def pass_rates(self) -> list[tuple[str, str, str, int, int]]:
        """(test id, task, device, passed, ran) in the order tests appear."""
        counts: dict[tuple[str, str, str], list[int]] = {}
        for submission in self.submissions:
            for record in submission.records:
                if record.status == "not_run":
                    continue
                entry = counts.setdefault((record.id, record.task, record.device), [0, 0])
                entry[0] += record.status == "passed"
                entry[1] += 1
        return [(test, task, device, passed, ran) for (test, task, device), (passed, ran) in counts.items()]

    def mistakes(self) -> list[tuple[str, int]]:
        """Diagnosis id -> number of submissions it was diagnosed in, most frequent first."""
        counter = Counter()
        for submission in self.submissions:
            counter.update(submission.diagnoses)
        return counter.most_common()


def load(folder: Path) -> Summary:
    summary = Summary()
    for name, document in render.graded_documents(folder):
        try:
            if document is None:
                raise ValueError("unreadable results.json")
            block = document.get("extra_data", {}).get("nngrade", {})
            records = render.test_records(document)
            summary.submissions.append(Submission(
                student=str(block.get("student", name)),
                assignment=str(block.get("assignment", "")),
                score=float(document.get("score", 0.0)),
                max_score=float(block.get("max_score", sum(r.max_points for r in records if r.counts))),
                status=str(block.get("status", "graded")),
                limits=[str(x) for x in block.get("limits_hit", [])],
                records=records,
                diagnoses={d for r in records for d in r.diagnoses} | {str(d) for d in block.get("diagnoses", [])},
                isolation=str(block.get("isolation", "")),
                reason=_not_loaded_reason(document, block),
                evidence=_evidence(block.get("evidence", []))))
            summary.explanations.update({str(k): str(v) for k, v in block.get("explanations", {}).items()})
        except (ValueError, TypeError, AttributeError):
            summary.unreadable.append(name)
    try:
        document = json.loads((folder / "similarity.json").read_text())
        summary.similarity = document if isinstance(document, dict) else None
    except (OSError, ValueError):
        summary.similarity = None
    return summary


def _not_loaded_reason(document: dict, block: dict) -> str:
    """The message of a not_loaded submission: its own field, or (older results.json) the
    summary line Gradescope shows, which starts with it."""
    if block.get("status") != "not_loaded":
        return ""
    return str(block.get("message") or document.get("output") or "")[:1000]


def _evidence(items) -> list[tamper.Evidence]:
    found = []
    for item in items if isinstance(items, list) else []:
        try:
            found.append(tamper.Evidence.from_dict(item))
        except ValueError:
            continue
    return found


# --------------------------------------------------------------------------- plots

def _figure_png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def score_histogram(summary: Summary) -> str:
    plt = _pyplot()
    scores = [s.score for s in summary.submissions]
    most = max([s.max_score for s in summary.submissions] + [1.0])
    figure, axes = plt.subplots(figsize=(7, 3.2))
    bins = [most * i / 20 for i in range(21)]
    axes.hist(scores, bins=bins, color="#4c72b0", edgecolor="white")
    if scores:
        axes.axvline(statistics.median(scores), color="#c44e52", linestyle="--",
                     label=f"median {round(statistics.median(scores), 2):g}")
        axes.legend(frameon=False)
    axes.set_xlim(0, most)
    axes.set_xlabel(f"score (out of {most:g})")
    axes.set_ylabel("submissions")
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_title("Score distribution")
    axes.spines[["top", "right"]].set_visible(False)
    return _figure_png(figure)


def pass_rate_chart(summary: Summary) -> str:
    plt = _pyplot()
    rows = summary.pass_rates()
    devices = sorted({device for _, _, device, _, _ in rows})
    tests = list(dict.fromkeys((test, task) for test, task, _, _, _ in rows))
    rate = {(test, device): passed / ran for test, _, device, passed, ran in rows if ran}
    counts = {(test, device): (passed, ran) for test, _, device, passed, ran in rows}
    figure, axes = plt.subplots(figsize=(8, 0.38 * max(len(tests), 1) * max(len(devices), 1) ** 0.5 + 1.2))
    height = 0.8 / max(len(devices), 1)
    colours = {"cpu": "#4c72b0", "cuda": "#55a868"}
    for index, device in enumerate(devices):
        positions = [i + (index - (len(devices) - 1) / 2) * height for i in range(len(tests))]
        values = [100 * rate.get((test, device), 0.0) for test, _ in tests]
        bars = axes.barh(positions, values, height=height, label=device, color=colours.get(device, "#8172b2"))
        for bar, (test, _) in zip(bars, tests):
            if (test, device) not in rate:
                bar.set_alpha(0.0)
            else:
                passed, ran = counts[(test, device)]
                axes.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2, f"{passed}/{ran}",
                          va="center", fontsize=7, color="#444")
    axes.set_yticks(range(len(tests)), [f"{task}: {test}" for test, task in tests], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, 108)
    axes.set_xticks(range(0, 101, 20))
    axes.set_xlabel("submissions passing (%)")
    axes.set_title("Pass rate per hidden test and device")
    if len(devices) > 1:
        axes.legend(frameon=False, loc="lower right")
    axes.spines[["top", "right"]].set_visible(False)
    return _figure_png(figure)


def mistakes_chart(summary: Summary) -> str:
    plt = _pyplot()
    mistakes = summary.mistakes()[:TOP_MISTAKES]
    figure, axes = plt.subplots(figsize=(7, 0.4 * max(len(mistakes), 1) + 1.2))
    if mistakes:
        axes.barh(range(len(mistakes)), [count for _, count in mistakes], color="#c44e52")
        axes.set_yticks(range(len(mistakes)), [name for name, _ in mistakes], fontsize=8)
        axes.invert_yaxis()
        axes.xaxis.get_major_locator().set_params(integer=True)
    else:
        axes.text(0.5, 0.5, "no known mistake was diagnosed", ha="center", va="center", transform=axes.transAxes)
        axes.set_yticks([])
    axes.set_xlabel("submissions")
    axes.set_title("Most frequent diagnosed mistakes")
    axes.spines[["top", "right"]].set_visible(False)
    return _figure_png(figure)


# --------------------------------------------------------------------------- the page

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 60rem;
       padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
.meta { color: #666; } img { max-width: 100%; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #e4e4e4; text-align: left; vertical-align: top; }
th { background: #f5f5f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.stats td { border: none; padding-right: 1.5rem; } .low { color: #b00; font-weight: 600; }
table.side { width: 100%; table-layout: fixed; } table.side td { width: 50%; }
table.side pre { font-size: .75rem; overflow-x: auto; margin: 0; } mark { background: #fff3a3; }
"""


def render_html(summary: Summary, title: str = "") -> str:
    e = html.escape
    subs = summary.submissions
    scores = [s.score for s in subs]
    name = title or ", ".join(summary.assignments) or "graded submissions"
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>nngrade report: {e(name)}</title><style>{STYLE}</style></head><body>",
             f"<h1>nngrade report: {e(name)}</h1>"]
    if not subs:
        parts.append("<p>No results.json was found in this folder.</p></body></html>")
        return "\n".join(parts)
    most = max(s.max_score for s in subs)
    parts.append("<table class=\"stats\"><tr>" + "".join(
        f"<td><b>{label}</b><br>{value}</td>" for label, value in [
            ("submissions", len(subs)), ("full marks", sum(s.score >= s.max_score > 0 for s in subs)),
            ("mean", f"{_num(statistics.fmean(scores))} / {_num(most)}"),
            ("median", f"{_num(statistics.median(scores))} / {_num(most)}"),
            ("not loaded", sum(s.status == "not_loaded" for s in subs)),
            ("hit a limit", sum(bool(s.limits) for s in subs)),
            ("flagged", sum(bool(s.evidence) for s in subs))]) + "</tr></table>")
    levels = Counter(s.isolation for s in subs if s.isolation)
    if levels:
        unprotected = levels.get("none", 0)
        parts.append("<p class=\"meta\">Sandbox: " + e(", ".join(f"{level} ({count})" for level, count in
                                                               levels.most_common())) +
                     (f" <b class=\"low\">{unprotected} graded with no sandbox (--isolation none)</b>"
                      if unprotected else "") + "</p>")
    if summary.unreadable:
        parts.append(f"<p class=\"meta\">Unreadable results.json (skipped): {e(', '.join(summary.unreadable))}</p>")

    parts += ["<h2>Scores</h2>", _img(score_histogram(summary), "Histogram of the submissions' scores")]

    parts += ["<h2>Pass rate per test and device</h2>", _img(pass_rate_chart(summary), "Pass rate per hidden test"),
              "<table><tr><th>task</th><th>test</th><th>device</th><th>passed</th><th>pass rate</th></tr>"]
    for test, task, device, passed, ran in summary.pass_rates():
        share = passed / ran if ran else 0.0
        parts.append(f"<tr><td>{e(task)}</td><td>{e(test)}</td><td>{e(device)}</td>"
                     f"<td class=\"num\">{passed} / {ran}</td>"
                     f"<td class=\"num{' low' if share < 0.5 else ''}\">{100 * share:.0f}%</td></tr>")
    parts.append("</table>")

    parts += ["<h2>Most frequent diagnosed mistakes</h2>", _img(mistakes_chart(summary), "Most frequent mistakes")]
    mistakes = summary.mistakes()
    if mistakes:
        parts.append("<table><tr><th>mistake</th><th>submissions</th><th>what the feedback says</th></tr>")
        for mistake, count in mistakes:
            parts.append(f"<tr><td><code>{e(mistake)}</code></td><td class=\"num\">{count}</td>"
                         f"<td>{e(summary.explanations.get(mistake, ''))}</td></tr>")
        parts.append("</table>")

    parts.append("<h2>Submissions that hit limits or could not be loaded</h2>")
    limited = [s for s in subs if s.limits or s.status == "not_loaded"]
    if limited:
        parts.append("<table><tr><th>student</th><th>limits hit</th><th>status</th><th>tests affected</th>"
                     "<th>score</th><th>reason</th></tr>")
        for s in limited:
            affected = [f"{r.id} [{r.device}]" for r in s.records if r.limit or r.crashed]
            parts.append(f"<tr><td>{e(s.student)}</td><td>{e(', '.join(s.limits) or '-')}</td>"
                         f"<td>{e(s.status)}</td><td>{e(', '.join(affected) or '-')}</td>"
                         f"<td class=\"num\">{_num(s.score)} / {_num(s.max_score)}</td>"
                         f"<td>{e(s.reason) or '-'}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>No submission hit a time, memory or output limit, and every one could be loaded.</p>")

    parts += integrity_section(summary)
    parts += similarity_section(summary)

    parts += ["<h2>All submissions</h2>",
              "<table><tr><th>student</th><th>score</th><th>status</th><th>tests passed</th><th>mistakes</th></tr>"]
    for s in sorted(subs, key=lambda s: (-s.score, s.student)):
        passed = sum(r.status == "passed" for r in s.records)
        ran = sum(r.status != "not_run" for r in s.records)
        found = sorted(s.diagnoses)
        parts.append(f"<tr><td>{e(s.student)}</td><td class=\"num\">{_num(s.score)} / {_num(s.max_score)}</td>"
                     f"<td>{e(s.status)}</td><td class=\"num\">{passed} / {ran}</td>"
                     f"<td>{e(', '.join(found))}</td></tr>")
    parts.append("</table>\n</body></html>")
    return "\n".join(parts) + "\n"


def integrity_section(summary: Summary) -> list[str]:
    e = html.escape
    parts = ["<h2>Flagged for a person to look at</h2>"]
    flagged = [s for s in summary.submissions if s.evidence]
    if not flagged:
        return parts + ["<p>No submission did or contained anything the grader treats as possible tampering.</p>"]
    parts.append("<p class=\"meta\">Possible tampering, not a verdict: what the grader saw, where. A test "
                 "during which something was recorded scored 0.</p>")
    parts.append("<table><tr><th>student</th><th>score</th><th>tests scored 0</th><th>evidence</th></tr>")
    for s in sorted(flagged, key=lambda s: s.student):
        zeroed = sum(1 for r in s.records if r.tampered)
        items = "".join(f"<li>{e(item.describe())} <span class=\"meta\">[{e(item.phase)}]</span></li>"
                        for item in s.evidence)
        parts.append(f"<tr><td>{e(s.student)}</td><td class=\"num\">{_num(s.score)} / {_num(s.max_score)}</td>"
                     f"<td class=\"num\">{zeroed}</td><td><ul>{items}</ul></td></tr>")
    parts.append("</table>")
    return parts


CONTEXT_LINES = 2
MAX_LINES_SHOWN = 300


def similarity_section(summary: Summary) -> list[str]:
    e = html.escape
    parts = ["<h2>Similar submissions</h2>"]
    document = summary.similarity
    if not document:
        return parts + ["<p>No similarity.json here: <code>nngrade grade-all</code> writes it (and "
                        "similarity.csv with every pair).</p>"]
    pairs = [p for p in document.get("pairs", []) if isinstance(p, dict)]
    threshold = document.get("threshold", "")
    parts.append(f"<p class=\"meta\">{document.get('pairs_compared', '?')} pairs compared on the code each "
                 f"student wrote (the reference, the template and the handout's code left out); "
                 f"{len(pairs)} at or above {e(str(threshold))} of the smaller one's fingerprints shared. "
                 "Matching lines are highlighted.</p>")
    if not pairs:
        return parts + ["<p>No pair is that alike.</p>"]
    for pair in pairs:
        parts.append(f"<h3>{e(str(pair.get('a')))} and {e(str(pair.get('b')))}: "
                     f"{100 * float(pair.get('score', 0)):.0f}% ({e(str(pair.get('shared')))} fingerprints)</h3>")
        parts.append("<table class=\"side\"><tr>" + _source_cell(pair.get("source_a"), pair.get("lines_a")) +
                     _source_cell(pair.get("source_b"), pair.get("lines_b")) + "</tr></table>")
    return parts


def _source_cell(source, matched) -> str:
    """The matching lines (and a little context) of one submission, escaped, numbered."""
    lines = str(source or "").splitlines()
    marked = {int(n) for n in (matched or []) if isinstance(n, int)}
    shown = sorted({n for m in marked for n in range(m - CONTEXT_LINES, m + CONTEXT_LINES + 1)
                    if 1 <= n <= len(lines)})[:MAX_LINES_SHOWN]
    rows, previous = [], None
    for number in shown:
        if previous is not None and number != previous + 1:
            rows.append("<span class=\"meta\">…</span>")
        text = f"{number:4d}  {html.escape(lines[number - 1])}"
        rows.append(f"<mark>{text}</mark>" if number in marked else text)
        previous = number
    return f"<td><pre>{chr(10).join(rows)}</pre></td>"


def _num(value: float) -> str:
    return f"{round(value, 2):g}"


def _img(png_base64: str, alt: str) -> str:
    return f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{png_base64}"></p>'


def write(folder: Path, target: Path | None = None, title: str = "") -> Path:
    """Write the report (default ``folder/report.html``); returns its path."""
    target = target or folder / "report.html"
    render.atomic_write(target, render_html(load(folder), title))
    return target

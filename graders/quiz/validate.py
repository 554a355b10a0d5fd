"""``nngrade validate`` for a quiz: grade the key, the blank template, every catalogued
mistake, partial credit, tolerances and malformed files end to end, and run the template's
own format check."""
from __future__ import annotations

import itertools
import math
import subprocess
import sys
import tempfile
from pathlib import Path

from graders.grading.assignment import ManifestError, reveals
from graders.grading.engine import SubmissionResult
from graders.grading.validate import Check
from graders.outputs import render
from graders.quiz import answers_format
from graders.quiz.model import KeyEntry, Mistake, Question, Quiz
from graders.quiz.scoring import concept_id, decimals_asked, grade, promised_tolerance
from graders.quiz.templates import answers_text, key_as_answers, template_files

def validate(quiz: Quiz, report=print) -> list[Check]:
    """Prove a quiz sound: the key scores full marks, the blank template zero, every known
    mistake loses points and names its concept, partial credit and tolerances work as
    documented, every numeric question keeps the handout's rounding promise, malformed
    answers give a clear error, and the template's check agrees."""
    checks: list[Check] = []

    def record(subject: str, ok: bool, detail: str) -> None:
        checks.append(Check(subject, ok, detail))
        report(f"{'ok  ' if ok else 'FAIL'}  {subject:<38} {detail}")

    try:
        key, mistakes, dropped = quiz.key, quiz.mistakes, quiz.dropped
    except ManifestError as error:
        record("answer key and mistakes", False, str(error))
        return checks
    fixed = sum(bool(entry.fixed) for entry in key.values())
    record("answer key", True, f"{len(key)} questions ({fixed} fixed from their seed), {len(dropped)} seed items dropped")

    with tempfile.TemporaryDirectory(prefix="nngrade-validate-") as scratch:
        def graded(label: str, text: str | None) -> SubmissionResult:
            folder = Path(scratch) / label
            folder.mkdir()
            if text is not None:
                (folder / answers_format.FILENAME).write_text(text)
            return grade(quiz, folder, f"validate-{label}")

        solution = key_as_answers(quiz)
        result = graded("key", answers_text(quiz, solution))
        lost = [t.name for t in result.tests if t.points < t.max_points]
        record("key", result.status == "graded" and result.score == result.max_score > 0 and not lost,
               _score(result) + (f"; lost points on {lost}" if lost else ""))

        blank = template_files(quiz)[answers_format.FILENAME]
        result = graded("blank", blank)
        record("blank template", result.status == "graded" and result.score == 0
               and all(t.message == "not answered" for t in result.tests), _score(result) + f" ({result.status})")

        for mistake in mistakes:
            result = graded(f"mistake-{mistake.id}", answers_text(quiz, {**solution, **mistake.answers}))
            tests = {t.name: t for t in result.tests}
            kept = [qid for qid in mistake.answers if tests[qid].points >= tests[qid].max_points]
            feedback = render.feedback_markdown(result, quiz.title)
            unnamed = [qid for qid in mistake.answers
                       if concept_id(quiz.questions[qid].concept) not in {d.id for d in tests[qid].diagnoses}
                       or reveals(quiz.reveal, "messages") and quiz.questions[qid].concept not in feedback]
            record(f"mistake {mistake.id}", result.score < result.max_score and not kept and not unnamed,
                   _score(result) + (f"; full marks kept on {kept}" if kept else "")
                   + (f"; concept not named on {unnamed}" if unnamed else "") + ("" if kept or unnamed else ", concept named"))

        for subject, ok, detail in _arithmetic_checks(quiz, solution, graded):
            record(subject, ok, detail)

        for subject, ok, detail in _numeric_checks(quiz, mistakes, graded):
            record(subject, ok, detail)

        for label, text, fragment in _malformed_cases(quiz):
            result = graded(f"malformed-{label.replace(' ', '-')}", text)
            record(f"malformed: {label}", result.status == "not_loaded" and result.score == 0
                   and fragment in result.message, result.message.splitlines()[-1][:70])

        for label, text, should_pass in (("blank", blank, True), ("key", answers_text(quiz, solution), True),
                                         ("malformed", _malformed_cases(quiz)[1][1], False)):
            passed, summary = run_public_check(quiz, text, Path(scratch) / f"public-{label}")
            record(f"public check vs {label}", passed == should_pass, summary)

    if not mistakes:
        record("mistake catalog", False, "mistakes.toml lists no common wrong answers")
    return checks


def _arithmetic_checks(quiz: Quiz, solution: dict, graded) -> list[tuple[str, bool, str]]:
    """Partial credit and tolerances, graded end to end on one question of each kind."""
    checks = []
    multi = next((q for q in quiz.questions.values() if q.type == "multi"
                  and len(quiz.key[q.id].answer) >= 2 and len(q.options) - len(quiz.key[q.id].answer) >= 2), None)
    if multi is None:
        checks.append(("partial credit", False, "no multi question with >= 2 right and >= 2 wrong options to test it on"))
    else:
        correct = quiz.key[multi.id].answer
        wrong = [o for o in range(1, len(multi.options) + 1) if o not in correct]
        cases = [("partial credit: one right pick", [correct[0]], multi.points / len(correct)),
                 ("partial credit: all right + one wrong", [*correct, wrong[0]], multi.points - multi.points / len(wrong)),
                 ("partial credit: tick everything", [*correct, *wrong], 0.0),
                 ("partial credit: floor at 0", [correct[0], *wrong], 0.0)]
        for subject, picks, expected in cases:
            result = graded(subject.split(": ")[1].replace(" ", "-"),
                            answers_text(quiz, {**solution, multi.id: ",".join(map(str, picks))}))
            test = next(t for t in result.tests if t.name == multi.id)
            checks.append((subject, abs(test.points - expected) < 1e-6,
                           f"{multi.id} = \"{','.join(map(str, picks))}\" -> {test.points:g} (expected {expected:g})"))
    numeric = next((q for q in quiz.questions.values() if q.type == "numeric"), None)
    if numeric is not None:
        entry = quiz.key[numeric.id]
        for subject, value, expected in (("tolerance: inside", entry.answer + 0.9 * entry.tolerance, numeric.points),
                                         ("tolerance: outside", entry.answer - 1.5 * entry.tolerance, 0.0)):
            result = graded(subject.replace(": ", "-"), answers_text(quiz, {**solution, numeric.id: value}))
            test = next(t for t in result.tests if t.name == numeric.id)
            checks.append((subject, test.points == expected, f"{numeric.id} = {value:.6g} -> {test.points:g}"))
    return checks


def _numeric_checks(quiz: Quiz, mistakes: list[Mistake], graded) -> list[tuple[str, bool, str]]:
    """Every numeric question against the handout's promise, graded end to end: its tolerance
    is half a unit in the last decimal it asks for, the key rounded that far earns full marks,
    and every catalogued wrong answer, as written and rounded that far, earns nothing."""
    labels = itertools.count()

    def points(question: Question, value: float) -> float:
        result = graded(f"numeric-{question.id}-{next(labels)}", answers_text(quiz, {question.id: value}))
        return next(t.points for t in result.tests if t.name == question.id)

    checks = []
    wrong_answers = _numeric_wrong_answers(quiz, mistakes)
    for question in (q for q in quiz.questions.values() if q.type == "numeric"):
        decimals = decimals_asked(question)
        rounded = round(quiz.key[question.id].answer, decimals)
        # A student rounds as asked, so a wrong answer counts in its rounded form too.
        wrong = [(value, mistake) for written, mistake in wrong_answers.get(question.id, [])
                 for value in dict.fromkeys((written, round(written, decimals)))]
        problems = _numeric_problems(question, quiz.key[question.id], rounded, wrong, points)
        asked = f"{decimals} decimal{'s' if decimals != 1 else ''}" if decimals else "whole number"
        fine = f"{rounded:g} right" + (f"; {', '.join(f'{value:g}' for value, _ in wrong)} wrong" if wrong else "")
        checks.append((f"numeric {question.id} ({asked}, ±{promised_tolerance(question):g})", not problems,
                       "; ".join(problems) or fine))
    return checks


def _numeric_wrong_answers(quiz: Quiz, mistakes: list[Mistake]) -> dict[str, list[tuple[float, str]]]:
    """Question id -> (catalogued wrong answer, the mistake's id), for numeric questions."""
    found: dict[str, list[tuple[float, str]]] = {}
    for mistake in mistakes:
        for qid, value in mistake.answers.items():
            if quiz.questions[qid].type == "numeric":
                found.setdefault(qid, []).append((answers_format.parse_value(value, "numeric")[0], mistake.id))
    return found


def _numeric_problems(question: Question, entry: KeyEntry, rounded: float, wrong: list, points) -> list[str]:
    """How a numeric question breaks the handout's promise (empty: it keeps it)."""
    problems = []
    if decimals_asked(question) == 0 and entry.answer != rounded:
        problems.append(f"the prompt asks for no decimals, so a whole number, but the answer is {entry.answer:g}")
    promised = promised_tolerance(question)
    if not math.isclose(entry.tolerance, promised, rel_tol=1e-9):
        problems.append(f"the tolerance is {entry.tolerance:g}, not the promised {promised:g}")
    if points(question, rounded) < question.points:
        problems.append(f"the answer rounded as asked, {rounded:g}, loses points")
    passing = [f"{value:g} ({mistake})" for value, mistake in wrong if points(question, value) > 0]
    if passing:
        problems.append("catalogued wrong answers earn points: " + ", ".join(passing))
    return problems


def _malformed_cases(quiz: Quiz) -> list[tuple[str, str, str]]:
    """(label, answers.toml text or None for no file, a fragment the error must contain)."""
    first = next(iter(quiz.questions))
    by_type = {q.type: q for q in reversed(quiz.questions.values())}
    cases = [("not TOML", f"{first} = \n", "line 1"),
             ("unknown id", answers_text(quiz) + 'q_nonexistent = "1"\n', "q_nonexistent")]
    if "multi" in by_type:
        q = by_type["multi"]
        cases.append(("option out of range", answers_text(quiz, {q.id: str(len(q.options) + 1)}), q.id))
    if "true_false" in by_type:
        q = by_type["true_false"]
        cases.append(("wrong type", answers_text(quiz, {q.id: "maybe"}), q.id))
    if "numeric" in by_type:
        q = by_type["numeric"]
        cases.append(("not a number", answers_text(quiz, {q.id: "about a half"}), q.id))
    # Files that once crashed the TOML reader or int(): each must be a plain not_loaded.
    cases.append(("nested too deeply", f"{first} = " + "[" * 3000 + "]" * 3000 + "\n", "too deeply"))
    cases.append(("a 5000-digit number", f"{first} = " + "9" * 5000 + "\n", "thousands of digits"))
    cases.append(("missing file", None, "no answers.toml"))  # None: no file at all
    return cases


def run_public_check(quiz: Quiz, answers: str, folder: Path) -> tuple[bool, str]:
    """Run the template's own check, as its workflow does, against ``answers``."""
    for relative, text in template_files(quiz).items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    (folder / answers_format.FILENAME).write_text(answers)
    completed = subprocess.run([sys.executable, "-I", "check_answers.py"], cwd=folder, capture_output=True,
                               text=True, timeout=60)
    summary = (completed.stdout.strip().splitlines() or ["(no output)"])[0]
    return completed.returncode == 0, summary[:90]


def _score(result: SubmissionResult) -> str:
    return f"{result.score:g}/{result.max_score:g}"

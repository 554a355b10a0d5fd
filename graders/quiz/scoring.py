"""Grading a quiz: the student's answers.toml is parsed as TOML (size-capped; no student
code runs) and each question becomes one ``TestResult`` (task = the question's topic), so
results.json, feedback.md and grades.csv work unchanged.

Scoring: true/false and numeric questions are all or nothing (numeric within the key's
tolerance, ``|x - answer| <= max(abs, rel * |answer|)``). A multi-select question gives
``max(0, right picks / correct options - wrong picks / incorrect options)`` of its points,
so ticking every option scores 0.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

from graders.grading.assignment import reveals
from graders.grading.engine import Diagnosis, SubmissionResult, TestResult
from graders.quiz import answers_format
from graders.quiz.model import TYPE_WORDS, KeyEntry, Question, Quiz

ISOLATION = "not needed (a quiz runs no student code)"
_DECIMALS_ASKED = re.compile(r"\((\d+) decimals?\)")  # "(4 decimals)" in a numeric prompt


def score(question: Question, entry: KeyEntry, answer) -> float:
    """The fraction of the question's points an answer earns (``None``: not answered)."""
    if answer is None:
        return 0.0
    if question.type == "true_false":
        return 1.0 if answer == entry.answer else 0.0
    if question.type == "multi":
        # Right picks share the points among the correct options and wrong picks share the
        # same points among the incorrect ones, so ticking every option earns exactly 0.
        correct, picked = set(entry.answer), set(answer)
        incorrect = len(question.options) - len(correct)
        right, wrong = len(picked & correct), len(picked - correct)
        return max(0.0, right / len(correct) - (wrong / incorrect if incorrect else 0.0))
    return 1.0 if within(answer, entry) else 0.0


def decimals_asked(question: Question) -> int:
    """The decimals a numeric prompt asks for, "(4 decimals)"; one that names none wants a whole number."""
    match = _DECIMALS_ASKED.search(question.prompt)
    return int(match.group(1)) if match else 0


def promised_tolerance(question: Question) -> float:
    """The handout's rule: half a unit in the last decimal the question asks for."""
    return 0.5 * 10.0 ** -decimals_asked(question)


def within(value: float, entry: KeyEntry) -> bool:
    # The bounds are inclusive; the slack absorbs float rounding of answer +- tolerance.
    return abs(value - entry.answer) <= entry.tolerance * (1 + 1e-9) + 1e-12


def grade(quiz: Quiz, submission: Path, student: str) -> SubmissionResult:
    started = time.monotonic()
    result = SubmissionResult(student=student, assignment=quiz.name, status="graded", isolation=ISOLATION)
    result.reveal = quiz.reveal  # render hides messages and concepts under "names"
    answers, problems = answers_format.read(Path(submission) / answers_format.FILENAME, quiz.format_spec())
    key = quiz.key
    for question in quiz.questions.values():
        test = TestResult(question.id, question.topic, "cpu", _description(question), question.points)
        result.tests.append(test)
        if problems:
            test.message = f"not graded: {answers_format.FILENAME} could not be read"
            continue
        _mark(quiz, question, key[question.id], answers.get(question.id), test)
    if problems:
        result.status = "not_loaded"
        result.message = (f"{answers_format.FILENAME} could not be read, so no question was graded. "
                          "Fix these and check with `python check_answers.py`:\n"
                          + "\n".join(f"- {problem}" for problem in problems))
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _mark(quiz: Quiz, question: Question, entry: KeyEntry, answer, test: TestResult) -> None:
    fraction = score(question, entry, answer)
    test.points = round(fraction * question.points, 6)
    if fraction >= 1.0:
        test.status, test.message = "passed", "right"
        return
    if answer is None:
        test.message = "not answered"
    else:
        verdict = "not right" if fraction == 0 else f"partly right: {test.points:g} of {question.points:g} points"
        test.message = f"you answered {format_answer(question, answer)}: {verdict}"
    # Always recorded (the instructor's report counts concepts); render shows it to the
    # student only where the reveal policy shows messages.
    test.diagnoses = [Diagnosis(concept_id(question.concept), revisit(quiz, question))]
    if reveals(quiz.reveal, "inputs"):
        test.message += f"; the answer is {format_answer(question, entry.answer)}"


def revisit(quiz: Quiz, question: Question) -> str:
    if question.revisit:  # the seed item was the flawed one: point to material that is right
        return f"this question is about {question.concept}; revisit it in {question.revisit}."
    return (f"this question is about {question.concept}; revisit it in the {quiz.sources[question.seed]} "
            f"({question.item}).")


def concept_id(concept: str) -> str:
    return "concept:" + re.sub(r"[^a-z0-9]+", "_", concept.lower()).strip("_")


def format_answer(question: Question, answer) -> str:
    if question.type == "true_false":
        return "true" if answer else "false"
    if question.type == "multi":
        return '"' + ",".join(map(str, answer)) + '"'
    return f"{answer:g}"


def _description(question: Question) -> str:
    first = " ".join(question.prompt.split())
    return f"{question.id} ({TYPE_WORDS[question.type]}): " + (first if len(first) <= 70 else first[:67] + "...")

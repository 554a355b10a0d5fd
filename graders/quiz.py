"""Quizzes: assignments of ``kind = "quiz"`` whose submission is an answers.toml.

A quiz is graded in the trusted process: the student's answers.toml is parsed as TOML
(size-capped; no student code runs) and each question becomes one ``TestResult`` (task =
the question's topic), so results.json, feedback.md and grades.csv work unchanged.

    assignments/<name>/manifest.toml   kind = "quiz", title, reveal, [topics], [sources]
    assignments/<name>/questions.toml  [[questions]]: id, topic, type, points, prompt,
                                       options (multi), seed, item, concept
    assignments/<name>/mistakes.toml   [[mistakes]]: common wrong answers validate must catch
    assignments/<name>/handout.md      the README's opening; the questions are appended
    reference/<name>/answers.toml      the key: [answers.<id>] answer, abs/rel tolerance,
                                       fixed (why it differs from its seed); [[dropped]] items

Scoring: true/false and numeric questions are all or nothing (numeric within the key's
tolerance, ``|x - answer| <= max(abs, rel * |answer|)``). A multi-select question gives
``max(0, right picks / correct options - wrong picks / incorrect options)`` of its points,
so ticking every option scores 0.
"""
from __future__ import annotations

import itertools
import json
import math
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from graders import quiz_format
from graders.grading.assignment import REVEAL_LEVELS, ManifestError, Task, reveals
from graders.grading.engine import Diagnosis, SubmissionResult, TestResult

ISOLATION = "not needed (a quiz runs no student code)"
TYPE_WORDS = {"true_false": "true/false", "multi": "choose every correct option", "numeric": "numeric"}
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")  # a TOML bare key, so the student writes q01 = ...
_DECIMALS_ASKED = re.compile(r"\((\d+) decimals?\)")  # "(4 decimals)" in a numeric prompt


@dataclass(frozen=True)
class Question:
    id: str
    topic: str
    type: str
    points: float
    prompt: str
    seed: str  # the seed file it came from
    item: str  # which card or question of that seed
    concept: str  # what feedback tells a student to revisit
    options: tuple[str, ...] = ()
    revisit: str = ""  # where to revisit it, when the seed item itself was wrong


@dataclass(frozen=True)
class KeyEntry:
    answer: object  # bool | tuple[int, ...] | float
    abs: float = 0.0
    rel: float = 0.0
    fixed: str = ""  # why this question differs from its seed item

    @property
    def tolerance(self) -> float:
        return max(self.abs, self.rel * abs(self.answer))


@dataclass(frozen=True)
class Mistake:
    id: str
    description: str
    answers: dict  # question id -> a wrong answer, written as a student would


@dataclass
class Quiz:
    name: str
    title: str
    folder: Path
    reference_path: Path  # the key
    questions: dict[str, Question]
    topics: dict[str, str]  # id -> title, in order
    sources: dict[str, str]  # seed file -> what students know it as
    reveal: str = "messages"
    kind = "quiz"
    submission_file = "answers.toml"
    devices = ("cpu",)
    require_gpu = False
    variants = ()

    @property
    def tasks(self) -> dict[str, Task]:
        """One task per topic, worth its questions' points (for code that reads tasks)."""
        return {topic: Task(topic, title, tuple(q.id for q in self.questions.values() if q.topic == topic),
                            {"cpu": sum(q.points for q in self.questions.values() if q.topic == topic)})
                for topic, title in self.topics.items()}

    def format_spec(self) -> dict[str, tuple[str, int]]:
        return {q.id: (q.type, len(q.options)) for q in self.questions.values()}

    @cached_property
    def _key_file(self) -> dict:
        if not self.reference_path.is_file():
            raise ManifestError(f"the answer key {self.reference_path} does not exist")
        try:
            return tomllib.loads(self.reference_path.read_text())
        except tomllib.TOMLDecodeError as error:
            raise ManifestError(f"{self.reference_path} is not valid TOML: {error}") from None

    @cached_property
    def key(self) -> dict[str, KeyEntry]:
        where = self.reference_path
        table = self._key_file.get("answers", {})
        missing = [qid for qid in self.questions if qid not in table]
        extra = [qid for qid in table if qid not in self.questions]
        if missing or extra:
            raise ManifestError(f"{where}: " + "; ".join(
                ([f"no answer for {', '.join(missing)}"] if missing else [])
                + ([f"answers for questions that do not exist: {', '.join(extra)}"] if extra else [])))
        return {qid: _key_entry(self.questions[qid], table[qid], f"{where}: answers.{qid}") for qid in self.questions}

    @cached_property
    def dropped(self) -> list[dict]:
        """Seed items left out of the quiz, each with why."""
        entries = self._key_file.get("dropped", [])
        for index, entry in enumerate(entries):
            context = f"{self.reference_path}: dropped[{index}]"
            if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) and entry[k].strip()
                                                      for k in ("seed", "item", "reason")):
                raise ManifestError(f"{context} needs seed, item and reason (non-empty strings)")
            if entry["seed"] not in self.sources:
                raise ManifestError(f"{context}: seed {entry['seed']!r} is not listed in the manifest's [sources]")
        return entries

    @cached_property
    def mistakes(self) -> list[Mistake]:
        path = self.folder / "mistakes.toml"
        if not path.exists():
            return []
        try:
            entries = tomllib.loads(path.read_text()).get("mistakes", [])
        except tomllib.TOMLDecodeError as error:
            raise ManifestError(f"{path} is not valid TOML: {error}") from None
        found = []
        for index, entry in enumerate(entries):
            context = f"{path}: mistakes[{index}]"
            if not isinstance(entry.get("id"), str) or not isinstance(entry.get("answers"), dict) or not entry["answers"]:
                raise ManifestError(f"{context} needs an id and a non-empty answers table")
            for qid, value in entry["answers"].items():
                if qid not in self.questions:
                    raise ManifestError(f"{context}: {qid!r} is not a question id")
                _, problem = quiz_format.parse_value(value, self.questions[qid].type, len(self.questions[qid].options))
                if problem or value == "":
                    raise ManifestError(f"{context}: {qid}: {problem or 'a mistake must give an answer'}")
            found.append(Mistake(entry["id"], entry.get("description", ""), dict(entry["answers"])))
        return found


# --------------------------------------------------------------------------- loading

def parse(manifest: dict, name: str, folder: Path, root: Path, where: Path) -> Quiz:
    """A quiz from its manifest (already read) and questions.toml; the key is read lazily."""
    if manifest.get("name", name) != name:
        raise ManifestError(f"{where}: name {manifest['name']!r} differs from its folder {name!r}")
    # "names": scores only; "messages" (the default): plus the concept to revisit;
    # "answers" (or "inputs"): plus the right answer.
    reveal = manifest.get("reveal", "messages")
    if reveal not in REVEAL_LEVELS:
        raise ManifestError(f"{where}: reveal must be one of {list(REVEAL_LEVELS)}, not {reveal!r}")
    topics, sources = manifest.get("topics", {}), manifest.get("sources", {})
    for label, table in (("topics", topics), ("sources", sources)):
        if not isinstance(table, dict) or not table or not all(isinstance(v, str) for v in table.values()):
            raise ManifestError(f"{where}: [{label}] must be a table of names to titles")
    path = folder / "questions.toml"
    try:
        entries = tomllib.loads(path.read_text()).get("questions", [])
    except FileNotFoundError:
        raise ManifestError(f"{path} does not exist; a quiz lists its questions there") from None
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"{path} is not valid TOML: {error}") from None
    questions: dict[str, Question] = {}
    for index, entry in enumerate(entries):
        question = _question(entry, f"{path}: questions[{index}]", topics, sources)
        if question.id in questions:
            raise ManifestError(f"{path}: question id {question.id!r} appears twice")
        questions[question.id] = question
    if not questions:
        raise ManifestError(f"{path} holds no [[questions]]")
    return Quiz(name=name, title=manifest.get("title", name), folder=folder,
                reference_path=root / "reference" / name / quiz_format.FILENAME,
                questions=questions, topics=dict(topics), sources=dict(sources), reveal=reveal)


def _question(entry: dict, context: str, topics: dict, sources: dict) -> Question:
    def need(key: str, kind=str):
        value = entry.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) or (isinstance(value, str) and not value.strip()):
            raise ManifestError(f"{context}: needs {key} ({getattr(kind, '__name__', 'a number')})")
        return value

    qid = need("id")
    context = f"{context} ({qid})"
    if not _ID.match(qid):
        raise ManifestError(f"{context}: an id is a letter then letters, digits or _")
    kind = need("type")
    if kind not in quiz_format.TYPES:
        raise ManifestError(f"{context}: type must be one of {list(quiz_format.TYPES)}, not {kind!r}")
    options = entry.get("options", [])
    if kind == "multi" and not (isinstance(options, list) and len(options) >= 2
                                and all(isinstance(o, str) and o.strip() for o in options)):
        raise ManifestError(f"{context}: a multi question needs at least two options")
    if kind != "multi" and options:
        raise ManifestError(f"{context}: only multi questions have options")
    points = need("points", (int, float))
    if points <= 0:
        raise ManifestError(f"{context}: points must be positive")
    topic, seed = need("topic"), need("seed")
    if topic not in topics:
        raise ManifestError(f"{context}: topic {topic!r} is not listed in the manifest's [topics]")
    if seed not in sources:
        raise ManifestError(f"{context}: seed {seed!r} is not listed in the manifest's [sources]")
    revisit = entry.get("revisit", "")
    if not isinstance(revisit, str):
        raise ManifestError(f"{context}: revisit must be a string (where to look instead of the seed item)")
    return Question(qid, topic, kind, float(points), need("prompt").strip(), seed, need("item"),
                    need("concept"), tuple(options), revisit)


def _key_entry(question: Question, entry, context: str) -> KeyEntry:
    if not isinstance(entry, dict) or "answer" not in entry:
        raise ManifestError(f"{context} must be a table with an answer")
    unknown = set(entry) - {"answer", "abs", "rel", "fixed"}
    if unknown:
        raise ManifestError(f"{context}: unknown keys {sorted(unknown)}")
    answer, fixed = entry["answer"], entry.get("fixed", "")
    if not isinstance(fixed, str):
        raise ManifestError(f"{context}: fixed must be a string (why this differs from its seed)")
    if question.type == "true_false":
        if not isinstance(answer, bool):
            raise ManifestError(f"{context}: a true/false answer is true or false")
        return KeyEntry(answer, fixed=fixed)
    if question.type == "multi":
        picks = answer if isinstance(answer, list) else None
        if not picks or not all(isinstance(p, int) and not isinstance(p, bool) and 1 <= p <= len(question.options)
                                for p in picks) or len(set(picks)) != len(picks):
            raise ManifestError(f"{context}: a multi answer is a non-empty list of distinct option "
                                f"numbers from 1 to {len(question.options)}")
        if len(picks) == len(question.options):
            raise ManifestError(f"{context}: a multi question needs at least one wrong option; "
                                "with every option right, ticking them all without reading earns full marks")
        return KeyEntry(tuple(sorted(picks)), fixed=fixed)
    tolerances = [entry.get("abs", 0.0), entry.get("rel", 0.0)]
    if not isinstance(answer, (int, float)) or isinstance(answer, bool) or not all(
            isinstance(t, (int, float)) and not isinstance(t, bool) and t >= 0 for t in tolerances):
        raise ManifestError(f"{context}: a numeric answer is a number, with abs and/or rel tolerances >= 0")
    if not any(tolerances):
        raise ManifestError(f"{context}: a numeric answer needs a tolerance (abs or rel > 0)")
    return KeyEntry(float(answer), float(tolerances[0]), float(tolerances[1]), fixed)


# --------------------------------------------------------------------------- grading

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
    answers, problems = quiz_format.read(Path(submission) / quiz_format.FILENAME, quiz.format_spec())
    key = quiz.key
    for question in quiz.questions.values():
        test = TestResult(question.id, question.topic, "cpu", _description(question), question.points)
        result.tests.append(test)
        if problems:
            test.message = f"not graded: {quiz_format.FILENAME} could not be read"
            continue
        _mark(quiz, question, key[question.id], answers.get(question.id), test)
    if problems:
        result.status = "not_loaded"
        result.message = (f"{quiz_format.FILENAME} could not be read, so no question was graded. "
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


# --------------------------------------------------------------------------- the template

def answers_text(quiz: Quiz, values: dict | None = None) -> str:
    """An answers.toml with every question id, each set to ``values[id]`` or left empty."""
    values = values or {}
    lines = [f"# {quiz.title}: your answers. The questions are in README.md.",
             "#",
             "#   true/false:    qNN = true             (or false)",
             '#   multi-select:  qNN = "2,3,5"          (the numbers of every option you pick)',
             "#   numeric:       qNN = 0.25             (a number)",
             '#   skipped:       qNN = ""               (scores 0 for that question, nothing else)',
             "#",
             "# Check the format (never the answers) with: python check_answers.py", ""]
    for question in quiz.questions.values():
        hint = TYPE_WORDS[question.type] + (f", options 1-{len(question.options)}" if question.options else "")
        lines.append(f"{question.id} = {_toml_value(values.get(question.id, ''))}  # {hint}")
    return "\n".join(lines) + "\n"


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a TOML basic string


def key_as_answers(quiz: Quiz) -> dict:
    """The key written as a student would write it."""
    result = {}
    for qid, entry in quiz.key.items():
        if quiz.questions[qid].type == "multi":
            result[qid] = ",".join(map(str, entry.answer))
        else:
            result[qid] = entry.answer
    return result


def readme(quiz: Quiz) -> str:
    lines = [(quiz.folder / "handout.md").read_text().rstrip(), ""]
    for topic, title in quiz.topics.items():
        questions = [q for q in quiz.questions.values() if q.topic == topic]
        if not questions:
            continue
        lines += [f"## {title}", ""]
        for q in questions:
            points = f"{q.points:g} point{'s' if q.points != 1 else ''}"
            lines += [f"### {q.id} · {TYPE_WORDS[q.type]} · {points}", "", q.prompt, ""]
            lines += [f"{number}. {option}" for number, option in enumerate(q.options, start=1)]
            if q.options:
                lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def template_files(quiz: Quiz) -> dict[str, str]:
    """The student's template repo: the questions, a blank answers.toml and a format check."""
    spec = json.dumps({qid: list(value) for qid, value in quiz.format_spec().items()}, indent=4)
    checker = (Path(quiz_format.__file__).read_text().rstrip() + "\n\n\n"
               f"# Generated by `nngrade release {quiz.name}`: each question's type and number of options.\n"
               f"QUESTIONS = {{qid: tuple(value) for qid, value in {spec}.items()}}\n\n"
               'if __name__ == "__main__":\n    sys.exit(main(sys.argv[1:], QUESTIONS))\n')
    return {
        "README.md": readme(quiz),
        quiz_format.FILENAME: answers_text(quiz),
        "check_answers.py": checker,
        "requirements.txt": "tomli>=1.1; python_version < '3.11'\n",
        ".gitignore": "__pycache__/\n*.pyc\n.venv/\n",
        ".github/workflows/classroom.yml": _workflow(quiz),
    }


def _workflow(quiz: Quiz) -> str:
    from graders.outputs import release

    return f"""# Generated by `nngrade release {quiz.name}`: checks that answers.toml is well formed on
# every push (worth 0 points: the answers are graded by the instructor's grader, whose key
# never ships in this repository).
{release.WORKFLOW_PREAMBLE}    - name: answers-format
      id: answers-format
      uses: classroom-resources/autograding-command-grader@v1
      with:
        test-name: answers-format
        command: python check_answers.py
        timeout: 1
        max-score: 0
    - name: Autograding Reporter
      uses: classroom-resources/autograding-grading-reporter@v1
      env:
        ANSWERS-FORMAT_RESULTS: "${{{{steps.answers-format.outputs.result}}}}"
      with:
        runners: answers-format
"""


# --------------------------------------------------------------------------- validate

def validate(quiz: Quiz, report=print) -> list:
    """Prove a quiz sound: the key scores full marks, the blank template zero, every known
    mistake loses points and names its concept, partial credit and tolerances work as
    documented, every numeric question keeps the handout's rounding promise, malformed
    answers give a clear error, and the template's check agrees."""
    from graders.outputs import render
    from graders.grading.validate import Check

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
                (folder / quiz_format.FILENAME).write_text(text)
            return grade(quiz, folder, f"validate-{label}")

        solution = key_as_answers(quiz)
        result = graded("key", answers_text(quiz, solution))
        lost = [t.name for t in result.tests if t.points < t.max_points]
        record("key", result.status == "graded" and result.score == result.max_score > 0 and not lost,
               _score(result) + (f"; lost points on {lost}" if lost else ""))

        blank = template_files(quiz)[quiz_format.FILENAME]
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
                found.setdefault(qid, []).append((quiz_format.parse_value(value, "numeric")[0], mistake.id))
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
    (folder / quiz_format.FILENAME).write_text(answers)
    completed = subprocess.run([sys.executable, "-I", "check_answers.py"], cwd=folder, capture_output=True,
                               text=True, timeout=60)
    summary = (completed.stdout.strip().splitlines() or ["(no output)"])[0]
    return completed.returncode == 0, summary[:90]


def _score(result: SubmissionResult) -> str:
    return f"{result.score:g}/{result.max_score:g}"

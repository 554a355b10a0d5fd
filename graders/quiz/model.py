"""A quiz as the grader sees it: its questions, read when it is loaded, and its answer key,
dropped seed items and catalogue of mistakes, read on first use (so a broken key fails
``validate`` with a clear message instead of failing every command that loads the quiz).

    assignments/<name>/manifest.toml   kind = "quiz", title, reveal, [topics], [sources]
    assignments/<name>/questions.toml  [[questions]]: id, topic, type, points, prompt,
                                       options (multi), seed, item, concept
    assignments/<name>/mistakes.toml   [[mistakes]]: common wrong answers validate must catch
    assignments/<name>/handout.md      the README's opening; the questions are appended
    reference/<name>/answers.toml      the key: [answers.<id>] answer, abs/rel tolerance,
                                       fixed (why it differs from its seed); [[dropped]] items
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from graders.grading.assignment import ManifestError, Task
from graders.quiz import answers_format

TYPE_WORDS = {"true_false": "true/false", "multi": "choose every correct option", "numeric": "numeric"}


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
    kind = "quiz"  # graders.kinds.QUIZ
    submission_file = "answers.toml"
    devices = ("cpu",)
    require_gpu = False
    variants = ()
    # What a platform bundle installs for it: nothing beyond the grader's own needs.
    framework = "none"  # no student code runs
    requirements = ()

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
                _, problem = answers_format.parse_value(value, self.questions[qid].type, len(self.questions[qid].options))
                if problem or value == "":
                    raise ManifestError(f"{context}: {qid}: {problem or 'a mistake must give an answer'}")
            found.append(Mistake(entry["id"], entry.get("description", ""), dict(entry["answers"])))
        return found



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


"""A quiz from its manifest (already read) and its questions.toml."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

from graders.grading.assignment import REVEAL_LEVELS, ManifestError
from graders.quiz import answers_format
from graders.quiz.model import Question, Quiz

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")  # a TOML bare key, so the student writes q01 = ...


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
                reference_path=root / "reference" / name / answers_format.FILENAME,
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
    if kind not in answers_format.TYPES:
        raise ManifestError(f"{context}: type must be one of {list(answers_format.TYPES)}, not {kind!r}")
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

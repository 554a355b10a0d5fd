"""The format of a quiz's answers.toml: read it, and say clearly what is wrong with it.

This file has two homes. The grader imports it to read a submission, and
`nngrade release` copies it unchanged into the student's template as check_answers.py,
with the quiz's question list appended, so the check a student runs and the grader
read answers the same way. It checks the *format* only: it never knows the answers.

    true/false questions    qNN = true             (or false; "true" and "false" work too)
    multi-select questions  qNN = "2,3,5"          (every option you pick; or [2, 3, 5])
    numeric questions       qNN = 0.25             (a number; "0.25" works too)
    a question you skip     qNN = ""               (or leave the line out)

Run it from the repository root: ``python check_answers.py`` (Python 3.11+, or
``pip install tomli`` on an older Python).
"""
from __future__ import annotations

import math
import re
import sys  # noqa: F401 - check_answers.py ends with sys.exit(main(...))
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]

FILENAME = "answers.toml"
SIZE_LIMIT = 64 * 1024  # bytes; a real answers file is a few KB
PROBLEMS_SHOWN = 20  # a file of thousands of bad lines gets a readable list, not a wall of text
TYPES = ("true_false", "multi", "numeric")
_TRUE = {"true", "t", "yes", "y"}
_FALSE = {"false", "f", "no", "n"}
_SEPARATORS = re.compile(r"[\s,;]+")
# ASCII digits only: "²" and "٣" pass str.isdigit(), and int() rejects the first; nine
# digits at most, so no option number reaches Python's limit on converting long integers.
_OPTION_NUMBER = re.compile(r"[0-9]{1,9}")
# A top-level `key =` line: a bare key or a quoted one without escapes.
_ASSIGNMENT = re.compile(r"""^\s*([A-Za-z0-9_-]+|"[^"\\]*"|'[^']*')\s*=""")


def read(path, questions: dict) -> tuple[dict, list[str]]:
    """Read an answers file: ``(answers by question id, problems)``.

    ``questions`` maps each id to ``(type, number of options)``. An answer is ``None``
    (not answered), a bool, a tuple of option numbers, or a float. The file is well
    formed exactly when ``problems`` is empty.
    """
    path = Path(path)
    if path.is_symlink() or (path.exists() and not path.is_file()):
        return {}, [f"{path.name} must be a plain file (not a link or a folder)"]
    if not path.exists():
        return {}, [f"there is no {path.name} at the top of the submission"]
    with open(path, "rb") as stream:
        data = stream.read(SIZE_LIMIT + 1)
    if len(data) > SIZE_LIMIT:
        return {}, [f"{path.name} is larger than {SIZE_LIMIT // 1024} KB; it should hold one short line per question"]
    try:
        text = data.decode("utf-8-sig")  # Windows editors may start the file with a byte-order mark
    except UnicodeDecodeError as error:
        return {}, [f"{path.name} is not UTF-8 text (byte {error.start} cannot be decoded)"]
    return parse(text, questions)


def parse(text: str, questions: dict) -> tuple[dict, list[str]]:
    """Like ``read``, for the file's text."""
    table, problem = _load_toml(text)
    if problem:
        return {}, [problem]
    answers = {qid: None for qid in questions}
    problems = []
    ids = list(questions)
    lines = _assignment_lines(text)
    for key, value in table.items():
        where = f"line {lines[key]}: " if key in lines else ""
        if key not in questions:
            known = f"{ids[0]} to {ids[-1]}" if ids else "none"
            problems.append(f"{where}{_shown(key)} is not a question id (the ids are {known})")
            continue
        kind, options = questions[key]
        answer, problem = parse_value(value, kind, options)
        if problem:
            problems.append(f"{where}{key}: {problem}")
        else:
            answers[key] = answer
    return answers, _shortened(problems)


def _load_toml(text: str) -> tuple[dict, str | None]:
    """``(table, None)``, or ``({}, why)`` for text no TOML reader can turn into answers."""
    hint = "Each line should look like q07 = true, q08 = \"2,3\" or q09 = 0.25"
    try:
        return tomllib.loads(text), None
    except tomllib.TOMLDecodeError as error:
        return {}, f"{FILENAME} is not valid TOML: {error}. {hint}"
    except RecursionError:  # brackets or braces nested thousands deep
        return {}, f"{FILENAME} nests lists or tables too deeply to be read. {hint}"
    except ValueError:  # an integer longer than Python converts (about 4300 digits)
        return {}, f"{FILENAME} holds a number with thousands of digits, too long to be read. {hint}"


def _shortened(problems: list[str]) -> list[str]:
    if len(problems) <= PROBLEMS_SHOWN:
        return problems
    return problems[:PROBLEMS_SHOWN] + [f"... and {len(problems) - PROBLEMS_SHOWN} more problems like these"]


def parse_value(value, kind: str, options: int = 0):
    """``(answer, None)`` for a well-formed value of a question of this kind, else ``(None, problem)``."""
    if isinstance(value, str) and not value.strip() or value == []:
        return None, None  # not answered
    if kind == "true_false":
        if isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE, None
        return None, f"a true/false question takes true or false, not {_shown(value)}"
    if kind == "multi":
        if isinstance(value, str):
            tokens = [t for t in _SEPARATORS.split(value.strip()) if t]
            if not all(_OPTION_NUMBER.fullmatch(t) for t in tokens):
                return None, f'write the numbers of the options you pick, like "2,3,5", not {_shown(value)}'
            picks = [int(t) for t in tokens]
        elif isinstance(value, int) and not isinstance(value, bool):
            picks = [value]
        elif isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            picks = list(value)
        else:
            return None, f'write the numbers of the options you pick, like "2,3,5", not {_shown(value)}'
        outside = sorted({p for p in picks if not 1 <= p <= options})
        if outside:
            return None, (f"option {', '.join(_shown(p) for p in outside[:5])} does not exist "
                          f"(this question has options 1 to {options})")
        return tuple(sorted(set(picks))), None
    if kind == "numeric":
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:  # an integer of hundreds of digits
                number = math.inf
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                pass
        if number is None:
            return None, f"a numeric question takes a number, like 0.25 or -1.5e-3, not {_shown(value)}"
        if not math.isfinite(number):
            return None, f"a numeric answer must be a finite number, not {_shown(value)}"
        return number, None
    raise ValueError(f"unknown question type {kind!r}; the types are {', '.join(TYPES)}")


def _assignment_lines(text: str) -> dict[str, int]:
    """The line on which each key is first assigned at the top level, where it can be found.

    One pass over the file: a search per key would take seconds on a file of thousands
    of keys."""
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _ASSIGNMENT.match(line)
        if match:
            key = match.group(1)
            lines.setdefault(key[1:-1] if key[0] in "\"'" else key, number)
    return lines


def _shown(value) -> str:
    text = repr(value) if not isinstance(value, bool) else str(value).lower()
    return text if len(text) <= 40 else text[:37] + "..."


def main(argv: list[str], questions: dict) -> int:
    path = Path(argv[0] if argv else FILENAME)
    answers, problems = read(path, questions)
    if problems:
        print(f"{path} is not well formed; the grader would not be able to read it:")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    answered = sum(answer is not None for answer in answers.values())
    print(f"{path} is well formed: {answered} of {len(questions)} questions answered. "
          "(This checks the format only, never whether an answer is right.)")
    return 0

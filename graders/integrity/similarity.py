"""How alike a batch's submissions are: winnowed fingerprints of normalised tokens.

Each submission's Python source is tokenised with the standard library's ``tokenize``;
comments and layout go, every name that is not an attribute, a keyword or a builtin becomes
``N`` and every string ``S``, so renaming variables and functions changes nothing. Hashes of
every run of ``K`` tokens are *winnowed* (the smallest hash of each window of ``WINDOW``
runs is kept), which guarantees that any shared run of ``K + WINDOW - 1`` tokens is seen.
A submission's fingerprint is the *set* of those hashes, so reordering functions changes
nothing either. Fingerprints of the boilerplate (the reference, the template's stub, the
handout's code) are removed first: what is left is what the student wrote.

Two submissions' similarity is the share of the smaller one's fingerprints that the other
has too. Pairs at or above ``THRESHOLD`` are for a person to look at, side by side, with the
lines that match highlighted (``graders.outputs.report``). The student's text is hostile: it is
only tokenised here, and escaped wherever it is shown.

(copydetect does the same kind of winnowing but brings jinja2, pygments, tqdm and
matplotlib into the grader and reads files by path; this is a page of code.)
"""
from __future__ import annotations

import builtins
import csv
import io
import json
import keyword
import re
import tokenize
import zlib
from dataclasses import dataclass, field
from pathlib import Path

K = 14  # tokens per hashed run
WINDOW = 6  # runs per winnowing window: a shared run of K + WINDOW - 1 = 19 tokens is always found
THRESHOLD = 0.6
MIN_FINGERPRINTS = 10  # below this, too little of one's own code to compare
MAX_SOURCE_BYTES = 512 * 1024
MAX_PAIRS_SHOWN = 50
_KEPT_NAMES = frozenset(keyword.kwlist) | frozenset(dir(builtins))
_FALLBACK_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass
class Fingerprint:
    hashes: dict[int, set[int]] = field(default_factory=dict)  # hash -> source lines it covers

    def __len__(self) -> int:
        return len(self.hashes)


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    score: float  # share of the smaller fingerprint found in the other
    shared: int  # fingerprints in common
    lines_a: tuple[int, ...]  # lines of a's source that match b
    lines_b: tuple[int, ...]


def tokens(source: str) -> list[tuple[str, int]]:
    """(normalised token, line) pairs; never raises, whatever the text."""
    out: list[tuple[str, int]] = []
    previous = ""
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            kind, text, line = token.type, token.string, token.start[0]
            if kind in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                        tokenize.ENDMARKER, tokenize.ENCODING) or text in "()":
                continue  # layout, and brackets that a reformatter adds or drops
            if kind == tokenize.NAME:
                text = text if text in _KEPT_NAMES or previous == "." else "N"
            elif kind == tokenize.STRING or kind == getattr(tokenize, "FSTRING_START", -1):
                text = "S"
            out.append((text, line))
            previous = token.string
    except (tokenize.TokenError, IndentationError, SyntaxError, ValueError):
        # Broken text still has tokens: fall back to words and symbols, line by line.
        out = [("N" if w.isidentifier() and w not in _KEPT_NAMES else w, number)
               for number, line in enumerate(source.splitlines(), 1) for w in _FALLBACK_TOKEN.findall(line)]
    return out


def fingerprint(source: str) -> Fingerprint:
    """Winnowed hashes of each top-level statement on its own: no hashed run spans two
    functions, so the order of the functions in the file does not matter."""
    source = source[:MAX_SOURCE_BYTES]
    result = Fingerprint()
    for unit in _units(source, tokens(source)):
        runs = []
        for start in range(len(unit) - K + 1):
            window = unit[start:start + K]
            runs.append((zlib.crc32("\x1f".join(t for t, _ in window).encode()), window[0][1], window[-1][1]))
        for start in range(max(len(runs) - WINDOW + 1, 1 if runs else 0)):
            window = runs[start:start + WINDOW]
            chosen = min(range(len(window)), key=lambda i: (window[i][0], -i))  # the rightmost smallest
            value, first, last = window[chosen]
            result.hashes.setdefault(value, set()).update(range(first, last + 1))
    return result


def _units(source: str, stream: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
    """The token stream cut at top-level statements (one unit if the text does not parse)."""
    import ast

    try:
        body = ast.parse(source).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return [stream]
    starts = sorted({min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) for node in body})
    units: list[list[tuple[str, int]]] = [[] for _ in range(len(starts) + 1)]
    index = 0
    for token, line in stream:
        while index < len(starts) and line >= starts[index]:
            index += 1
        units[index].append((token, line))
    return [unit for unit in units if unit]


def compare(sources: dict[str, str], boilerplate=()) -> list[Pair]:
    """Every pair sharing fingerprints, most similar first."""
    common: set[int] = set()
    for text in boilerplate:
        common |= set(fingerprint(text).hashes)
    prints = {}
    for name, text in sources.items():
        found = fingerprint(text)
        found.hashes = {h: lines for h, lines in found.hashes.items() if h not in common}
        if len(found) >= MIN_FINGERPRINTS:
            prints[name] = found
    holders: dict[int, list[str]] = {}
    for name, found in prints.items():
        for value in found.hashes:
            holders.setdefault(value, []).append(name)
    counts: dict[tuple[str, str], int] = {}
    for names in holders.values():
        if len(names) > 1:
            names = sorted(names)
            for i, a in enumerate(names):
                for b in names[i + 1:]:
                    counts[(a, b)] = counts.get((a, b), 0) + 1
    pairs = []
    for (a, b), shared in counts.items():
        fa, fb = prints[a], prints[b]
        both = fa.hashes.keys() & fb.hashes.keys()
        pairs.append(Pair(a, b, round(shared / min(len(fa), len(fb)), 4), shared,
                          tuple(sorted(set().union(*(fa.hashes[h] for h in both)))),
                          tuple(sorted(set().union(*(fb.hashes[h] for h in both))))))
    return sorted(pairs, key=lambda p: (-p.score, -p.shared, p.a, p.b))


# --------------------------------------------------------------------------- a batch

def boilerplate(assignment) -> list[str]:
    """The reference, the template's stub and the handout's code blocks."""
    from graders.outputs import release

    texts = [assignment.reference_source, release.strip_solutions(assignment.reference_source)]
    handout = assignment.folder / "handout.md"
    if handout.is_file():
        texts += re.findall(r"```(?:python|py)?\n(.*?)```", handout.read_text(), flags=re.S)
    return texts


def submission_source(folder: Path, module: str) -> str:
    """The student's module and the other Python files beside it (tests and the template's
    own test plugin left out), as one text; files are read as bytes and decoded leniently."""
    parts = []
    if folder.is_symlink() or not folder.is_dir():
        return ""  # grading refuses such a folder; never read through a link here either
    main = folder / f"{module}.py"
    others = sorted(p for p in folder.rglob("*.py") if p != main and "tests" not in p.relative_to(folder).parts
                    and p.name != "conftest.py" and not p.is_symlink())[:200]
    total = 0
    for path in ([main] if main.is_file() and not main.is_symlink() else []) + others:
        data = path.read_bytes()[:MAX_SOURCE_BYTES - total]
        total += len(data)
        parts.append(data.decode("utf-8", "replace"))
        if total >= MAX_SOURCE_BYTES:
            break
    return "\n".join(parts)


def write(out: Path, assignment, submissions: dict[str, Path]) -> list[Pair]:
    """``out/similarity.csv`` (every pair with anything in common) and ``out/similarity.json``
    (the pairs at or above the threshold, with both sources, for the report)."""
    from graders.outputs import render

    sources = {name: submission_source(folder, assignment.module) for name, folder in submissions.items()}
    pairs = compare(sources, boilerplate(assignment))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student_a", "student_b", "similarity", "shared_fingerprints", "above_threshold",
                     "lines_a", "lines_b"])
    for pair in pairs:
        writer.writerow([pair.a, pair.b, f"{pair.score:.3f}", pair.shared, "yes" if pair.score >= THRESHOLD else "no",
                         _ranges(pair.lines_a), _ranges(pair.lines_b)])
    render.atomic_write(out / "similarity.csv", buffer.getvalue())
    shown = [p for p in pairs if p.score >= THRESHOLD][:MAX_PAIRS_SHOWN]
    document = {"threshold": THRESHOLD, "k": K, "window": WINDOW, "pairs_compared": len(sources) * (len(sources) - 1) // 2,
                "pairs": [{"a": p.a, "b": p.b, "score": p.score, "shared": p.shared, "lines_a": list(p.lines_a),
                           "lines_b": list(p.lines_b), "source_a": sources[p.a], "source_b": sources[p.b]}
                          for p in shown]}
    render.atomic_write(out / "similarity.json", json.dumps(document) + "\n")
    return pairs


def _ranges(lines) -> str:
    """1 2 3 7 -> "1-3;7"."""
    spans, start, previous = [], None, None
    for line in lines:
        if start is None:
            start = previous = line
        elif line == previous + 1:
            previous = line
        else:
            spans.append(f"{start}-{previous}" if previous != start else f"{start}")
            start = previous = line
    if start is not None:
        spans.append(f"{start}-{previous}" if previous != start else f"{start}")
    return ";".join(spans)

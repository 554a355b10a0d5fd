"""Similar submissions: a renamed and reordered copy is found in a batch of 30, independent
correct solutions are not paired, and the report shows pairs side by side, escaped."""
import ast
import builtins
import csv
import json
import random
from itertools import combinations

import pytest

from conftest import ASSIGNMENTS
from graders.outputs import release
from graders.integrity import similarity


def disguise(source: str, seed: int = 0) -> str:
    """What a copier does: every name of their own renamed, the functions reordered, the
    layout redone (ast.unparse) and the comments dropped."""
    rng = random.Random(seed)
    tree = ast.parse(source)
    kept = set(dir(builtins)) | {"torch", "np", "math", "F"}
    names: dict[str, str] = {}

    def rename(name: str) -> str:
        return name if name in kept or name.startswith("__") else names.setdefault(name, f"q{rng.randrange(10**6)}")

    class Renamer(ast.NodeTransformer):
        def visit_Name(self, node):
            node.id = rename(node.id)
            return node

        def visit_arg(self, node):
            node.arg = rename(node.arg)
            return node

        def visit_FunctionDef(self, node):
            node.name = rename(node.name)
            self.generic_visit(node)
            return node

        visit_ClassDef = visit_FunctionDef

    tree = Renamer().visit(tree)
    definitions = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    rng.shuffle(definitions)
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    rest = [n for n in tree.body if n not in definitions and n not in imports]
    tree.body = imports + definitions + rest
    return ast.unparse(tree)


def batch_of_30(assignment):
    """The reference, the stub, every correct variant and known mistakes, up to 29, plus a
    disguised copy of the variant with the most code of its own."""
    sources = {"reference": assignment.reference_source, "stub": release.strip_solutions(assignment.reference_source)}
    sources.update({f"variant-{v.id}": assignment.source_with(v) for v in assignment.variants})
    sources.update({f"mistake-{m.id}": assignment.source_with(m) for m in assignment.mistakes})
    batch = dict(list(sources.items())[:29])
    common = set().union(*(similarity.fingerprint(t).hashes for t in similarity.boilerplate(assignment)))
    victim = max((k for k in batch if k.startswith("variant-")),
                 key=lambda k: len(similarity.fingerprint(batch[k]).hashes.keys() - common))
    batch["copier"] = disguise(batch[victim])
    return batch, victim


@pytest.mark.parametrize("name", [n for n in ASSIGNMENTS if n != "q1_concepts"])
def test_a_disguised_copy_is_found_and_independent_solutions_are_not_paired(name, load):
    assignment = load(name)
    batch, victim = batch_of_30(assignment)
    pairs = similarity.compare(batch, similarity.boilerplate(assignment))
    involving = [p for p in pairs if "copier" in (p.a, p.b)]
    assert involving and {involving[0].a, involving[0].b} == {"copier", victim}
    assert involving[0].score >= similarity.THRESHOLD
    # Every correct variant is an independent correct solution: no two are paired.
    variants = {k: v for k, v in batch.items() if k.startswith("variant-")}
    for a, b in combinations(sorted(variants), 2):
        score = next((p.score for p in pairs if {p.a, p.b} == {a, b}), 0.0)
        assert score < similarity.THRESHOLD, (a, b, score)


def test_hostile_text_does_not_break_fingerprinting():
    for text in ["\x00\xff", "def f(:\n  ) ) )", "'''" + "x" * 10_000, "(" * 50_000, "é" * 1000, ""]:
        similarity.fingerprint(text)  # no exception, whatever it holds


def test_grade_all_writes_similarity_csv_and_the_report_shows_pairs_escaped(tmp_path, load, nngrade_main):
    a2 = load("a2_numpy_mlp")
    variant = max(a2.variants, key=lambda v: len(v.source))
    hostile = ("\n\ndef _helper(values):\n    tag = '</pre><script>alert(1)</script>'\n    total = 0\n"
               "    for value in values:\n        if value > 0:\n            total = total + value * 2\n"
               "        else:\n            total = total - value\n    return tag, total\n")
    students = {"alice": a2.source_with(variant) + hostile, "bob": disguise(a2.source_with(variant)) + hostile,
                "carol": a2.reference_source}
    root = tmp_path / "subs"
    for student, source in students.items():
        (root / student).mkdir(parents=True)
        (root / student / "mlp.py").write_text(source)
    (root / "dave").mkdir()
    (root / "dave" / "mlp.py").write_text(a2.reference_source + "\nimport gc\n_all = gc.get_objects()\n")
    out = tmp_path / "out"
    run = nngrade_main("grade-all", "a2_numpy_mlp", root, "--out", out, "--workers", "1")
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(open(out / "similarity.csv")))
    assert rows[0]["student_a"] == "alice" and rows[0]["student_b"] == "bob" and rows[0]["above_threshold"] == "yes"
    grades = {r["student"]: r for r in csv.DictReader(open(out / "grades.csv"))}
    assert grades["dave"]["flagged"] == "yes" and grades["alice"]["flagged"] == "no"
    assert json.loads((out / "similarity.json").read_text())["pairs"][0]["score"] >= similarity.THRESHOLD

    report = nngrade_main("report", out)
    assert report.returncode == 0, report.stderr
    page = (out / "report.html").read_text()
    assert "<h2>Similar submissions</h2>" in page and "alice and bob" in page and "<mark>" in page
    assert "<h2>Flagged for a person to look at</h2>" in page and "gc.get_objects" in page
    assert "<script>" not in page and "&lt;script&gt;" in page

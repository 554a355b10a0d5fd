"""examples/ (what `make demo` grades) is hand-kept: each generatable submission must stay
what examples/README.md says it is, or the demo's feedback stops matching its story."""
import ast
import re

import pytest

from conftest import ROOT
from graders.outputs import release

# The one catalogued mistake each of bob, carol and dave made (examples/README.md).
MISTAKES = {
    "a1_foundations": {"bob": "kaiming_two_over_sqrt_n", "carol": "euclidean_without_sqrt",
                       "dave": "broadcast_left_aligned"},
    "a2_numpy_mlp": {"bob": "db_averaged", "carol": "dropout_no_scaling", "dave": "momentum_ema"},
}
STUDENTS = {"alice", "bob", "carol", "dave", "erin", "frank", "mallory"}


def complete_solution(reference: str) -> str:
    """What a student who finished the work hands in: the reference without the solution
    markers, which only the reference has (``release`` cuts the stub at the same lines)."""
    return "".join(line for line in reference.splitlines(keepends=True)
                   if line.strip() not in (release.BEGIN, release.END))


def _module(name, student, load):
    assignment = load(name)
    return assignment, (ROOT / "examples" / name / student / f"{assignment.module}.py").read_text()


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_every_student_of_the_readme_is_there(name):
    assert {p.name for p in (ROOT / "examples" / name).iterdir()} == STUDENTS


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_alice_hands_in_the_reference_solution(name, load):
    assignment, handed_in = _module(name, "alice", load)
    assert handed_in == complete_solution(assignment.reference_source)
    assert release.BEGIN not in handed_in


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_erin_hands_in_the_untouched_stub(name, load):
    assignment, handed_in = _module(name, "erin", load)
    assert handed_in == release.strip_solutions(assignment.reference_source)
    assert handed_in == (ROOT / "student_template" / name / f"{assignment.module}.py").read_text()


@pytest.mark.parametrize("name,student", [(n, s) for n in sorted(MISTAKES) for s in sorted(MISTAKES[n])])
def test_bob_carol_and_dave_each_make_their_one_catalogued_mistake(name, student, load):
    assignment, handed_in = _module(name, student, load)
    entry = next(e for e in assignment.mistakes if e.id == MISTAKES[name][student])
    assert handed_in == complete_solution(assignment.source_with(entry))
    assert _readme_mistakes()[student][name] == entry.id


def _readme_mistakes() -> dict[str, dict[str, str]]:
    """{student: {assignment: mistake id}} from examples/README.md's table of mistakes."""
    rows = [[cell.strip(" `") for cell in line.strip().strip("|").split("|")]
            for line in (ROOT / "examples" / "README.md").read_text().splitlines() if line.startswith("| ")]
    header = next(row for row in rows if row[1:] == sorted(MISTAKES))
    return {row[0]: dict(zip(header[1:], row[1:])) for row in rows if row[0] in {"bob", "carol", "dave"}}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_frank_drops_one_colon_from_the_complete_solution(name, load):
    assignment, handed_in = _module(name, "frank", load)
    complete = complete_solution(assignment.reference_source)
    assert handed_in == re.sub(r"^(def .*\)):$", r"\1", complete, count=1, flags=re.MULTILINE)
    with pytest.raises(SyntaxError):
        ast.parse(handed_in)


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_mallory_cheats_on_top_of_the_stub(name, load):
    assignment, handed_in = _module(name, "mallory", load)
    assert handed_in.startswith(release.strip_solutions(assignment.reference_source))
    assert "_np.allclose = lambda" in handed_in and '"score": 100.0' in handed_in
    assert {p.name for p in (ROOT / "examples" / name / "mallory").iterdir()} >= {"conftest.py", "sitecustomize.py"}

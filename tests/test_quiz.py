"""The q1_concepts quiz: scoring arithmetic, tolerances, malformed answers, feedback policy."""
import dataclasses
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from graders import kinds
from graders.quiz import answers_format, model, scoring, templates
from graders.quiz import validate as quiz_validate
from graders.outputs import render
from graders.grading.assignment import ManifestError

SEEDS = {"000_9bbf8ffadf947a5d.txt", "001_ee12781785da78a3.txt", "002_db81f610eacc032b.txt",
         "003_ff638375c258e9a8.txt", "004_825ce605027c505f.txt"}


@pytest.fixture(scope="module")
def q1():
    return kinds.load("q1_concepts", ROOT)


def answers_file(tmp_path, text, name="student"):
    folder = tmp_path / name
    folder.mkdir()
    if text is not None:
        (folder / "answers.toml").write_text(text)
    return folder


# --------------------------------------------------------------------------- arithmetic

MULTI = model.Question("m", "t", "multi", 3.0, "?", "s", "i", "c", ("a", "b", "c", "d", "e"))
MULTI_KEY = model.KeyEntry((2, 3, 5))


@pytest.mark.parametrize("picks, fraction", [
    ((2, 3, 5), 1.0),          # all right
    ((2,), 1 / 3),             # one of three right picks
    ((2, 3), 2 / 3),
    ((2, 3, 5, 1), 1 / 2),     # a wrong pick costs 1/2: one of the two incorrect options
    ((2, 3, 1), 2 / 3 - 1 / 2),
    ((2, 1), 0.0),             # 1/3 - 1/2: floored at 0, never negative
    ((1, 4), 0.0),
    ((1, 2, 3, 4, 5), 0.0),    # ticking everything earns nothing
    (None, 0.0),               # not answered
])
def test_multi_select_partial_credit(picks, fraction):
    assert scoring.score(MULTI, MULTI_KEY, picks) == pytest.approx(fraction)


def test_ticking_every_option_scores_zero_on_the_whole_quiz(q1, tmp_path):
    everything = {q.id: ",".join(str(o) for o in range(1, len(q.options) + 1))
                  for q in q1.questions.values() if q.type == "multi"}
    result = scoring.grade(q1, answers_file(tmp_path, templates.answers_text(q1, everything)), "s")
    assert result.status == "graded" and len(everything) >= 10
    assert result.score == 0  # it earned 7.67 of the 26 multi-select points under (right - wrong) / correct


def test_a_multi_question_with_no_wrong_option_is_refused():
    every = model.KeyEntry((1, 2, 3, 4, 5))
    with pytest.raises(ManifestError, match="at least one wrong option"):
        model._key_entry(MULTI, {"answer": [1, 2, 3, 4, 5]}, "answers.m")
    assert scoring.score(MULTI, every, (1, 2, 3, 4, 5)) == 1.0  # and scoring one anyway does not divide by 0


def test_single_correct_multi_and_true_false():
    single = dataclasses.replace(MULTI, options=("a", "b", "c"))
    assert scoring.score(single, model.KeyEntry((2,)), (2,)) == 1.0
    assert scoring.score(single, model.KeyEntry((2,)), (1, 2)) == 0.5  # one of two wrong options
    assert scoring.score(single, model.KeyEntry((2,)), (1, 2, 3)) == 0.0
    tf = dataclasses.replace(MULTI, type="true_false", options=())
    assert scoring.score(tf, model.KeyEntry(False), False) == 1.0
    assert scoring.score(tf, model.KeyEntry(False), True) == 0.0


NUMERIC = dataclasses.replace(MULTI, type="numeric", options=())


@pytest.mark.parametrize("key, value, accepted", [
    (model.KeyEntry(-0.164, abs=0.0005), -0.164, True),
    (model.KeyEntry(-0.164, abs=0.0005), -0.1645, True),     # the edge is inclusive
    (model.KeyEntry(-0.164, abs=0.0005), -0.1635, True),
    (model.KeyEntry(-0.164, abs=0.0005), -0.16451, False),   # just outside
    (model.KeyEntry(-0.164, abs=0.0005), 0.164, False),      # the sign matters
    (model.KeyEntry(1e6, rel=1e-3), 1.001e6, True),          # relative tolerance
    (model.KeyEntry(1e6, rel=1e-3), 1.0011e6, False),
    (model.KeyEntry(0.0, abs=0.0005), -0.0004, True),        # around zero only abs helps
    (model.KeyEntry(0.0, rel=0.1, abs=0.0), 1e-9, False),
    (model.KeyEntry(2.0, abs=0.5, rel=0.01), 2.5, True),     # the larger of abs and rel counts
])
def test_numeric_tolerance_edges(key, value, accepted):
    assert (scoring.score(NUMERIC, key, value) == 1.0) == accepted


# --------------------------------------------------------------------------- grading q1

def test_q1_has_at_least_40_questions_each_from_a_seed(q1):
    types = {q.type for q in q1.questions.values()}
    assert len(q1.questions) >= 40 and types == {"true_false", "multi", "numeric"}
    assert any(q.type == "multi" and len(q1.key[q.id].answer) > 1 for q in q1.questions.values())
    for question in q1.questions.values():
        assert question.seed in SEEDS and question.item.strip() and question.concept.strip()
    assert all(entry["reason"].strip() for entry in q1.dropped) and len(q1.dropped) >= 5
    assert sum(bool(e.fixed) for e in q1.key.values()) >= 5
    # The seed's loose Kaiming factor is fixed, not taught.
    assert q1.key["q15"].answer == pytest.approx(0.0625) and "√(2/n)" in q1.key["q15"].fixed


def test_key_scores_full_marks_and_blank_template_zero(q1, tmp_path):
    result = scoring.grade(q1, answers_file(tmp_path, templates.answers_text(q1, templates.key_as_answers(q1)), "key"), "key")
    assert result.status == "graded" and result.score == result.max_score == sum(q.points for q in q1.questions.values())
    assert [t.name for t in result.tests] == list(q1.questions)
    assert {t.task for t in result.tests} == set(q1.topics)
    blank = (ROOT / "student_template" / "q1_concepts" / "answers.toml").read_text()
    result = scoring.grade(q1, answers_file(tmp_path, blank, "blank"), "blank")
    assert result.status == "graded" and result.score == 0
    assert all(t.message == "not answered" for t in result.tests)


def test_partial_answers_and_skips(q1, tmp_path):
    text = 'q03 = "1,2"\nq04 = "False"\nq01 = "-0.1642"\nq17 = [2, 3, 5, 1]\n'
    result = scoring.grade(q1, answers_file(tmp_path, text), "s")
    points = {t.name: t.points for t in result.tests}
    assert points["q03"] == pytest.approx(1.0)  # 2 of 4 right picks of a 2-point question
    assert points["q04"] == 1 and points["q01"] == 2
    assert points["q17"] == pytest.approx(1.5)  # 3/3 right - 1/2 wrong, of 3 points
    assert result.score == pytest.approx(5.5)
    assert result.status == "graded"


@pytest.mark.parametrize("text, fragments", [
    ("q01 = \n", ["not valid TOML", "line 1"]),
    ('q01 = "1"\nq01 = "2"\n', ["not valid TOML"]),                       # a key given twice
    ('q99 = "1"\n', ["line 1", "'q99' is not a question id", "q01 to q69"]),
    ('\n\nq03 = "2,7"\n', ["line 3", "q03", "option 7 does not exist", "1 to 6"]),
    ('q03 = "two, three"\n', ["q03", '"2,3,5"']),
    ("q03 = 0\n", ["q03", "option 0 does not exist"]),
    ('q04 = "maybe"\n', ["q04", "true or false", "'maybe'"]),
    ("q04 = 1\n", ["q04", "true or false"]),
    ('q01 = "about a half"\n', ["q01", "takes a number"]),
    ("q01 = nan\n", ["q01", "finite"]),
    ("q01 = true\n", ["q01", "takes a number"]),
    ("[answers]\nq01 = 1\n", ["'answers' is not a question id"]),
    ('q01 = "x"\nq04 = 3\n', ["q01", "q04"]),                                # every problem is listed
])
def test_malformed_answers_are_a_clear_error(q1, tmp_path, text, fragments):
    result = scoring.grade(q1, answers_file(tmp_path, text), "s")
    assert result.status == "not_loaded" and result.score == 0
    assert result.max_score == sum(q.points for q in q1.questions.values())  # still out of the full score
    for fragment in fragments:
        assert fragment in result.message, result.message
    feedback = render.feedback_markdown(result, q1.title)
    assert "could not be loaded" in feedback and fragments[0] in feedback


def test_missing_linked_large_and_binary_answer_files(q1, tmp_path):
    cases = {"missing": None, "large": "q01 = 1\n" + "#" * (answers_format.SIZE_LIMIT + 10) + "\n"}
    messages = {label: scoring.grade(q1, answers_file(tmp_path, text, label), label).message
                for label, text in cases.items()}
    assert "no answers.toml" in messages["missing"] and "larger than 64 KB" in messages["large"]
    binary = answers_file(tmp_path, None, "binary")
    (binary / "answers.toml").write_bytes(b"q01 = \"\xff\"\n")
    assert "not UTF-8" in scoring.grade(q1, binary, "binary").message
    linked = answers_file(tmp_path, None, "linked")
    secret = tmp_path / "secret.toml"
    secret.write_text('q01 = "1"\n')
    os.symlink(secret, linked / "answers.toml")
    result = scoring.grade(q1, linked, "linked")
    assert result.status == "not_loaded" and "plain file" in result.message


# Each is a file a student could push; each must give not_loaded with a plain reason,
# never an exception (which grade-all records as a grader_error) or a wall of text.
HOSTILE_FILES = {
    "lists nested 3000 deep": ("q03 = " + "[" * 3000 + "]" * 3000 + "\n", "nests lists or tables too deeply"),
    "tables nested 3000 deep": ("q03 = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n", "too deeply"),
    "a 5000-digit integer": ("q01 = " + "7" * 5000 + "\n", "thousands of digits"),
    "a 4000-digit integer as a number": ("q01 = " + "7" * 4000 + "\n", "q01: a numeric answer must be a finite number"),
    "a 4000-digit integer as an option": ("q03 = " + "7" * 4000 + "\n", "q03: option 777"),
    "a 5000-digit option in a string": ('q03 = "' + "7" * 5000 + '"\n', 'q03: write the numbers'),
    "a superscript two": ('q03 = "²"\n', "q03: write the numbers of the options you pick"),
    "an Arabic-Indic three": ('q03 = "٣"\n', "q03: write the numbers of the options you pick"),
    "a date": ("q01 = 1979-05-27\n", "q01: a numeric question takes a number"),
    "a time for true/false": ("q04 = 07:32:00\n", "q04: a true/false question takes true or false"),
    "a table as an answer": ("q04 = {a = 1}\n", "q04: a true/false question takes true or false"),
    "strings as options": ('q03 = ["1", "2"]\n', "q03: write the numbers"),
    "a dotted key": ("q01.a = 1\n", "q01: a numeric question takes a number"),
    "a 60000-character key": ('"' + "x" * 60000 + '" = 1\n', "is not a question id"),
    "NUL bytes": ("q01 = 1\n\x00\x00\n", "not valid TOML"),
}


@pytest.mark.parametrize("label", HOSTILE_FILES)
def test_hostile_answer_files_are_not_loaded_with_a_plain_reason(q1, tmp_path, label):
    text, fragment = HOSTILE_FILES[label]
    result = scoring.grade(q1, answers_file(tmp_path, text), "s")
    assert result.status == "not_loaded" and result.score == 0
    assert fragment in result.message and len(result.message) < 1000, result.message[:1000]
    # The template's check_answers.py is this same code: it says what is wrong, never crashes.
    assert answers_format.main([str(tmp_path / "s" / "answers.toml")], q1.format_spec()) == 1


def test_thousands_of_bad_lines_are_summarised(q1, tmp_path):
    text = "".join(f"k{i} = 1\n" for i in range(6500))  # just under the 64 KB cap
    result = scoring.grade(q1, answers_file(tmp_path, text), "s")
    problems = result.message.splitlines()[1:]
    assert result.status == "not_loaded" and len(problems) == answers_format.PROBLEMS_SHOWN + 1
    assert problems[0] == "- line 1: 'k0' is not a question id (the ids are q01 to q69)"
    assert problems[-1] == f"- ... and {6500 - answers_format.PROBLEMS_SHOWN} more problems like these"


def test_a_byte_order_mark_is_not_a_format_error(q1, tmp_path):
    folder = answers_file(tmp_path, None)
    (folder / "answers.toml").write_bytes(b"\xef\xbb\xbfq04 = false\n")  # as Windows editors save UTF-8
    result = scoring.grade(q1, folder, "s")
    assert result.status == "graded" and result.score == 1


def _random_value(rng):
    """A value a careless or hostile student might write after `qNN = `."""
    depth = rng.choice([1, 2, 50, 3000])
    pieces = ["1", "3", "²", "٣", ",", " ", ";", "-", ".", "e", "7" * rng.choice([1, 20, 400, 5000])]
    return rng.choice([
        lambda: '"' + "".join(rng.choices(pieces, k=rng.randrange(1, 6))) + '"',
        lambda: "".join(rng.choices(pieces[:2] + pieces[-1:], k=rng.randrange(1, 4))),
        lambda: "[" * depth + "1" + "]" * depth,
        lambda: "{a = " * depth + "1" + "}" * depth,
        lambda: rng.choice(["1979-05-27", "07:32:00", "inf", "-nan", "0x7f", "1e999", "true", "[1, [2]]"]),
    ])()


def test_random_and_mangled_answer_files_never_crash_the_grader(q1, tmp_path):
    import random

    rng = random.Random(16)
    key = templates.answers_text(q1, templates.key_as_answers(q1))
    files = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))) for _ in range(100)]
    for _ in range(300):  # the key with a few answers replaced by odd values
        lines = key.splitlines()
        for qid in rng.sample(list(q1.questions), rng.randrange(1, 4)):
            lines = [f"{qid} = {_random_value(rng)}" if line.startswith(f"{qid} = ") else line for line in lines]
        files.append("\n".join(lines).encode())
    for _ in range(100):  # the key with random characters overwritten
        text = list(key)
        for _ in range(rng.randrange(1, 12)):
            at = rng.randrange(len(text))
            text[at:at + rng.randrange(3)] = rng.choices('[]{}"\'=,.#\\ \n0123456789²٣\x00\x1b', k=rng.randrange(4))
        files.append("".join(text).encode())
    statuses = set()
    for number, data in enumerate(files):
        folder = tmp_path / f"s{number}"
        folder.mkdir()
        (folder / "answers.toml").write_bytes(data)
        result = scoring.grade(q1, folder, "s")
        assert result.status == "graded" or result.status == "not_loaded" and 0 < len(result.message) < 4000, data[:200]
        statuses.add(result.status)
    assert statuses == {"graded", "not_loaded"}  # odd but readable values ("3", "1, 3") are graded


# --------------------------------------------------------------------------- feedback

def _wrong_on_q15(q1, tmp_path, name):
    answers = {**templates.key_as_answers(q1), "q15": 0.0884, "q03": "1,2,3,4"}  # q03: 3/4 - 1/2
    return scoring.grade(q1, answers_file(tmp_path, templates.answers_text(q1, answers), name), name)


def test_feedback_names_the_concept_not_the_answer(q1, tmp_path):
    result = _wrong_on_q15(q1, tmp_path, "default")
    feedback = render.feedback_markdown(result, q1.title)
    assert q1.questions["q15"].concept in feedback and "Kaming Initialization" in feedback
    assert q1.questions["q03"].concept in feedback and "partly right" in feedback
    assert "0.0625" not in feedback and '"1,2,4,6"' not in feedback and "the answer is" not in feedback
    assert re.search(r"q15.*\| 0 / 2 \| \*\*failed\*\*", feedback)
    document = render.results_json(result)
    assert "0.0625" not in str(document["tests"]) and "1,2,4,6" not in str(document["tests"])
    assert "concept:kaiming_he_initialisation_and_its_scale_for_relu_layers" in document["extra_data"]["nngrade"]["diagnoses"]


def test_reveal_policy_answers_and_names(q1, tmp_path):
    revealing = dataclasses.replace(q1, reveal="answers")
    feedback = render.feedback_markdown(_wrong_on_q15(revealing, tmp_path, "answers"), q1.title)
    assert "the answer is 0.0625" in feedback and 'the answer is "1,2,4,6"' in feedback
    quiet = dataclasses.replace(q1, reveal="names")
    feedback = render.feedback_markdown(_wrong_on_q15(quiet, tmp_path, "names"), q1.title)
    assert q1.questions["q15"].concept not in feedback and "0.0625" not in feedback


# --------------------------------------------------------------------------- key and template

def _quiz_copy(tmp_path):
    for part in ("assignments", "reference"):
        shutil.copytree(ROOT / part / "q1_concepts", tmp_path / part / "q1_concepts")
    return tmp_path


@pytest.mark.parametrize("edit, fragment", [
    (lambda key: key.replace("[answers.q69]\nanswer = true\n", ""), "no answer for q69"),
    (lambda key: key.replace("[answers.q04]\nanswer = false", "[answers.q04]\nanswer = 0"), "answers.q04"),
    (lambda key: key.replace("answer = [1, 2, 4, 6]", "answer = [1, 9]"), "answers.q03"),
    (lambda key: key.replace("abs = 0.0005", "abs = 0.0", 1), "needs a tolerance"),
])
def test_a_broken_key_is_a_clear_manifest_error(tmp_path, edit, fragment):
    root = _quiz_copy(tmp_path)
    path = root / "reference" / "q1_concepts" / "answers.toml"
    path.write_text(edit(path.read_text()))
    broken = kinds.load("q1_concepts", root)
    with pytest.raises(ManifestError, match=re.escape(fragment)):
        broken.key


def _validate_edited_copy(tmp_path, edits: dict) -> dict[str, str]:
    """validate a copy of q1 with ``edits`` ({file under the quiz's folders: text -> text});
    returns the failed checks, subject -> detail."""
    root = _quiz_copy(tmp_path)
    for name, edit in edits.items():
        path = root / ("reference" if name == "answers.toml" else "assignments") / "q1_concepts" / name
        path.write_text(edit(path.read_text()))
    checks = quiz_validate.validate(kinds.load("q1_concepts", root), report=lambda line: None)
    return {check.subject: check.detail for check in checks if not check.ok}


BEFORE_ISSUE_16 = ("q26", "q27", "q28", "q35", "q41", "q44", "q45", "q46")  # 4 decimals asked, +-0.0005 accepted


def _old_tolerances(key: str) -> str:
    for qid in BEFORE_ISSUE_16:
        key, found = re.subn(rf"(\[answers\.{qid}\]\nanswer = [^\n]*\n)abs = 0\.00005\n", r"\g<1>abs = 0.0005\n", key)
        assert found == 1, qid
    return key


def test_validate_fails_on_the_old_tolerances_and_names_the_wrong_answers_they_let_through(tmp_path):
    failed = _validate_edited_copy(tmp_path, {"answers.toml": _old_tolerances})
    assert set(failed) == {f"numeric {qid} (4 decimals, ±5e-05)" for qid in BEFORE_ISSUE_16} | {
        "mistake exact_sigmoid", "mistake approximation_chain_factor_dropped"}
    assert "the tolerance is 0.0005, not the promised 5e-05" in failed["numeric q26 (4 decimals, ±5e-05)"]
    assert "earn points: 0.731059 (exact_sigmoid), 0.7311 (exact_sigmoid)" in failed["numeric q27 (4 decimals, ±5e-05)"]
    assert ("earn points: 0.196612 (exact_sigmoid), 0.1966 (exact_sigmoid), 0.196782 (approximation_chain_factor_dropped), "
            "0.1968 (approximation_chain_factor_dropped)") in failed["numeric q28 (4 decimals, ±5e-05)"]
    assert "full marks kept on ['q27', 'q28']" in failed["mistake exact_sigmoid"]


def test_validate_fails_on_a_wrong_answer_that_passes_once_rounded_as_asked(tmp_path):
    near_miss = '\n[[mistakes]]\nid = "near_miss"\ndescription = "d"\nanswers = { q27 = 0.730745 }\n'
    failed = _validate_edited_copy(tmp_path, {"mistakes.toml": lambda text: text + near_miss})
    # 0.730745 is 0.000054 from the key, outside the tolerance; rounded to 4 decimals it is the key's 0.7307.
    assert failed == {"numeric q27 (4 decimals, ±5e-05)": "catalogued wrong answers earn points: 0.7307 (near_miss)"}


def test_validate_fails_on_a_prompt_that_does_not_say_how_to_round(tmp_path):
    failed = _validate_edited_copy(tmp_path, {"questions.toml": lambda text: text.replace(" produce? (1 decimal)", " produce?")})
    assert failed == {"numeric q08 (whole number, ±0.5)": "the prompt asks for no decimals, so a whole number, but the "
                                                          "answer is -0.5; the tolerance is 0.05, not the promised 0.5; "
                                                          "the answer rounded as asked, -0, loses points"}


def test_template_check_script_agrees_with_the_grader(q1, tmp_path):
    folder = tmp_path / "repo"
    for relative, text in templates.template_files(q1).items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    template = (ROOT / "student_template" / "q1_concepts" / "check_answers.py").read_text()
    assert template == (folder / "check_answers.py").read_text()
    shipped = "\n".join(templates.template_files(q1).values())  # nothing of the key ships
    assert "0.0625" not in shipped and "1,2,4,6" not in shipped and "[1, 2, 4, 6]" not in shipped
    assert not any(entry.fixed[:40] in shipped for entry in q1.key.values() if entry.fixed)
    run = lambda: subprocess.run([sys.executable, "check_answers.py"], cwd=folder, capture_output=True, text=True)
    assert run().returncode == 0
    (folder / "answers.toml").write_text('q03 = "2,9"\n')
    completed = run()
    assert completed.returncode == 1 and "option 9 does not exist" in completed.stdout


def test_an_unknown_kind_is_a_manifest_error_naming_the_kinds(tmp_path):
    (tmp_path / "assignments" / "essay").mkdir(parents=True)
    (tmp_path / "assignments" / "essay" / "manifest.toml").write_text('kind = "essay"\n')
    with pytest.raises(ManifestError, match='kind must be "code" or "quiz", not \'essay\''):
        kinds.load("essay", tmp_path)

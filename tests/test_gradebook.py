"""grade-all --gradebook writes nbgrader's gradebook (read back with nbgrader's own API and
compared with grades.csv); the run also leaves junit.xml and LMS columns in grades.csv."""
import csv
import shutil
import xml.etree.ElementTree as ET

import pytest

from conftest import ROOT

nbgrader_api = pytest.importorskip("nbgrader.api")


def test_grade_all_records_every_score_in_an_nbgrader_gradebook(tmp_path, load, nngrade_main):
    root = tmp_path / "submissions"
    for student in ("alice", "bob", "erin"):
        shutil.copytree(ROOT / "examples" / "a2_numpy_mlp" / student, root / student)
    (tmp_path / "roster.csv").write_text('"identifier","github_username","github_id","name"\n'
                                         '"alice@uni.example","alice","1","Alice"\n"s0002","bob","2","Bob"\n')
    out, database = tmp_path / "out", tmp_path / "gradebook.db"
    url = f"sqlite:///{database}"

    def grade_all():
        return nngrade_main("grade-all", "a2_numpy_mlp", root, "--out", out, "--workers", "2", "--gradebook", url,
                            "--roster", tmp_path / "roster.csv")

    run = grade_all()
    assert run.returncode == 0, run.stderr
    assert "Recorded 3 students' scores in the nbgrader gradebook" in run.stdout
    rows = {r["student"]: r for r in csv.DictReader(open(out / "grades.csv"))}
    assert list(next(csv.reader(open(out / "grades.csv")))[:5]) == ["student", "assignment", "score", "max_score", "status"]
    assert rows["alice"]["identifier"] == "alice@uni.example" and rows["erin"]["identifier"] == "erin"
    assert rows["alice"]["percent"] == "100.00" and rows["erin"]["percent"] == "0.00"

    a2 = load("a2_numpy_mlp")
    with nbgrader_api.Gradebook(url) as gradebook:
        assert sorted(s.id for s in gradebook.students) == ["alice", "bob", "erin"]
        notebook = gradebook.find_notebook(a2.module, "a2_numpy_mlp")
        assert len(notebook.grade_cells) == len(a2.tests)  # one grade cell per (test, device) on a CPU machine
        for student, row in rows.items():
            submission = gradebook.find_submission("a2_numpy_mlp", student)
            # What grades.csv shows, to its last digit (whole numbers exactly, not 99.9998 for 100).
            shown = row["score"].split(".")[1] if "." in row["score"] else ""
            assert round(submission.score, len(shown)) == float(row["score"])
            assert submission.max_score == pytest.approx(float(row["max_score"]), abs=1e-9)
        cell = f"{a2.tests[0].name}[cpu]"
        grade = gradebook.find_grade(cell, a2.module, "a2_numpy_mlp", "alice")
        assert grade.max_score == pytest.approx(a2.test_points(a2.tests[0], "cpu")) and grade.score == grade.max_score
        assert gradebook.find_grade(cell, a2.module, "a2_numpy_mlp", "erin").score == 0

    suites = {s.get("name"): s for s in ET.parse(out / "junit.xml").getroot().iter("testsuite")}
    assert set(suites) == {"a2_numpy_mlp.alice", "a2_numpy_mlp.bob", "a2_numpy_mlp.erin"}
    assert suites["a2_numpy_mlp.alice"].get("failures") == "0" != suites["a2_numpy_mlp.bob"].get("failures")

    again = grade_all()  # a resumed run updates the same rows instead of adding new ones
    assert again.returncode == 0, again.stderr
    with nbgrader_api.Gradebook(url) as gradebook:
        assert len(gradebook.students) == 3
        assert len(gradebook.find_assignment("a2_numpy_mlp").submissions) == 3


def test_a_quiz_is_recorded_in_the_gradebook_as_its_answers_notebook(tmp_path, load, nngrade_main):
    from graders.quiz import templates

    quiz = load("q1_concepts")
    root = tmp_path / "submissions"
    for student, answers in (("keyholder", templates.key_as_answers(quiz)), ("blank", {})):
        (root / student).mkdir(parents=True)
        (root / student / "answers.toml").write_text(templates.answers_text(quiz, answers))
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    run = nngrade_main("grade-all", "q1_concepts", root, "--out", tmp_path / "out", "--gradebook", url)
    assert run.returncode == 0, run.stderr
    assert "Recorded 2 students' scores in the nbgrader gradebook" in run.stdout
    total = sum(q.points for q in quiz.questions.values())
    with nbgrader_api.Gradebook(url) as gradebook:
        assert len(gradebook.find_notebook("answers", "q1_concepts").grade_cells) == len(quiz.questions)
        assert gradebook.find_submission("q1_concepts", "keyholder").score == pytest.approx(total)
        assert gradebook.find_submission("q1_concepts", "blank").score == 0

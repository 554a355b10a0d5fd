"""grade-all's progress and summary: a live bar on a terminal, a few plain lines in a log."""
import io
import re

from graders.grading import bulk

ANSI = re.compile(r"\x1b\[")


def _outcomes(count):
    rows = []
    for index in range(count):
        status = "not_loaded" if index % 7 == 3 else "graded"
        row = {"student": f"s{index:03d}", "assignment": "a2_numpy_mlp", "score": str(index % 11 * 10),
               "max_score": "100", "status": status, "limits_hit": "call_seconds" if index == 5 else ""}
        rows.append(bulk.Graded(row["student"], row, seconds=0.01 * index))
    rows.append(bulk.Graded("broken", {"student": "broken", "assignment": "a2_numpy_mlp", "score": 0,
                                       "max_score": "", "status": "grader_error"}, error="RuntimeError: boom"))
    return rows


def test_a_log_gets_a_handful_of_plain_lines_not_an_animation():
    stream = io.StringIO()
    progress = bulk.ConsoleProgress(stream)
    outcomes = _outcomes(99)
    progress.begin(len(outcomes), 0, "local, 2 workers")
    for done, outcome in enumerate(outcomes, start=1):
        progress.update(outcome, done, len(outcomes))
    progress.end()
    text = stream.getvalue()
    assert "\r" not in text and not ANSI.search(text)
    lines = text.splitlines()
    assert 10 <= len(lines) <= 13, lines  # a start line, one per tenth, the grader error
    assert lines[0] == "grading 100 submissions, 100 to grade, on local, 2 workers"
    assert "grader error: broken: RuntimeError: boom" in lines
    assert lines[-1].startswith("[100/100] 100% done, 85 graded, 14 not loaded, 1 grader errors")


def test_a_terminal_gets_a_live_bar():
    stream = io.StringIO()
    progress = bulk.ConsoleProgress(stream, force_terminal=True)
    outcomes = _outcomes(5)
    progress.begin(len(outcomes), 0, "local, 2 workers")
    for done, outcome in enumerate(outcomes, start=1):
        progress.update(outcome, done, len(outcomes))
    progress.end()
    text = stream.getvalue()
    assert "6/6" in text and "grader error: broken" in text and ANSI.search(text)


def test_the_summary_counts_scores_limits_and_time():
    stream = io.StringIO()
    bulk.print_summary(_outcomes(20), stream, seconds=12.5, how="dask, 4 workers")
    text = stream.getvalue()
    assert not ANSI.search(text) and all(line == line.rstrip() for line in text.splitlines())
    table = dict(re.findall(r"^  (\S.*?\S)  +(.*)$", text, re.M))
    assert table["submissions"] == "21" and table["graded"] == "17" and table["not loaded"] == "3"
    assert table["grader errors"] == "1" and table["limits hit"] == "call_seconds x1"
    assert table["scores"] == "min 0, median 45, mean 45.5, max 100 (out of 100)"
    assert table["distribution"] == "0-20%: 4, 20-40%: 4, 40-60%: 4, 60-80%: 4, 80-100%: 3, full marks: 1"
    assert table["time"].startswith("12.5 s wall") and table["executor"] == "dask, 4 workers"
    assert table["grading time"] == "median 0.10 s, max 0.19 s per submission"


def test_scheduler_without_a_distributed_executor_is_refused(nngrade_main):
    run = nngrade_main("grade-all", "a2_numpy_mlp", ".", "--out", "/tmp/x", "--scheduler", "tcp://127.0.0.1:8786")
    assert run.returncode == 2 and "--scheduler needs --executor dask or ray" in run.stderr


def test_in_flight_are_the_first_unfinished_submissions_in_the_order_given():
    flight = bulk.InFlight(["a", "b", "c", "d", "e"], workers=2)
    assert flight.students() == ["a", "b"]
    flight.finish("b")  # finished out of order: a is still being graded, c has started
    assert flight.students() == ["a", "c"]
    flight.finish("a")
    assert flight.students() == ["c", "d"]
    for student in "cde":
        flight.finish(student)
    assert flight.students() == []


def test_the_display_names_the_submissions_being_graded():
    stream = io.StringIO()
    progress = bulk.ConsoleProgress(stream)
    outcomes = _outcomes(9)
    progress.begin(len(outcomes), 0, "local, 2 workers")
    for done, outcome in enumerate(outcomes, start=1):
        progress.in_flight([f"s{done:03d}", f"s{done + 1:03d}"] if done < len(outcomes) else [])
        progress.update(outcome, done, len(outcomes))
    progress.end()
    lines = stream.getvalue().splitlines()
    assert lines[1].endswith("; grading s001, s002") and "grading" not in lines[-1].split(",")[-1]

    stream = io.StringIO()
    progress = bulk.ConsoleProgress(stream, force_terminal=True)
    progress.begin(3, 0, "local, 4 workers")
    progress.in_flight(["[bold]mallory", "bob", "carol", "dave"])
    progress._bar.refresh()
    progress.end()
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stream.getvalue())
    assert "grading [bold]mallory, bob, carol and 1 more" in shown  # the name as it is, not markup


def test_grade_all_names_each_submission_in_flight_before_it_is_done(a2, tmp_path):
    root = tmp_path / "subs"
    for student in ("alice", "bob", "carol", "dave", "erin"):
        (root / student).mkdir(parents=True)
        (root / student / "mlp.py").write_text(a2.reference_source)

    class Recorder:
        def __init__(self):
            self.seen, self.named_before_done, self.most = [], [], 0

        def begin(self, total, reused, how):
            pass

        def in_flight(self, students):
            self.seen.append(list(students))
            self.most = max(self.most, len(students))

        def update(self, outcome, done, total):
            self.named_before_done.append(any(outcome.student in names for names in self.seen))

        def end(self):
            pass

    recorder = Recorder()
    bulk.grade_all("a2_numpy_mlp", root, tmp_path / "out", workers=2, progress=recorder)
    assert recorder.named_before_done == [True] * 5
    assert recorder.most == 2 and recorder.seen[0] == ["alice", "bob"] and recorder.seen[-1] == []


def test_modules_a_grading_imported_on_first_use_are_frozen_before_the_next(monkeypatch):
    """sympy, which autograd.grad with a given gradient imports in the middle of some
    submission's diagnosis, must not join every garbage collection of the batch after."""
    import gc
    import sys
    import types

    monkeypatch.setattr(bulk, "_state", {})
    bulk._freeze_new_modules()  # right after _warm: the count is taken, nothing more to freeze
    frozen = gc.get_freeze_count()
    monkeypatch.setitem(sys.modules, "imported_on_first_use", types.ModuleType("imported_on_first_use"))
    sys.modules["imported_on_first_use"].objects = [[] for _ in range(1000)]
    bulk._freeze_new_modules()
    assert gc.get_freeze_count() >= frozen + 1000
    bulk._freeze_new_modules()  # nothing new: nothing collected or frozen
    assert bulk._state["modules"] == len(sys.modules)

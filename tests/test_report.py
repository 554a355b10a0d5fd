"""`nngrade report DIR`: one self-contained HTML page with plots, built from results.json
files read as data."""
import base64
import json
import re
import shutil


def test_report_over_the_graded_examples(tmp_path, load, graded_a2_examples, nngrade_main):
    graded_out, graded = graded_a2_examples
    assert graded.returncode == 0, graded.stderr
    out = shutil.copytree(graded_out, tmp_path / "out")
    # A hostile results.json is data: its text is escaped, nothing in it runs.
    (out / "zz-hostile").mkdir()
    (out / "zz-hostile" / "results.json").write_text(json.dumps({
        "score": 0, "tests": [], "extra_data": {"nngrade": {
            "student": "<script>alert(1)</script>", "assignment": "a2_numpy_mlp", "status": "not_loaded",
            "max_score": 100, "limits_hit": ["memory_mb"]}}}))
    (out / "zz-broken").mkdir()
    (out / "zz-broken" / "results.json").write_text("{ not json")

    run = nngrade_main("report", out)
    assert run.returncode == 0, run.stderr
    page = (out / "report.html").read_text()

    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 3  # score histogram, pass rate per test and device, frequent mistakes
    assert all(base64.b64decode(image).startswith(b"\x89PNG\r\n\x1a\n") for image in images)
    assert not re.search(r'(src|href)="(https?:)?//', page)  # self-contained
    for heading in ("Scores", "Pass rate per test and device", "Most frequent diagnosed mistakes",
                    "Submissions that hit limits or could not be loaded"):
        assert f"<h2>{heading}</h2>" in page
    a2 = load("a2_numpy_mlp")
    for spec in a2.tests:
        assert f"<td>{spec.name}</td>" in page
    explanations = {m.id: m.explanation for m in a2.mistakes}
    diagnosed = {d for s in ("bob", "carol", "dave")
                 for d in json.loads((out / s / "results.json").read_text())["extra_data"]["nngrade"]["diagnoses"]}
    assert diagnosed
    for mistake in diagnosed:
        assert f"<code>{mistake}</code>" in page and explanations[mistake][:40] in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "memory_mb" in page and "zz-broken" in page  # the limits table; the unreadable file is named
    from graders.sandbox import isolation

    assert f"Sandbox: {isolation.level()} (7)" in page  # the level every graded student was sandboxed at


def test_report_on_a_folder_without_results(tmp_path, nngrade_main):
    run = nngrade_main("report", tmp_path)
    assert run.returncode == 0, run.stderr
    assert "No results.json was found" in (tmp_path / "report.html").read_text()

"""JUnit XML for CI dashboards: one <testsuite> per graded submission, one <testcase> per
(test, device). A failed test is a <failure> carrying its message, a test whose worker
crashed or hit a limit an <error>, a test that was not run <skipped> with the reason.

The layout follows the common JUnit schema (the one pytest's --junitxml writes): testsuites >
testsuite[name, tests, failures, errors, skipped, time] > properties, testcase[classname,
name, time] > failure|error|skipped[message, type]. This is an instructor-facing file:
messages are the grader's full details whatever the assignment's reveal policy.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from graders.outputs import render


def junit_xml(documents: list[dict], name: str = "nngrade") -> str:
    """The XML for several results.json documents (one per student)."""
    root = ET.Element("testsuites", name=name)
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    seconds = 0.0
    for document in documents:
        suite = _suite(document)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key))
        seconds += float(suite.get("time"))
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{seconds:.3f}")
    for element in root.iter():
        element.text = _xml_safe(element.text)
        for key, value in element.attrib.items():
            element.set(key, _xml_safe(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# What XML 1.0 cannot hold at all, even escaped: one control character in a student's
# folder name or exception message would make the whole batch's file unparsable.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_safe(text: str | None) -> str | None:
    return None if text is None else _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _suite(document: dict) -> ET.Element:
    block = document.get("extra_data", {}).get("nngrade", {})
    student, assignment = str(block.get("student", "submission")), str(block.get("assignment", "assignment"))
    records = render.test_records(document)
    counts = {"tests": len(records), "failures": 0, "errors": 0, "skipped": 0}
    suite = ET.Element("testsuite", name=f"{assignment}.{student}")
    properties = ET.SubElement(suite, "properties")
    for key in ("student", "assignment", "status", "max_score", "isolation", "grader_version"):
        if key in block:
            ET.SubElement(properties, "property", name=key, value=str(block[key]))
    ET.SubElement(properties, "property", name="score", value=str(document.get("score", 0)))
    for record in records:
        case = ET.SubElement(suite, "testcase", classname=f"{assignment}.{record.task}",
                             name=f"{record.id}[{record.device}]", time="0")
        if record.status == "not_run":
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=record.message or "not run", type="not_run")
        elif record.status == "failed":
            kind = "error" if record.crashed else "failure"
            counts["errors" if record.crashed else "failures"] += 1
            element = ET.SubElement(case, kind, message=_first_line(record.message),
                                    type=record.limit or ("crash" if record.crashed else "wrong_result"))
            element.text = record.message
        ET.SubElement(case, "system-out").text = f"points: {round(record.points, 4):g} / {round(record.max_points, 4):g}"
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", f"{float(document.get('execution_time') or 0):.3f}")
    return suite


def from_folder(out: Path, students: list[str] | None = None) -> str:
    """The XML for a graded folder: every ``STUDENT/results.json`` under ``out``."""
    documents = [document for _, document in render.graded_documents(out, students) if document is not None]
    return junit_xml(documents, name=out.name or "nngrade")


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:500]

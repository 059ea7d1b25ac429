"""The gate's verdict as a JUnit XML report: one test case per rule and metric, failed when the
rule failed, skipped when it did not apply, one per judged slice of a slice rule, and one case
for outputs missing from the DVC remote. GitLab lists such a report's failures in the merge request (``artifacts: reports:
junit``); Jenkins, Azure Pipelines and others read it too.

Every name and message comes from files the change controls. ElementTree escapes what XML
gives meaning to (``<``, ``&``, quotes); :func:`_text` first makes each one line with its
control and invisible characters shown as escapes, which also keeps out the characters XML 1.0
cannot hold at all (a report with a raw ``\\x1b`` in it is not XML).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from mlgate import escape
from mlgate.render.check import outcome_name, verdict_line

if TYPE_CHECKING:
    from mlgate.gate.compare import Check

SUITE = "mlgate gate"


def check_junit(check: Check) -> str:
    gate = check.gate
    suite = ET.Element("testsuite", _attributes(name=SUITE))
    failures = skipped = 0
    for outcome in gate.outcomes:
        name = f"{outcome_name(outcome)}: {outcome.rule.describe()}"
        case = ET.SubElement(
            suite, "testcase", _attributes(name=name, classname="mlgate.rules", file=outcome.path)
        )
        if outcome.status == "fail":
            failures += 1
            failure = ET.SubElement(case, "failure", _attributes(message=outcome.reason))
            failure.text = _text(f"{name}: {outcome.reason}")
        elif outcome.status == "skip":
            skipped += 1
            ET.SubElement(case, "skipped", _attributes(message=outcome.reason))
    for sliced in gate.slices.judged() if gate.slices is not None else ():
        name = f"{sliced.rule.key} on {sliced.slice.name}"
        case = ET.SubElement(suite, "testcase", _attributes(name=name, classname="mlgate.slices"))
        if sliced.status == "fail":
            failures += 1
            failure = ET.SubElement(case, "failure", _attributes(message=sliced.reason))
            failure.text = _text(f"{name}: {sliced.reason}")
    if gate.slices is not None and gate.slices.distrusted is not None:
        case = ET.SubElement(
            suite, "testcase", _attributes(name="slices", classname="mlgate.slices")
        )
        message = gate.slices.distrusted
        ET.SubElement(case, "failure", _attributes(message=message)).text = _text(message)
        failures += 1
    if gate.unpushed:
        case = ET.SubElement(
            suite, "testcase", _attributes(name="data in the DVC remote", classname="mlgate.data")
        )
        message = (
            f"not in the DVC remote {gate.remote} (run `dvc push`): {', '.join(gate.unpushed)}"
        )
        ET.SubElement(case, "failure", _attributes(message=message)).text = _text(message)
        failures += 1
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))
    ET.SubElement(suite, "system-out").text = _text(verdict_line(check))
    suites = ET.Element("testsuites", _attributes(name="mlgate"))
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


def _attributes(**values: str | None) -> dict[str, str]:
    return {key: _text(value) for key, value in values.items() if value is not None}


def _text(value: str) -> str:
    return escape.one_line(value)

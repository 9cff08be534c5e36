"""Validation that a student can read, and that a script can check.

``short_reports()``: nbgrader reports each failing cell with its whole source and the whole traceback,
the reason last (166 lines for four unfinished exercises of 01). Here each failing exercise takes two
lines: the graded cell's first line, which names the exercise, and the error's own message (the check's
"expected ... got ..." and its hint, or the stub's "... is yours to write"), wrapped at ``REPORT_WIDTH``
characters: JupyterLab's Validate dialog shows it in a box that does not wrap, so a check's one-line message
and its hint would run off to the right. The Validate button in JupyterLab and ``nbgrader validate`` both
report this way; the notebook keeps the full traceback.

``exit_nonzero_when_validation_fails()``: nbgrader prints *VALIDATION FAILED* but exits 0 whatever it
found, so a script, a Makefile or CI cannot tell a failing notebook from a passing one; here it exits 1.

nbgrader_config.py (and, on a hub, the students' nbgrader configuration) calls both.
"""
import textwrap
from unittest import mock

from nbgrader.apps.validateapp import ValidateApp
from nbgrader.validator import Validator

_PROBLEMS = ("type_changed", "changed", "failed")
REPORT_WIDTH = 100  # characters per line of a failing exercise's message


def short_reports() -> None:
    """Make Validate report each failing exercise by its name and the error's message (see the module)."""
    if getattr(Validator.validate, "reports_briefly", False):
        return  # nbgrader loads its config file more than once per command
    plain_extract_error, plain_validate = Validator._extract_error, Validator.validate

    def extract_error(validator, cell):
        if cell.cell_type == "code":
            messages = [f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]
            if messages:
                return "\n".join(wrapped(message) for message in messages)
        return plain_extract_error(validator, cell)

    def validate(validator, filename):
        results = plain_validate(validator, filename)
        for failure in results.get("failed", []):
            failure["source"] = (failure["source"].splitlines() or [""])[0]
        return results

    validate.reports_briefly = True
    Validator._extract_error, Validator.validate = extract_error, validate


def wrapped(message: str) -> str:
    """``message`` in lines of at most ``REPORT_WIDTH`` characters, broken between words (a long word, such as a
    path, is kept whole), its own line breaks kept."""
    return "\n".join(textwrap.fill(line, REPORT_WIDTH, break_long_words=False, break_on_hyphens=False) or line
                     for line in message.splitlines())


def exit_nonzero_when_validation_fails() -> None:
    """Make ``nbgrader validate`` exit with 1 when a notebook fails or its test cells were changed."""
    if getattr(ValidateApp.start, "exits_nonzero_on_failure", False):
        return  # nbgrader loads its config file more than once per command
    plain_start, plain_validate = ValidateApp.start, Validator.validate

    def start(app):
        failed = []

        def validate(validator, filename):
            results = plain_validate(validator, filename)
            if any(results.get(problem) for problem in _PROBLEMS):
                failed.append(filename)
            return results

        with mock.patch.object(Validator, "validate", validate):
            plain_start(app)
        if failed:
            app.fail(f"validation failed for {', '.join(failed)}: see above for each failing cell.")

    start.exits_nonzero_on_failure = True
    ValidateApp.start = start

"""``nbgrader validate`` that exits with 1 when a notebook fails.

nbgrader prints *VALIDATION FAILED* but exits 0 whatever it found, so a script, a Makefile or CI
cannot tell a failing notebook from a passing one. ``exit_nonzero_when_validation_fails()``, called
from nbgrader_config.py, keeps nbgrader's own output and adds the exit status. The Validate button
in JupyterLab is untouched: it reads the same results through nbgrader's server extension.
"""
from unittest import mock

from nbgrader.apps.validateapp import ValidateApp
from nbgrader.validator import Validator

_PROBLEMS = ("type_changed", "changed", "failed")


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

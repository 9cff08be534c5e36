"""nbgrader's Validate, as students use it before submitting: it must tell the truth.

`nbgrader validate` runs the notebook as the Validate button does (same nbgrader Validator,
same configuration) and, with the course's configuration, exits with 1 when a notebook fails.
"""
import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.course import ASSIGNMENTS, REPO, notebook_path, without_datasets, write_completed_notebook

HEADER = re.compile(r"^# Graded cell of Exercise (\d+): (.+)\.$", re.MULTILINE)


def exercises(assignment):
    """{number: name} from the first line of each graded code cell of the source notebook."""
    cells = json.loads(notebook_path(REPO / "solutions", assignment).read_text())["cells"]
    found = {}
    for cell in cells:
        if cell["cell_type"] == "code" and cell["metadata"].get("nbgrader", {}).get("grade"):
            header = HEADER.match("".join(cell["source"]))
            assert header, f"{assignment}: graded cell {cell['id']} does not start by naming its exercise"
            found[int(header[1])] = header[2]
    return found


def validate(path, env):
    return subprocess.run([sys.executable, "-m", "nbgrader", "validate", str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    """`nbgrader validate` on every student notebook, untouched and completed (every answer cell filled in
    from the solution, as a student who has answered everything validates it), two at a time. The completed
    notebook is what a student runs: its visible checks run without the hidden tests' imports, which the
    solution notebook has."""
    completed = tmp_path_factory.mktemp("completed")
    jobs = {("course", a): notebook_path(REPO / "course", a) for a in ASSIGNMENTS}
    for assignment in ASSIGNMENTS:
        jobs["completed", assignment] = completed / f"{assignment}.ipynb"
        write_completed_notebook(notebook_path(REPO / "course", assignment), notebook_path(REPO / "solutions", assignment),
                                 jobs["completed", assignment])
    env = without_datasets(tmp_path_factory.mktemp("grading-machine"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(jobs, pool.map(lambda path: validate(path, env), jobs.values())))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_validate_fails_on_an_untouched_notebook_and_names_every_exercise(validated, assignment):
    result = validated["course", assignment]
    assert result.returncode == 1, f"exit {result.returncode}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
    failed = dict(HEADER.findall(result.stdout.replace("\n    ", "\n")))
    expected = exercises(assignment)
    assert {int(n): name for n, name in failed.items()} == expected, \
        f"Validate should name every unfinished exercise {expected}, named {failed}"
    # every exercise, and the written answer still to be given
    assert f"VALIDATION FAILED ON {len(expected) + 1} CELL(S)" in result.stdout
    assert "You did not provide a response." in result.stdout
    assert "is yours to write: replace this line with your code" in result.stdout
    # each exercise in two lines, its name and the reason: no graded cell's code, no traceback
    assert "Traceback" not in result.stdout
    report = result.stdout[result.stdout.index("VALIDATION FAILED"):].splitlines()
    assert len(report) <= 12 * (len(expected) + 1), "\n".join(report)  # nbgrader prints ten for a one-line reason


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_validate_passes_on_a_completed_notebook(validated, assignment):
    result = validated["completed", assignment]
    assert result.returncode == 0, f"exit {result.returncode}:\n{result.stdout[-3000:]}"
    assert "Success! Your notebook passes all the tests." in result.stdout

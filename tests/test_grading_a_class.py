"""A class graded for real, serially by plain ``nbgrader autograde`` and in parallel by
``python -m grading autograde``: the same gradebook either way, and student code in a sandbox.

One submission tries every escape the sandbox exists for, each in a cell of its own between its
honest answers: read the hidden tests and print them, read another student's notebook, write the
gradebook, connect to the network, leave a process behind, allocate far beyond the memory limit and
kill its own kernel. None may succeed, and its honest cells must earn what they earn.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid

import pytest
from nbformat.v4 import new_code_cell
from nbgrader.api import Gradebook

from support.course import grades, nbgrader, notebook_path, submit
from grading.execution import TIMING_MARK
from grading.parallel import TIMED_OUT, grade_submission, merge
from grading.sandbox import SandboxedKernelManager
from support.notebook_text import HIDDEN_MARKERS, lines_of, read, secret_lines, visible_text

ASSIGNMENT = "02_dense_vae"  # the quickest to grade
AFTER_CELL = "test_dense_vae"  # the escapes come after the first graded cell, before the others
TOKEN = f"left-behind-{uuid.uuid4().hex}"  # in the command line of the process an escape leaves behind
LIMIT = int(SandboxedKernelManager.memory_limit_gb.default_value * 2**30)


def escapes(port, course_folder="."):
    """(name, code) of each escape; a cell prints ``ESCAPED: name`` if it got through, else ``blocked: name``.
    The course's folder is no secret (e.g. /srv/vae-hands-on on a hub): the escapes know it."""
    course = f"from pathlib import Path\ncourse = Path({str(course_folder)!r})\n"
    return [
        ("read-the-hidden-tests", course +
         "found = sorted(course.glob('solutions/*/*.ipynb'))\n"
         "print(''.join(p.read_text() for p in found), 'ESCAPED' if found else 'blocked', ': read-the-hidden-tests')"),
        ("read-another-submission", course +
         "found = [p for p in course.glob('nbgrader_work/submitted/*/*/*.ipynb') if 'escapee' not in str(p)]\n"
         "print('ESCAPED' if found else 'blocked', ': read-another-submission')"),
        ("write-the-gradebook", course + "import sqlite3\n"
         "found = sorted(course.glob('nbgrader_work/**/*.db'))\n"
         "for path in found:\n"
         "    with sqlite3.connect(path) as db:\n"
         "        db.execute('UPDATE grade SET auto_score = 99')\n"
         "print('ESCAPED' if found else 'blocked', ': write-the-gradebook')"),
        ("connect-to-the-network", "import socket\n"
         "try:\n"
         f"    socket.create_connection(('127.0.0.1', {port}), timeout=5).close()\n"
         "    print('ESCAPED : connect-to-the-network')\n"
         "except OSError:\n"
         "    print('blocked : connect-to-the-network')"),
        ("outlive-the-kernel", "import subprocess, sys\n"
         f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', '{TOKEN}'], start_new_session=True)\n"
         "print('spawned : outlive-the-kernel')"),
        ("allocate-beyond-the-limit", "try:\n"
         f"    hoard = bytearray({2 * LIMIT})\n"
         "    print('ESCAPED : allocate-beyond-the-limit')\n"
         "    del hoard\n"
         "except MemoryError:\n"
         "    print('blocked : allocate-beyond-the-limit')"),
        ("kill-the-kernel", "import os\nos._exit(0)"),
    ]


def submit_escapee(course, student, port):
    """The solution notebook with an escape cell after the first graded cell, for each escape."""
    notebook = read(notebook_path(course / "solutions", ASSIGNMENT))
    at = next(i for i, c in enumerate(notebook["cells"]) if c["metadata"].get("nbgrader", {}).get("grade_id") == AFTER_CELL)
    cells = [new_code_cell(code, metadata={"escape": name}) for name, code in escapes(port, course)]
    notebook["cells"][at + 1:at + 1] = [json.loads(json.dumps(cell)) for cell in cells]
    path = notebook_path(course / "nbgrader_work" / "submitted" / student, ASSIGNMENT)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(notebook))


STUDENTS = {"honest": [], "escapee": None, "untouched": "release"}  # planted mistakes: test_grading_catches_mistakes.py


def enrol(course, port):
    for student, changes in STUDENTS.items():
        if changes is None:
            submit_escapee(course, student, port)
        elif changes == "release":
            path = notebook_path(course / "nbgrader_work" / "submitted" / student, ASSIGNMENT)
            path.parent.mkdir(parents=True)
            shutil.copy(notebook_path(course / "course", ASSIGNMENT), path)
        else:
            submit(course, ASSIGNMENT, student, changes)


def grading_command(course, *args, env=None):
    return subprocess.run([sys.executable, "-m", "grading", *args], cwd=course, capture_output=True, text=True,
                          timeout=900, env=env)


def left_behind():
    return subprocess.run(["pgrep", "-f", TOKEN], capture_output=True, text=True).stdout.split()


@pytest.fixture(scope="module")
def listener():
    """A server on this machine's loopback that no sandboxed kernel may reach."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0)
    yield server
    server.close()


@pytest.fixture(scope="module")
def classes(course, tmp_path_factory, listener):
    """The same class twice: graded by ``nbgrader autograde`` and by ``python -m grading autograde --workers 2``."""
    copies = {}
    for way in ("serial", "parallel"):
        copy = tmp_path_factory.mktemp(way) / "course"
        shutil.copytree(course, copy, ignore=shutil.ignore_patterns("submitted", "autograded", "feedback"))
        enrol(copy, listener.getsockname()[1])
        copies[way] = copy
    nbgrader(copies["serial"], "autograde", ASSIGNMENT)
    run = grading_command(copies["parallel"], "autograde", ASSIGNMENT, "--workers", "2")
    assert run.returncode == 0, f"python -m grading autograde exited {run.returncode}:\n{run.stdout}\n{run.stderr[-3000:]}"
    yield copies, run
    for pid in left_behind():
        os.kill(int(pid), 9)


def gradebook_record(course):
    """Everything autograding writes to the gradebook, by student."""
    record = {}
    with Gradebook(f"sqlite:///{course / 'nbgrader_work' / 'gradebook.db'}") as gradebook:
        for submission in gradebook.assignment_submissions(ASSIGNMENT):
            record[submission.student_id] = (
                submission.timestamp,
                sorted((n.name, n.late_submission_penalty, n.flagged) for n in submission.notebooks),
                sorted((g.notebook.name, g.name, g.auto_score, g.manual_score, g.needs_manual_grade)
                       for n in submission.notebooks for g in n.grades),
                sorted((c.notebook.name, c.name, c.auto_comment, c.manual_comment)
                       for n in submission.notebooks for c in n.comments))
    return record


def test_parallel_grading_records_what_serial_nbgrader_records(classes):
    (copies, run) = classes
    serial, parallel = gradebook_record(copies["serial"]), gradebook_record(copies["parallel"])
    assert set(STUDENTS) <= set(serial), "every submission of the class is in the gradebook"
    assert parallel == serial  # the class, and any earlier submission in the copied gradebook, alike
    assert f"{ASSIGNMENT}: {len(STUDENTS)} graded, 0 failed, 0 timed out, 0 already graded" in run.stdout
    for student in STUDENTS:
        log = (copies["parallel"] / "nbgrader_work" / "logs" / ASSIGNMENT / f"{student}.log").read_text()
        assert TIMING_MARK in log, f"{student}'s log does not say where its grading went"
        timing = json.loads(log.split(TIMING_MARK)[1].splitlines()[0])
        assert timing["kernel start"] > 0 and timing["cells"] > 0, timing
        assert timing["judging"] > 0 and timing["judging CPU"] > 0, f"{student}'s judged cells were judged: {timing}"


def test_grades_are_what_each_submission_deserves(classes):
    (copies, _) = classes
    for course in copies.values():
        honest = grades(course, ASSIGNMENT, "honest")
        assert all(score == maximum for score, maximum in honest.values() if score is not None)
        assert not any(score for score, _ in grades(course, ASSIGNMENT, "untouched").values())
        assert grades(course, ASSIGNMENT, "escapee") == honest, "the escapee's honest cells earn their points"


@pytest.mark.parametrize("way", ["serial", "parallel"])
@pytest.mark.parametrize("escape", [name for name, _ in escapes(0)])
def test_no_escape_succeeds(classes, listener, way, escape):
    (copies, _) = classes
    autograded = read(notebook_path(copies[way] / "nbgrader_work" / "autograded" / "escapee", ASSIGNMENT))
    (cell,) = [c for c in autograded["cells"] if c["metadata"].get("escape") == escape]
    text = "".join("".join(o["text"]) for o in cell["outputs"] if o["output_type"] == "stream")
    assert "ESCAPED" not in text, f"{escape} got out of the sandbox ({way}):\n{text[-500:]}"
    if escape == "kill-the-kernel":
        assert any(o.get("ename") == "DeadKernelError" for o in cell["outputs"]), "the dead kernel should be noted"
    elif escape == "outlive-the-kernel":
        time.sleep(1)
        assert not left_behind(), "a process the submission started outlived its kernel"
    else:
        assert f"blocked : {escape}" in text, f"the {escape} cell did not run to its end:\n{cell['outputs']}"
    if escape == "connect-to-the-network":
        with pytest.raises(BlockingIOError):
            listener.accept()


def test_feedback_shows_no_hidden_test(classes):
    (copies, _) = classes
    course = copies["parallel"]
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--student=escapee")
    page = (course / "nbgrader_work" / "feedback" / "escapee" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    hidden = secret_lines(ASSIGNMENT, kinds=(HIDDEN_MARKERS,), answers=False)
    assert not hidden & lines_of(visible_text(page))


def test_a_second_run_grades_only_what_is_new_or_forced(classes):
    (copies, _) = classes
    course = copies["parallel"]
    before = gradebook_record(course)
    again = grading_command(course, "autograde", ASSIGNMENT)
    assert again.returncode == 0 and f"0 graded, 0 failed, 0 timed out, {len(STUDENTS)} already graded" in again.stdout
    # as one job of a cluster's array would: graded into a gradebook of its own, merged at the end
    forced = grading_command(course, "autograde", ASSIGNMENT, "--student", "untouched", "--force", "--no-merge")
    assert forced.returncode == 0 and "1 graded" in forced.stdout, forced.stdout + forced.stderr[-2000:]
    own = course / "nbgrader_work" / "gradebooks" / ASSIGNMENT / "untouched.db"
    assert own.is_file() and gradebook_record(course) == before
    merged = grading_command(course, "merge", ASSIGNMENT)
    assert merged.returncode == 0 and "1 result(s) of 02_dense_vae recorded" in merged.stdout
    assert not own.exists() and gradebook_record(course) == before


def test_without_a_sandbox_nothing_is_graded_unless_asked(classes, tmp_path):
    """No bubblewrap: both commands say so, with the fix, and grade nothing."""
    (copies, _) = classes
    course = tmp_path / "course"
    shutil.copytree(copies["serial"], course, ignore=shutil.ignore_patterns("autograded", "feedback"))
    env = {**os.environ, "PATH": os.path.dirname(sys.executable)}  # no bwrap on it
    ours = grading_command(course, "autograde", ASSIGNMENT, env=env)
    assert ours.returncode == 2 and "bubblewrap is not installed" in ours.stderr and "--unsandboxed" in ours.stderr
    theirs = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--student=honest", "--force"],
                            cwd=course, capture_output=True, text=True, timeout=300, env=env)
    assert theirs.returncode == 1 and "--SandboxedExecute.sandbox=off" in theirs.stderr
    assert not (course / "nbgrader_work" / "autograded" / "honest" / ASSIGNMENT).exists()


def test_hidden_tests_that_cannot_be_loaded_stop_grading_before_any_submission(classes, tmp_path):
    """A course copied without hidden_tests/, or whose module has a mistake: one line saying which, nothing graded."""
    (copies, _) = classes
    course = tmp_path / "course"
    shutil.copytree(copies["serial"], course, ignore=shutil.ignore_patterns("autograded", "feedback"))
    module = course / "hidden_tests" / f"{ASSIGNMENT}.py"

    def mistaken():
        module.write_text(module.read_text() + "\ndef test_(:\n")

    for broken, reason in ((mistaken, "SyntaxError"), (module.unlink, f"hidden_tests/{ASSIGNMENT}.py")):
        broken()
        run = grading_command(course, "autograde", ASSIGNMENT, "--force")
        assert run.returncode == 1 and "No submission of 02_dense_vae was graded: its hidden tests cannot be loaded" \
            in run.stderr and reason in run.stderr, run.stderr[-2000:]
        assert not (course / "nbgrader_work" / "autograded").exists()


def test_a_submission_over_its_time_is_stopped_and_left_ungraded(classes, tmp_path):
    (copies, _) = classes
    course = tmp_path / "course"
    shutil.copytree(copies["parallel"], course)
    before = gradebook_record(course)
    outcome = grade_submission(course, ASSIGNMENT, "honest", timeout=2)
    assert outcome.status == TIMED_OUT and "not graded" in outcome.note
    assert not (course / "nbgrader_work" / "autograded" / "honest" / ASSIGNMENT).exists(), "graded again next time"
    assert merge(course, ASSIGNMENT) == {"honest": outcome} and gradebook_record(course) == before

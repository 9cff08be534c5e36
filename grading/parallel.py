"""A class autograded in parallel, with nbgrader as the engine and its gradebook as the record.

Each submission is graded by its own ``nbgrader autograde --student`` process (and so its own sandboxed
kernel), which writes to a gradebook of its own: a copy of the course's, taken before it starts. Only
``merge`` writes the course's gradebook, one submission after another, so SQLite never sees two writers
(which it does not survive on a network file system). On one machine ``autograde`` does both; on a
cluster, one job per student runs ``grade_submission`` (``python -m grading autograde A --student ID
--no-merge``) and a last one runs ``merge`` (``python -m grading merge A``).
"""
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from tqdm import tqdm

from grading.autograde import quiet_gradebook_session_warnings
from grading.lms import unreadable, what_to_ask
from judge import hidden_tests

WORK = "nbgrader_work"
SOURCE = "solutions"  # nbgrader_config.py's source_directory
GRADED, FAILED, TIMED_OUT, UNREADABLE = "graded", "failed", "timed out", "unreadable"


@dataclass
class Outcome:
    """How grading one submission went."""
    student: str
    status: str  # GRADED, FAILED, TIMED_OUT or UNREADABLE
    seconds: float
    note: str = ""
    submitted: str = ""  # fingerprint of the submission that was graded


class Course:
    """The folders of a course that nbgrader_config.py lays out (see there)."""

    def __init__(self, root):
        self.root = Path(root).resolve()
        if not (self.root / "nbgrader_config.py").is_file():
            raise SystemExit(f"{self.root} holds no nbgrader_config.py: run the command in the course folder.")
        self.work = self.root / WORK
        self.gradebook = self.work / "gradebook.db"

    def submission(self, assignment, student):
        return self.work / "submitted" / student / assignment

    def autograded(self, assignment, student):
        return self.work / "autograded" / student / assignment

    def own_gradebook(self, assignment, student):
        """The gradebook one submission is graded into, and where its outcome is recorded beside it."""
        return self.work / "gradebooks" / assignment / f"{student}.db"

    def graded_fingerprint(self, assignment, student):
        """Where the fingerprint of the submission whose grades are in the gradebook is kept."""
        return self.work / "gradebooks" / assignment / f"{student}.graded.sha256"

    def log(self, assignment, student):
        return self.work / "logs" / assignment / f"{student}.log"

    def hidden_tests_problem(self, assignment):
        """Why the hidden tests of ``assignment``'s notebooks cannot be loaded (every submission would fail
        its judged cells), or None."""
        for notebook in sorted((self.root / SOURCE / assignment).glob("*.ipynb")):
            if "# hidden test: " in notebook.read_text():
                try:
                    hidden_tests.load(notebook.stem, self.root / hidden_tests.FOLDER)
                except Exception as error:  # noqa: BLE001  (a missing file or a mistake in it: said as it is)
                    return f"{type(error).__name__}: {error}"
        return None

    def unreadable(self, assignment, student):
        """What to ask ``student`` for, if a notebook of their submission cannot be read; else None."""
        for notebook in sorted(self.submission(assignment, student).glob("*.ipynb")):
            reason = unreadable(notebook)
            if reason:
                return what_to_ask(student, f"{notebook.name}: {reason}")
        return None

    def submitted_students(self, assignment):
        return sorted(p.parent.name for p in (self.work / "submitted").glob(f"*/{assignment}") if p.is_dir())


def fingerprint(folder):
    """A digest of a submission folder: every file's name and bytes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _as_course(course):
    return course if isinstance(course, Course) else Course(course)


def grade_submission(course, assignment, student, *, threads=1, unsandboxed=False, timeout=1800):
    """Autograde one submission into its own gradebook (a copy of the course's); its log and outcome
    land beside it. The course's gradebook is only read."""
    course = _as_course(course)
    own, log = course.own_gradebook(assignment, student), course.log(assignment, student)
    for path in (own, log):
        path.parent.mkdir(parents=True, exist_ok=True)
    _copy_gradebook(course.gradebook, own)
    outcome_file = own.with_suffix(".json")
    outcome_file.unlink(missing_ok=True)
    submitted = fingerprint(course.submission(assignment, student))
    arguments = ["autograde", assignment, f"--student={student}", "--force", f"--CourseDirectory.db_url=sqlite:///{own}"]
    if unsandboxed:
        arguments.append("--SandboxedExecute.sandbox=off")
    start = time.monotonic()
    process = _NBGRADER_PROCESSES.Process(target=_nbgrader, args=(arguments, str(course.root), str(log), threads))
    process.start()
    process.join(timeout)
    if process.is_alive():
        os.killpg(process.pid, signal.SIGKILL)  # nbgrader; its sandboxed kernel dies with it
        process.join()
        shutil.rmtree(course.autograded(assignment, student), ignore_errors=True)
        status, note = TIMED_OUT, f"stopped after {timeout} s; not graded"
    else:
        status, note = (GRADED, "") if process.exitcode == 0 else (FAILED, _last_error(log))
    outcome = Outcome(student, status, round(time.monotonic() - start, 1), note, submitted)
    written = outcome_file.with_suffix(".json.part")
    written.write_text(json.dumps(asdict(outcome)))
    written.replace(outcome_file)  # whole or absent: merge reads only finished outcomes
    return outcome


def _copy_gradebook(source, target):
    """A consistent copy of a SQLite gradebook, even while another process writes to it."""
    target.unlink(missing_ok=True)
    with sqlite3.connect(source) as original, sqlite3.connect(target) as copy:
        original.backup(copy)


# One new process per submission, forked from a server that has imported nbgrader once: importing it
# takes seconds, a good part of grading a notebook that runs in ten.
_NBGRADER_PROCESSES = multiprocessing.get_context("forkserver")
_NBGRADER_PROCESSES.set_forkserver_preload([
    "nbgrader.apps.nbgraderapp", "ipykernel.kernelspec", "sqlite3", "sqlalchemy.dialects.sqlite",
    "grading.execution", "grading.autograde", "grading.feedback", "grading.lms", "grading.release", "grading.validation"])


def _nbgrader(arguments, folder, log, threads):
    """``nbgrader *arguments`` in ``folder``, in this (new) process, its output in ``log``."""
    os.setsid()  # a group of its own, which a timeout kills whole
    os.chdir(folder)
    sys.path.insert(0, folder)  # as `python -m nbgrader` run there would have it
    # Each worker's PyTorch keeps to its share of the cores: in the kernel it starts, and in this process, where
    # the hidden tests are judged (torch was imported before this process began, so it is told directly).
    os.environ.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    import torch
    torch.set_num_threads(threads)
    output = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(output, 1)
    os.dup2(output, 2)
    from nbgrader.apps.nbgraderapp import NbGraderApp

    sys.argv = ["nbgrader", *arguments]
    NbGraderApp.launch_instance(argv=arguments)


def _last_error(log):
    errors = [line.strip() for line in Path(log).read_text(errors="replace").splitlines() if "[ERROR]" in line]
    return errors[-1] if errors else "nbgrader failed: see the log"


def merge(course, assignment):
    """Fold every finished submission's own gradebook into the course's; the outcomes, by student."""
    course = _as_course(course)
    outcomes = {}
    for outcome_file in sorted((course.work / "gradebooks" / assignment).glob("*.json")):
        outcome = Outcome(**json.loads(outcome_file.read_text()))
        own = outcome_file.with_suffix(".db")
        if outcome.status != TIMED_OUT:
            _merge_submission(own, course.gradebook, assignment, outcome.student)
        if outcome.status == GRADED:
            course.graded_fingerprint(assignment, outcome.student).write_text(outcome.submitted)
        own.unlink(missing_ok=True)
        outcome_file.unlink()
        outcomes[outcome.student] = outcome
    return outcomes


def _merge_submission(source, target, assignment, student):
    """Copy what nbgrader autograde wrote for one submission from the gradebook ``source`` into ``target``."""
    quiet_gradebook_session_warnings()
    with Gradebook(f"sqlite:///{source}") as graded, Gradebook(f"sqlite:///{target}") as gradebook:
        try:
            submitted = graded.find_submission(assignment, student)
        except MissingEntry:
            return  # nbgrader stopped before recording it: nothing to copy
        person = submitted.student
        try:
            gradebook.find_student(student)
        except MissingEntry:
            gradebook.add_student(student, first_name=person.first_name, last_name=person.last_name,
                                  email=person.email, lms_user_id=person.lms_user_id)
        into = gradebook.update_or_create_submission(assignment, student, timestamp=submitted.timestamp)
        notebooks = {notebook.name: notebook for notebook in into.notebooks}
        for notebook in submitted.notebooks:
            target_notebook = notebooks[notebook.name]
            target_notebook.late_submission_penalty = notebook.late_submission_penalty
            grades = {grade.name: grade for grade in target_notebook.grades}
            for grade in notebook.grades:
                grades[grade.name].auto_score = grade.auto_score
                grades[grade.name].needs_manual_grade = grade.needs_manual_grade
            comments = {comment.name: comment for comment in target_notebook.comments}
            for comment in notebook.comments:
                comments[comment.name].auto_comment = comment.auto_comment
        gradebook.db.commit()


def grading_state(course, assignment, student):
    """"graded" (this very submission is graded and recorded), "resubmitted" (what is graded is an earlier
    submission), or "new" (nothing of it graded yet, or its result not recorded)."""
    recorded = course.graded_fingerprint(assignment, student)
    if not course.autograded(assignment, student).is_dir() or not recorded.is_file() \
            or course.own_gradebook(assignment, student).with_suffix(".json").exists():
        return "new"
    return "graded" if recorded.read_text() == fingerprint(course.submission(assignment, student)) else "resubmitted"


def autograde(course, assignment, *, workers=2, students=None, force=False, unsandboxed=False, merge_results=True,
              timeout=1800, progress=True):
    """Grade the submitted students of ``assignment`` (or only ``students``) with ``workers`` processes."""
    course = _as_course(course)
    problem = course.hidden_tests_problem(assignment)
    if problem:
        raise SystemExit(f"No submission of {assignment} was graded: its hidden tests cannot be loaded ({problem}).")
    if merge_results:
        merge(course, assignment)  # results of an earlier run that stopped before merging them
    submitted = course.submitted_students(assignment)
    unknown = sorted(set(students or []) - set(submitted))
    if unknown:
        raise SystemExit(f"No submission of {assignment} from {', '.join(unknown)} in {course.work / 'submitted'}.")
    states = {s: grading_state(course, assignment, s) for s in (students or submitted)}
    chosen = [s for s, state in states.items() if force or state != "graded"]
    skipped = len(states) - len(chosen)
    resubmitted = sorted(s for s in chosen if states[s] == "resubmitted")
    broken = {s: course.unreadable(assignment, s) for s in chosen}
    outcomes = [Outcome(s, UNREADABLE, 0.0, broken[s]) for s in chosen if broken[s]]
    chosen = [s for s in chosen if not broken[s]]
    threads = max(1, (os.cpu_count() or 1) // workers)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool, \
            tqdm(total=len(chosen), unit="submission", disable=not progress, desc=assignment) as bar:
        futures = [pool.submit(grade_submission, course, assignment, student, threads=threads,
                               unsandboxed=unsandboxed, timeout=timeout) for student in chosen]
        for future in as_completed(futures):
            outcome = future.result()
            outcomes.append(outcome)
            if merge_results:
                merge(course, assignment)
            bar.set_postfix_str(f"last: {outcome.student} {outcome.status}")
            bar.update()
    return sorted(outcomes, key=lambda o: o.student), skipped, resubmitted, time.monotonic() - started

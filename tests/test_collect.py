"""`nbgrader collect` (grading/exchange.py) attacked by a student who owns their hand-in.

Each test makes a minimal course and an exchange set up as hub/deploy.py's make_exchange sets it up, with
two real Unix users as students: alan, who attacks, and barbara, who hands in honestly and sorts after him.
Their hand-ins are written as `nbgrader submit` leaves them (here by root, then given to the student). Collect
runs as an instructor would: root without the capabilities that let root read and write any file, so a
hand-in's modes keep it out as they keep an instructor out; each collect is a fork of one such process that
imported nbgrader once, which keeps the module fast. A race is made deterministic by running collect with a
hook after the check of a chosen entry. Every attack must leave barbara collected, name alan in the
one error line about his hand-in, put nothing of solutions/ into the course's submissions, and make collect
exit non-zero. Needs root on Linux; elsewhere the module is skipped (a failure on CI).
"""
import datetime
import json
import os
import pwd
import secrets
import select
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from nbgrader.api import Gradebook

from support.course import skip_or_fail


def why_not_here():
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return "creating Unix users needs root on Linux"
    for program in ("useradd", "userdel", "setpriv", "pkill"):
        if not shutil.which(program):
            return f"no `{program}` on PATH"
    return None


skip_or_fail(why_not_here(), "collect tests")

from grading.__main__ import main as grading_command  # noqa: E402
from grading.exchange import MAX_BYTES, MAX_FILES  # noqa: E402

ASSIGNMENT = "01_elbo"
COURSE_ID = "vae-hands-on"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"
SOLUTION = b'{"cells": ["the hidden tests"]}'
CONFIG = """c = get_config()  # noqa: F821
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.submitted_directory = "nbgrader_work/submitted"
c.CourseDirectory.db_url = "sqlite:///{root}/nbgrader_work/gradebook.db"
c.CourseDirectory.groupshared = True  # as the hub's instructors have it
c.Exchange.root = {exchange!r}
c.ExchangeFactory.collect = "grading.exchange.CollectOwnSubmissions"
"""
# Runs each request (course folder, arguments, hook, log file) read from stdin as `nbgrader collect` in a fork
# of itself, and answers with its exit code.
COLLECTOR = """
import json, os, sys
from nbgrader.apps.nbgraderapp import NbGraderApp
import grading.exchange
for request in sys.stdin:
    folder, argv, hook, log = json.loads(request)
    pid = os.fork()
    if pid == 0:
        os.chdir(folder)
        os.dup2(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 1)
        os.dup2(1, 2)
        try:
            exec(hook)
            NbGraderApp.launch_instance(argv=["collect", *argv])
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        sys.stdout.flush(), sys.stderr.flush()
        os._exit(code)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""
# A hook: `action` runs right after HandInReader.check passes the entry `label` of `student`'s hand-in.
HOOK = """
from grading import exchange
check = exchange.HandInReader.check
def check_then_act(self, info, label):
    check(self, info, label)
    if self.student == {student!r} and label == {label!r}:
        {action}
exchange.HandInReader.check = check_then_act
"""


@pytest.fixture(scope="module")
def students():
    """alan and barbara, Unix users with a random tag; removed, with their processes, however the tests end."""
    tag = secrets.token_hex(3)
    names = [f"vae{tag}alan", f"vae{tag}barbara"]
    try:
        for name in names:
            subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
        yield names
    finally:
        for name in names:
            subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
            subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture(scope="module")
def collector():
    """COLLECTOR, as root without the capabilities that let root read and write any file."""
    process = subprocess.Popen(["setpriv", "--inh-caps=-all", "--bounding-set=-all", sys.executable, "-c", COLLECTOR],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=with_alembic())
    try:
        yield process
    finally:
        process.stdin.close()
        process.wait(timeout=60)


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory):
    """An empty gradebook to copy: making one runs `alembic`, which takes seconds."""
    path = tmp_path_factory.mktemp("gradebook") / "gradebook.db"
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("PATH", with_alembic()["PATH"])
        with Gradebook(f"sqlite:///{path}", COURSE_ID):
            return path


def with_alembic():
    """This environment, where nbgrader finds the `alembic` it runs to make a gradebook (beside this Python)."""
    return {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}


class Course:
    """A course folder with its solutions, settings, gradebook and an exchange, all in ``root``."""

    def __init__(self, root, gradebook, collector):
        self.collector = collector
        self.root, self.exchange = root / "course", root / "exchange"
        self.inbound = self.exchange / COURSE_ID / "inbound"
        self.submitted = self.root / "nbgrader_work" / "submitted"
        self.staging = root / "staging"  # what a hook moves into a hand-in
        (self.root / "solutions" / ASSIGNMENT).mkdir(parents=True)
        (self.root / "solutions" / ASSIGNMENT / NOTEBOOK).write_bytes(SOLUTION)
        (self.root / "nbgrader_work").mkdir()
        shutil.copy(gradebook, self.root / "nbgrader_work" / "gradebook.db")
        self.staging.mkdir()
        (self.root / "nbgrader_config.py").write_text(
            CONFIG.format(course_id=COURSE_ID, root=self.root, exchange=str(self.exchange)))
        # as hub/deploy.py's make_exchange, with root's group as the instructors'
        for folder, mode in [(self.exchange, 0o755), (self.exchange / COURSE_ID, 0o2775),
                             (self.exchange / COURSE_ID / "outbound", 0o2775), (self.inbound, 0o3773),
                             (self.exchange / COURSE_ID / "feedback", 0o2771)]:
            folder.mkdir(parents=True, exist_ok=True)
            os.chmod(folder, mode)

    def hand_in(self, student, files=None, name=None, when=None):
        """A hand-in as ``student``'s `nbgrader submit` leaves it: their folder, mode 0777, files 0644."""
        when = when or datetime.datetime.now(datetime.timezone.utc)
        name = name or f"{student}+{ASSIGNMENT}+{when.strftime(TIME_FORMAT)}+{secrets.token_urlsafe(9)}"
        folder = self.inbound / name
        files = {NOTEBOOK: f"{student}'s work at {when}".encode(), "timestamp.txt": when.strftime(TIME_FORMAT).encode(),
                 "submission_secret.txt": secrets.token_hex(8).encode(), **(files or {})}
        for path, content in files.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(content)
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, pwd.getpwnam(student).pw_uid, pwd.getpwnam(student).pw_gid)
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        os.chmod(folder, 0o777)
        return folder

    def give(self, path, student):
        os.lchown(path, pwd.getpwnam(student).pw_uid, pwd.getpwnam(student).pw_gid)

    def collect(self, *args, hook=None):
        """`nbgrader collect ARGS 01_elbo` in the course folder, by the collector (an instructor's rights over the
        hand-ins); ``hook``: (student, entry label, action) for HOOK."""
        log = self.root.parent / f"collect-{secrets.token_hex(4)}.log"
        hook = HOOK.format(student=hook[0], label=hook[1], action=hook[2]) if hook else ""
        self.collector.stdin.write(json.dumps([str(self.root), [*args, ASSIGNMENT], hook, str(log)]) + "\n")
        self.collector.stdin.flush()
        assert select.select([self.collector.stdout], [], [], 120)[0], "collect did not end within 2 minutes"
        code = int(self.collector.stdout.readline())
        return subprocess.CompletedProcess(["nbgrader", "collect", *args, ASSIGNMENT], code, "", log.read_text())

    def collected(self, student, name=NOTEBOOK):
        return (self.submitted / student / ASSIGNMENT / name).read_bytes()


@pytest.fixture
def course(tmp_path, gradebook, collector):
    return Course(tmp_path, gradebook, collector)


def error_line(result, hand_in):
    """The one error line that names ``hand_in``."""
    (line,) = [line for line in result.stderr.splitlines() if "ERROR" in line and hand_in.name in line]
    return line


def assert_refused(course, result, students, hand_in, *words):
    """alan's ``hand_in`` refused in one line naming him, the fix and how to dismiss it; barbara collected; nothing
    of solutions/ and no half-made copy among the submissions; a non-zero exit."""
    alan, barbara = students
    assert result.returncode != 0, result.stderr
    line = error_line(result, hand_in)
    assert f"handed in by {alan}" in line and "dismiss" in line, line
    assert all(word in line for word in words), line
    assert course.collected(barbara).startswith(f"{barbara}'s work".encode()), result.stderr
    submissions = [path for path in course.submitted.rglob("*") if path.is_file()]
    assert not any(SOLUTION in path.read_bytes() for path in submissions)
    assert not [path for path in course.submitted.rglob(".*")], "a half-made copy was left"
    return line


def honest(course, students):
    """barbara's hand-in, made before alan's attack."""
    return course.hand_in(students[1])


def test_an_honest_class_is_collected_and_exits_zero(course, students):
    for student in students:
        course.hand_in(student)
    result = course.collect()
    assert result.returncode == 0, result.stderr
    for student in students:
        assert course.collected(student).startswith(f"{student}'s work".encode())
        assert stat.S_IMODE(os.stat(course.submitted / student / ASSIGNMENT / NOTEBOOK).st_mode) & 0o660 == 0o660


@pytest.mark.parametrize("swapped", ["the notebook", "the hand-in folder"])
def test_an_entry_swapped_for_a_link_after_its_check_is_never_followed(course, students, swapped):
    """The race: alan swaps what was just checked for a link to solutions/; only the checked bytes may land."""
    alan, barbara = students
    honest(course, students)
    hand_in = course.hand_in(alan)
    if swapped == "the notebook":
        link = course.staging / "link"
        link.symlink_to(course.root / "solutions" / ASSIGNMENT / NOTEBOOK)
        label, action = NOTEBOOK, f"os.rename({str(link)!r}, {str(hand_in / NOTEBOOK)!r})"
    else:
        link = course.staging / "folder-link"
        link.symlink_to(course.root / "solutions" / ASSIGNMENT)
        label = "its folder"
        action = (f"os.rename({str(hand_in)!r}, {str(course.staging / 'moved')!r}); "
                  f"os.rename({str(link)!r}, {str(hand_in)!r})")
    course.give(link, alan)
    result = course.collect(hook=(alan, label, action))
    assert os.path.islink(hand_in / NOTEBOOK if swapped == "the notebook" else hand_in), "the hook ran"
    assert_refused(course, result, students, hand_in, "changed while it was collected", "collect again")


@pytest.mark.parametrize("closed", [NOTEBOOK, "its folder"])
def test_a_hand_in_that_instructors_may_not_read_is_refused(course, students, closed):
    alan, barbara = students
    hand_in = course.hand_in(alan)
    honest(course, students)
    os.chmod(hand_in if closed == "its folder" else hand_in / NOTEBOOK, 0)
    result = course.collect()
    assert_refused(course, result, students, hand_in, f"{closed} cannot be read", f"ask {alan} to submit again")


@pytest.mark.parametrize("kind", [stat.S_IFIFO, stat.S_IFSOCK])
def test_a_pipe_or_socket_is_refused_without_waiting_on_it(course, students, kind):
    alan, barbara = students
    hand_in = course.hand_in(alan)
    honest(course, students)
    special = hand_in / NOTEBOOK if kind == stat.S_IFIFO else hand_in / "data" / "socket"
    special.unlink(missing_ok=True)
    special.parent.mkdir(exist_ok=True)
    os.mknod(special, 0o666 | kind)
    course.give(special, alan)
    course.give(special.parent, alan)
    result = course.collect()
    label = special.relative_to(hand_in)
    assert_refused(course, result, students, hand_in, f"{label} is not a plain file or folder")


@pytest.mark.parametrize("linked", ["file", "folder"])
def test_links_are_refused(course, students, linked):
    alan, barbara = students
    hand_in = course.hand_in(alan)
    honest(course, students)
    if linked == "file":
        link, target = hand_in / NOTEBOOK, course.root / "solutions" / ASSIGNMENT / NOTEBOOK
        link.unlink()
    else:
        link, target = hand_in / "data", course.root / "solutions" / ASSIGNMENT
    link.symlink_to(target)
    course.give(link, alan)
    result = course.collect()
    assert_refused(course, result, students, hand_in, f"{link.name} is a link")


@pytest.mark.parametrize("name", [f"{{}}+{ASSIGNMENT}+not-a-date+abc", f"{{}}+{ASSIGNMENT}+{{}}+one+two"])
def test_a_hand_in_whose_name_nbgrader_cannot_parse_is_refused(course, students, name):
    alan, barbara = students
    now = datetime.datetime.now(datetime.timezone.utc).strftime(TIME_FORMAT)
    hand_in = course.hand_in(alan, name=name.format(alan, now))
    honest(course, students)
    result = course.collect()
    assert_refused(course, result, students, hand_in, "its name", f"ask {alan} to submit again")


@pytest.mark.parametrize("sizes", [[110 * 10**6], [MAX_BYTES // 3 + 1] * 3])
def test_a_hand_in_over_the_size_limit_is_refused(course, students, sizes):
    alan, barbara = students
    hand_in = course.hand_in(alan, {f"data/{i}.bin": b"" for i in range(len(sizes))})
    honest(course, students)
    for i, size in enumerate(sizes):
        os.truncate(hand_in / "data" / f"{i}.bin", size)  # sparse: nothing is written
    result = course.collect()
    assert_refused(course, result, students, hand_in, f"more than {MAX_BYTES // 2**20} MiB")


@pytest.mark.parametrize("layout", ["files", "nested folders"])
def test_a_hand_in_with_too_many_files_is_refused(course, students, layout):
    alan, barbara = students
    if layout == "files":
        files = {f"data/{i}.txt": b"x" for i in range(MAX_FILES)}
    else:
        files = {"/".join(["d"] * MAX_FILES) + "/deep.txt": b"x"}
    hand_in = course.hand_in(alan, files)
    honest(course, students)
    result = course.collect()
    assert_refused(course, result, students, hand_in, f"more than {MAX_FILES} files and folders")


@pytest.mark.parametrize("change", ["the notebook rewritten", "a file added"])
def test_a_hand_in_changed_while_collected_is_refused_and_the_others_collected(course, students, change):
    """alan changes his hand-in after its notebook was read, while collect reads its other files."""
    alan, barbara = students
    hand_in = course.hand_in(alan)
    honest(course, students)
    if change == "the notebook rewritten":
        os.chmod(hand_in / NOTEBOOK, 0o666)  # so that the hook, which is not alan, may write it
        action = f"open({str(hand_in / NOTEBOOK)!r}, 'ab').write(b' and more')"
    else:
        action = f"open({str(hand_in / 'late.txt')!r}, 'wb').write(b'late')"
    result = course.collect(hook=(alan, "submission_secret.txt", action))
    assert_refused(course, result, students, hand_in, "changed while it was collected", "collect again")
    assert not (course.submitted / alan).exists() or not any((course.submitted / alan).iterdir())


def test_a_hand_in_in_another_students_name_is_refused_and_theirs_collected(course, students):
    alan, barbara = students
    honest(course, students)
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)
    forged = course.hand_in(alan, {NOTEBOOK: b"alan's work in barbara's name"},
                            name=f"{barbara}+{ASSIGNMENT}+{later.strftime(TIME_FORMAT)}+x")
    result = course.collect()
    line = assert_refused(course, result, students, forged, f"it names {barbara} but its folder belongs to {alan}")
    assert f"ask {alan} to submit under their own name" in line


def test_a_hand_in_naming_someone_without_an_account_is_refused(course, students):
    alan, barbara = students
    honest(course, students)
    nobody = f"nobody{secrets.token_hex(3)}"
    forged = course.hand_in(alan, name=f"{nobody}+{ASSIGNMENT}+"
                            f"{datetime.datetime.now(datetime.timezone.utc).strftime(TIME_FORMAT)}+x")
    result = course.collect()
    assert_refused(course, result, students, forged, f"it names {nobody}, who has no account here")
    assert not (course.submitted / nobody).exists()


def test_a_hand_in_dated_before_its_files_were_written_gets_the_later_time(course, students):
    alan, barbara = students
    honest(course, students)
    early = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    course.hand_in(alan, when=early)
    result = course.collect()
    assert result.returncode == 0 and "recorded the later time" in result.stderr, result.stderr
    recorded = datetime.datetime.strptime(course.collected(alan, "timestamp.txt").decode(), TIME_FORMAT)
    assert recorded.replace(tzinfo=datetime.timezone.utc) - early > datetime.timedelta(minutes=59)


@pytest.mark.parametrize("attack", ["mode 000", "a pipe"])
def test_update_keeps_the_collected_copy_when_the_newer_hand_in_is_refused(course, students, attack):
    alan, barbara = students
    course.hand_in(alan)
    honest(course, students)
    assert course.collect().returncode == 0
    before = course.collected(alan)
    newer = course.hand_in(alan, when=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1))
    if attack == "mode 000":
        os.chmod(newer / "submission_secret.txt", 0)
    else:
        os.mknod(newer / "pipe", 0o666 | stat.S_IFIFO)
        course.give(newer / "pipe", alan)
    result = course.collect("--update")
    assert_refused(course, result, students, newer)
    assert course.collected(alan) == before
    assert f"No newer submission to collect: {alan}" in result.stderr, "his previous hand-in is the one collected"


def test_a_dismissed_hand_in_is_skipped_and_the_students_previous_one_collected(course, students, monkeypatch, capsys):
    """`python -m grading dismiss NAME` (its main(), in the course folder) lists the hand-in for collect to skip."""
    alan, barbara = students
    older = course.hand_in(alan)
    honest(course, students)
    newer = course.hand_in(alan, when=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1))
    os.mknod(newer / "pipe", 0o666 | stat.S_IFIFO)
    course.give(newer / "pipe", alan)
    refused = course.collect()
    assert f"python -m grading dismiss '{newer.name}'" in error_line(refused, newer)
    assert course.collected(alan) == (older / NOTEBOOK).read_bytes(), "his latest valid hand-in"
    monkeypatch.chdir(course.root)
    for _ in range(2):  # dismissing twice lists it once
        assert grading_command(["dismiss", newer.name]) == 0
    assert f"Dismissed {newer.name}" in capsys.readouterr().out
    assert (course.root / "nbgrader_work" / "dismissed_hand_ins.txt").read_text() == newer.name + "\n"
    result = course.collect("--update")
    assert result.returncode == 0, result.stderr
    assert f"Skipped {newer.name}: dismissed" in result.stderr and "ERROR" not in result.stderr
    assert course.collected(alan) == (older / NOTEBOOK).read_bytes()
    with pytest.raises(SystemExit) as refused_name:
        grading_command(["dismiss", "../elsewhere"])
    assert refused_name.value.code != 0 and "not the name of a hand-in folder" in capsys.readouterr().err

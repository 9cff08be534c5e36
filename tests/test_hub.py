"""The course served to a class on one JupyterHub, set up by hub/deploy.py, used through the hub in a real
browser, then attacked by a student.

The module creates Unix users (one instructor, two students), runs the deployment's own setup command into a
throw-away folder (environment, course, exchange, hub settings), starts JupyterHub on 127.0.0.1 and removes
every user, process and file again, however the tests end. It needs root, `useradd` and Chromium; elsewhere
it is skipped with the reason, except on CI (CI=true), where that is a failure. The tests run in order:
the class works and is graded first, then each attack, then a check that the honest students' grades,
files and feedback are as they were.
"""
import datetime
import hashlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO, notebook_path, skip_or_fail, why_no_browser, write_completed_notebook
from grading.judge import JUDGED_HERE


def why_no_hub():
    """What is missing to run a class on a hub here, or None."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return "creating Unix users needs root on Linux"
    for program in ("useradd", "userdel", "chpasswd", "runuser"):
        if not shutil.which(program):
            return f"no `{program}` on PATH"
    if not Path("/usr/bin/python3").exists():
        return "no system Python (/usr/bin/python3) to build the class's environment from"
    return why_no_browser()


skip_or_fail(why_no_hub(), "hub tests")

from playwright.sync_api import expect  # noqa: E402

from browser_helpers import RUN_TIMEOUT_MS, UI_TIMEOUT_MS, validate  # noqa: E402
from browser_helpers import browser  # noqa: E402,F401  (a fixture)

expect.set_options(timeout=UI_TIMEOUT_MS)

ASSIGNMENT = "01_elbo"
COURSE_ID = "vae-hands-on"
CREATE_ASSIGNMENT_TAB = "nbgrader-create_assignemnt"  # the sidebar tab's id, as nbgrader spells it
SPAWN_TIMEOUT_MS = 180_000  # a user's first server imports the course's environment on a busy machine
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", REPO / "test-artifacts" / "browser"))


class Hub:
    """A deployment made by hub/deploy.py with its users, and the running hub."""

    def __init__(self, root, port, instructor, students):
        self.root, self.url = root, f"http://127.0.0.1:{port}"
        self.prefix, self.course, self.exchange = root / "opt", root / "course", root / "exchange"
        self.instructor, self.students = instructor, students
        self.passwords = {name: secrets.token_urlsafe(12) for name in [instructor, *students]}

    def environment(self, user):
        """The environment a user's terminal on the hub has (what the hub's spawner gives their server)."""
        role = "instructor" if user == self.instructor else "student"
        home = Path(f"/home/{user}")
        return {"HOME": str(home), "USER": user, "LANG": "C.UTF-8", "JUPYTER_CONFIG_PATH": str(self.prefix / "config" / role),
                "PATH": f"{self.prefix / 'env' / 'bin'}:/usr/local/bin:/usr/bin:/bin"}

    def run_as(self, user, *command, cwd=None, check=True, timeout=900):
        """Run ``command`` as ``user``, in their home (an instructor: in the course folder)."""
        cwd = cwd or (self.course if user == self.instructor else Path(f"/home/{user}"))
        result = subprocess.run([shutil.which("runuser"), "-u", user, "--", *map(str, command)], cwd=cwd, env=self.environment(user),
                                capture_output=True, text=True, timeout=timeout)
        if check:
            assert result.returncode == 0, f"{' '.join(map(str, command))} as {user} exited {result.returncode}:\n" \
                                           f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return result

    def python_as(self, user, code, **kwargs):
        """Run Python ``code`` as ``user`` in the class's environment."""
        return self.run_as(user, self.prefix / "env" / "bin" / "python", "-c", code, **kwargs)

    def grades(self, student):
        """{grade_id: [auto score, max score]} of ``student``'s graded submission, read as the instructor."""
        code = ("import json, sys; from nbgrader.api import Gradebook\n"
                "with Gradebook('sqlite:///nbgrader_work/gradebook.db') as gb:\n"
                f"    nb = gb.find_submission_notebook({ASSIGNMENT!r}, {ASSIGNMENT!r}, {student!r})\n"
                "    json.dump({g.name: [g.auto_score, g.max_score] for g in nb.grades}, sys.stdout)")
        return json.loads(self.python_as(self.instructor, code).stdout)

    def collected(self, student, name=f"{ASSIGNMENT}.ipynb"):
        return self.course / "nbgrader_work" / "submitted" / student / ASSIGNMENT / name

    def what_each_student_has(self):
        """Each student's grades, collected notebook, and feedback (in the exchange and in their home)."""
        return {student: (self.grades(student), fingerprint(self.collected(student)),
                          sorted(map(fingerprint, (self.exchange / COURSE_ID / "feedback").glob("*.html"))),
                          sorted(map(fingerprint, Path(f"/home/{student}", ASSIGNMENT, "feedback").rglob("*.html"))))
                for student in self.students}


def remove_users(names):
    for name in names:
        subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
    time.sleep(0.5)
    for name in names:
        subprocess.run(["userdel", "--remove", name], capture_output=True)


def hub_port():
    """A free public port for the hub whose proxy API (+1) and hub (+81) ports, which jupyterhub_config.py
    derives from it, are free too; below the ephemeral range, where the kernels and servers that other tests
    start meanwhile take theirs, so none of them can take one of these before the hub binds it."""
    def bindable(port):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
            return True

    lowest_ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        port = random.randrange(10_000, lowest_ephemeral - 100)
        if all(bindable(p) for p in (port, port + 1, port + 81)):
            return port
    raise RuntimeError("no three free ports for the hub below the ephemeral range")


@pytest.fixture(scope="module")
def hub():
    tag = secrets.token_hex(3)
    root = Path(tempfile.mkdtemp(prefix="vae-hub-"))
    os.chmod(root, 0o755)  # the users must reach the environment and the exchange inside it
    port = hub_port()
    hub = Hub(root, port, f"vhi{tag}", [f"vhs{tag}a", f"vhs{tag}b"])
    users = [hub.instructor, *hub.students]
    groups_before = {line.split(":")[0] for line in Path("/etc/group").read_text().splitlines()}
    server = None
    deploy = ["/usr/bin/python3", REPO / "hub" / "deploy.py", "--prefix", hub.prefix]
    try:
        subprocess.run([*deploy, "setup", "--course-dir", hub.course, "--exchange", hub.exchange,
                        "--bind-url", hub.url], check=True, timeout=1800)
        subprocess.run([*deploy, "add-instructor", hub.instructor], check=True)
        subprocess.run([*deploy, "add-student", *hub.students], check=True)
        subprocess.run(["chpasswd"], input="".join(f"{u}:{p}\n" for u, p in hub.passwords.items()), text=True, check=True)
        log = open(root / "hub.log", "w")
        server = subprocess.Popen([hub.prefix / "env" / "bin" / "jupyterhub", "-f", hub.prefix / "hub" / "jupyterhub_config.py"],
                                  cwd=hub.prefix / "hub" / "state", stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{hub.url}/hub/api", timeout=5).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, \
                    f"JupyterHub did not start:\n{(root / 'hub.log').read_text()[-3000:]}"
                time.sleep(0.5)
        yield hub
    finally:
        if server is not None:
            try:  # a hub that failed to start has exited already; its users and files are removed all the same
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        # what a hub that died on start cannot stop: its proxy (a session of its own) and any user's server
        subprocess.run(["pkill", "--full", str(hub.prefix)], capture_output=True)
        if (root / "hub.log").exists():  # the hub's and the users' servers' log, for a failure's reader
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(root / "hub.log", ARTIFACTS / "hub.log")
        remove_users(users)
        for group in ("vae-instructors", "vae-students"):
            if group not in groups_before:
                subprocess.run(["groupdel", group], capture_output=True)
        subprocess.run(["git", "config", "--system", "--unset-all", "safe.directory", f"^{hub.course}$"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def log_in(browser, request, hub):
    """log_in(user) -> a page of ``user``'s JupyterLab on the hub, logged in through the hub's login form."""
    contexts = []

    def log_in(user):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.goto(f"{hub.url}/hub/login")
        page.locator("#username_input").fill(user)
        page.locator("#password_input").fill(hub.passwords[user])
        page.locator("#login_submit").click()
        page.wait_for_url(f"**/user/{user}/lab**", timeout=SPAWN_TIMEOUT_MS)
        expect(page.locator(".jp-LabShell")).to_be_visible(timeout=SPAWN_TIMEOUT_MS)
        return page

    failures_before = request.session.testsfailed
    yield log_in
    for number, context in enumerate(contexts):
        if request.session.testsfailed > failures_before:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            for page in context.pages:
                page.screenshot(path=ARTIFACTS / f"{request.node.name}-{number}.png", full_page=True)
        context.close()


def open_assignment_list(page):
    page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
    page.get_by_role("menuitem", name="Assignment List", exact=True).click()
    assignment_list = page.locator("#nbgrader-assignment-list")
    expect(assignment_list.locator("#released_assignments_list_loading")).to_be_hidden()
    return assignment_list


def row(assignment_list, listing, name=ASSIGNMENT):
    return assignment_list.locator(f"#{listing}_assignments_list .list_item:not(.nested_list_item)", has_text=name)


TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"  # nbgrader's submission times


def parse_time(text):
    return datetime.datetime.strptime(text.strip(), TIME_FORMAT)


def fingerprint(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ------------------------------------------------------------------------------------------ the class


def test_an_instructor_releases_from_the_course_folder_and_reaches_formgrader(hub, log_in):
    hub.run_as(hub.instructor, "python", "-m", "grading", "record", ASSIGNMENT)
    hub.run_as(hub.instructor, "nbgrader", "release_assignment", ASSIGNMENT)

    page = log_in(hub.instructor)
    expect(page.locator(f'[data-id="{CREATE_ASSIGNMENT_TAB}"]')).to_have_count(1)  # the instructor tools
    page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
    expect(page.get_by_role("menuitem", name="Formgrader", exact=True)).to_be_visible()
    page.goto(f"{hub.url}/user/{hub.instructor}/formgrader")
    expect(page.get_by_role("row").filter(has_text=ASSIGNMENT)).to_have_count(1)
    expect(page.locator("body")).not_to_contain_text("does not exist", use_inner_text=True)


def test_students_fetch_validate_and_submit_in_the_assignment_list(hub, log_in):
    honest, untouched = hub.students
    for student in hub.students:
        page = log_in(student)
        menu_items = page.get_by_role("menuitem", name="Nbgrader", exact=True)
        menu_items.click()
        expect(page.get_by_role("menuitem", name="Formgrader", exact=True)).to_have_count(0)
        expect(page.get_by_role("menuitem", name="Assignment List", exact=True)).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.locator(f'[data-id="{CREATE_ASSIGNMENT_TAB}"]')).to_have_count(0)

        assignment_list = open_assignment_list(page)
        row(assignment_list, "released").get_by_role("button", name="Fetch").click()
        expect(row(assignment_list, "fetched")).to_be_visible()
        notebook = Path(f"/home/{student}") / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        assert notebook.is_file(), "the fetched notebook lands in the student's home"
        if student == honest:  # the student's answers, written as they would write them
            write_completed_notebook(notebook, notebook_path(REPO / "solutions", ASSIGNMENT), notebook)
            shutil.chown(notebook, student, student)

        page.goto(f"{hub.url}/user/{student}/lab/tree/{ASSIGNMENT}/{ASSIGNMENT}.ipynb")
        dialog = validate(page)
        if student == honest:
            expect(dialog).to_contain_text("Success! Your notebook passes all the tests.")
        else:
            expect(dialog).to_contain_text("The following cell failed")
        dialog.get_by_role("button", name="OK").click()

        assignment_list = open_assignment_list(page)
        row(assignment_list, "fetched").get_by_role("button", name="Submit").click()
        expect(row(assignment_list, "submitted")).to_be_visible(timeout=RUN_TIMEOUT_MS)


def test_the_instructor_collects_grades_in_the_sandbox_and_releases_feedback(hub):
    collected = hub.run_as(hub.instructor, "nbgrader", "collect", ASSIGNMENT)
    assert "Refused" not in collected.stderr
    graded = hub.run_as(hub.instructor, "python", "-m", "grading", "autograde", ASSIGNMENT)
    assert "2 graded, 0 failed" in graded.stdout + graded.stderr
    honest, untouched = hub.students
    honest_grades, untouched_grades = hub.grades(honest), hub.grades(untouched)
    tests = {name: (score, maximum) for name, (score, maximum) in honest_grades.items() if score is not None}
    assert tests and all(score == maximum for score, maximum in tests.values()), honest_grades
    assert all(not score for score, _ in untouched_grades.values()), untouched_grades
    hub.run_as(hub.instructor, "nbgrader", "generate_feedback", ASSIGNMENT)
    hub.run_as(hub.instructor, "nbgrader", "release_feedback", ASSIGNMENT)


def test_students_fetch_their_own_feedback(hub, log_in):
    for student in hub.students:
        page = log_in(student)
        assignment_list = open_assignment_list(page)
        row(assignment_list, "submitted").get_by_role("button", name="Fetch Feedback").click()
        # ... and nobody else's server: the instructor's Formgrader is the instructor's alone
        other = page.context.new_page()
        other.goto(f"{hub.url}/user/{hub.instructor}/formgrader")
        expect(other.locator("body")).to_contain_text("403")
        expect(other.locator("body")).not_to_contain_text("Manage Assignments")
        other.close()
        feedback = Path(f"/home/{student}") / ASSIGNMENT / "feedback"
        deadline = time.monotonic() + 60
        while not list(feedback.rglob(f"{ASSIGNMENT}.html")) and time.monotonic() < deadline:
            time.sleep(1)
        (html,) = feedback.rglob(f"{ASSIGNMENT}.html")
        grades = hub.grades(student).values()
        total, maximum = sum(score or 0 for score, _ in grades), sum(m for _, m in grades)
        assert f"{ASSIGNMENT} (Score: {total:.1f} / {maximum:.1f})" in html.read_text(), \
            "the feedback is the student's own, with their score"
    hub.before_attacks = hub.what_each_student_has()


# ------------------------------------------------------------------------- a student who wants more

READ_OR_LIST = """
import json, os, sys
got = []
for path in sys.argv[1:]:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, "rb").read(1)
        got.append(path)
    except OSError:
        pass
print(json.dumps(got))
"""


def test_a_student_reads_nothing_of_the_course_the_grades_or_other_students(hub):
    attacker, victim = hub.students[1], hub.students[0]
    work = hub.course / "nbgrader_work"
    secrets_of_others = [
        hub.course / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",  # the hidden tests
        hub.course / "solutions", hub.course,
        work / "gradebook.db",  # every score, and the hidden tests' source cells
        work / "autograded" / victim / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",  # hidden tests put back
        hub.collected(victim), hub.collected(victim, "submission_secret.txt"),
        work / "feedback" / victim / ASSIGNMENT / f"{ASSIGNMENT}.html",
        hub.exchange / COURSE_ID / "inbound", hub.exchange / COURSE_ID / "feedback",  # listing them
        Path(f"/home/{victim}"), Path(f"/home/{victim}") / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
        Path(f"/home/{victim}") / ".local" / "share" / "jupyter" / "nbgrader_cache",  # the victim's secrets
        hub.prefix / "hub" / "state" / "jupyterhub_cookie_secret", hub.prefix / "hub" / "state" / "jupyterhub.sqlite",
    ]
    for path in secrets_of_others:
        assert path.exists(), f"{path} should exist for this test to mean anything"
    read = hub.run_as(attacker, hub.prefix / "env" / "bin" / "python", "-c", READ_OR_LIST, *secrets_of_others)
    assert json.loads(read.stdout) == [], "a student could read these"

    # The student's kernels import the course's helpers from the shared environment, which holds no hidden test.
    where = hub.python_as(attacker, "import vae_helpers; print(vae_helpers.__file__)").stdout.strip()
    assert Path(where).is_relative_to(hub.prefix / "env"), where
    hidden = [line.strip() for cell in json.loads(notebook_path(REPO / "solutions", ASSIGNMENT).read_text())["cells"]
              for block in "".join(cell["source"]).split("### BEGIN HIDDEN TESTS")[1:]
              for line in block.split("### END HIDDEN TESTS")[0].splitlines()
              if len(line.strip()) > 30 and line.strip() != JUDGED_HERE]  # the marker itself is no secret
    assert hidden
    installed = [path for package in ("vae_helpers", "grading") for path in (Path(where).parents[1] / package).rglob("*.py")]
    assert not [line for path in installed for line in hidden if line in path.read_text()]


WRITE = """
import json, os, shutil, sys
done = []
for action, path, *target in (line.split("|") for line in sys.argv[1:]):
    try:
        {"write": lambda: open(path, "a").write("x"), "rename": lambda: os.rename(path, target[0]),
         "mkdir": lambda: os.mkdir(path), "remove": lambda: shutil.rmtree(path) if os.path.isdir(path) else os.remove(path),
         }[action]()
        done.append(f"{action} {path}")
    except OSError:
        pass
print(json.dumps(done))
"""


def test_a_student_changes_nothing_collected_released_or_installed(hub):
    attacker, victim = hub.students[1], hub.students[0]
    outbound = hub.exchange / COURSE_ID / "outbound"
    attempts = [
        f"write|{hub.collected(victim)}", f"remove|{hub.collected(victim)}",
        f"write|{hub.collected(attacker, 'timestamp.txt')}",  # a late submission made early
        f"rename|{hub.exchange / COURSE_ID}|{hub.exchange / 'moved'}", f"mkdir|{hub.exchange / 'fake-course'}",
        f"write|{outbound / ASSIGNMENT / f'{ASSIGNMENT}.ipynb'}", f"remove|{outbound / ASSIGNMENT}",
        f"mkdir|{outbound / 'fake-assignment'}", f"rename|{outbound}|{outbound}-moved",
        f"write|{hub.exchange / COURSE_ID / 'feedback' / 'planted.html'}",
        f"write|{hub.prefix / 'config' / 'student' / 'nbgrader_config.py'}",
        f"write|{hub.prefix / 'env' / 'lib'}/python3.11/site-packages/vae_helpers/__init__.py",
        f"write|{hub.course / 'nbgrader_config.py'}",
    ]
    done = hub.run_as(attacker, hub.prefix / "env" / "bin" / "python", "-c", WRITE, *attempts)
    assert json.loads(done.stdout) == [], "a student could do these"


def collect_again(hub):
    return hub.run_as(hub.instructor, "nbgrader", "collect", "--update", ASSIGNMENT, check=False)


def test_a_submission_in_another_students_name_is_refused_at_collect(hub):
    attacker, victim = hub.students[1], hub.students[0]
    hub.run_as(attacker, "nbgrader", "submit", ASSIGNMENT, "--student", victim)  # the exchange takes it
    collect = collect_again(hub)
    assert collect.returncode != 0
    assert f"it names {victim} but its folder belongs to {attacker}" in collect.stderr
    assert "Nothing of it was collected" in collect.stderr


def test_links_in_a_submission_are_refused_at_collect(hub):
    """A hand-in made by hand, whose notebook is a link to the solutions: collect must not follow it."""
    attacker = hub.students[1]
    now = datetime.datetime.now(datetime.timezone.utc).strftime(TIME_FORMAT)
    name = f"{attacker}+{ASSIGNMENT}+{now}+{secrets.token_hex(4)}"
    code = f"""
import os
folder = {str(hub.exchange / COURSE_ID / 'inbound' / name)!r}
os.mkdir(folder)
os.symlink({str(hub.course / 'solutions' / ASSIGNMENT / f'{ASSIGNMENT}.ipynb')!r}, folder + "/{ASSIGNMENT}.ipynb")
open(folder + "/timestamp.txt", "w").write({name.split('+')[2]!r})
"""
    before = fingerprint(hub.collected(attacker))
    hub.python_as(attacker, code)
    collect = collect_again(hub)
    assert collect.returncode != 0 and f"{ASSIGNMENT}.ipynb is not a plain file" in collect.stderr, collect.stderr
    assert fingerprint(hub.collected(attacker)) == before


def test_a_submission_is_never_dated_before_its_files_were_written(hub):
    """A student runs nbgrader's submit with its clock set back (the submitting process is theirs)."""
    attacker = hub.students[1]
    collected = parse_time(hub.collected(attacker, "timestamp.txt").read_text())
    forged = (collected + datetime.timedelta(seconds=1)).strftime(TIME_FORMAT)  # newer, so collect takes it
    code = f"""
from nbgrader.exchange.abc.exchange import Exchange
Exchange.set_timestamp = lambda self: setattr(self, "timestamp", {forged!r})
from nbgrader.apps.nbgraderapp import NbGraderApp
NbGraderApp.launch_instance(argv=["submit", {ASSIGNMENT!r}])
"""
    hub.python_as(attacker, code)
    collect = collect_again(hub)
    assert "recorded the later time" in collect.stderr, collect.stderr
    recorded = parse_time(hub.collected(attacker, "timestamp.txt").read_text())
    assert recorded - collected > datetime.timedelta(seconds=30), "the time the files were written is recorded"


def test_the_honest_students_keep_their_grades_files_and_feedback(hub):
    hub.run_as(hub.instructor, "python", "-m", "grading", "autograde", ASSIGNMENT, "--force")
    assert hub.what_each_student_has() == hub.before_attacks

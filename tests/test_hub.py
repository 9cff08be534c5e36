"""The course served to a class on one JupyterHub, set up by hub/deploy.py, used through the hub in a real
browser, then attacked by a student.

The module creates Unix users (one instructor, two students), runs the deployment's own setup command into a
throw-away folder (environment, course, exchange, hub settings), starts JupyterHub on 127.0.0.1 and removes
every user, process and file again, however the tests end. It needs root, `useradd` and Chromium; elsewhere
it is skipped with the reason, except on CI (CI=true), where that is a failure. The tests run in order:
the class works and is graded first, then each attack, then a check that the honest students' grades,
files and feedback are as they were.
"""
import ast
import datetime
import glob
import hashlib
import json
import os
import pwd
import random
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from jupyter_client import BlockingKernelClient
from nbformat.v4 import new_code_cell

from support.course import REPO, notebook_path, skip_or_fail, why_no_browser, write_completed_notebook


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

from support.browser import RUN_TIMEOUT_MS, UI_TIMEOUT_MS, validate  # noqa: E402
from support.browser import browser  # noqa: E402,F401  (a fixture)
from support.student_payloads import assert_nothing_runs, with_payloads  # noqa: E402

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
        # started as the systemd unit that setup wrote starts it
        unit = dict(line.split("=", 1) for line in (hub.prefix / "hub" / "vae-hands-on-hub.service").read_text().splitlines()
                    if "=" in line and not line.startswith("#"))
        server = subprocess.Popen(shlex.split(unit["ExecStart"]), cwd=unit["WorkingDirectory"], stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
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
        for path in (hub.course, hub.course / ".git"):
            subprocess.run(["git", "config", "--system", "--unset-all", "safe.directory", f"^{path}$"], capture_output=True)
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


def in_a_new_terminal(page, user, command, timeout=300):
    """Open a terminal from the Launcher in ``user``'s JupyterLab and type ``command`` there, as a person would;
    (its exit status, its output), which it writes to a file in the user's home."""
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-addButton").first.click()  # the tab bar's +: a new Launcher
    page.locator(".jp-LauncherCard-label", has_text="Terminal").filter(visible=True).click()
    terminal = page.locator(".jp-Terminal .xterm-helper-textarea").last
    expect(terminal).to_be_attached()
    page.wait_for_timeout(1000)  # the shell's prompt
    terminal.focus()
    log = Path(f"/home/{user}/terminal-{secrets.token_hex(3)}.log")
    page.keyboard.type(f"({command}) > {log} 2>&1; echo EXIT=$? >> {log}\n")
    deadline = time.monotonic() + timeout
    while "EXIT=" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(1)
    output = log.read_text() if log.exists() else ""
    assert "EXIT=" in output, f"{command} did not end in {timeout} s in the terminal:\n{output[-3000:]}"
    return int(output.rsplit("EXIT=", 1)[1]), output


def test_an_instructor_releases_from_the_terminal_of_their_jupyterlab_and_reaches_formgrader(hub, log_in):
    page = log_in(hub.instructor)
    clone = Path(f"/home/{hub.instructor}/course-clone")
    # the README's commands, in the course folder where the terminal opens; and a clone of the course
    status, output = in_a_new_terminal(page, hub.instructor, f"pwd && python -m grading record {ASSIGNMENT} && "
                                       f"nbgrader release_assignment {ASSIGNMENT} && git clone -q {hub.course} {clone}")
    assert status == 0, f"the instructor's terminal:\n{output[-3000:]}"
    assert output.splitlines()[0] == str(hub.course), "the terminal opens in the course folder"
    assert (hub.exchange / COURSE_ID / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()
    assert (clone / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()

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
        else:  # a written answer and outputs that try to run script in the instructor's browser; a printed environment
            attack = with_payloads(json.loads(notebook.read_text()))
            attack["cells"].append(new_code_cell("import os\nprint('PRINTED-ENVIRONMENT', dict(os.environ))"))
            notebook.write_text(json.dumps(attack))
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


KERNEL_SOCKETS = "/home/{user}/.local/share/jupyter/runtime/kernel-*-ipc-*"

# Run as a student, for a few seconds: subscribe to everything on every TCP port that the other users of the
# hub listen on (a kernel's IOPub port publishes all its code's output), then connect to their kernels' sockets.
EAVESDROP = """
import json, socket, sys, time, zmq
uids, seconds, paths = json.loads(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
ports = [int(f[1].split(":")[1], 16) for f in (line.split() for line in open("/proc/net/tcp").read().splitlines()[1:])
         if f[3] == "0A" and int(f[7]) in uids]
context, heard = zmq.Context(), {"tcp": [], "ipc": []}
subscribers = []
for port in ports:
    subscriber = context.socket(zmq.SUB)
    subscriber.setsockopt(zmq.SUBSCRIBE, b"")
    subscriber.connect(f"tcp://127.0.0.1:{port}")
    subscribers.append((port, subscriber))
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    for port, subscriber in subscribers:
        if subscriber.poll(50) and port not in heard["tcp"]:
            heard["tcp"].append(port)
for path in paths:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(path)
        heard["ipc"].append(path)
    except OSError:
        pass
print(json.dumps({"ports": len(ports), **heard}))
"""


def test_no_kernel_can_be_heard_or_reached_by_another_user(hub):
    """The honest student's notebook is open in their JupyterLab, so its kernel runs; while it prints, the other
    student listens on every port of the honest student and the instructor, and tries the kernel's sockets."""
    attacker, victim = hub.students[1], hub.students[0]
    victims_sockets = glob.glob(KERNEL_SOCKETS.format(user=victim))
    assert victims_sockets, "the victim's kernel runs on Unix sockets in their runtime folder"
    others = [pwd.getpwnam(user).pw_uid for user in (victim, hub.instructor)]
    eavesdropper = subprocess.Popen(
        [shutil.which("runuser"), "-u", attacker, "--", hub.prefix / "env" / "bin" / "python", "-c", EAVESDROP,
         json.dumps(others), "8", *victims_sockets], env=hub.environment(attacker), cwd="/", stdout=subprocess.PIPE, text=True)
    connection_file = max(glob.glob(f"/home/{victim}/.local/share/jupyter/runtime/kernel-*.json"), key=os.path.getmtime)
    client = BlockingKernelClient(connection_file=connection_file)
    client.load_connection_file()
    client.start_channels()
    try:
        time.sleep(3)  # the eavesdropper has subscribed
        for _ in range(3):
            client.execute_interactive("print('only its owner may see this')", timeout=30)
            time.sleep(0.5)
    finally:
        client.stop_channels()
    heard = json.loads(eavesdropper.communicate(timeout=60)[0])
    assert heard["tcp"] == [] and heard["ipc"] == [], \
        f"another user heard or reached these kernels: {heard}, on {[listener(port) for port in heard['tcp']]}"


def listener(port):
    """The command line of the process that listens on the TCP ``port`` (read as root)."""
    inodes = {f"socket:[{line.split()[9]}]" for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
              if int(line.split()[1].split(":")[1], 16) == port and line.split()[3] == "0A"}
    for fd in glob.glob("/proc/[0-9]*/fd/*"):
        try:
            if os.readlink(fd) in inodes:
                return Path(fd).parents[1].joinpath("cmdline").read_text().replace("\0", " ")
        except OSError:
            pass
    return None


def server_environment(user):
    """The environment of ``user``'s Jupyter server, as its terminals and kernels inherit it."""
    pid = subprocess.run(["pgrep", "-u", user, "-f", "jupyterhub-singleuser"], capture_output=True, text=True).stdout.split()[0]
    return dict(entry.split("=", 1) for entry in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in entry)


def test_the_instructor_collects_and_grades_in_the_sandbox_from_their_terminal_and_releases_feedback(hub, log_in):
    """As the README says, in the terminal of the instructor's JupyterLab, whose environment holds her API token."""
    page = log_in(hub.instructor)
    status, output = in_a_new_terminal(page, hub.instructor, f"nbgrader collect {ASSIGNMENT} && "
                                       f"python -m grading autograde {ASSIGNMENT}", timeout=900)
    assert status == 0 and "Refused" not in output and "2 graded, 0 failed" in output, output[-3000:]
    honest, untouched = hub.students
    # the untouched notebook's student printed their kernel's environment: nothing of the grader's is in it
    token = server_environment(hub.instructor)["JUPYTERHUB_API_TOKEN"]
    graded = hub.course / "nbgrader_work" / "autograded" / untouched / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    printed = "".join(output.get("text", "") for cell in nbformat.read(graded, as_version=4).cells
                      for output in cell.get("outputs", []) if "PRINTED-ENVIRONMENT" in output.get("text", ""))
    assert printed and token not in printed and str(hub.course) not in printed, printed
    honest_grades, untouched_grades = hub.grades(honest), hub.grades(untouched)
    tests = {name: (score, maximum) for name, (score, maximum) in honest_grades.items() if score is not None}
    assert tests and all(score == maximum for score, maximum in tests.values()), honest_grades
    assert all(not score for score, _ in untouched_grades.values()), untouched_grades
    hub.run_as(hub.instructor, "nbgrader", "generate_feedback", ASSIGNMENT)
    hub.run_as(hub.instructor, "nbgrader", "release_feedback", ASSIGNMENT)


def test_nothing_a_student_made_runs_in_the_instructors_formgrader(hub, log_in):
    """The instructor opens, to grade it by hand, the submission whose written answer and outputs carry script."""
    attacker = hub.students[1]
    code = ("from nbgrader.api import Gradebook\n"
            "with Gradebook('sqlite:///nbgrader_work/gradebook.db') as gb:\n"
            f"    print(gb.find_submission_notebook({ASSIGNMENT!r}, {ASSIGNMENT!r}, {attacker!r}).id)")
    submission = hub.python_as(hub.instructor, code).stdout.strip()
    page = log_in(hub.instructor)
    assert_nothing_runs(page, lambda: page.goto(f"{hub.url}/user/{hub.instructor}/formgrader/submissions/{submission}/"))
    expect(page.locator(".nbgrader_cell").first).to_be_visible()  # the grading view itself works


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


def own_lines(source):
    """The lines of a module that would betray it if an installed package held them: those over 30 characters,
    its imports (however many lines one takes), comments and docstrings left out."""
    imports = {number for node in ast.parse(source).body if isinstance(node, (ast.Import, ast.ImportFrom))
               for number in range(node.lineno, node.end_lineno + 1)}
    return [line.strip() for number, line in enumerate(source.splitlines(), 1)
            if number not in imports and len(line.strip()) > 30 and not line.strip().startswith(("#", '"""'))]


def test_a_student_reads_nothing_of_the_course_the_grades_or_other_students(hub):
    attacker, victim = hub.students[1], hub.students[0]
    work = hub.course / "nbgrader_work"
    secrets_of_others = [
        hub.course / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",  # the solutions
        hub.course / "hidden_tests" / f"{ASSIGNMENT}.py", hub.course / "hidden_tests",  # the hidden tests
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
    hidden = own_lines((REPO / "hidden_tests" / f"{ASSIGNMENT}.py").read_text())
    assert hidden
    installed = [path for package in ("vae_helpers", "grading", "judge")
                 for path in (Path(where).parents[1] / package).rglob("*.py")]
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
    assert collect.returncode != 0 and f"{ASSIGNMENT}.ipynb is a link" in collect.stderr, collect.stderr
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


DAEMONS = """
import os, signal, subprocess
subprocess.Popen(["setsid", "nohup", "sleep", "3600"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:  # a double-forked daemon that ignores the polite signals
    os.setsid()
    if os.fork() == 0:
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        nowhere = os.open(os.devnull, os.O_RDWR)
        for stream in (0, 1, 2):
            os.dup2(nowhere, stream)
        os.execvp("sleep", ["sleep", "3600"])
    os._exit(0)
"""


def processes_of(user):
    return subprocess.run(["pgrep", "-u", user], capture_output=True, text=True).stdout.split()


def test_a_students_processes_end_when_they_log_out(hub, log_in):
    attacker = hub.students[1]
    page = log_in(attacker)
    hub.python_as(attacker, DAEMONS)
    assert len(processes_of(attacker)) >= 3, "the server and two daemons run"
    page.goto(f"{hub.url}/hub/logout")
    deadline = time.monotonic() + 60
    while processes_of(attacker) and time.monotonic() < deadline:
        time.sleep(1)
    left = subprocess.run(["ps", "-o", "pid,args", "-u", attacker], capture_output=True, text=True).stdout
    assert not processes_of(attacker), f"processes outlived the student's server:\n{left}"


def test_the_honest_students_keep_their_grades_files_and_feedback(hub):
    hub.run_as(hub.instructor, "python", "-m", "grading", "autograde", ASSIGNMENT, "--force")
    assert hub.what_each_student_has() == hub.before_attacks

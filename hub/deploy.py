"""Serve the course to a class on one JupyterHub: set the machine up, add students and instructors.

Run as root, with the system's Python, from the repository:

    /usr/bin/python3 hub/deploy.py setup                 # the environment, course, exchange, hub
    /usr/bin/python3 hub/deploy.py add-instructor ada    # Unix users; set their passwords with passwd
    /usr/bin/python3 hub/deploy.py add-student alan bob
    systemctl enable --now /opt/vae-hands-on/hub/vae-hands-on-hub.service   # or the unit's ExecStart by hand

What ``setup`` creates, each part only as open as its users need:

- ``PREFIX/env``: one Python environment for the hub, the students' and the instructors' servers and
  their kernels, with the course's helpers installed in it (not from the course folder); root's,
  readable by everyone.
- ``COURSE``: a copy of this repository, the instructors' course folder (``solutions/``, the gradebook,
  submissions, autograded notebooks, feedback): readable and writable by the instructors' group only,
  new files included (a default ACL), so a second instructor or a TA works in it too.
- ``EXCHANGE``: nbgrader's exchange. Students may read released assignments, hand in to ``inbound``
  without seeing or touching anyone else's submission, and read only feedback whose name they know.
  Nobody but root may rename or replace the course's folders in it.
- ``PREFIX/config/{student,instructor}``: the Jupyter and nbgrader settings of each role (the exchange,
  the course id; Formgrader and the instructor tools for instructors only; kernels on Unix sockets in the
  user's private runtime folder, never on a TCP port another user could open; a terminal that keeps the
  course's programs on PATH), and ``PREFIX/hub``: the hub's settings, its private state and its systemd unit.

Running ``setup`` again updates the environment when the requirements changed and repairs
permissions; it never overwrites an existing course folder (update that with git).
"""
import argparse
import grp
import hashlib
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from tools_by_role import update_json, write_jupyter_settings

REPO = Path(__file__).resolve().parents[1]
COURSE_ID = "vae-hands-on"
INSTRUCTORS, STUDENTS = "vae-instructors", "vae-students"
PROXY = "configurable-http-proxy@5.3.0"
DEFAULTS = {"prefix": "/opt/vae-hands-on", "course_dir": "/srv/vae-hands-on",
            "exchange": "/srv/nbgrader/exchange", "bind_url": "http://127.0.0.1:8000"}
# Debian's package of each program setup needs.
PACKAGES = {"bwrap": "bubblewrap", "setfacl": "acl", "node": "nodejs"}
UNIT = "vae-hands-on-hub.service"
# The course's own packages, installed into the environment (pyproject.toml names them too).
COURSE_PACKAGES = ("vae_helpers", "grading", "judge")
# What the course copy leaves out: the repository's environment, work folders and datasets (at its top only:
# vae_helpers/data is code), and caches anywhere.
TOP_LEVEL_NOT_COPIED = {".venv", "nbgrader_work", "data", "test-artifacts"}
CACHES = ("__pycache__", "*.egg-info", ".pytest_cache", ".ipynb_checkpoints")


def not_copied(folder, names):
    """The names in ``folder`` that the course copy leaves out (for shutil.copytree)."""
    left_out = set(shutil.ignore_patterns(*CACHES)(folder, names))
    return left_out | (TOP_LEVEL_NOT_COPIED & set(names) if Path(folder) == REPO else set())


class SetupError(SystemExit):
    """A reason setup cannot go on, and what to do about it."""

    def __init__(self, message):
        super().__init__(f"hub/deploy.py: {message}")


def run(*command, **kwargs):
    """Run a command; stop with its output if it fails."""
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise SetupError(f"`{' '.join(map(str, command))}` failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result.stdout


def settings_path(prefix):
    return Path(prefix) / "hub" / "settings.json"


def load_settings(prefix):
    path = settings_path(prefix)
    if not path.is_file():
        raise SetupError(f"no deployment at {prefix}: run `hub/deploy.py setup --prefix {prefix}` first")
    return json.loads(path.read_text())


# ---------------------------------------------------------------------------------------------- checks


def require_root():
    if os.geteuid() != 0:
        raise SetupError("run this as root (e.g. `su -` or sudo): it creates Unix groups, users and shared folders")
    if not sys.platform.startswith("linux"):
        raise SetupError(f"a shared hub needs Linux (Unix users, bubblewrap); this is {sys.platform}")


def python_every_user_can_run():
    """The real path of this Python, if every user can execute it; else stop and name one that they can."""
    python = Path(os.path.realpath(sys.executable))
    for folder in [*reversed(python.parents)][1:]:
        if not folder.stat().st_mode & stat.S_IXOTH:
            raise SetupError(f"{python} lies in {folder}, which other users cannot enter, so an environment made "
                             "from it would not run for students. Run this with the system's Python: "
                             "`sudo /usr/bin/python3 hub/deploy.py ...`")
    if sys.version_info < (3, 10):
        raise SetupError(f"the course needs Python 3.10 or newer; {python} is {sys.version.split()[0]}")
    return python


def npm_command():
    """npm on PATH, or the one that Node.js installs beside itself (NodeSource's package has no ``npm`` link
    and conflicts with Debian's npm); None if neither is there."""
    if shutil.which("npm"):
        return [shutil.which("npm")]
    node = shutil.which("node")
    bundled = node and Path(os.path.realpath(node)).parents[1] / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    return [node, str(bundled)] if bundled and bundled.is_file() else None


def install_missing_programs():
    """Install, with apt-get, the Debian packages of programs that are missing; stop where that cannot be done."""
    missing = sorted({package for program, package in PACKAGES.items() if shutil.which(program) is None})
    if npm_command() is None:
        missing.append("npm")
    try:
        import ensurepip  # noqa: F401  (Debian ships venv's pip separately, in python3-venv)
    except ImportError:
        missing.append("python3-venv")
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise SetupError(f"install these first (Debian names): {', '.join(missing)}")
    print(f"Installing {', '.join(missing)} with apt-get")
    run("apt-get", "update", "-qq")
    run("apt-get", "install", "-y", "-qq", *missing, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


# ------------------------------------------------------------------------------------------ the parts


def ensure_group(name):
    try:
        grp.getgrnam(name)
    except KeyError:
        run("groupadd", "--system", name)
    return grp.getgrnam(name).gr_gid


def course_requirements(target):
    """requirements.txt for a shared environment: the course's helpers installed as a package (below),
    not in editable mode from the course folder, which students cannot read."""
    lines = [line for line in (REPO / "requirements.txt").read_text().splitlines() if line.strip() != "-e ."]
    target.write_text("\n".join(lines) + "\n")
    return target


def install_environment(python, prefix):
    """``PREFIX/env``: the course's requirements, the hub's, and the helpers; redone when any of them changed."""
    env = prefix / "env"
    sources = [REPO / "requirements.txt", REPO / "hub" / "requirements.txt", REPO / "pyproject.toml",
               *(path for package in COURSE_PACKAGES for path in sorted((REPO / package).rglob("*.py")))]
    fingerprint = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()
    stamp = env / "installed-from.sha256"
    if stamp.is_file() and stamp.read_text() == fingerprint:
        print(f"Environment {env}: up to date")
        return env
    print(f"Environment {env}: installing the course's packages (several minutes; PyTorch is large)")
    if not (env / "bin" / "python").exists():
        run(python, "-m", "venv", env)
    pip = [env / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run(*pip, "--upgrade", "pip")
    requirements = course_requirements(prefix / "requirements.txt")
    run(*pip, "-r", requirements, "-r", REPO / "hub" / "requirements.txt")
    # The helpers are copied into the environment, built from a copy so that no build folder is left behind.
    with tempfile.TemporaryDirectory() as build:
        shutil.copy(REPO / "pyproject.toml", build)
        for package in COURSE_PACKAGES:
            shutil.copytree(REPO / package, Path(build) / package, ignore=shutil.ignore_patterns("__pycache__"))
        run(*pip, "--no-deps", "--force-reinstall", build)
    stamp.write_text(fingerprint)
    return env


def install_proxy(prefix):
    """JupyterHub's proxy, from npm, in ``PREFIX/proxy``."""
    command = prefix / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
    if not command.exists():
        print(f"Installing {PROXY} with npm")
        run(*npm_command(), "install", "--silent", "--no-audit", "--no-fund", "--prefix", prefix / "proxy", PROXY)
    return command


def copy_course(course):
    """The instructors' course folder: a copy of this repository, its git history included."""
    if course.exists() and any(course.iterdir()):
        print(f"Course folder {course}: kept as it is (update it with git)")
        return
    print(f"Course folder {course}: copying {REPO}")
    shutil.copytree(REPO, course, ignore=not_copied, symlinks=True, dirs_exist_ok=True)


def close_course_to_students(course, exchange):
    """Only the instructors' group may enter the course folder; what they create there stays theirs."""
    work = course / "nbgrader_work"
    work.mkdir(exist_ok=True)
    link = work / "exchange"  # the course's nbgrader_config.py finds the shared exchange here
    if link.is_symlink() or not link.exists():
        link.unlink(missing_ok=True)
        link.symlink_to(exchange)
    run("chown", "-R", "--no-dereference", f"root:{INSTRUCTORS}", course)
    run("chmod", "-R", "u+rwX,g+rwX", course)
    run("find", course, "-type", "d", "-exec", "chmod", "g+s", "{}", "+")
    # Whoever of the group creates a file, the group may change it (the gradebook, submissions, feedback);
    # feedback files stay readable by others, as nbgrader copies them to the exchange with their mode.
    run("setfacl", "-R", "--physical", "-m",
        f"g:{INSTRUCTORS}:rwX,d:u::rwX,d:g::rwX,d:g:{INSTRUCTORS}:rwX,d:o::r-X", course)
    os.chmod(course, 0o2770)  # the one way in, and only for the group
    # git refuses a repository that another user owns (root, here) unless the system's settings name it
    for path in (course, course / ".git"):
        run("git", "config", "--system", "--replace-all", "safe.directory", str(path), f"^{path}$")


def make_exchange(exchange, instructors_gid):
    """nbgrader's exchange, with modes that give students what they need and nothing else."""
    course = exchange / COURSE_ID
    modes = [
        (exchange, 0, 0o755),               # root's: nobody else may rename or replace a course
        (course, instructors_gid, 0o2775),  # instructors keep it; students may look in
        (course / "outbound", instructors_gid, 0o2775),  # released assignments, readable by all
        # hand-ins: anyone may add, nobody but the owner may remove or rename, only instructors may list
        (course / "inbound", instructors_gid, 0o3773),
        # feedback: only instructors may list; a student opens the file named from their own submission
        (course / "feedback", instructors_gid, 0o2771),
    ]
    for folder, gid, mode in modes:
        folder.mkdir(parents=True, exist_ok=True)
        os.chown(folder, 0, gid)
        os.chmod(folder, mode)


def write_role_settings(prefix, exchange):
    """Jupyter's and nbgrader's settings for each role, found through JUPYTER_CONFIG_PATH."""
    for role in ("student", "instructor"):
        folder = prefix / "config" / role
        instructor = role == "instructor"
        write_jupyter_settings(folder, instructor)  # students see the student tools only
        update_json(folder / "jupyter_server_config.json", ("KernelManager",), {"transport": "ipc"})
        # A login shell would reset PATH from /etc/profile and lose the course's environment.
        update_json(folder / "jupyter_server_config.json", ("ServerApp", "terminado_settings"),
                    {"shell_command": ["/bin/bash"]})
        # groupshared: nbgrader then neither asks for a writable exchange root nor resets its mode.
        lines = [f"c.CourseDirectory.course_id = {COURSE_ID!r}", "c.CourseDirectory.groupshared = True"]
        if not instructor:  # instructors take the course folder's nbgrader_config.py, which does all this too
            lines += [f"c.Exchange.root = {str(exchange)!r}",
                      "from grading.validation import exit_nonzero_when_validation_fails, short_reports",
                      "short_reports()", "exit_nonzero_when_validation_fails()"]
        (folder / "nbgrader_config.py").write_text("\n".join(["c = get_config()  # noqa: F821", *lines]) + "\n")


def hub_command(prefix):
    """How the hub starts, from ``PREFIX/hub/state``: what the systemd unit runs."""
    return [str(prefix / "env" / "bin" / "jupyterhub"), "-f", str(prefix / "hub" / "jupyterhub_config.py")]


def write_hub_settings(prefix, settings):
    hub = prefix / "hub"
    (hub / "state").mkdir(parents=True, exist_ok=True)
    os.chmod(hub / "state", 0o700)  # the cookie secret and the hub's database
    shutil.copy(REPO / "hub" / "jupyterhub_config.py", hub / "jupyterhub_config.py")
    settings_path(prefix).write_text(json.dumps(settings, indent=2) + "\n")
    (hub / UNIT).write_text((REPO / "hub" / UNIT).read_text().format(
        command=" ".join(hub_command(prefix)), state=hub / "state"))


def setup(args):
    require_root()
    os.umask(0o022)  # what setup makes for everyone must be readable by everyone
    python = python_every_user_can_run()
    install_missing_programs()
    prefix, course, exchange = Path(args.prefix), Path(args.course_dir), Path(args.exchange)
    instructors_gid = ensure_group(INSTRUCTORS)
    ensure_group(STUDENTS)
    prefix.mkdir(parents=True, exist_ok=True)
    os.chmod(prefix, 0o755)
    env = install_environment(python, prefix)
    proxy = install_proxy(prefix)
    make_exchange(exchange, instructors_gid)
    copy_course(course)
    close_course_to_students(course, exchange)
    write_role_settings(prefix, exchange)
    write_hub_settings(prefix, {
        "env": str(env), "proxy": str(proxy), "course_dir": str(course), "exchange": str(exchange),
        "config": str(prefix / "config"), "state": str(prefix / "hub" / "state"), "bind_url": args.bind_url,
        "instructors": INSTRUCTORS, "students": STUDENTS})
    print(f"\nReady. Start the hub with\n  systemctl enable --now {prefix / 'hub' / UNIT}\n"
          f"(or, without systemd, `cd {prefix / 'hub' / 'state'} && {' '.join(hub_command(prefix))}`)\n"
          f"and add users with `hub/deploy.py add-student NAME` and `hub/deploy.py add-instructor NAME`.")


def add_users(args, group):
    """Create (or update) Unix users in ``group``, each with a home only they may enter."""
    require_root()
    load_settings(args.prefix)  # the groups exist only after setup
    for name in args.names:
        try:
            pwd.getpwnam(name)
            run("usermod", "--append", "--groups", group, name)
        except KeyError:
            run("useradd", "--create-home", "--shell", "/bin/bash", "--groups", group, name)
        # Another student must not read this one's notebooks or nbgrader's copy of their submission secret.
        os.chmod(pwd.getpwnam(name).pw_dir, 0o700)
        print(f"{name}: in {group}; set a password with `passwd {name}`")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefix", default=DEFAULTS["prefix"], help="environment, settings and hub state")
    commands = parser.add_subparsers(dest="command", required=True)
    setup_parser = commands.add_parser("setup", help="create or repair the deployment")
    setup_parser.add_argument("--course-dir", default=DEFAULTS["course_dir"], help="the instructors' course folder")
    setup_parser.add_argument("--exchange", default=DEFAULTS["exchange"], help="nbgrader's exchange")
    setup_parser.add_argument("--bind-url", default=DEFAULTS["bind_url"], help="where the hub listens")
    for command, group in (("add-student", STUDENTS), ("add-instructor", INSTRUCTORS)):
        users = commands.add_parser(command, help=f"create Unix users in {group}")
        users.add_argument("names", nargs="+")
        users.set_defaults(group=group)
    args = parser.parse_args(argv)
    if args.command == "setup":
        setup(args)
    else:
        add_users(args, args.group)


if __name__ == "__main__":
    main()

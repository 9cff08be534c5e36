"""A `jupyter lab` server started as students and instructors start theirs, for the tests."""
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path


class Lab:
    """A running `jupyter lab` server: its address and the folder it serves."""

    def __init__(self, base_url, token, root):
        self.base_url, self.token, self.root = base_url, token, root

    def url(self, path):
        """The address of a lab page, logged in, with a fresh workspace (no tabs from an earlier test)."""
        return f"{self.base_url}{path}?token={self.token}&reset"

    def get(self, path):
        """(status, body) of a GET request to the server's ``path``, logged in."""
        separator = "&" if "?" in path else "?"
        # generous: the first Formgrader request creates the gradebook, slow on a busy machine
        with urllib.request.urlopen(f"{self.base_url}{path}{separator}token={self.token}", timeout=120) as response:
            return response.status, response.read().decode()

    def shut_down_kernels(self):
        """End every notebook session and its kernel, so that one test's notebooks do not slow the next."""
        with urllib.request.urlopen(f"{self.base_url}/api/sessions?token={self.token}", timeout=10) as response:
            sessions = json.load(response)
        for session in sessions:
            end = urllib.request.Request(f"{self.base_url}/api/sessions/{session['id']}?token={self.token}",
                                         method="DELETE")
            urllib.request.urlopen(end, timeout=30).close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_lab(cwd, folder, settings, config_path=None):
    """Run `python -m jupyter lab FOLDER` in ``cwd`` until the block ends, as a student or instructor would.

    ``config_path``, if given, is a Jupyter settings folder that comes first (JUPYTER_CONFIG_PATH).

    JupyterLab's user settings and workspaces go to ``settings``, so that neither the tester's own
    settings nor this run's open tabs leak in or out; they only turn off the pop-up that asks whether to
    fetch Jupyter news, which could cover what a test clicks. The kernel runs without MPLBACKEND, as for
    a student.
    """
    port, token = free_port(), secrets.token_hex(16)
    notification_settings = settings / "user-settings" / "@jupyterlab" / "apputils-extension"
    notification_settings.mkdir(parents=True, exist_ok=True)
    (notification_settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    log_path = settings / "lab.log"
    environment = {name: value for name, value in os.environ.items() if name != "MPLBACKEND"}
    if config_path:
        environment["JUPYTER_CONFIG_PATH"] = str(config_path)
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", folder, "--no-browser", f"--port={port}",
             f"--IdentityProvider.token={token}", "--ServerApp.ip=127.0.0.1",
             *(["--allow-root"] if os.geteuid() == 0 else []),
             f"--LabApp.user_settings_dir={settings / 'user-settings'}",
             f"--LabApp.workspaces_dir={settings / 'workspaces'}"],
            cwd=cwd, env=environment, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(server, f"{base_url}/api/status?token={token}", log_path)
        yield Lab(base_url, token, Path(cwd) / folder)
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_until_serving(server, status_url, log_path, seconds=60):
    """Return once the server answers ``status_url``; raise with the end of its log if it never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(status_url, timeout=5).close()
            return
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.5)
    raise RuntimeError(f"jupyter lab did not start within {seconds} s:\n{log_path.read_text()[-3000:]}")


def copy_course(repo, target, *folders):
    """Copy nbgrader_config.py and the given folders of the repository into ``target``."""
    shutil.copy(repo / "nbgrader_config.py", target)
    for folder in folders:
        shutil.copytree(repo / folder, target / folder)

"""JupyterHub for one class: PAM logins for Unix users, one local server per user.

``hub/deploy.py setup`` copies this file next to the settings it writes (``settings.json``); the hub runs as
root from ``PREFIX/hub/state`` (the systemd unit ``PREFIX/hub/vae-hands-on-hub.service`` does that). Members of
the students' group get the student tools (Assignment List, Validate) in a server rooted at their home;
members of the instructors' group get Formgrader and the instructor tools in a server rooted at the course
folder. A user's processes live as long as their server: stopping it (logging out, the idle culler, the hub
stopping) ends every process of that Unix user.
"""
import asyncio
import grp
import json
import os
import pwd
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from jupyterhub.spawner import LocalProcessSpawner

settings = json.loads((Path(__file__).resolve().parent / "settings.json").read_text())
state = Path(settings["state"])

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

c.JupyterHub.bind_url = settings["bind_url"]
# The hub's own port and the proxy's API port follow the public one (JupyterHub's defaults for port 8000).
port = urlsplit(settings["bind_url"]).port or 80
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{port + 81}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{port + 1}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.ConfigurableHTTPProxy.command = [settings["proxy"]]
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")

c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_groups = {settings["students"], settings["instructors"]}
c.PAMAuthenticator.open_sessions = False  # no login session per server (needs no systemd-logind)
c.JupyterHub.shutdown_on_logout = True  # logging out stops the server, and so every process of the user

# A server nobody has used for an hour is stopped (and its user's processes with it).
c.JupyterHub.services = [{"name": "idle-culler", "command": [
    sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={settings.get('idle_timeout_s', 3600)}"]}]
c.JupyterHub.load_roles = [{"name": "idle-culler", "services": ["idle-culler"],
                            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]}]

c.Spawner.cmd = [str(Path(settings["env"]) / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 120  # a first start on a busy machine imports PyTorch's large wheels


def is_instructor(username):
    group = grp.getgrnam(settings["instructors"])
    return username in group.gr_mem or pwd.getpwnam(username).pw_gid == group.gr_gid


def set_up_role(spawner):
    """Each role's settings, the course's programs on PATH, and the instructors' server at the course folder."""
    role = "instructor" if is_instructor(spawner.user.name) else "student"
    spawner.environment.update({
        "JUPYTER_CONFIG_PATH": str(Path(settings["config"]) / role),
        "PATH": os.pathsep.join([str(Path(settings["env"]) / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
    })
    # Formgrader needs the course folder inside the server's root; it opens at /user/<name>/formgrader,
    # in a tab of its own (JupyterHub forbids framing a user's server inside another page).
    spawner.notebook_dir = settings["course_dir"] if role == "instructor" else "~"


# Run as the user: kill(-1) signals every process that user may signal, i.e. all of theirs, however they were
# started (setsid, nohup, a double fork); repeated until none is left, so a process forking meanwhile dies too.
END_EVERY_PROCESS = """
import os, signal, time
for _ in range(100):
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        break
    time.sleep(0.05)
else:
    raise SystemExit("processes still left")
"""


def end_every_process_of(username):
    """End every process of the Unix user ``username`` (they are no longer served)."""
    user = pwd.getpwnam(username)
    subprocess.run([sys.executable, "-c", END_EVERY_PROCESS], user=user.pw_uid, group=user.pw_gid, extra_groups=[],
                   cwd="/", env={}, check=True, timeout=30)


class CourseSpawner(LocalProcessSpawner):
    """A local server whose process starts in the course folder for instructors, where nbgrader (Formgrader
    included) finds the course's nbgrader_config.py; in the home folder for students. Every process of its
    user ends with it."""

    async def stop(self, now=False):
        await super().stop(now=now)
        await asyncio.to_thread(end_every_process_of, self.user.name)

    async def poll(self):
        was_running = bool(self.pid)
        status = await super().poll()
        if status is not None and was_running:  # the server ended by itself (killed, crashed): its user's too
            await asyncio.to_thread(end_every_process_of, self.user.name)
        return status

    def make_preexec_fn(self, name):
        become_user = super().make_preexec_fn(name)
        if not is_instructor(name):
            return become_user

        def become_instructor_in_course():
            become_user()
            os.chdir(settings["course_dir"])

        return become_instructor_in_course


c.JupyterHub.spawner_class = CourseSpawner
c.Spawner.pre_spawn_hook = set_up_role

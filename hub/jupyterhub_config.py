"""JupyterHub for one class: PAM logins for Unix users, one local server per user.

``hub/deploy.py setup`` copies this file next to the settings it writes (``settings.json``); start the hub
as root with ``PREFIX/env/bin/jupyterhub -f PREFIX/hub/jupyterhub_config.py``. Members of the students'
group get the student tools (Assignment List, Validate) in a server rooted at their home; members of the
instructors' group get Formgrader and the instructor tools in a server rooted at the course folder.
"""
import grp
import json
import os
import pwd
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


class CourseSpawner(LocalProcessSpawner):
    """A local server whose process starts in the course folder for instructors, where nbgrader (Formgrader
    included) finds the course's nbgrader_config.py; in the home folder for students."""

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

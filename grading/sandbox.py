"""Kernels that run student code in a sandbox (Linux, bubblewrap).

A sandboxed kernel sees the system's programs and libraries, the Python environment and the course's
helper package read-only, and nothing else of the machine: not the course folder (so neither
``solutions/`` nor the gradebook, the exchange or other students' submissions), not the home folder.
It may write only in the folder it runs in (a private copy of the submission's files) and in a private
``/tmp``; it has no network; its processes die with it; each of them may allocate at most
``memory_limit_gb`` of data. It talks to nbgrader over Unix sockets (``transport="ipc"``) in a folder
of its own.
"""
import os
import shutil
import site
import stat
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Float, List, Unicode

HOW_TO_INSTALL = "install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`; Fedora: `sudo dnf install bubblewrap`)"
# what a sandboxed kernel may read: the system, the Python that runs it, the course's helpers
SYSTEM_PATHS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
HELPER_PACKAGES = ("vae_helpers",)


def package_folders(names=HELPER_PACKAGES):
    """The folders the named packages are imported from by a kernel started elsewhere: where they are
    installed (an editable install included), not a folder of that name where the grading command runs."""
    here = {"", os.getcwd()}
    searched, sys.path[:] = sys.path[:], [p for p in sys.path if p not in here]
    try:
        specs = [next(filter(None, (finder.find_spec(name, None) for finder in sys.meta_path
                                    if hasattr(finder, "find_spec"))), None) for name in names]
    finally:
        sys.path[:] = searched
    return [folder for spec in specs if spec for folder in spec.submodule_search_locations or []]


def python_folders():
    """The folders this Python and its installed packages live in (not its import path, which starts
    with the folder the grading command runs in)."""
    folders = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, site.getusersitepackages()}
    folders |= {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    return sorted(folders)


def bwrap_arguments(workdir, writable=(), readable=(), memory_limit_gb=None):
    """The command prefix that runs a program in the sandbox, in ``workdir``.

    ``writable`` folders (the kernel's sockets) and ``readable`` ones (its connection file) are
    bound at their own paths on top of what the sandbox sees.
    """
    limit = [] if memory_limit_gb is None else [shutil.which("prlimit") or "prlimit",
                                                f"--data={int(memory_limit_gb * 2**30)}"]
    args = [*limit, shutil.which("bwrap") or "bwrap", "--unshare-all", "--die-with-parent", "--new-session",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm", "--tmpfs", "/tmp"]
    for path in SYSTEM_PATHS:
        if Path(path).is_symlink():
            args += ["--symlink", os.readlink(path), path]
        elif Path(path).is_dir():
            args += ["--ro-bind", path, path]
    for path in [*python_folders(), *package_folders(), *readable]:
        if Path(path).exists():
            args += ["--ro-bind", str(path), str(path)]
    for path in [*writable, workdir]:
        args += ["--bind", str(path), str(path)]
    home = "/tmp/home"
    # A kernel's parent is the sandbox's init (pid 1): ipykernel must not watch it (pid 1 = no parent);
    # --die-with-parent already ends the sandbox with whoever started it.
    return args + ["--dir", home, "--setenv", "HOME", home, "--setenv", "MPLCONFIGDIR", home,
                   "--setenv", "JPY_PARENT_PID", "1", "--chdir", str(workdir), "--"]


def socket_folder(base=None):
    """A folder for kernels' sockets, ``<tmp>/vae-course-kernels-<uid>``, that only this user can enter.

    On a shared machine another user could create that folder first (or a link of that name), and then swap
    the sockets in it; such a folder is not used, and a fresh private one is made instead.
    """
    base = Path(base or tempfile.gettempdir())
    folder = base / f"vae-course-kernels-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = folder.lstat()
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077:
        return folder
    return Path(tempfile.mkdtemp(prefix="vae-course-kernels-", dir=base))


def sandbox_problem():
    """None where sandboxed kernels can start here, else what stops them and how to fix it."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux (bubblewrap); this is {sys.platform}"
    if shutil.which("bwrap") is None:
        return f"bubblewrap is not installed: {HOW_TO_INSTALL}"
    with tempfile.TemporaryDirectory() as folder:
        trial = subprocess.run([*bwrap_arguments(folder), "true"], capture_output=True, text=True)
    if trial.returncode != 0:
        return (f"bubblewrap cannot create a sandbox here ({trial.stderr.strip() or trial.returncode}); "
                "it needs unprivileged user namespaces (`sysctl kernel.unprivileged_userns_clone=1`, or in a "
                "container, a runtime that allows them)")
    return None


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run in the sandbox, in the folder nbgrader executes them in."""

    memory_limit_gb = Float(4.0, help="Data each process of a sandboxed kernel may allocate, in GiB.").tag(config=True)
    readable_paths = List(Unicode(), help="Further folders a sandboxed kernel may read (e.g. a dataset).").tag(config=True)

    async def _async_pre_start_kernel(self, **kw):
        # Sockets in a folder of this kernel's own: the only one it shares with nbgrader.
        self.transport = "ipc"
        # An interrupt (a cell over its time limit) goes to the kernel as a message, and the kernel signals
        # its own process group: a signal to the sandbox's would end the sandbox.
        self.kernel_spec.interrupt_mode = "message"
        self._sockets = tempfile.mkdtemp(prefix="k", dir=Path(self.ip).parent if "/" in self.ip else None)
        self.ip = str(Path(self._sockets) / "kernel")
        return await super()._async_pre_start_kernel(**kw)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        workdir = Path(kw.get("cwd") or os.getcwd()).resolve()
        prefix = bwrap_arguments(workdir, writable=[self._sockets], memory_limit_gb=self.memory_limit_gb,
                                 readable=[os.path.realpath(self.connection_file), *self.readable_paths])
        return await super()._async_launch_kernel(prefix + kernel_cmd, **kw)

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self._sockets, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources  # as AsyncKernelManager names it (nbclient calls this one)

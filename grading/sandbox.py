"""Kernels that run student code in a sandbox (Linux, bubblewrap).

A sandboxed kernel sees the system's programs and libraries, the Python environment and the course's
helper package read-only, and nothing else of the machine: not the course folder (so neither
``solutions/`` nor the gradebook, the exchange or other students' submissions), not the home folder.
It gets nothing of the grader's: it starts from an empty environment given only the variables in
``PASSED_ENVIRONMENT`` (no token, no instructor's path), and no capability. It may write only in the
folder it runs in (a private copy of the submission's files) and in a private ``/tmp`` and ``/dev/shm``
in memory, ``TMP_SIZE`` each; it has no network; its processes die with it; each of them may allocate
at most ``memory_limit_gb`` of data, and together they may run ``process_limit()`` processes and
threads (Linux exempts root from that limit, so a root grader's kernels run as an unprivileged user of
their own). It talks to nbgrader over Unix sockets (``transport="ipc"``) in a folder of its own.
"""
import json
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
# what a sandboxed kernel may read: the system, the Python that runs it, the course's helpers and the
# judge's kernel side
SYSTEM_PATHS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
HELPER_PACKAGES = ("vae_helpers", "judge")
# what the kernel has in place of the visible checks (vae_helpers/exercises), which the grading process runs
CHECKS_IN_THE_KERNEL = Path(__file__).resolve().parent / "checks_in_the_kernel"
# What a kernel is told of the grader's environment, by name: the locale; the settings the course's
# helpers read (vae_helpers/: data folder, dataset, budget, device; NBGRADER_EXECUTION, which nbgrader
# sets); how many threads PyTorch may use; matplotlib's backend; Python's hash seed.
PASSED_ENVIRONMENT = ("LANG", "LC_ALL", "LC_CTYPE", "VAE_COURSE_DATA", "VAE_COURSE_DATASET", "VAE_COURSE_FAST",
                      "VAE_COURSE_DEVICE", "NBGRADER_EXECUTION", "NBGRADER_VALIDATING", "OMP_NUM_THREADS",
                      "MKL_NUM_THREADS", "MPLBACKEND", "PYTHONHASHSEED")
SANDBOX_HOME = "/tmp/home"
# /tmp and /dev/shm are in memory, outside the data limit: each holds at most this much.
TMP_SIZE = 256 * 2**20
# A kernel's processes and threads (Linux counts both): a kernel that imports torch and trains a small
# network runs 15 with PyTorch on 2 threads, 29 on 16; PyTorch may start two threads per CPU (intra- and
# inter-op), and a kernel may run this many more.
PROCESSES_BESIDES_PYTORCH = 64
# The user a root grader's kernels run as (Linux exempts root from the process limit): an id no account has.
SANDBOX_UID_UNDER_ROOT = 2**31 - 2


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


def process_limit():
    """How many processes and threads a sandboxed kernel may run at once."""
    return PROCESSES_BESIDES_PYTORCH + 2 * (os.cpu_count() or 1)


def sandbox_environment(grader_environment):
    """The whole environment of a sandboxed kernel: the variables in ``PASSED_ENVIRONMENT`` that the grader
    has, a home and a ``PATH`` of the sandbox's own."""
    passed = {name: grader_environment[name] for name in PASSED_ENVIRONMENT if name in grader_environment}
    # A kernel's parent is the sandbox's init (pid 1): ipykernel must not watch it (pid 1 = no parent);
    # --die-with-parent already ends the sandbox with whoever started it.
    return {**passed, "PATH": os.pathsep.join([sysconfig.get_path("scripts"), "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": SANDBOX_HOME, "MPLCONFIGDIR": SANDBOX_HOME, "JPY_PARENT_PID": "1"}


def grader_is_root():
    """Whether grading runs as the machine's root (uid 0 here and outside any user namespace), whom Linux
    exempts from the process limit."""
    if os.getuid() != 0:
        return False
    with open("/proc/self/uid_map") as mapping:
        return any(line.split()[:2] == ["0", "0"] for line in mapping)


class RootGradersNamespace:
    """The user namespace of a sandbox that a root grader starts. Root sets the sandbox up in it; the kernel
    runs as ``SANDBOX_UID_UNDER_ROOT``, so that its process limit holds, counted in this namespace only.
    bubblewrap creates the namespace and waits (``--userns-block-fd``) until ``map_users`` has mapped both."""

    def __init__(self):
        self._info, self._info_sent = os.pipe()
        self._blocked, self._release = os.pipe()
        self.fds = (self._info_sent, self._blocked)  # for bubblewrap

    def arguments(self):
        # Until setpriv switches users (which drops them): the capabilities to switch, and to enter the
        # kernel's folder, which is the sandbox user's.
        return ["--unshare-user", "--info-fd", str(self._info_sent), "--userns-block-fd", str(self._blocked),
                "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_DAC_READ_SEARCH"]

    def command(self):
        user = str(SANDBOX_UID_UNDER_ROOT)
        return ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--"]

    def map_users(self):
        """Once bubblewrap has started: map root and the sandbox's user, then let it go on."""
        os.close(self._info_sent)
        os.close(self._blocked)
        try:
            with os.fdopen(self._info) as info:
                sandbox = json.load(info)["child-pid"]
            user = SANDBOX_UID_UNDER_ROOT
            for kind in ("uid_map", "gid_map"):
                Path(f"/proc/{sandbox}/{kind}").write_text(f"0 0 1\n{user} {user} 1\n")
        finally:
            os.close(self._release)

    @staticmethod
    def hand_over(path):
        """Give the sandbox's user a file or folder (with what is in it) that its kernel reads and writes."""
        paths = [path]
        for folder, folders, files in os.walk(path):
            paths += [os.path.join(folder, name) for name in folders + files]
        for owned in paths:
            os.chown(owned, SANDBOX_UID_UNDER_ROOT, SANDBOX_UID_UNDER_ROOT, follow_symlinks=False)


def ancestors(paths):
    """The folders above ``paths`` that the sandbox makes for them (not the system's, nor its own mounts)."""
    own = {"/", "/tmp", "/dev", "/dev/shm", "/proc"}
    above = {str(parent) for path in paths for parent in Path(path).parents}
    return sorted(folder for folder in above - own
                  if not any(Path(folder).is_relative_to(system) for system in SYSTEM_PATHS))


def bwrap_arguments(workdir, writable=(), readable=(), memory_limit_gb=None, environment=None, namespace=None):
    """The command prefix that runs a program in the sandbox, in ``workdir``.

    ``writable`` folders (the kernel's sockets) and ``readable`` ones (its connection file) are
    bound at their own paths on top of what the sandbox sees. The program's environment is
    ``sandbox_environment(environment)``; a root grader passes a ``RootGradersNamespace``.
    """
    args = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--die-with-parent", "--new-session",
            "--cap-drop", "ALL", *(namespace.arguments() if namespace else []), "--clearenv"]
    for name, value in sandbox_environment(os.environ if environment is None else environment).items():
        args += ["--setenv", name, value]
    args += ["--proc", "/proc", "--dev", "/dev"]
    for memory in ("/dev/shm", "/tmp"):
        args += ["--perms", "1777", "--size", str(TMP_SIZE), "--tmpfs", memory]
    # writable like /tmp by the kernel, which is not always the user who sets the sandbox up (a root grader)
    args += ["--perms", "1777", "--dir", SANDBOX_HOME]
    for path in SYSTEM_PATHS:
        if Path(path).is_symlink():
            args += ["--symlink", os.readlink(path), path]
        elif Path(path).is_dir():
            args += ["--ro-bind", path, path]
    bound = [path for path in [*python_folders(), *package_folders(), *readable] if Path(path).exists()]
    for folder in ancestors([*bound, *writable, workdir]):  # enterable by a kernel that does not own them
        args += ["--perms", "0755", "--dir", folder]
    for path in bound:
        args += ["--ro-bind", str(path), str(path)]
    for helpers in package_folders(("vae_helpers",)):  # the checks run in the grading process, not here
        if (Path(helpers) / "exercises").is_dir():
            args += ["--ro-bind", str(CHECKS_IN_THE_KERNEL), str(Path(helpers) / "exercises")]
    for path in [*writable, workdir]:
        args += ["--bind", str(path), str(path)]
    # The limits are set inside the sandbox's user namespace, where Linux counts only the sandbox's processes.
    limits = ["prlimit", f"--nproc={process_limit()}"]
    if memory_limit_gb is not None:
        limits.append(f"--data={int(memory_limit_gb * 2**30)}")
    return args + ["--chdir", str(workdir), "--", *(namespace.command() if namespace else []), *limits, "--"]


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
    namespace = RootGradersNamespace() if grader_is_root() else None
    with tempfile.TemporaryDirectory() as folder:
        trial = subprocess.Popen([*bwrap_arguments(folder, namespace=namespace), "true"], env={}, text=True,
                                 stderr=subprocess.PIPE, pass_fds=namespace.fds if namespace else ())
        unmapped = None
        if namespace:
            try:
                namespace.map_users()
            except ValueError:
                pass  # bubblewrap stopped before it made the namespace: it says why
            except OSError as error:
                unmapped = f"mapping the sandbox's user: {error}"
        errors = trial.communicate()[1]
    if trial.returncode != 0:
        return (f"bubblewrap cannot create a sandbox here ({unmapped or errors.strip() or trial.returncode}); "
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
        connection_file = os.path.realpath(self.connection_file)
        namespace = RootGradersNamespace() if grader_is_root() else None
        if namespace:
            for path in (workdir, self._sockets, connection_file):
                namespace.hand_over(path)
        prefix = bwrap_arguments(workdir, writable=[self._sockets], memory_limit_gb=self.memory_limit_gb,
                                 readable=[connection_file, *self.readable_paths],
                                 environment=kw.get("env", os.environ), namespace=namespace)
        # bubblewrap starts with no environment either: the sandbox's init keeps its first one, readable
        # in /proc/1/environ.
        launched = await super()._async_launch_kernel(prefix + kernel_cmd, **{**kw, "env": {}},
                                                      pass_fds=namespace.fds if namespace else ())
        if namespace:
            namespace.map_users()
        return launched

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self._sockets, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources  # as AsyncKernelManager names it (nbclient calls this one)

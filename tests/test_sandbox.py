"""The sandboxed execution that autograding uses, on small notebooks: a cell over its time limit is
stopped and the next one runs; a kernel that dies is replaced and keeps what the cells before it made;
the kernel sees only its own folder and gets nothing of the grader's (its environment, its capabilities,
more than its share of memory, processes, or of what comes back)."""
import json
import logging
import os
import re
import resource
import tempfile
import threading
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

from grading.execution import COPY_BACK_BYTES, COPY_BACK_FILES, KERNEL_DIED, SandboxedExecute
from grading.sandbox import (PASSED_ENVIRONMENT, TMP_SIZE, process_limit, sandbox_environment, sandbox_problem,
                             socket_folder)
from vae_helpers import remember

REPO = Path(__file__).resolve().parents[1]


def run(cells, folder, readable_paths=(), **settings):
    notebook = new_notebook(cells=[new_code_cell(code) for code in cells])
    notebook.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    config = Config()
    config.SandboxedKernelManager.readable_paths = list(readable_paths)
    for name, value in settings.items():
        setattr(config.SandboxedExecute, name, value)
    notebook, _ = SandboxedExecute(config=config).preprocess(notebook, {"metadata": {"path": str(folder)}})
    return notebook


def printed(notebook, index):
    return "".join(o.get("text", "") for o in notebook.cells[index].outputs)


def errors(notebook, index):
    return [o.ename for o in notebook.cells[index].outputs if o.output_type == "error"]


def test_this_machine_can_sandbox():
    assert sandbox_problem() is None, "the test machine needs bubblewrap (see .ci/run)"


def test_a_cell_over_its_time_limit_is_stopped_and_grading_goes_on(tmp_path):
    notebook = run(["x = 1", "while True:\n    pass", "print('next cell ran, x =', x)"], tmp_path, timeout=3)
    assert "CellTimeoutError" in errors(notebook, 1)
    assert printed(notebook, 2) == "next cell ran, x = 1\n"


def test_a_dead_kernel_is_replaced_and_the_cells_before_it_run_again(tmp_path):
    notebook = run(["x = 41", "import os\nos._exit(1)", "print('x + 1 =', x + 1)"], tmp_path)
    assert errors(notebook, 1) == ["DeadKernelError"] and KERNEL_DIED in notebook.cells[1].outputs[-1].evalue
    assert printed(notebook, 2) == "x + 1 = 42\n"


def test_the_kernel_sees_only_its_own_folder_and_writes_only_there(tmp_path):
    outside = tmp_path / "course"
    (outside / "solutions").mkdir(parents=True)
    (outside / "solutions" / "hidden.txt").write_text("secret")
    own = outside / "nbgrader_work" / "autograded" / "student"
    own.mkdir(parents=True)
    (own / "01_elbo.ipynb").write_text("the notebook being graded, hidden tests put back")
    (own / "data.csv").write_text("1,2")  # a file the student handed in with the notebook
    notebook = run([
        "from pathlib import Path\nprint(Path('../../../solutions/hidden.txt').exists(), Path.home() == Path('/tmp/home'))",
        "print(sorted(p.name for p in Path('.').iterdir()))",
        # outside its own folder a kernel writes, at most, into the sandbox's own memory, gone when it ends
        "Path('answer.txt').write_text('ok')\ntry:\n    Path('../../../new.txt').write_text('x')\nexcept OSError:\n    pass\n"
        "import os\nos.symlink('/etc/passwd', 'link')",
    ], own)
    assert printed(notebook, 0) == "False True\n"
    assert printed(notebook, 1) == "['data.csv']\n", "the kernel sees its files but not the notebook"
    assert (own / "answer.txt").read_text() == "ok" and not (outside / "new.txt").exists()
    assert not (own / "link").exists(), "a link the kernel made is not followed back out of the sandbox"


def test_kernel_sockets_go_to_a_folder_only_this_user_can_enter(tmp_path):
    mine = socket_folder(tmp_path)
    assert mine == tmp_path / f"vae-course-kernels-{os.getuid()}" and mine.stat().st_mode & 0o777 == 0o700
    assert socket_folder(tmp_path) == mine, "the same folder serves every command of this user"


@pytest.mark.parametrize("made_by_another", ["open folder", "link"])
def test_a_socket_folder_someone_else_prepared_is_not_used(tmp_path, made_by_another):
    """Another user of the machine who creates the folder first could swap the kernels' sockets in it."""
    expected = tmp_path / f"vae-course-kernels-{os.getuid()}"
    if made_by_another == "link":
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        expected.symlink_to(tmp_path / "elsewhere")
    else:
        expected.mkdir(mode=0o777)
        os.chmod(expected, 0o777)
    chosen = socket_folder(tmp_path)
    assert chosen != expected and chosen.parent == tmp_path
    assert chosen.stat().st_uid == os.getuid() and chosen.stat().st_mode & 0o777 == 0o700


SECRETS = {"JUPYTERHUB_API_TOKEN": "hub-token-4f1c", "JPY_API_TOKEN": "hub-token-4f1c",
           "INSTRUCTOR_SECRET": "instructor-secret-9d2e", "JUPYTERHUB_USER": "instructor-9d2e"}


def test_every_variable_the_course_helpers_read_reaches_the_kernel():
    read = set()
    for source in (REPO / "vae_helpers").rglob("*.py"):
        read |= set(re.findall(r'"((?:VAE_COURSE|NBGRADER)_[A-Z_]+|[A-Z]+_NUM_THREADS)"', source.read_text()))
    read -= {remember.CACHE_VARIABLE, remember.RETRAIN_VARIABLE}  # the cache is off whenever nbgrader runs a notebook
    assert read and read <= set(PASSED_ENVIRONMENT), read - set(PASSED_ENVIRONMENT)


def test_the_kernel_gets_only_the_variables_it_needs(tmp_path, monkeypatch):
    """A hub's token, an instructor's secret or folders in the grader's environment reach neither the kernel's
    variables nor any process's environment or command line in the sandbox; the kernel still works."""
    instructor = str(tmp_path)
    needed = {"VAE_COURSE_DATASET": "digits", "NBGRADER_EXECUTION": "autograde"}
    folders = {name: instructor for name in ("PYTHONPATH", "JUPYTER_PATH", "PWD", "OLDPWD")}
    for name, value in {**SECRETS, **folders, **needed}.items():
        monkeypatch.setenv(name, value)
    own = tmp_path / "student"
    own.mkdir()
    notebook = run([
        "import json\nvariables = open('/proc/self/environ').read().split('\\0')\n"
        "print(json.dumps(dict(line.split('=', 1) for line in variables if line)))",
        f"import glob, os\nsecrets, found = {sorted(set(SECRETS.values()))!r}, []\n"
        "for path in glob.glob('/proc/*/environ') + glob.glob('/proc/*/cmdline'):\n"
        "    try:\n        text = open(path).read()\n"
        "    except OSError:\n        continue\n    found += [path for secret in secrets if secret in text]\n"
        "print(found, [name for name in os.environ if 'TOKEN' in name or 'JUPYTERHUB' in name])",
        "import torch, vae_helpers\nfrom vae_helpers.budget import run_mode\n"
        "from vae_helpers.data import resolve_name\n"
        "print(run_mode(), resolve_name('mnist'), float(torch.ones(3).sum()))",
    ], own)
    environment = json.loads(printed(notebook, 0))
    assert environment.pop("PWD").startswith(os.path.join(tempfile.gettempdir(), "submission-")), "its private copy"
    assert environment == sandbox_environment(os.environ) and environment["VAE_COURSE_DATASET"] == "digits"
    assert printed(notebook, 1) == "[] []\n", "no secret anywhere in the sandbox"
    assert printed(notebook, 2) == "autograde digits 3.0\n"


def test_the_kernel_has_no_capability(tmp_path):
    """A kernel with capabilities in its namespace could make what it reads writable again (a root grader's
    could: the system, the Python environment, the course's helpers, a dataset)."""
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    own = tmp_path / "student"
    own.mkdir()
    notebook = run([
        "print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])",
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nMS_BIND, MS_REMOUNT = 4096, 32\n"
        f"for folder in ('/usr', {str(dataset)!r}):\n"
        "    print(libc.mount(None, folder.encode(), None, MS_REMOUNT | MS_BIND, None), os.access(folder, os.W_OK))",
        f"try:\n    open({str(dataset / 'planted.txt')!r}, 'w')\n"
        "except OSError as error:\n    print(type(error).__name__)",
    ], own, readable_paths=[str(dataset)])
    assert printed(notebook, 0) == "0000000000000000\n"
    assert printed(notebook, 1) == "-1 False\n-1 False\n" and printed(notebook, 2) == "OSError\n"
    assert not (dataset / "planted.txt").exists()


@pytest.mark.parametrize("place", ["/tmp", "/dev/shm"])
def test_what_the_kernel_keeps_in_memory_outside_its_data_limit_is_bounded(tmp_path, place):
    notebook = run([
        f"written = 0\ntry:\n    with open('{place}/hoard', 'wb') as hoard:\n"
        f"        while written <= {TMP_SIZE}:\n            written += hoard.write(bytes(2**24))\n"
        "            hoard.flush()\n"
        f"except OSError as error:\n    print(type(error).__name__, written <= {TMP_SIZE})",
        f"import os\nos.remove('{place}/hoard')\nprint('next cell ran')",
    ], tmp_path)
    assert printed(notebook, 0) == "OSError True\n" and printed(notebook, 1) == "next cell ran\n"


STARTS = {
    "processes": ("import os, time\nstarted = []\ntry:\n    while len(started) < 10000:\n        child = os.fork()\n"
                  "        if child == 0:\n            time.sleep(60)\n            os._exit(0)\n"
                  "        started.append(child)\n"
                  "except OSError as error:\n    print(type(error).__name__, len(started))\n"
                  "for child in started:\n    os.kill(child, 9)\n    os.waitpid(child, 0)"),
    "threads": ("import threading\nstop, started = threading.Event(), []\ntry:\n    while len(started) < 10000:\n"
                "        started.append(threading.Thread(target=stop.wait))\n        started[-1].start()\n"
                "except RuntimeError as error:\n    print(type(error).__name__, len(started) - 1)\n"
                "stop.set()\nfor thread in started[:-1]:\n    thread.join()"),
}


@pytest.mark.parametrize("kind", STARTS)
def test_the_kernel_starts_processes_up_to_its_limit_and_the_grader_is_not_limited(tmp_path, kind):
    """Linux counts a sandbox's processes and threads in its own user namespace: the grader, running more
    threads than the limit meanwhile, neither counts against the kernel nor is limited itself."""
    before = resource.getrlimit(resource.RLIMIT_NPROC)
    stop = threading.Event()
    held = [threading.Thread(target=stop.wait) for _ in range(process_limit() + 10)]
    for thread in held:
        thread.start()
    try:
        notebook = run(["import resource\nprint(resource.getrlimit(resource.RLIMIT_NPROC)[0])", STARTS[kind],
                        "print('next cell ran')"], tmp_path)
    finally:
        stop.set()
        for thread in held:
            thread.join()
    assert printed(notebook, 0) == f"{process_limit()}\n"
    error, started = printed(notebook, 1).split()
    assert error == {"processes": "BlockingIOError", "threads": "RuntimeError"}[kind]
    assert process_limit() - 30 < int(started) < process_limit(), "the kernel's own threads count too"
    assert printed(notebook, 2) == "next cell ran\n"
    assert resource.getrlimit(resource.RLIMIT_NPROC) == before


def test_what_comes_back_from_the_kernels_folder_is_bounded(tmp_path, caplog):
    own = tmp_path / "student"
    own.mkdir()
    (own / "data.csv").write_text("1,2")  # handed in: already there, not copied again
    (tmp_path / "hidden.txt").write_text("secret")
    (own / "notes.txt").symlink_to(tmp_path / "hidden.txt")  # handed in: the grader must not read through it
    notebook = run([
        "import os\nprint(os.path.islink('notes.txt'), os.path.exists('notes.txt'))",
        f"open('answer.txt', 'w').write('ok')\nopen('big.bin', 'wb').write(bytes({COPY_BACK_BYTES + 1}))",
        f"os.mkdir('many')\nfor index in range({COPY_BACK_FILES + 5}):\n"
        "    open(f'many/{index:03}.txt', 'w').write('x')\nos.mkfifo('pipe')",
    ], own)
    assert printed(notebook, 0) == "True False\n" and not errors(notebook, 1) and not errors(notebook, 2)
    assert (own / "answer.txt").read_text() == "ok" and not (own / "big.bin").exists()
    assert len(list((own / "many").iterdir())) == COPY_BACK_FILES - 1  # answer.txt was one of them
    assert not (own / "pipe").exists()
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"big.bin ({COPY_BACK_BYTES + 1} bytes)" in warnings[0]
    # answer.txt and 99 of the many come back; big.bin and the 6 other files do not
    assert "many/098.txt" not in warnings[0] and "many/099.txt" in warnings[0] and "and 2 more" in warnings[0]
    assert f"{COPY_BACK_FILES} files" in warnings[0]


def test_the_kernel_has_no_visible_check_to_call(tmp_path):
    """The grading process runs the visible checks; in the kernel each does nothing, and their reference code (an
    exercise's expected values, an exact quadrature) cannot be imported by an answer."""
    notebook = run([
        "from vae_helpers.exercises import colour_images as checks\nprint(checks.discretised_logistic_log_prob(1))",
        "from vae_helpers.exercises.colour_images import _quadrature_log_prob",
        "import vae_helpers.checks, judge.kernel_side\nprint('helpers and the judge are there')",
    ], tmp_path)
    assert printed(notebook, 0) == "None\n"
    assert errors(notebook, 1) == ["ModuleNotFoundError"]
    assert printed(notebook, 2) == "helpers and the judge are there\n"

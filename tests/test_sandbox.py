"""The sandboxed execution that autograding uses, on small notebooks: a cell over its time limit is
stopped and the next one runs; a kernel that dies is replaced and keeps what the cells before it made;
the kernel sees only its own folder."""
import os

import pytest
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

from grading.execution import KERNEL_DIED, SandboxedExecute
from grading.sandbox import sandbox_problem, socket_folder


def run(cells, folder, **settings):
    notebook = new_notebook(cells=[new_code_cell(code) for code in cells])
    notebook.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    config = Config()
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

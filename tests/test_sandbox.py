"""The sandboxed execution that autograding uses, on small notebooks: a cell over its time limit is
stopped and the next one runs; a kernel that dies is replaced and keeps what the cells before it made;
the kernel sees only its own folder."""
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

from grading.execution import KERNEL_DIED, SandboxedExecute
from grading.sandbox import sandbox_problem


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
    notebook = run([
        "from pathlib import Path\nprint(Path('../../../solutions/hidden.txt').exists(), Path.home() == Path('/tmp/home'))",
        # outside its own folder a kernel writes, at most, into the sandbox's own memory, gone when it ends
        "Path('answer.txt').write_text('ok')\ntry:\n    Path('../../../new.txt').write_text('x')\nexcept OSError:\n    pass",
    ], own)
    assert printed(notebook, 0) == "False True\n"
    assert (own / "answer.txt").read_text() == "ok" and not (outside / "new.txt").exists()

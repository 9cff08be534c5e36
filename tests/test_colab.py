"""A notebook opened on Colab: a runtime with PyTorch, torchvision, matplotlib, scikit-learn and Jupyter's kernel,
but not the course's helpers. The notebook's setup cell installs them (here from a local build of the package, as
on Colab from the repository) and the notebook runs top to bottom, its checks included."""
import importlib.metadata
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from packaging.requirements import Requirement

from support.course import REPO
from vae_helpers.budget import FAST_VARIABLE
from vae_helpers.checks import PASSED
from vae_helpers.data import DATASET_VARIABLE

# What a Colab runtime brings that the notebooks use (Colab has many more packages; none of the course's)
COLAB = ("torch", "torchvision", "matplotlib", "scikit-learn", "scipy", "numpy", "tqdm", "ipywidgets", "ipykernel")
ASSIGNMENT = "02_dense_vae"  # loads data, trains and checks: every part of a notebook's run
PACKAGE = ("pyproject.toml", "vae_helpers", "grading", "judge")  # what pyproject.toml builds into the package


def with_dependencies(names):
    """The distributions ``names`` need, themselves included, as this environment installed them."""
    found, todo = {}, list(names)
    while todo:
        name = todo.pop()
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:  # not needed here (its marker is for another platform)
            continue
        key = dist.metadata["Name"].lower().replace("_", "-")
        if key in found:
            continue
        found[key] = dist
        for requirement in map(Requirement, dist.requires or []):
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return list(found.values())


def colab_like_environment(folder: Path) -> Path:
    """A new virtual environment that sees only the Colab packages (linked from this one's), and a kernel spec of
    it in ``folder``/jupyter; returns its Python."""
    subprocess.run([sys.executable, "-m", "venv", folder / "env"], check=True)
    python = folder / "env" / "bin" / "python"
    linked = folder / "colab-packages"
    linked.mkdir()
    for dist in with_dependencies(COLAB):
        top = {Path(str(file)).parts[0] for file in dist.files or [] if not str(file).startswith("..")}
        for name in top:
            source = Path(dist.locate_file(name))
            if source.exists() and not (linked / name).exists():
                (linked / name).symlink_to(source)
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "colab.pth").write_text(f"{linked}\n")
    kernel = folder / "jupyter" / "kernels" / "colab"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like", "language": "python"}))
    return python


def test_a_notebook_runs_on_colab_installing_the_helpers_itself(tmp_path, monkeypatch):
    package, wheel = tmp_path / "package", tmp_path / "wheel"  # built from a copy: setuptools writes build/ beside it
    package.mkdir()
    for part in PACKAGE:
        if (REPO / part).is_dir():
            shutil.copytree(REPO / part, package / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(REPO / part, package / part)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", wheel, package], check=True, capture_output=True)
    python = colab_like_environment(tmp_path)
    missing = subprocess.run([python, "-c", "import vae_helpers"], capture_output=True, text=True, cwd=tmp_path)
    assert "No module named 'vae_helpers'" in missing.stderr, "the Colab-like environment must lack the helpers"
    assert subprocess.run([python, "-c", "import torch, torchvision, sklearn, matplotlib"], cwd=tmp_path).returncode == 0

    notebook = nbformat.read(REPO / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)  # solved
    for name, value in {"JUPYTER_PATH": str(tmp_path / "jupyter"), FAST_VARIABLE: "1", DATASET_VARIABLE: "digits",
                        "VAE_COURSE_PACKAGE": str(next(wheel.glob("*.whl"))), "PYTHONPATH": "",
                        "MPLBACKEND": "Agg"}.items():
        monkeypatch.setenv(name, value)
    NotebookClient(notebook, kernel_name="colab", timeout=600,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()

    installed = subprocess.run([python, "-c", "import vae_helpers; print(vae_helpers.__file__)"], cwd=tmp_path,
                               capture_output=True, text=True, check=True).stdout
    assert str(tmp_path / "env") in installed, f"the setup cell installed the helpers in the runtime: {installed}"
    graded = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")]
    silent = [cell.id for cell in graded if PASSED not in "".join(output.get("text", "") for output in cell.outputs)]
    assert graded and not silent, f"every graded cell's checks ran and passed; not these: {silent}"

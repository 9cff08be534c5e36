"""What students and maintainers start from: the install lists, the lab, the test collection."""
import json
import re
import subprocess
import sys

import pytest

from support.course import ASSIGNMENTS, REPO
from support.tiers import LONGEST_FIRST, TIERS
from support.lab import running_lab


def requirement_lines(path):
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_binder_installs_the_same_packages_with_cpu_torch():
    main = requirement_lines(REPO / "requirements.txt")
    binder = requirement_lines(REPO / "binder" / "requirements.txt")
    assert binder[0] == "--extra-index-url https://download.pytorch.org/whl/cpu"
    cpu_pinned = {re.sub(r"\+cpu$", "", line) for line in binder[1:] if line.endswith("+cpu")}
    assert cpu_pinned == {line for line in main if line.startswith(("torch==", "torchvision=="))}, \
        "binder/requirements.txt must pin the CPU builds of requirements.txt's torch and torchvision"
    assert [line for line in binder[1:] if not line.endswith("+cpu")] == \
        [line for line in main if not line.startswith(("torch==", "torchvision=="))]


def test_binder_prefetches_the_datasets():
    post_build = (REPO / "binder" / "postBuild").read_text()
    assert "python -m vae_helpers.data download" in post_build
    assert (REPO / "binder" / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"


def test_nbgrader_starts_without_building_a_uri_grammar():
    """Every nbgrader command, Jupyter server and grading process imports jsonschema; from 4.25 on it imports
    rfc3987-syntax, which spends 3 s building a grammar (requirements.txt keeps jsonschema below it)."""
    imported = subprocess.run([sys.executable, "-c", "import sys, nbgrader.apps.nbgraderapp, jupyter_events, nbclient\n"
                               "print(sorted(m for m in sys.modules if m.startswith(('rfc3987_syntax', 'lark'))))"],
                              capture_output=True, text=True, check=True).stdout.strip()
    assert imported == "[]", f"importing nbgrader imported {imported}"


def test_pytest_collects_the_tests_and_runs_a_notebook_cell_by_cell_only_when_asked():
    """The suite runs each notebook by grading it (test_nbgrader.py), never course/; a notebook named on the
    command line is run cell by cell (nbval)."""
    def collected(*paths):
        result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                                 "-n", "0", *paths], cwd=REPO, capture_output=True, text=True, timeout=300)
        return [line for line in result.stdout.splitlines() if "::" in line]

    suite = collected()
    assert suite and all(item.startswith("tests/") for item in suite), sorted({i.split("::")[0] for i in suite})
    assignment = ASSIGNMENTS[0]
    cells = collected(f"solutions/{assignment}")
    assert cells and all(item.startswith(f"solutions/{assignment}/{assignment}.ipynb::") for item in cells)


def test_the_longest_modules_are_collected_first():
    assert all((REPO / "tests" / f"{module}.py").is_file() for module in LONGEST_FIRST), \
        "LONGEST_FIRST names a module that is gone"
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-n", "0"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    modules = list(dict.fromkeys(item.split("::")[0] for item in result.stdout.splitlines() if "::" in item))
    assert modules[:len(LONGEST_FIRST)] == [f"tests/{module}.py" for module in LONGEST_FIRST], modules


def test_the_quick_loop_leaves_out_the_notebooks_and_every_slow_module():
    assert all((REPO / "tests" / f"{module}.py").is_file() for module in TIERS), "TIERS names a module that is gone"
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-n", "0",
                             "-m", "not slow"], cwd=REPO, capture_output=True, text=True, timeout=300)
    modules = {item.split("::")[0] for item in result.stdout.splitlines() if "::" in item}
    slow = {f"tests/{module}.py" for module, tiers in TIERS.items() if "slow" in tiers}
    assert modules and not [m for m in modules if m.startswith("solutions/") or m in slow], sorted(modules)
    assert "tests/test_checks.py" in modules and "tests/test_sandbox.py" in modules


@pytest.fixture(scope="module")
def student_lab(tmp_path_factory):
    """What students run: `jupyter lab course`, from the repository root."""
    with running_lab(REPO, "course", tmp_path_factory.mktemp("lab-settings")) as lab:
        yield lab.get


@pytest.fixture(scope="module")
def instructor_lab(tmp_path_factory):
    """What instructors run: `jupyter lab` at the repository root, next to nbgrader_config.py."""
    with running_lab(REPO, ".", tmp_path_factory.mktemp("lab-settings")) as lab:
        yield lab.get


def test_lab_serves_the_student_notebooks(student_lab):
    status, body = student_lab("/api/contents")
    assert status == 200
    assert sorted(item["name"] for item in json.loads(body)["content"] if item["type"] == "directory") == ASSIGNMENTS
    status, body = student_lab(f"/api/contents/{ASSIGNMENTS[0]}/{ASSIGNMENTS[0]}.ipynb")
    assert json.loads(body)["type"] == "notebook"


def test_lab_loads_the_nbgrader_extension(student_lab):
    status, page = student_lab("/lab")
    config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                  page, re.S).group(1))
    assert "@jupyter/nbgrader" in [extension["name"] for extension in config["federated_extensions"]]
    assert not any("nbgrader" in name for name in config["disabledExtensions"])
    assert config["serverRoot"] == str(REPO / "course")


def test_formgrader_sees_every_assignment_with_its_source_and_release(instructor_lab):
    status, body = instructor_lab("/formgrader/api/assignments")
    assignments = {a["name"]: a for a in json.loads(body)}
    assert sorted(assignments) == ASSIGNMENTS
    for name, assignment in assignments.items():
        assert assignment["source_path"] == f"solutions/{name}"
        assert assignment["release_path"] == f"course/{name}"

"""Run times are figures of BENCHMARKS.md alone: each notebook states a budget, which the time BENCHMARKS.md records
(student mode, 2 CPU cores) for the dataset it runs by default must meet, so a change that makes a notebook slower
than its budget fails here.

MNIST's training set is not on the benchmark machine; its section trains on the 10,000 test images. That
row stands for MNIST where a notebook trains on 10,000 images anyway. A notebook that trains on 60,000
does the same work on MNIST as on Fashion-MNIST (same sizes, same model), which the Fashion-MNIST section
measures. A notebook of colour images is measured in the section of the colour dataset it loads by default (the
photograph patches), and only there."""
import json
import re

import pytest

from bench.run import COLOUR
from support.course import ASSIGNMENTS, REPO, notebook_path



def measured_seconds(section):
    """{notebook: student-mode wall time in s} from the CPU section ``section`` of BENCHMARKS.md."""
    text = (REPO / "BENCHMARKS.md").read_text()
    block = re.search(rf"<!-- bench cpu:{section} -->\n(.*?)<!-- /bench -->", text, re.DOTALL).group(1)
    rows = re.findall(r"^\| (\d\d_\w+) \| student \| [\d-]+ \| ([\d.]+) s \|", block, re.MULTILINE)
    return {name: float(seconds) for name, seconds in rows}


def benchmark_of(assignment):
    """The section that measures ``assignment`` as it runs by default (see the module's docstring)."""
    source = "\n".join("".join(cell["source"]) for cell in
                     json.loads(notebook_path(REPO / "solutions", assignment).read_text())["cells"])
    default = re.search(r'^DATASET = "([\w-]+)"', source, re.MULTILINE)
    if default is not None and default.group(1) in COLOUR:
        return default.group(1)
    if default is None or default.group(1) == "fashion-mnist":
        return "fashion-mnist"
    training_images = re.search(r'load_images\(DATASET, "train"\)\.take\(choose\(full=([\d_]+)', source)
    return "mnist-test" if int(training_images.group(1)) <= 10_000 else "fashion-mnist"


@pytest.mark.parametrize("section", ["fashion-mnist", "mnist-test", "photographs"])
def test_the_benchmark_records_every_notebook(section):
    of_colour = {assignment for assignment in ASSIGNMENTS if benchmark_of(assignment) in COLOUR}
    assert set(measured_seconds(section)) == (of_colour if section in COLOUR else set(ASSIGNMENTS) - of_colour)


def test_a_notebook_that_trains_on_10000_mnist_images_is_timed_on_mnist_test():
    assert benchmark_of("05_beta_vae") == "mnist-test"
    assert benchmark_of("05_categorical_clustering") == "mnist-test"
    assert benchmark_of("02_dense_vae") == "fashion-mnist"  # 60,000 images
    assert benchmark_of("06_collapse_and_inference") == "fashion-mnist"  # its default
    assert benchmark_of("10_colour_images") == "photographs"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebook_states_a_budget_its_measured_run_time_meets(assignment):
    cells = json.loads(notebook_path(REPO / "solutions", assignment).read_text())["cells"]
    line = next(paragraph for paragraph in "".join(cells[0]["source"]).split("\n\n")
                if paragraph.startswith("**Run time:**")).replace("\n", " ")
    budget = re.match(r"\*\*Run time:\*\* under (a|\d+) minutes? on 2 CPU cores .*measured in BENCHMARKS\.md", line)
    assert budget, f"{assignment}: {line!r} must state a budget, 'under N minutes on 2 CPU cores', and where it is measured"
    seconds = 60 * (1 if budget.group(1) == "a" else int(budget.group(1)))
    measured = measured_seconds(benchmark_of(assignment))[assignment]
    assert measured <= seconds, f"{assignment} says {line!r}; BENCHMARKS.md measured {measured:.0f} s"


def test_the_readme_lists_every_notebook_and_states_no_measurement():
    """The README's table names each notebook once, linked to its student notebook, and states no run time: the
    measurements are BENCHMARKS.md's alone, which it links to."""
    readme = (REPO / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| [`")]
    assert [re.match(r"\| \[`(\w+)`\]", row).group(1) for row in rows] == ASSIGNMENTS
    assert all(f"(course/{a}/{a}.ipynb)" in row for a, row in zip(ASSIGNMENTS, rows))
    stated = [row for row in rows if re.search(r"\d+(\.\d+)? ?(s|min|minutes|seconds)\b", row)]
    assert not stated, f"run times belong in BENCHMARKS.md, not the README: {stated}"
    assert "(BENCHMARKS.md)" in readme
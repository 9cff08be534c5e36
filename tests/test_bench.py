"""The benchmark script, as a maintainer runs it: quick runs, sections kept, clear errors."""
import argparse
import ast
import builtins
import json
import math
import re
import subprocess
import sys

import nbformat
import pytest
import torch

from bench import notebooks, throughput
from bench.run import (NOT_MEASURED, REPO, BenchError, dataset_environment, loop_table, machine, parse_arguments,
                       profile_table, section, solution_notebook, update_benchmarks)
from support.idx import write_idx
from vae_helpers import Batches, load_images
from vae_helpers.data import DatasetNotFoundError
from vae_helpers.device import usable_cpus


def bench(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "bench.run", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def test_quick_run_prints_every_figure_and_keeps_other_sections(tmp_path):
    output = tmp_path / "BENCHMARKS.md"
    update_benchmarks(output, "cuda:mnist", "## CUDA · MNIST\n\nfigures from a GPU run\n")
    result = bench("--dataset", "digits", "--quick", "--notebooks", "05_beta_vae", "05_categorical_clustering",
                   "--output", str(output))
    assert result.returncode == 0, result.stderr[-3000:]
    for expected in ("| 05_beta_vae | fast |", "| 05_categorical_clustering | fast |",
                     "| β = 0.5 |", "| β = 8 |", "| Gumbel VAE, capacity |", "| k-means on pixels |"):
        assert expected in result.stdout
    assert "| dense |" not in result.stdout and NOT_MEASURED in result.stdout  # it named its notebooks
    written = output.read_text()
    assert "<!-- bench cpu:digits:quick -->" in written and "figures from a GPU run" in written
    assert "`python -m bench.run --dataset digits --quick --notebooks 05_beta_vae 05_categorical_clustering" in written
    assert "No GPU figures yet" not in written
    assert written.index("CPU · scikit-learn digits") < written.index("CUDA · MNIST")


def test_a_new_run_replaces_only_its_own_section(tmp_path):
    output = tmp_path / "BENCHMARKS.md"
    update_benchmarks(output, "cpu:mnist", "## old MNIST\n")
    update_benchmarks(output, "cpu:fashion-mnist", "## Fashion\n")
    update_benchmarks(output, "cpu:mnist", "## new MNIST\n")
    written = output.read_text()
    assert "## new MNIST" in written and "## Fashion" in written and "## old MNIST" not in written
    assert written.count("<!-- bench ") == 2
    assert "No GPU figures yet" in written


def test_mnist_test_trains_on_the_test_images(clean_env, tmp_path):
    images = torch.randint(0, 256, (7, 28, 28), dtype=torch.uint8)
    write_idx(tmp_path / "data" / "MNIST" / "raw" / "t10k-images-idx3-ubyte", images, compress=True)
    write_idx(tmp_path / "data" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte", torch.arange(7, dtype=torch.uint8), compress=True)
    (tmp_path / "work").mkdir()
    for name, value in dataset_environment("mnist-test", tmp_path / "data", tmp_path / "work").items():
        clean_env.setenv(name, value)
    train, test = load_images("mnist", "train"), load_images("mnist", "test")
    assert torch.equal(train.images, images) and torch.equal(test.images, images)


def test_mnist_test_without_the_files_says_where_to_put_them(tmp_path):
    result = bench("--dataset", "mnist-test", "--quick", "--data", str(tmp_path))
    assert result.returncode == 2
    assert "t10k-images-idx3-ubyte" in result.stderr and str(tmp_path / "MNIST" / "raw") in result.stderr
    with pytest.raises(DatasetNotFoundError, match="--data"):
        dataset_environment("mnist-test", tmp_path, tmp_path)


def test_a_relative_data_folder_is_found_from_the_notebooks_own_folder(monkeypatch, tmp_path):
    """Notebooks run in a folder of their own, so --data must not stay relative to where bench started."""
    monkeypatch.chdir(tmp_path)
    assert parse_arguments(["--data", "somewhere", "--quick"]).data == tmp_path / "somewhere"


def test_unknown_notebook_is_refused_with_the_choices():
    result = bench("--notebooks", "06_flows", "--quick")
    assert result.returncode == 2
    assert "unknown notebook(s) 06_flows" in result.stderr and "03_conv_vae" in result.stderr


def test_both_pipelines_feed_the_same_images():
    digits = load_images("digits", "train")
    reference = throughput.TorchvisionMNIST(digits)
    in_memory = Batches(digits, batch_size=len(digits), shuffle=False)
    x, labels = next(iter(in_memory))
    for index in (0, 5, len(digits) - 1):
        image, label = reference[index]
        assert torch.equal(image, x[index]) and label == labels[index].item()
    rows = throughput.seconds_per_epoch(
        throughput.notebook_definitions(solution_notebook("03_conv_vae")),
        digits.take(256), torch.device("cpu"), repeats=1)
    assert [row["model"] for row in rows] == ["dense", "conv"]
    assert all(row["in memory s"] > 0 and row["reference s"] > 0 for row in rows)
    assert all(math.isclose(row["speed-up"], row["reference s"] / row["in memory s"]) for row in rows)


def test_thread_counts_are_timed_idle_and_beside_a_busy_core():
    definitions = throughput.notebook_definitions(solution_notebook("03_conv_vae"))
    before = torch.get_num_threads()
    rows = throughput.seconds_per_epoch_by_threads(definitions, load_images("digits", "train").take(256), repeats=1)
    assert {(row["busy cores"], row["threads"]) for row in rows} == {(b, t) for b in (0, 1) for t in {1, usable_cpus()}}
    assert all(row["seconds"] > 0 for row in rows) and torch.get_num_threads() == before
    text = section(argparse.Namespace(quick=False, dataset="mnist"), torch.device("cpu"), [], [], "bench", rows)
    assert "| one busy core | 1 | 256 | 1 |" in text and "| none | 1 | 256 | 1 |" in text


def test_notebook_definitions_keep_classes_and_functions_but_run_nothing_else(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("%matplotlib inline\nimport math"),
        nbformat.v4.new_code_cell("def area(r):\n    return math.pi * r ** 2\n\nslow = 1 / 0"),
        nbformat.v4.new_code_cell("class Circle:\n    radius = 2"),
    ])
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, path)
    definitions = throughput.notebook_definitions(path)
    assert definitions["area"](definitions["Circle"].radius) == pytest.approx(4 * math.pi)
    assert "slow" not in definitions


def test_a_failing_notebook_is_reported_not_raised(tmp_path):
    path = tmp_path / "broken.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("raise ValueError('no data')")]), path)
    result = notebooks.execute(path, "fast", timeout=120)
    assert result["seconds"] is None and "ValueError" in result["error"] and "no data" in result["error"]


def test_quality_comes_from_the_student_runs_of_a_full_run():
    def run(mode, nmi):
        return {"notebook": "05_categorical_clustering", "mode": mode, "seconds": 40.0, "peak bytes": 1.0e9,
                "quality": {"Gumbel VAE, capacity": {"nmi": nmi, "nmi spread": 0.01, "accuracy": 0.5,
                                                     "accuracy spread": 0.02, "runs": 3}}, "error": None}

    rows = [{"model": "dense", "images": 100, "epochs": 3, "in memory s": 1.0, "reference s": 1.7, "speed-up": 1.7}]
    text = section(argparse.Namespace(quick=False, dataset="mnist"), torch.device("cpu"), rows,
                   [run("student", 0.671), run("fast", 0.052)], "python -m bench.run")
    assert "| Gumbel VAE, capacity | 3 | 0.671 ± 0.010 | 50.0% ± 2.0% |" in text and "0.052" not in text
    assert "| dense | 100 | 3 | 1.00 | 1.70 | 1.70× | ≥ 1.6×: meets |" in text
    assert re.search(r"\| 05_categorical_clustering \| student \| \d{4}-\d\d-\d\d \| 40.0 s \| 1.00 GB \| – \| "
                     r"≤ 300 s, ≤ 1.5 GB: meets \|", text)


def test_a_rerun_row_gives_its_speed_up_over_the_first_run_and_what_bounds_it_where_it_misses():
    rerun = {"notebook": "03_conv_vae", "mode": "re-run", "seconds": 10.0, "first seconds": 112.0,
             "start-up seconds": 5.0, "loaded": 2, "peak bytes": 0.8e9, "quality": None, "error": None}
    slow = {**rerun, "notebook": "04_conditional_vae", "seconds": 40.0}
    at_its_start_up = {**rerun, "notebook": "05_beta_vae", "seconds": 9.0, "first seconds": 27.0}
    trains_nothing = {**rerun, "notebook": "01_elbo", "seconds": 8.0, "first seconds": 8.0, "loaded": 0}
    text = section(argparse.Namespace(quick=False, dataset="mnist"), torch.device("cpu"), [],
                   [notebook_run("03_conv_vae", 112.0, None), rerun, slow, at_its_start_up, trains_nothing],
                   "python -m bench.run")
    assert re.search(r"\| 03_conv_vae \| re-run \| \d{4}-\d\d-\d\d \| 10.0 s \| 0.80 GB \| – \| 11.2× faster than its first "
                     r"run \(2 results loaded\), target ≥ 5×: meets \|", text)
    assert ("| 04_conditional_vae | re-run |" in text
            and "2.8× faster than its first run (2 results loaded), target ≥ 5×: **misses** (its start-up alone, "
                "kernel, imports and data, took 5.0 s: at most 22.4× is reachable) |" in text)
    assert "3.0× faster than its first run (2 results loaded), target ≥ 5×: **misses** (its start-up alone, " \
           "kernel, imports and data, took 5.0 s: at most 5.4× is reachable) |" in text
    assert "1.0× faster than its first run (0 results loaded), target ≥ 5×: **misses** (it trains nothing to keep) |" \
        in text
    assert text.index("03_conv_vae | student") < text.index("03_conv_vae | re-run")


def test_the_memory_budget_counts_allocated_memory_not_the_libraries_files_mapped_in():
    """Resident memory counts shared libraries' file pages, which the OS shares and drops under pressure."""
    mapped = {**notebook_run("09_vq_vae", 200.0, None), "peak bytes": 1.6e9, "peak allocated bytes": 1.1e9}
    allocated = {**mapped, "notebook": "08_semi_supervised", "peak bytes": 1.7e9, "peak allocated bytes": 1.55e9}
    text = section(argparse.Namespace(quick=False, dataset="mnist"), torch.device("cpu"), [], [mapped, allocated],
                   "python -m bench.run")
    assert re.search(r"\| 09_vq_vae \| student \| [\d-]+ \| 200.0 s \| 1.60 GB \| 1.10 GB \| ≤ 300 s, ≤ 1.5 GB: meets \|",
                     text)
    assert re.search(r"\| 08_semi_supervised \| student \| .* \| 1.55 GB \| ≤ 300 s, ≤ 1.5 GB: \*\*misses\*\* \|", text)


def test_a_run_reports_the_allocated_peak_of_what_the_notebook_holds(tmp_path):
    path = tmp_path / "holds.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import time\nheld = bytearray(300_000_000)\nheld[::4096] = b'x' * len(held[::4096])\ntime.sleep(0.1)\n"
        "del held")]), path)
    result = notebooks.execute(path, "fast", timeout=120)
    assert result["error"] is None
    assert 0.3e9 <= result["peak allocated bytes"] <= result["peak bytes"], result
    assert [index for _, index in result["slowest cells"]] == [0], "the one cell, numbered as in the notebook"
    assert result["slowest cells"][0][0] >= 0.1


def test_a_notebook_run_trains_anew_and_its_rerun_loads_what_it_trained(tmp_path):
    """bench.notebooks.execute keeps what a run trained in the folder it is given (none by default, so a
    measured first run never loads a student's cache), and a run with the same folder loads it."""
    path, trained = tmp_path / "tiny.ipynb", tmp_path / "trained"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        f"import torch\nfrom vae_helpers import remembered, seed_everything\n\nseed_everything(0)\n\n@remembered\n"
        f"def fitted():\n"
        f"    open({str(trained)!r}, 'a').write('once ')\n    return torch.ones(2)\n\nfitted()"),
        nbformat.v4.new_code_cell("import time\ntime.sleep(0.5)")]
    nbformat.write(notebook, path)
    cache = tmp_path / "cache"
    for _ in range(2):
        assert notebooks.execute(path, "fast", timeout=120)["error"] is None and not cache.exists()
    assert trained.read_text() == "once once "
    runs = [notebooks.execute(path, "fast", timeout=120, cache=cache) for _ in range(2)]
    assert [run["error"] for run in runs] == [None, None]
    assert trained.read_text() == "once once once ", "the run with the same cache trained again"
    assert [run["loaded"] for run in runs] == [0, 1], "the re-run counts the one result it loaded"
    assert 0 < runs[1]["start-up seconds"] <= runs[1]["seconds"] - 0.5, "the start-up ends with the first code cell"


def notebook_run(notebook, seconds, quality):
    return {"notebook": notebook, "mode": "student", "seconds": seconds, "peak bytes": 1.0e9, "quality": quality,
            "error": None}


BETA_QUALITY = {0.5: {"rate": 19.8, "distortion": 239.6, "active": 10, "class information": 3.96,
                      "largest class information": 0.58}}
SEMI_QUALITY = {"accuracies": {"M2 on the codes": [0.742, 0.747, 0.735]}, "test images": 10000}


def test_a_run_of_some_notebooks_replaces_their_rows_and_keeps_the_rest_of_the_section():
    every = argparse.Namespace(quick=False, dataset="mnist", every_notebook=True)
    throughput_rows = [{"model": "dense", "images": 100, "epochs": 3, "in memory s": 1.0, "reference s": 1.7, "speed-up": 1.7}]
    previous = section(every, torch.device("cpu"), throughput_rows,
                       [notebook_run("05_beta_vae", 41.1, BETA_QUALITY), notebook_run("08_semi_supervised", 186.1, SEMI_QUALITY)],
                       "python -m bench.run", [{"busy cores": 0, "threads": 2, "images": 100, "epochs": 3, "seconds": 0.79}],
                       loop_rows=[{"model": "conv", "images": 100, "epochs": 3, "default s": 2.0, "course s": 1.6,
                                   "speed-up": 1.25, "settings": {"fused": True, "channels_last": True}}],
                       profiles=[{"model": "dense", "images": 100, "wall s": 1.0,
                                  "seconds": {"matrix products": 0.6, "outside any operator": 0.4}}])
    some = argparse.Namespace(quick=False, dataset="mnist", every_notebook=False, notebooks=["08_semi_supervised"])
    again = dict(SEMI_QUALITY, accuracies={"M2 on the codes": [0.8, 0.8, 0.8]})
    text = section(some, torch.device("cpu"), [], [notebook_run("08_semi_supervised", 200.0, again)],
                   "python -m bench.run --notebooks 08_semi_supervised", previous=previous)
    assert "| dense | 100 | 3 | 1.00 | 1.70 | 1.70× |" in text and NOT_MEASURED not in text  # throughput kept
    assert "| conv | 100 | 3 | 2.00 | fused Adam, channels-last | 1.60 | 1.25× |" in text  # and the loop's table
    assert "| matrix products | 0.60 | 60 % |" in text  # and the profile
    assert "| 05_beta_vae | student |" in text and "| β = 0.5 | 19.8 | 239.6 |" in text  # the other notebook kept
    assert "200.0 s" in text and "186.1 s" not in text  # its own row replaced ...
    assert "80.0% ± 0.0%" in text and "74.2%" not in text  # ... and its quality
    assert text.index("05_beta_vae | student") < text.index("08_semi_supervised | student")
    assert text.count("<!-- quality ") == 2
    # a second partial run keeps what the first one measured
    assert section(argparse.Namespace(**dict(vars(some), notebooks=["05_beta_vae"])), torch.device("cpu"), [],
                   [notebook_run("05_beta_vae", 40.0, BETA_QUALITY)], "bench", previous=text).count("80.0% ± 0.0%") == 1


def test_a_run_of_some_notebooks_on_another_machine_is_refused():
    some = argparse.Namespace(quick=False, dataset="mnist", every_notebook=False, notebooks=["05_beta_vae"])
    previous = section(argparse.Namespace(quick=False, dataset="mnist"), torch.device("cpu"), [], [], "bench")
    elsewhere = previous.replace(machine(torch.device("cpu")), "Another CPU, 64 cores; PyTorch 2.0")
    with pytest.raises(BenchError, match="another machine or PyTorch .*Another CPU.*leave out --notebooks"):
        section(some, torch.device("cpu"), [], [notebook_run("05_beta_vae", 40.0, BETA_QUALITY)], "bench",
                previous=elsewhere)


def student_run_section(notebook, quality, dataset):
    """The BENCHMARKS.md section of one student-mode run of ``notebook`` that reported ``quality``."""
    run = {"notebook": notebook, "mode": "student", "seconds": 120.0, "peak bytes": 1.0e9, "quality": quality,
           "error": None}
    return section(argparse.Namespace(quick=False, dataset=dataset), torch.device("cpu"), [], [run], "bench")


def test_notebook_06_reports_collapse_gaps_and_the_split_of_the_rate():
    quality = {"collapse": {"no warm-up": {"active units": 14, "rate": 8.0, "distortion": 245.7, "loss": 253.7,
                                           "active units by seed": [14, 17, 12]},
                            "free bits": {"active units": 32, "rate": 16.8, "distortion": 101.6, "loss": 118.4}},
               "gaps": {"amortised ELBO": -235.1, "refined ELBO": -232.1, "L_1000": -230.4},
               "2-D": {"rate": 6.15, "marginal KL": 0.75, "in holes": 0.23}}
    text = student_run_section("06_collapse_and_inference", quality, "fashion-mnist")
    assert "| no warm-up | 14 | 14, 17, 12 | 8.0 | 245.7 | 253.7 |" in text
    assert "| free bits | 32 | – | 16.8 | 101.6 | 118.4 |" in text  # one seed: no spread to show
    assert "| L_1000 | amortisation gap, at least | L_1000 − refined ELBO |" in text
    assert "| nats per image | -235.10 | -232.10 | -230.40 | 3.00 | 1.70 |" in text
    assert "| β = 1 | 6.15 | 5.40 | 0.75 | 23% |" in text
    assert "log p(x), quadrature" not in text  # a run from before the quadrature: no row for it


def test_notebook_06_reports_log_p_x_of_its_2d_vae_by_quadrature():
    quality = {"collapse": {}, "gaps": {"amortised ELBO": -235.1, "refined ELBO": -232.1, "L_1000": -230.4},
               "2-D": {"rate": 6.15, "marginal KL": 0.75, "in holes": 0.23},
               "2-D log p(x)": {"ELBO": -260.5, "L_1000": -259.2, "log p(x)": -258.9, "halving moves, mean": 4e-05,
                                "halving moves, largest": 0.0031, "edge mass, largest": 1e-6,
                                "L_1000 above log p(x), share of images": 0.15},
               "β = 1 active units": [21, 32]}
    text = student_run_section("06_collapse_and_inference", quality, "fashion-mnist")
    assert "| ELBO, encoder's q | L_1000, encoder's q | log p(x), quadrature | log p(x) − ELBO | log p(x) − L_1000 |" in text
    assert "| β = 1 | -260.50 | -259.20 | -258.90 | 1.60 | 0.300 | 0.00004 / 0.0031 | 15% |" in text
    assert "| 32 latent dimensions | 21 |" in text


def test_notebook_02_reports_its_gaussian_decoders_apart_from_the_likelihoods():
    quality = {"likelihood": {"dense": {"test -ELBO": 242.1, "test -log p(x)": 238.9, "seconds per epoch": 4.2}},
               "gaussian": {"s = 0.1": {"s min": 0.1, "s median": 0.1, "KL": 58.9, "squared error": 12.02,
                                        "-log p(x|z)": -484.2}}}
    text = student_run_section("02_dense_vae", quality, "fashion-mnist")
    assert "| dense (notebook 02) | 4.20 | 242.10 | 238.90 |" in text and "gaussian (notebook 02)" not in text
    assert "| s = 0.1 | 0.1000, 0.100 | 58.9 | 12.02 | -484 |" in text
    assert "−log p(x\\|z)" in text  # a pipe inside a table cell is escaped


def test_quality_reads_only_what_the_notebooks_define():
    """The report cell reads notebook variables and result keys: renaming one in a notebook fails here,
    not first in a full benchmark run."""
    from IPython.core.inputtransformer2 import TransformerManager

    for name, expression in notebooks.QUALITY.items():
        cells = json.loads(solution_notebook(name).read_text())["cells"]
        code = ast.parse("\n".join(TransformerManager().transform_cell("".join(cell["source"]))
                                   for cell in cells if cell["cell_type"] == "code"))
        defined = {node.id for node in ast.walk(code) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
        strings = {node.value for node in ast.walk(code) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
        read = ast.parse(expression, mode="eval")
        targets = [loop.target for loop in ast.walk(read) if isinstance(loop, ast.comprehension)]
        local = {node.id for target in targets for node in ast.walk(target) if isinstance(node, ast.Name)}
        names = {node.id for node in ast.walk(read) if isinstance(node, ast.Name)} - local - set(dir(builtins))
        keys = {node.slice.value for node in ast.walk(read)
                if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)}
        assert names <= defined, f"{name}: QUALITY reads {sorted(names - defined)}, which the notebook never assigns"
        assert keys <= strings, f"{name}: QUALITY reads the keys {sorted(keys - strings)}, which the notebook never uses"


def test_grading_bench_builds_a_class_of_solutions_untouched_notebooks_and_each_planted_mistake(tmp_path):
    from bench import grading

    course = grading.new_course(tmp_path / "course", ["02_dense_vae"])
    grading.enrol(course, "02_dense_vae", 7)
    assert sorted(p.name for p in (course / "hidden_tests").glob("*.py")) == sorted(
        p.name for p in (REPO / "hidden_tests").glob("*.py"))  # autograde needs them beside solutions/
    submitted = sorted(p.name for p in (course / "nbgrader_work" / "submitted").iterdir())
    assert submitted == ["mistaken-002", "mistaken-005", "solution-000", "solution-003", "solution-006",
                         "untouched-001", "untouched-004"]
    solution = json.loads(solution_notebook("02_dense_vae").read_text())
    mistakes = grading.planted_mistakes("02_dense_vae")
    assert len(mistakes) >= 2
    for student, (cell_id, correct, mistaken) in zip(("mistaken-002", "mistaken-005"), mistakes):
        cells = json.loads((course / "nbgrader_work" / "submitted" / student / "02_dense_vae" / "02_dense_vae.ipynb")
                           .read_text())["cells"]
        changed = [(new["metadata"]["nbgrader"]["grade_id"], "".join(new["source"])) for new, old in
                   zip(cells, solution["cells"]) if "".join(new["source"]) != "".join(old["source"])]
        assert len(changed) == 1 and changed[0][0] == cell_id and mistaken in changed[0][1] and correct not in changed[0][1]


def test_grading_bench_reports_speed_up_sandbox_cost_and_projection_against_their_targets():
    from bench.grading import section

    timing = {"kernel start": 2.0, "cells": 6.0, "judging": 1.5, "judging CPU": 0.5,
              "judging by cell": {"test_a": 0.2, "test_b": 1.0, "test_c": 0.3, "test_d": 0.0}}
    figures = {"serial": 400.0, "parallel": 250.0, "agree": True, "with_sandbox": [11.0, 10.6],
               "without_sandbox": [10.0, 10.0], "timings": [timing, {**timing, "judging": 2.5}, timing],
               "per_assignment": {"01_elbo": 20.0, "02_dense_vae": 10.0}}
    text = section(figures, "02_dense_vae", 40, 2, "python -m bench.grading")
    assert "| `python -m grading autograde` | 2 | 250 | 6.2 | 1.600× | ≥ 1.8× NOT met |" in text
    assert "Scores identical in the two gradebooks: **yes**" in text
    assert "median cost **+8%** per submission (target ≤ 10%: met)" in text
    # each worker spent 250 × 2 / 40 = 12.5 s per submission: 2 + 6 + 1.5 (the median) and 3 s of nbgrader's own
    assert ("medians over the parallel run's 3 submissions, each worker's 12.5 s per submission in all): starting its "
            "kernel 2.0 s, the student's cells 6.0 s, judging the hidden tests 1.5 s (of it 0.5 s of the grading "
            "process's CPU), and the rest, nbgrader's own work") in text and "gradebook), 3.0 s." in text
    assert "The longest judged cells: test_b 1.0 s, test_c 0.3 s, test_a 0.2 s." in text
    assert "Judging costs **+14%** beside the rest of a submission's grading (target ≤ 10%: NOT met)" in text
    # 200 students × (20 + 10) s = 100 min serially; at 0.8 efficiency per worker, 100 / 1.6 and 100 / 12.8 min
    assert "1.7 h serially; 1.0 h with 2 workers on 2 cores; 8 min with 16 workers on 16 cores" in text


def test_notebook_08_reports_each_classifier_over_the_draws_of_the_labels():
    quality = {"accuracies": {"M2 on the codes": [0.91, 0.93, 0.92], "M2 without U": [0.85, 0.87, 0.86],
                              "labels alone, pixels": [0.8, 0.82, 0.81]},
               "test images": 2000}
    text = student_run_section("08_semi_supervised", quality, "mnist-test")
    assert "| semi-supervised (notebook 08, 100 labels, 2,000 test images) |" in text
    assert "| M2 on the codes | 3 | 92.0% ± 0.8% | 91.0%, 93.0%, 92.0% |" in text
    assert "| M2 without U | 3 | 86.0% ± 0.8% | 85.0%, 87.0%, 86.0% |" in text  # the control: M2's training without U
    assert "| labels alone, pixels | 3 | 81.0% ± 0.8% | 80.0%, 82.0%, 81.0% |" in text


def test_notebook_07_reports_the_gaps_and_each_prior_against_the_holes_target():
    prior = {"test ELBO": -269.1, "rate": 6.2, "distortion": 262.9, "KL(q(z) || p(z))": 0.77, "in holes": 0.205}
    quality = {"mean field": {"mean field": 0.4789, "marginals": 1.127}, "flows on the toy": {"0": 0.4819, "1": 0.0046},
               "2-D posteriors": {"encoder's q": {"ELBO": -258.31, "L_1000": -256.93}}, "images fitted": 100,
               "priors": {"N(0, I)": prior, "mixture": {**prior, "in holes": 0.068},
                          "VampPrior": {**prior, "in holes": 0.002}}}
    text = student_run_section("07_richer_posteriors_and_priors", quality, "fashion-mnist")
    assert "| mean field, the best diagonal q (exact) | 0.479 |" in text
    assert "| mean field + 1 planar flow(s), fitted (200,000 draws) | 0.0046 |" in text
    assert "| posteriors of the first 100 test images, 2-D VAE with N(0, I), decoder frozen" in text
    assert "| encoder's q | -258.31 | -256.93 | 1.38 |" in text
    assert "by quadrature" not in text  # a run from before the quadrature: no table for it
    assert "| N(0, I) | -269.10 | 6.20 | 262.90 | 0.77 | 20.5% | – |" in text
    assert "| mixture | -269.10 | 6.20 | 262.90 | 0.77 | 6.8% | misses |" in text
    assert "| VampPrior | -269.10 | 6.20 | 262.90 | 0.77 | 0.2% | meets |" in text


def test_notebook_07_measures_each_posterior_against_log_p_x_by_quadrature():
    posteriors = {"encoder's q": {"ELBO": -258.0, "L_1000": -256.7, "gap": 2.0, "L_1000 short": 0.7},
                  "best diagonal q": {"ELBO": -256.5, "L_1000": -256.1, "gap": 0.5, "L_1000 short": 0.1}}
    quality = {"mean field": {"mean field": 0.4789, "marginals": 1.127}, "flows on the toy": {"0": 0.4819},
               "2-D posteriors": posteriors, "images fitted": 100, "priors": {},
               "2-D log p(x)": {"log p(x)": -256.0, "halving moves, mean": 2e-05, "halving moves, largest": 0.002}}
    text = student_run_section("07_richer_posteriors_and_priors", quality, "fashion-mnist")
    assert "against log p(x) = -256.00 nats by quadrature (halving the grid's spacing moves it by 0.00002" in text
    assert "| encoder's q | 2.000 | 0.0% | 0.700 |" in text
    assert "| best diagonal q | 0.500 | 75.0% | 0.100 |" in text


def test_notebook_07_splits_each_decoder_s_gap_into_approximation_and_amortisation():
    posteriors = {"encoder's q": {"ELBO": -258.0, "L_1000": -256.7, "gap": 2.0, "L_1000 short": 0.7},
                  "best diagonal q": {"ELBO": -256.5, "L_1000": -256.1, "gap": 0.5, "L_1000 short": 0.1},
                  "diagonal q and 4 planar flows": {"ELBO": -256.4, "L_1000": -256.1, "gap": 0.4, "L_1000 short": 0.1}}
    flows = {"encoder's q, with its 4 flows": {"ELBO": -257.0, "L_1000": -255.9, "gap": 1.5, "L_1000 short": 0.4},
             "best diagonal q": {"ELBO": -256.3, "L_1000": -255.6, "gap": 0.8, "L_1000 short": 0.1},
             "diagonal q and 4 planar flows": {"ELBO": -255.7, "L_1000": -255.5, "gap": 0.2, "L_1000 short": 0.0}}
    exact = {"halving moves, mean": 2e-05, "halving moves, largest": 0.002}
    quality = {"mean field": {"mean field": 0.4789, "marginals": 1.127}, "flows on the toy": {"0": 0.4819},
               "2-D posteriors": posteriors, "images fitted": 100, "priors": {},
               "2-D log p(x)": {"log p(x)": -256.0, **exact},
               "2-D, amortised flows": flows, "2-D, amortised flows, log p(x)": {"log p(x)": -255.5, **exact}}
    text = student_run_section("07_richer_posteriors_and_priors", quality, "fashion-mnist")
    assert "trained with 4 amortised planar flows, decoder frozen, against its log p(x) = -255.50 nats" in text
    assert "| encoder's q, with its 4 flows | -257.00 | -255.90 | 1.500 | 0.400 |" in text
    assert "| trained with a diagonal q | -256.00 | 0.500 | 1.500 | 0.500 |" in text
    assert "| trained with a diagonal q and 4 amortised planar flows | -255.50 | 0.200 | 1.300 | 0.800 |" in text
    del quality["2-D, amortised flows"], quality["2-D, amortised flows, log p(x)"]
    assert "amortised" not in student_run_section("07_richer_posteriors_and_priors", quality, "fashion-mnist")


def test_notebook_09_reports_the_codebook_use_and_the_bound_beside_the_dense_vae():
    vq = {"-log p(x|z)": 163.14, "rate": 131.14, "bound": 294.28, "bound, uniform prior": 366.9}
    quality = {"models": {"dense VAE (02), -ELBO": {"-log p(x|z)": 225.0, "rate": 25.0, "bound": 250.0},
                          "VQ-VAE, no restarts": {**vq, "codes in use": 0.0625, "perplexity": 3.95},
                          "VQ-VAE, restarts": {**vq, "codes in use": 1.0, "perplexity": 46.3}},
               "usage by epoch": {"no restarts": {"codes in use": [0.047, 0.0625]},
                                  "restarts": {"codes in use": [1.0, 1.0]}}}
    text = student_run_section("09_vq_vae", quality, "fashion-mnist")
    assert "| dense VAE (02), -ELBO | – | – | 225.0 | 25.0 | 250.0 | – | – |" in text
    assert "| VQ-VAE, no restarts | 5%, 6% | 4.0 | 163.1 | 131.1 | 294.3 | 366.9 | misses |" in text
    assert "| VQ-VAE, restarts | 100%, 100% | 46.3 | 163.1 | 131.1 | 294.3 | 366.9 | meets |" in text
    assert "binarisation's own entropy" not in text  # a run from before the floor was reported
    text = student_run_section("09_vq_vae", dict(quality, **{"binarisation entropy": 189.94}), "fashion-mnist")
    assert "codes computed from the grey image | 189.9 |" in text


def test_a_colour_dataset_measures_the_colour_notebooks_alone_and_a_grey_one_the_others():
    from bench.run import COLOUR, available_notebooks, default_dataset, notebooks_for

    colour = notebooks_for("photographs")
    assert colour == ["10_colour_images"] and notebooks_for("cifar10") == colour
    assert sorted(notebooks_for("fashion-mnist") + colour) == available_notebooks()
    assert default_dataset("10_colour_images") in COLOUR and default_dataset("02_dense_vae") == "mnist"
    args = parse_arguments(["--dataset", "photographs", "--quick"])
    assert args.notebooks == colour and args.every_notebook
    quality = {"models": {"discretised logistic": {"test -ELBO": 14919.8, "KL": 109.0, "training bits/dim": 6.568,
                                                   "test bits/dim": 7.007},
                          "Bernoulli, made a distribution over the levels": {
                              "test -ELBO": 15533.6, "KL": 27.6, "training bits/dim": float("nan"), "test bits/dim": 7.295}},
               "epochs": 5, "training images": 10_000, "dataset": "photograph patches (32x32)"}
    run = {"notebook": "10_colour_images", "mode": "student", "seconds": 160.0, "peak bytes": 1e9, "quality": quality,
           "error": None}
    text = section(argparse.Namespace(quick=False, dataset="photographs", every_notebook=True), torch.device("cpu"),
                   [], [run], "python -m bench.run --dataset photographs")
    assert "measured on the grey datasets" in text and "| model | images |" not in text
    assert "| discretised logistic | 14919.8 | 109.0 | 6.568 | 7.007 |" in text
    assert "| Bernoulli, made a distribution over the levels | 15533.6 | 27.6 | – | 7.295 |" in text
    assert "NVAE 2.91" in text and "IAF-VAE 3.11" in text


def test_the_loop_is_timed_against_its_matrix_products_and_pytorchs_defaults():
    definitions = throughput.notebook_definitions(solution_notebook("03_conv_vae"))
    rows = throughput.loop_against_its_limit(definitions, load_images("digits", "train").take(512),
                                             torch.device("cpu"), repeats=1)
    dense, conv = rows
    assert (dense["model"], conv["model"]) == ("dense", "conv") and "limit s" not in conv
    assert dense["limit s"] > 0 and dense["course s"] > 0  # which is faster on 512 images is timing, not a test
    assert math.isclose(dense["of the limit"], dense["limit s"] / dense["course s"])
    assert all(math.isclose(row["speed-up"], row["default s"] / row["course s"]) for row in rows)
    text = "\n".join(loop_table(rows))
    assert "| dense | 512 | 1 |" in text and "fused Adam, channels-last" in text and "share ≥ 0.65" in text


def test_an_epochs_profile_puts_each_models_own_layers_in_their_categories_and_accounts_for_the_whole_epoch():
    definitions = throughput.notebook_definitions(solution_notebook("03_conv_vae"))
    images = load_images("digits", "train").take(512)
    dense, conv = (throughput.epoch_profile(definitions, images, label, torch.device("cpu")) for label in ("dense", "conv"))
    for profile in (dense, conv):
        assert sum(profile["seconds"].values()) >= profile["wall s"] * (1 - 1e-9), "every second is in a category"
        assert profile["seconds"]["matrix products"] > 0 and profile["seconds"]["the optimizer's update"] > 0
    assert dense["seconds"]["convolutions"] == dense["seconds"]["batch normalisation"] == 0, "the dense VAE has neither"
    assert conv["seconds"]["convolutions"] > 0 and conv["seconds"]["batch normalisation"] > 0
    text = "\n".join(profile_table([dense, conv]))
    assert "| where the time goes | dense VAE, s | share | conv VAE, s | share |" in text
    assert "| the whole epoch |" in text and "| convolutions | 0.00 | 0 % |" in text


def test_the_limit_counts_each_linear_layers_three_products_but_the_first_layers_input_gradient(monkeypatch):
    counted, real_mm = [], torch.mm

    def counting(a, b):
        counted.append((tuple(a.shape), tuple(b.shape)))
        return real_mm(a, b)

    model = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    monkeypatch.setattr(torch, "mm", counting)
    throughput.matrix_product_seconds(model, images=5, batch_size=2, device=torch.device("cpu"))

    def products(n):  # a batch of n: each layer's forward and weight gradient; the input gradient past the first
        return [((n, 6), (6, 4)), ((4, n), (n, 6)), ((n, 4), (4, 3)), ((3, n), (n, 4)), ((n, 3), (3, 4))]
    assert counted == products(2) + products(2) + products(1)


def test_every_model_the_notebooks_train_uses_the_settings_the_benchmark_times():
    """The loop benchmark times ``COURSE_SETTINGS``; a notebook that trains otherwise would not be what it measured.
    Optimizers of a student's answer (Adam over a list of tensors) are the student's to choose."""
    from IPython.core.inputtransformer2 import TransformerManager
    to_python = TransformerManager().transform_cell
    unfused = []
    for path in sorted((REPO / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            for node in ast.walk(ast.parse(to_python(cell.source))):
                if (isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.optim.Adam"
                        and not isinstance(node.args[0], ast.List)
                        and not any(k.arg == "fused" and ast.unparse(k.value) == "True" for k in node.keywords)):
                    unfused.append(f"{path.stem}: {ast.unparse(node)}")
    assert not unfused, "not the fused Adam: " + "; ".join(unfused)
    conv_training = "".join(cell.source for cell in nbformat.read(solution_notebook("03_conv_vae"), as_version=4).cells)
    assert throughput.COURSE_SETTINGS["conv"]["channels_last"] == ("memory_format=torch.channels_last" in conv_training)

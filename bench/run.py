"""Benchmark the course: training throughput, notebook run time and memory, model quality.

    python -m bench.run --dataset fashion-mnist          # full run, updates BENCHMARKS.md
    python -m bench.run --dataset digits --quick         # under 3 minutes, prints only

One run prints its figures as Markdown tables and, unless ``--quick``, writes them into
BENCHMARKS.md as one section per device and dataset; sections from other runs are kept, and a run
of some notebooks (``--notebooks``) keeps the rest of its own section.
The device is the one the course picks (``VAE_COURSE_DEVICE`` forces one), so the same
command measures a GPU where there is one.
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import shlex
import statistics
import sys
import tempfile
from pathlib import Path

import torch

from bench import notebooks, throughput
from vae_helpers import get_device, load_images
from vae_helpers.data import DATA_VARIABLE, DATASET_VARIABLE, DatasetNotFoundError, data_dir

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"
DATASETS = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST",
            "mnist-test": "MNIST-test (the 10,000 test images as training and test set)",
            "digits": "scikit-learn digits",
            "photographs": "photograph patches (scikit-learn's and matplotlib's photographs, 32 × 32)",
            "cifar10": "CIFAR-10"}
COLOUR = ("photographs", "cifar10")  # measured with the notebooks of colour images only, and they only with these
MNIST_TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
STUDENT_SECONDS, STUDENT_BYTES, FAST_SECONDS = 300, 1.5e9, 60
RERUN_SPEED_UP = 5  # a re-run after a restart, which loads what the first run trained, at least this much faster
SPEED_UP_TARGETS = {"cpu": {"dense": 1.6, "conv": 1.0}, "cuda": {"dense": 5.0, "conv": 1.0}}
OF_THE_LIMIT = 0.65  # the dense epoch's share of its matrix products' time alone: the loop's own overhead bounded
CONV_LOOP_SPEED_UP = 2.0  # the convolutional epoch with the notebooks' settings against PyTorch's defaults
QUICK_THROUGHPUT_IMAGES = 10_000


def solution_notebook(name: str) -> Path:
    """The source notebook of an assignment: ``solutions/<name>/<name>.ipynb``."""
    return SOLUTIONS / name / f"{name}.ipynb"


def available_notebooks() -> list[str]:
    """The assignments that have a solution notebook, in the course's order."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if solution_notebook(p.name).is_file())


def default_dataset(name: str) -> str | None:
    """The dataset a notebook loads by default: its line ``DATASET = "..."``, or None."""
    cells = json.loads(solution_notebook(name).read_text())["cells"]
    source = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    match = re.search(r'^DATASET = "([\w-]+)"', source, re.MULTILINE)
    return match.group(1) if match else None


def notebooks_for(dataset: str) -> list[str]:
    """The notebooks a run on ``dataset`` measures: those of colour images on a colour dataset, the others else."""
    return [name for name in available_notebooks() if (default_dataset(name) in COLOUR) == (dataset in COLOUR)]


def dataset_environment(dataset: str, data: Path, workdir: Path) -> dict:
    """The course variables that make every notebook and helper load ``dataset``.

    ``mnist-test`` trains and scores on the MNIST test set: a folder in ``workdir`` whose
    training files are links to the test files found in ``data``/MNIST/raw.
    """
    if dataset != "mnist-test":
        return {DATASET_VARIABLE: dataset, DATA_VARIABLE: str(data)}
    source = data / "MNIST" / "raw"
    raw = workdir / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for test_name in MNIST_TEST_FILES:
        found = next((source / f"{test_name}{suffix}" for suffix in ("", ".gz")
                      if (source / f"{test_name}{suffix}").is_file()), None)
        if found is None:
            raise DatasetNotFoundError(
                f"--dataset mnist-test needs {test_name}[.gz] in {source}. Put the MNIST test files there, "
                f"or pass --data with a folder that holds MNIST/raw/ with them.")
        suffix = found.name[len(test_name):]
        for split_name in (test_name, test_name.replace("t10k", "train")):
            (raw / f"{split_name}{suffix}").symlink_to(found.resolve())
    return {DATASET_VARIABLE: "mnist", DATA_VARIABLE: str(workdir)}


def machine(device: torch.device) -> str:
    """CPU model and cores, GPU if used, PyTorch version."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        cpu = match.group(1).strip() if match else cpu
    described = f"{cpu}, {os.cpu_count()} cores ({torch.get_num_threads()} PyTorch threads)"
    if device.type == "cuda":
        described += f", GPU {torch.cuda.get_device_name(device)}"
    return f"{described}; PyTorch {torch.__version__}, Python {platform.python_version()}"


def _verdict(met: bool) -> str:
    return "meets" if met else "**misses**"


NOT_MEASURED = "Not measured: the run measured only the notebooks it named (`--notebooks`)."


def throughput_table(rows: list[dict], device: torch.device) -> list[str]:
    if not rows:
        return [NOT_MEASURED]
    targets = SPEED_UP_TARGETS.get(device.type, SPEED_UP_TARGETS["cpu"])
    lines = ["| model | images | timed epochs | in memory, s/epoch | DataLoader + ToTensor, s/epoch | speed-up | target |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for row in rows:
        target = targets[row["model"]]
        wanted = f"≥ {target:g}×" if target > 1 else "> 1×"
        met = row["speed-up"] >= target if target > 1 else row["speed-up"] > 1
        lines.append(f"| {row['model']} | {row['images']:,} | {row['epochs']} | {row['in memory s']:.2f} | "
                     f"{row['reference s']:.2f} | {row['speed-up']:.2f}× | {wanted}: {_verdict(met)} |")
    return lines


THREADS_IMAGES = 10_000  # images per epoch when comparing thread counts (a loaded epoch can take minutes)
PROFILED_IMAGES = 10_000  # an epoch of this many under the profiler, for each model


def threads_table(rows: list[dict], device: torch.device) -> list[str]:
    if device.type != "cpu":
        return ["Not measured on this device (PyTorch's CPU threads only)."]
    if not rows:
        return [NOT_MEASURED]
    lines = ["| other processes | PyTorch threads | images | timed epochs | dense VAE, s/epoch |",
             "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {'one busy core' if row['busy cores'] else 'none'} | {row['threads']} | {row['images']:,} | "
              f"{row['epochs']} | {row['seconds']:.2f} |" for row in rows]
    return lines


def _settings(settings: dict) -> str:
    chosen = ["fused Adam" if settings["fused"] else "default Adam"]
    return ", ".join(chosen + (["channels-last"] if settings["channels_last"] else []))


def loop_table(rows: list[dict]) -> list[str]:
    if not rows:
        return [NOT_MEASURED]
    lines = ["| model | images | timed epochs | default Adam, s/epoch | notebooks' settings | s/epoch | speed-up | "
             "matrix products alone, s | share of the limit | target |",
             "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |"]
    for row in rows:
        if "limit s" in row:
            limit, share = f"{row['limit s']:.2f}", f"{row['of the limit']:.2f}"
            target = f"share ≥ {OF_THE_LIMIT:g}: {_verdict(row['of the limit'] >= OF_THE_LIMIT)}"
        else:
            limit, share = "", ""
            target = f"≥ {CONV_LOOP_SPEED_UP:g}×: {_verdict(row['speed-up'] >= CONV_LOOP_SPEED_UP)}"
        lines.append(f"| {row['model']} | {row['images']:,} | {row['epochs']} | {row['default s']:.2f} | "
                     f"{_settings(row['settings'])} | {row['course s']:.2f} | {row['speed-up']:.2f}× | {limit} | "
                     f"{share} | {target} |")
    return lines


def profile_table(profiles: list[dict]) -> list[str]:
    """Each profiled epoch's seconds by category, with its share of the epoch, one column per model."""
    if not profiles:
        return [NOT_MEASURED]
    lines = ["| where the time goes | " + " | ".join(f"{p['model']} VAE, s | share" for p in profiles) + " |",
             "| --- |" + " ---: | ---: |" * len(profiles),
             "| the whole epoch | " + " | ".join(f"{p['wall s']:.2f} | 100 %" for p in profiles) + " |"]
    for category in profiles[0]["seconds"]:
        lines.append(f"| {category} | " + " | ".join(
            f"{p['seconds'][category]:.2f} | {p['seconds'][category] / p['wall s']:.0%}".replace("%", " %")
            for p in profiles) + " |")
    images = ", ".join(f"{p['images']:,} images ({p['model']})" for p in profiles)
    return lines + ["", f"One epoch of each model with the notebooks' settings under PyTorch's profiler ({images}), "
                        "after an unprofiled one; an operator's own time, on the training thread. The profiler slows "
                        "the many short operators most, so the long ones' shares are if anything too small."]


NOTEBOOK_TABLE = ["| notebook | mode | measured | wall time | peak resident | peak allocated | budget |",
                  "| --- | --- | --- | ---: | ---: | ---: | --- |"]


def budgeted_bytes(run: dict) -> float:
    """The memory the budget counts: the allocated peak, or the resident one where the OS does not report it."""
    allocated = run.get("peak allocated bytes")
    return run["peak bytes"] if allocated is None else allocated


def notebook_row(run: dict, date: str) -> str:
    """A notebook run's row of the notebooks table, with the date it was measured."""
    if run["error"]:
        return f"| {run['notebook']} | {run['mode']} | {date} | failed | | | {run['error']} |"
    if run["mode"] == "student":
        met = run["seconds"] <= STUDENT_SECONDS and budgeted_bytes(run) <= STUDENT_BYTES
        budget = f"≤ {STUDENT_SECONDS} s, ≤ {STUDENT_BYTES / 1e9:g} GB: {_verdict(met)}"
    elif run["mode"] == "re-run":
        budget = rerun_verdict(run)
    else:
        budget = f"≤ {FAST_SECONDS} s: {_verdict(run['seconds'] <= FAST_SECONDS)}"
    allocated = run.get("peak allocated bytes")
    return (f"| {run['notebook']} | {run['mode']} | {date} | {run['seconds']:.1f} s | "
            f"{run['peak bytes'] / 1e9:.2f} GB | {'–' if allocated is None else f'{allocated / 1e9:.2f} GB'} | {budget} |")


def rerun_verdict(run: dict) -> str:
    """How much faster a re-run was than its first run, against the target, with what bounds it where it misses:
    its start-up (kernel, imports and data), which no cache skips, or a notebook that keeps nothing it trained."""
    speed_up, startup = run["first seconds"] / run["seconds"], run.get("start-up seconds")
    verdict = (f"{speed_up:.1f}× faster than its first run ({run.get('loaded', 0)} results loaded), "
               f"target ≥ {RERUN_SPEED_UP}×: {_verdict(speed_up >= RERUN_SPEED_UP)}")
    if speed_up >= RERUN_SPEED_UP or startup is None:
        return verdict
    if not run.get("loaded"):
        return f"{verdict} (it trains nothing to keep)"
    return (f"{verdict} (its start-up alone, kernel, imports and data, took {startup:.1f} s: "
            f"at most {run['first seconds'] / startup:.1f}× is reachable)")


def quality_tables(runs: list[dict]) -> list[str]:
    by_notebook = {run["notebook"]: run["quality"] for run in runs if run["quality"]}
    lines = []
    likelihood = {f"{name} (notebook {notebook[:2]})": q for notebook in ("02_dense_vae", "03_conv_vae")
                  for name, q in by_notebook.get(notebook, {}).get("likelihood", {}).items()}
    if likelihood:
        lines += ["| VAE, trained and tested on binarised images | s/epoch (in the notebook) | test −ELBO, nats/image | "
                  "test −log p(x), importance-sampled (k = 100, first 2,000 test images), nats/image |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| {name} | {q['seconds per epoch']:.2f} | {q['test -ELBO']:.2f} | {q['test -log p(x)']:.2f} |"
                  for name, q in likelihood.items()]
        lines.append("")
    gaussian = by_notebook.get("02_dense_vae", {}).get("gaussian")
    if gaussian:
        lines += ["| Gaussian decoder on grey levels (notebook 02, test images) | s: smallest, median | KL, nats | "
                  "squared error | −log p(x\\|z), nats (a density) |", "| --- | ---: | ---: | ---: | ---: |"]
        lines += [f"| {name} | {r['s min']:.4f}, {r['s median']:.3f} | {r['KL']:.1f} | {r['squared error']:.2f} | "
                  f"{r['-log p(x|z)']:.0f} |" for name, r in gaussian.items()]
        lines.append("")
    if "04_conditional_vae" in by_notebook:
        lines += ["| conditional VAE (notebook 04, test images, grey levels) | reconstruction, nats/image | "
                  "KL, nats/image | class read from z |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| {name} | {q['reconstruction']:.1f} | {q['kl']:.2f} | {q['class read from z']:.1%} |"
                  for name, q in by_notebook["04_conditional_vae"].items()]
        lines.append("")
    if "05_beta_vae" in by_notebook:
        lines += ["| β-VAE (notebook 05_beta_vae, test images, grey levels) | rate R, nats | distortion D, nats | "
                  "dimensions above 0.1 nat | class information, summed over dimensions, nats | its share of R | "
                  "largest of one dimension, nats |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| β = {float(beta):g} | {q['rate']:.1f} | {q['distortion']:.1f} | {q['active']} | "
                  f"{q['class information']:.2f} | {q['class information'] / q['rate']:.0%} | "
                  f"{q['largest class information']:.2f} |" for beta, q in by_notebook["05_beta_vae"].items()]
        lines.append("")
    if "05_categorical_clustering" in by_notebook:
        lines += ["| clustering (notebook 05_categorical_clustering, test images) | runs | NMI, mean ± sd | accuracy (Hungarian matching), mean ± sd |",
                  "| --- | ---: | ---: | ---: |"]
        lines += [f"| {name} | {q['runs']} | {q['nmi']:.3f} ± {q['nmi spread']:.3f} | "
                  f"{q['accuracy']:.1%} ± {q['accuracy spread']:.1%} |"
                  for name, q in by_notebook["05_categorical_clustering"].items()]
        lines.append("")
    if "06_collapse_and_inference" in by_notebook:
        q = by_notebook["06_collapse_and_inference"]
        lines += ["| training at β = 3 (notebook 06, test images) | active units | active units, every seed | "
                  "rate, nats | distortion, nats | −ELBO, nats |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {name} | {r['active units']} | {', '.join(map(str, r.get('active units by seed', ['–'])))} | "
                  f"{r['rate']:.1f} | {r['distortion']:.1f} | {r['loss']:.1f} |" for name, r in q["collapse"].items()]
        lines.append("")
        (amortised, refined, bound), bound_name = q["gaps"].values(), list(q["gaps"])[2]
        lines += ["| inference gaps (notebook 06, β = 1, first 100 test images) | amortised ELBO | refined ELBO | "
                  f"{bound_name} | amortisation gap, at least | {bound_name} − refined ELBO |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |",
                  f"| nats per image | {amortised:.2f} | {refined:.2f} | {bound:.2f} | {refined - amortised:.2f} | "
                  f"{bound - refined:.2f} |", ""]
        if "β = 1 active units" in q:
            lines += ["| the VAE of notebook 06 trained on the ELBO (β = 1, test images) | active units |", "| --- | ---: |",
                      "| {1} latent dimensions | {0} |".format(*q["β = 1 active units"]), ""]
        two = q["2-D"]
        lines += ["| 2-D latent (notebook 06, test images) | rate, nats | I(x; z), nats | KL(q(z) ‖ p(z)), nats | "
                  "prior samples where q(z) < p(z)/10 |", "| --- | ---: | ---: | ---: | ---: |",
                  f"| β = 1 | {two['rate']:.2f} | {two['rate'] - two['marginal KL']:.2f} | {two['marginal KL']:.2f} | "
                  f"{two['in holes']:.0%} |", ""]
        if "2-D log p(x)" in q:
            e = q["2-D log p(x)"]
            bound_name = next(name for name in e if name.startswith("L_"))
            lines += ["| 2-D latent, first 100 test images (notebook 06), nats per image | ELBO, encoder's q | "
                      f"{bound_name}, encoder's q | log p(x), quadrature | log p(x) − ELBO | log p(x) − {bound_name} | "
                      "halving the grid's spacing moves log p(x), mean / largest | "
                      f"images whose {bound_name} lies above their log p(x) |",
                      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
                      f"| β = 1 | {e['ELBO']:.2f} | {e[bound_name]:.2f} | {e['log p(x)']:.2f} | "
                      f"{e['log p(x)'] - e['ELBO']:.2f} | {e['log p(x)'] - e[bound_name]:.3f} | "
                      f"{e['halving moves, mean']:.5f} / {e['halving moves, largest']:.4f} | "
                      f"{e.get(f'{bound_name} above log p(x), share of images', float('nan')):.0%} |", ""]
    if "07_richer_posteriors_and_priors" in by_notebook:
        q = by_notebook["07_richer_posteriors_and_priors"]
        lines += ["| the toy's correlated posterior (notebook 07): diagonal Gaussian fits | gap of the ELBO, nats |",
                  "| --- | ---: |", f"| mean field, the best diagonal q (exact) | {q['mean field']['mean field']:.3f} |",
                  f"| the marginal variances, the forward KL's fit (exact) | {q['mean field']['marginals']:.3f} |"]
        lines += [f"| mean field + {n} planar flow(s), fitted (200,000 draws) | {gap:.4f} |"
                  for n, gap in q["flows on the toy"].items()]
        lines += ["", f"| posteriors of the first {q['images fitted']} test images, 2-D VAE with N(0, I), decoder frozen "
                  "(notebook 07) | ELBO, nats | L_1000, nats | L_1000 − ELBO, nats |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| {name} | {b['ELBO']:.2f} | {b['L_1000']:.2f} | {b['L_1000'] - b['ELBO']:.2f} |"
                  for name, b in q["2-D posteriors"].items()]
        if "2-D log p(x)" in q:
            e, encoder_gap = q["2-D log p(x)"], next(iter(q["2-D posteriors"].values()))["gap"]
            lines += ["", f"| the same posteriors against log p(x) = {e['log p(x)']:.2f} nats by quadrature (halving the "
                      f"grid's spacing moves it by {e['halving moves, mean']:.5f} nats on average, "
                      f"{e['halving moves, largest']:.4f} at most) | log p(x) − ELBO, nats | share of the encoder's gap "
                      "closed | log p(x) − L_1000, nats |", "| --- | ---: | ---: | ---: |"]
            lines += [f"| {name} | {b['gap']:.3f} | {1 - b['gap'] / encoder_gap:.1%} | {b['L_1000 short']:.3f} |"
                      for name, b in q["2-D posteriors"].items()]
        if "2-D, amortised flows" in q and "2-D log p(x)" in q:
            flows, e = q["2-D, amortised flows"], q["2-D, amortised flows, log p(x)"]
            lines += ["", f"| the same first {q['images fitted']} test images, 2-D VAE trained with 4 amortised planar flows, "
                      f"decoder frozen, against its log p(x) = {e['log p(x)']:.2f} nats by quadrature (halving the grid's "
                      f"spacing moves it by {e['halving moves, mean']:.5f} nats on average, {e['halving moves, largest']:.4f} "
                      "at most) (notebook 07) | ELBO, nats | L_1000, nats | log p(x) − ELBO, nats | log p(x) − L_1000, nats |",
                      "| --- | ---: | ---: | ---: | ---: |"]
            lines += [f"| {name} | {b['ELBO']:.2f} | {b['L_1000']:.2f} | {b['gap']:.3f} | {b['L_1000 short']:.3f} |"
                      for name, b in flows.items()]
            (encoder, diagonal, *_), (flow_encoder, flow_diagonal, flow_best) = q["2-D posteriors"].values(), flows.values()
            lines += ["", "| decoder of the 2-D VAE (notebook 07, first test images), nats per image | log p(x), quadrature | "
                      "approximation gap: log p(x) − ELBO of each image's best q of the family it was trained with | "
                      "amortisation gap: that ELBO − the encoder's | log p(x) − ELBO of each image's best diagonal q |",
                      "| --- | ---: | ---: | ---: | ---: |",
                      f"| trained with a diagonal q | {q['2-D log p(x)']['log p(x)']:.2f} | {diagonal['gap']:.3f} | "
                      f"{diagonal['ELBO'] - encoder['ELBO']:.3f} | {diagonal['gap']:.3f} |",
                      f"| trained with a diagonal q and 4 amortised planar flows | {e['log p(x)']:.2f} | {flow_best['gap']:.3f} | "
                      f"{flow_best['ELBO'] - flow_encoder['ELBO']:.3f} | {flow_diagonal['gap']:.3f} |"]
        lines += ["", "| prior of the 2-D VAE (notebook 07, test images) | test ELBO, nats | rate, nats | distortion, nats | "
                  "KL(q(z) ‖ p(z)), nats | prior samples where q(z) < p(z)/10 | holes ≤ 5 % |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
        lines += [f"| {name} | {r['test ELBO']:.2f} | {r['rate']:.2f} | {r['distortion']:.2f} | "
                  f"{r['KL(q(z) || p(z))']:.2f} | {r['in holes']:.1%} | "
                  f"{'–' if number == 0 else 'meets' if r['in holes'] <= 0.05 else 'misses'} |"
                  for number, (name, r) in enumerate(q["priors"].items())]
        lines.append("")
    if "08_semi_supervised" in by_notebook:
        q = by_notebook["08_semi_supervised"]
        lines += [f"| semi-supervised (notebook 08, 100 labels, {q['test images']:,} test images) | draws of the labels | "
                  "test accuracy, mean ± sd | every draw |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| {name} | {len(values)} | {statistics.mean(values):.1%} ± {statistics.pstdev(values):.1%} | "
                  f"{', '.join(f'{v:.1%}' for v in values)} |" for name, values in q["accuracies"].items()]
        lines.append("")
    if "09_vq_vae" in by_notebook:
        q = by_notebook["09_vq_vae"]
        lines += ["| notebook 09, binarised test images, nats per image | codes in use, after each epoch | perplexity | "
                  "−log p(x\\|z) | rate | bound on −log p(x) | the same, uniform prior | codes in use ≥ 90 % |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        for name, m in q["models"].items():
            history = q["usage by epoch"].get(name.removeprefix("VQ-VAE, "))
            if history is None:  # the dense VAE: its rate is the KL, its bound the -ELBO
                lines.append(f"| {name} | – | – | {m['-log p(x|z)']:.1f} | {m['rate']:.1f} | {m['bound']:.1f} | – | – |")
                continue
            lines.append(f"| {name} | {', '.join(f'{v:.0%}' for v in history['codes in use'])} | {m['perplexity']:.1f} | "
                         f"{m['-log p(x|z)']:.1f} | {m['rate']:.1f} | {m['bound']:.1f} | {m['bound, uniform prior']:.1f} | "
                         f"{'meets' if m['codes in use'] >= 0.9 else 'misses'} |")
        lines.append("")
        if "binarisation entropy" in q:
            lines += ["| notebook 09, binarised test images | nats per image |", "| --- | ---: |",
                      f"| the binarisation's own entropy, Σ_i H_b(p_i): a floor for −log p(x\\|z) of codes computed "
                      f"from the grey image | {q['binarisation entropy']:.1f} |", ""]
    if "10_colour_images" in by_notebook:
        q = by_notebook["10_colour_images"]
        lines += [f"| notebook 10, {q['dataset']}, {q['training images']:,} training images, {q['epochs']} epochs | "
                  "test −ELBO, nats/image | KL, nats/image | training bits/dim (last epoch's mean) | test bits/dim |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        lines += [f"| {name} | {m['test -ELBO']:.1f} | {m['KL']:.1f} | "
                  f"{'–' if math.isnan(m['training bits/dim']) else format(m['training bits/dim'], '.3f')} | "
                  f"{m['test bits/dim']:.3f} |" for name, m in q["models"].items()]
        lines += ["", "Published on CIFAR-10's test set, bits/dim: IAF-VAE 3.11 (Kingma et al., 2016), PixelCNN++ 2.92 "
                  "(Salimans et al., 2017), NVAE 2.91 (Vahdat & Kautz, 2020); a uniform choice among the 256 levels: 8.", ""]
    return lines


QUALITY_MARK = "<!-- quality {} -->"  # before a notebook's quality tables: a partial run replaces them by notebook
_QUALITY_PART = re.compile(r"<!-- quality (\S+) -->\n(.*?)(?=<!-- quality |\Z)", re.DOTALL)
_NOTEBOOK_ROW = re.compile(r"^\| (\S+) \| (student|re-run|fast) \| .*$", re.MULTILINE)
NOTEBOOKS_HEADING = "### Notebooks, each in a fresh kernel"


def section(args, device, rows, runs, command, thread_rows=(), previous=None, loop_rows=(), profiles=()) -> str:
    """One device-and-dataset section of BENCHMARKS.md. A run that measured only some notebooks is merged
    into ``previous``, that section's text (given only for such a run): its notebooks' rows and quality
    tables replace theirs, and everything it did not measure (throughput, the other notebooks) is kept."""
    quality_mode = "fast" if args.quick else "student"
    quality_title = ("fast-mode budgets: checks that the figures are produced, not how good they get"
                     if args.quick else "student budgets")
    today = datetime.date.today().isoformat()
    head = "\n".join([f"## {device.type.upper()} · {DATASETS[args.dataset]}{' · quick' if args.quick else ''}", "",
                      f"Measured {today} on {machine(device)}.", "", f"Command: `{command}`", "",
                      "### Training throughput", "", *throughput_table(rows, device), "",
                      "### Threads on a shared CPU", "", *threads_table(thread_rows, device), "",
                      "### The training loop against its limit", "", *loop_table(loop_rows), "",
                      "### Where an epoch's time goes", "", *profile_table(profiles), "", ""])
    if args.dataset in COLOUR:  # the throughput benchmark trains notebook 03's grey models
        head = "\n".join([f"## {device.type.upper()} · {DATASETS[args.dataset]}{' · quick' if args.quick else ''}", "",
                          f"Measured {today} on {machine(device)}.", "", f"Command: `{command}`", "",
                          "Training throughput and threads are measured on the grey datasets (notebook 03's models).",
                          "", ""])
    notebook_rows = {(run["notebook"], run["mode"]): notebook_row(run, today) for run in runs}
    quality = {run["notebook"]: "\n".join(quality_tables([run])) for run in runs
               if run["mode"] == quality_mode and run["quality"]}
    if previous is not None:
        head = _merged_head(previous, device)
        notebook_rows = {(name, mode): line for line, name, mode in _rows_of(previous)} | notebook_rows
        measured_again = {run["notebook"] for run in runs if run["mode"] == quality_mode}
        quality = {name: text for name, text in _QUALITY_PART.findall(previous) if name not in measured_again} | quality
    order = {name: index for index, name in enumerate(available_notebooks())}
    modes = ("student", "re-run", "fast")
    lines = [head + NOTEBOOKS_HEADING, "", *NOTEBOOK_TABLE,
             *(line for _, line in sorted(notebook_rows.items(), key=lambda item: (
                 modes.index(item[0][1]), order.get(item[0][0], len(order)), item[0][0]))), "",
             f"### Model quality at the {quality_title}", ""]
    for name in sorted(quality, key=lambda name: (order.get(name, len(order)), name)):
        lines += [QUALITY_MARK.format(name), quality[name].strip(), ""]
    return "\n".join(lines).rstrip() + "\n"


def _rows_of(text: str):
    """(line, notebook, mode) of each row of a section's notebooks table."""
    table = text[text.index(NOTEBOOKS_HEADING):text.index("### Model quality")]
    return [(match.group(0), match.group(1), match.group(2)) for match in _NOTEBOOK_ROW.finditer(table)]


def _merged_head(previous: str, device: torch.device) -> str:
    """The previous section's title, throughput and threads, which a run of some notebooks does not measure;
    refused where that section was measured on another machine or PyTorch, whose figures would mix."""
    described = machine(device)
    if f" on {described}." not in previous.split("\n\n", 2)[1]:
        raise BenchError(f"this section was measured on another machine or PyTorch ({previous.split(chr(10))[2]!r}); "
                         f"this one is {described}. Measure every notebook (leave out --notebooks) to replace it.")
    return previous[:previous.index(NOTEBOOKS_HEADING)]


class BenchError(Exception):
    """A run that would leave BENCHMARKS.md wrong; the message says what to run instead."""


HEADER = """# Benchmarks

Written by `python -m bench.run` (see the README): one section per device and dataset. A run
replaces only its own section; one that names its notebooks (`--notebooks`) replaces only their
rows and tables, on the machine that measured the rest, and each notebook's row says when it ran.

* **Training throughput**: seconds per epoch of notebook 03's dense and convolutional VAEs, same
  loss, optimizer (the notebooks' fused Adam, 1e-3), batch size (128) and training loop (`vae_helpers.train`), fed by the
  course's in-memory `Batches` or by torchvision's `MNIST` dataset code (a PIL image, then
  `ToTensor`, per image) through a `DataLoader`. Epochs of the two alternate; one untimed epoch
  each comes first; the table gives the median. Targets: at least 1.6× for the dense VAE on 2 CPU
  cores and faster for the convolutional one; at least 5× on a GPU.
* **The training loop against its limit**: seconds per epoch of the same two VAEs with PyTorch's default Adam
  (a for-each update) and with the notebooks' settings (the fused Adam; the convolutional VAE also in the
  channels-last layout), epochs alternating; and the dense VAE's matrix products alone (forward, and backward
  for the weights and inputs, on tensors made once), timed between the same epochs: no training loop on these
  threads is faster. Targets: the dense epoch at least 0.65 of that limit; the convolutional one at least 2×
  faster than with the defaults.
* **Where an epoch's time goes**: one epoch of each of those VAEs (10,000 images, the notebooks' settings) under
  PyTorch's profiler, each operator's own time put in a category (matrix products, convolutions, batch
  normalisation, the optimizer's update, the batches, other element-wise operations and reductions) and the
  rest of the epoch's wall time outside any operator.
* **Threads on a shared CPU**: seconds per epoch of the dense VAE (10,000 images) with one PyTorch
  thread and with one per usable CPU (what `import vae_helpers` chooses: the CPUs the process may run
  on, capped by a cgroup CPU quota), on an idle machine and beside another process that keeps one
  core busy; the two thread counts alternate epoch by epoch.
* **Notebooks**: every solution notebook executed top to bottom in a new kernel, from kernel start
  to the last cell, with the kernel's peak resident memory and its peak allocated memory (anonymous and
  shared pages, sampled every 10 ms). Resident memory also counts the shared libraries' file pages that the
  OS maps in, shares between processes and drops under pressure (PyTorch's CUDA build maps about 0.4 GB of
  them on a machine without a GPU, more on newer Linux); allocated memory is what a container's limit, such
  as Binder's 2 GB, ends in. Budgets: at most 5 minutes and 1.5 GB allocated in student mode, at most 60 s
  in fast mode. A **re-run** runs the student-mode notebook again in a new kernel, as after a restart, with the
  cache its first run filled: its row counts the trained results it loaded and, where it misses its target (at
  least 5× faster than the first run), says what bounds it: the start-up no cache skips (from kernel start to
  the end of the first code cell: the kernel, the imports and the data), or a notebook that trains nothing.
* **Model quality**: read from the student-mode runs of notebooks 02 to 08, so the figures are
  those a student gets. Likelihoods (02, 03) are of binarised images: the models train on images
  binarised anew each epoch and are scored on one fixed binarisation of the test set. The class
  information of a dimension (05_beta_vae) is the histogram estimate of I(z_j; class), 20 bins, one
  draw of z per test image. Clustering (05_categorical_clustering) is the mean and standard deviation
  over the notebook's seeds. The semi-supervised accuracy (08) is over three draws of the 100 labelled
  images; on MNIST-test, notebooks 07, 08 and 09 train on the first 8,000 test images and test on the last 2,000.
* **Colour images** (`--dataset photographs`, or `cifar10` where its files are present): notebook 10 alone, in a
  section of its own (a colour dataset measures only the notebooks of colour images, and the grey sections leave
  them out); its quality table gives each likelihood's test −ELBO and bits per dimension, with published CIFAR-10
  figures for scale.
* **Grading a class** (`python -m bench.grading`): a class autograded by plain `nbgrader autograde`
  and by `python -m grading autograde`, both sandboxed, in one run, and where a submission's time goes
  (its kernel's start, the student's cells, judging the hidden tests in the grading process, nbgrader's own
  work). Targets: at least 1.8× faster with 2 workers on 2 cores, the same scores, a sandbox that costs at
  most 10 % per submission and judging at most 10 % beside the rest.
"""
NO_GPU = """## GPU

No GPU figures yet. On a machine with CUDA, the same command adds its section here.
"""
_BLOCK = re.compile(r"<!-- bench (\S+) -->\n(.*?)<!-- /bench -->\n", re.DOTALL)


def sections(path: Path) -> dict:
    """{key: text} of each section of the benchmarks file at ``path`` (none if it does not exist)."""
    return dict(_BLOCK.findall(path.read_text())) if path.is_file() else {}


def update_benchmarks(path: Path, key: str, text: str) -> None:
    """Replace or add the section ``key`` of the benchmarks file, keeping every other section."""
    blocks = sections(path)
    blocks[key] = text
    order = [*DATASETS, "grading"]  # the grading section (python -m bench.grading) comes after the datasets

    def position(item):
        device_type, dataset, *quick = item[0].split(":")
        return device_type != "cpu", device_type, order.index(dataset), quick

    parts = [HEADER]
    for block_key, block_text in sorted(blocks.items(), key=position):
        parts.append(f"<!-- bench {block_key} -->\n{block_text}<!-- /bench -->\n")
    if not any(not block_key.startswith("cpu:") for block_key in blocks):
        parts.append(NO_GPU)
    path.write_text("\n".join(parts))


def parse_arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=list(DATASETS), default="mnist",
                        help="data for every measurement (default: mnist)")
    parser.add_argument("--quick", action="store_true",
                        help=f"fast-mode notebooks only and {QUICK_THROUGHPUT_IMAGES:,} images for throughput; "
                             "prints only, unless --output is given")
    parser.add_argument("--data", type=Path, default=None,
                        help=f"the course data folder (default: ${DATA_VARIABLE}, else data/)")
    parser.add_argument("--notebooks", nargs="+", metavar="NAME",
                        help="measure only these notebooks, e.g. 03_conv_vae, and keep the rest of the section "
                             "(throughput, the other notebooks) as it was measured (default: measure everything)")
    parser.add_argument("--output", type=Path, default=None,
                        help="the benchmarks file to update (default: BENCHMARKS.md; none with --quick)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="where each notebook is kept as its first student-mode run executed it (fast mode with "
                             "--quick), outputs and all, for the course's site (default: bench/executed/DATASET)")
    args = parser.parse_args(argv)
    available = available_notebooks()
    unknown = sorted(set(args.notebooks or ()) - set(available))
    if unknown:
        parser.error(f"unknown notebook(s) {', '.join(unknown)}; choose from {', '.join(available)}")
    args.every_notebook = not args.notebooks
    args.notebooks = args.notebooks or notebooks_for(args.dataset)
    if args.data is not None:
        args.data = args.data.resolve()  # the notebooks run in a folder of their own
    if args.output is None and not args.quick:
        args.output = REPO / "BENCHMARKS.md"
    args.keep = (args.keep or REPO / "bench" / "executed" / args.dataset).resolve()
    return args


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_arguments(argv)
    command = shlex.join(["python", "-m", "bench.run", *argv])
    device = get_device()
    with tempfile.TemporaryDirectory() as workdir:
        try:
            variables = dataset_environment(args.dataset, args.data or data_dir(), Path(workdir))
            with notebooks.environment(variables):
                train_data = load_images(variables[DATASET_VARIABLE], "train")
        except DatasetNotFoundError as error:
            print(f"bench: {error}", file=sys.stderr)
            return 2
        with notebooks.environment(variables):
            if args.quick:
                train_data = train_data.take(QUICK_THROUGHPUT_IMAGES)
            rows, thread_rows, loop_rows, profiles = [], [], [], []
            if args.every_notebook and args.dataset not in COLOUR:  # notebook 03's grey models
                print(f"throughput: {len(train_data):,} {train_data.name} images on {device} ...", flush=True)
                definitions = throughput.notebook_definitions(solution_notebook("03_conv_vae"))
                rows = throughput.seconds_per_epoch(definitions, train_data, device, repeats=1 if args.quick else 3)
                thread_rows = [] if device.type != "cpu" else throughput.seconds_per_epoch_by_threads(
                    definitions, train_data.take(THREADS_IMAGES), repeats=1 if args.quick else 3)
                loop_rows = throughput.loop_against_its_limit(definitions, train_data, device,
                                                              repeats=1 if args.quick else 3)
                profiles = [throughput.epoch_profile(definitions, train_data.take(PROFILED_IMAGES), label, device)
                            for label in throughput.MODELS]
            runs = []
            for mode in ("fast",) if args.quick else ("student", "fast"):
                for name in args.notebooks:
                    print(f"notebook {name}, {mode} mode ...", flush=True)
                    kept = args.keep / f"{name}.ipynb"
                    if mode == "fast":
                        runs.append(notebooks.execute(solution_notebook(name), mode, keep=kept if args.quick else None))
                        continue
                    with tempfile.TemporaryDirectory() as cache:  # a first run trains; the re-run loads
                        runs.append(notebooks.execute(solution_notebook(name), mode, cache=Path(cache), keep=kept))
                        if runs[-1]["error"] is None:
                            print(f"notebook {name}, run again after a restart ...", flush=True)
                            again = notebooks.execute(solution_notebook(name), mode, cache=Path(cache))
                            print("  its slowest cells: " + ", ".join(
                                f"c{index} {seconds:.1f} s" for seconds, index in again["slowest cells"]), flush=True)
                            runs.append({**again, "mode": "re-run", "first seconds": runs[-1]["seconds"],
                                         "quality": None})
    key = f"{device.type}:{args.dataset}" + (":quick" if args.quick else "")
    previous = sections(args.output).get(key) if args.output and not args.every_notebook else None
    try:
        text = section(args, device, rows, runs, command, thread_rows, previous, loop_rows, profiles)
    except BenchError as error:
        print(f"bench: BENCHMARKS.md left as it was: {error}", file=sys.stderr)
        text = section(args, device, rows, runs, command, thread_rows, loop_rows=loop_rows, profiles=profiles)
        args.output = None
    print("\n" + text)
    if args.output:
        update_benchmarks(args.output, key, text)
        print(f"updated {args.output}")
    failed = [run["notebook"] for run in runs if run["error"]]
    if failed:
        print(f"bench: notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

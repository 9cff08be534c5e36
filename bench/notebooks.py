"""Execute a notebook in a fresh kernel, as a student would, and measure it.

The kernel is a new process per run, so its peak memory is the notebook's own. Two extra cells are added
to a copy (never saved): the first starts a thread that samples the kernel's allocated memory every 10 ms,
the last reports its peak, the kernel's peak resident memory and, where the notebook computes them, its
quality figures.

Resident memory also counts the pages of shared libraries' files that the OS has mapped in, which it shares
between processes and drops under pressure: PyTorch's CUDA build alone maps about 0.4 GB of them on a
machine without a GPU, and how much depends on the Linux version. The memory budget is therefore one of
allocated memory (anonymous and shared pages, ``RssAnon + RssShmem``), what a container's limit ends in.
"""
import contextlib
import datetime
import json
import os
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from vae_helpers.budget import FAST_VARIABLE
from vae_helpers.remember import CACHE_VARIABLE, LOADED

MODE_ENVIRONMENT = {"student": {FAST_VARIABLE: "0"}, "fast": {FAST_VARIABLE: "1"}}
MARKER = "BENCH-REPORT "

# Expressions evaluated in a notebook's kernel after its last cell: the figures the benchmark reports.
QUALITY = {
    "02_dense_vae": "{'likelihood': {'dense': {'test -ELBO': test_elbo, 'test -log p(x)': test_nll, "
                    "'seconds per epoch': sum(seconds_per_epoch) / EPOCHS}}, 'gaussian': gaussian_results}",
    "03_conv_vae": "{'likelihood': {name: {'test -ELBO': r['test -ELBO'], 'test -log p(x)': r['test NLL'], "
                   "'seconds per epoch': r['seconds per epoch']} for name, r in results.items()}}",
    "04_conditional_vae": "measured",
    "05_beta_vae": "{beta: {'rate': rate, 'distortion': distortion, 'active': int((kls[beta] > 0.1).sum()), "
                   "'class information': informations[beta].sum().item(), "
                   "'largest class information': informations[beta].max().item()} "
                   "for beta, (rate, distortion) in points.items()}",
    "06_collapse_and_inference": "{'collapse': collapse_results, 'gaps': gaps, "
                                 "'2-D': {'rate': rate, 'marginal KL': marginal_kl, 'in holes': in_holes}, "
                                 "'2-D log p(x)': exact_gap, 'β = 1 active units': [elbo_active_units, LATENT_DIM]}",
    "05_categorical_clustering": "summary",
    "07_richer_posteriors_and_priors": "{'mean field': gaps, 'flows on the toy': flow_gaps, "
                                       "'2-D posteriors': bounds_2d, '2-D log p(x)': exact_2d, 'images fitted': N_FITTED, "
                                       "'2-D, amortised flows': bounds_flow, "
                                       "'2-D, amortised flows, log p(x)': flow_exact_2d, "
                                       "'priors': prior_results}",
    "08_semi_supervised": "{'accuracies': accuracies, 'test images': len(test_data)}",
    "09_vq_vae": "{'models': measured, 'usage by epoch': usage_histories, 'binarisation entropy': floor.item()}",
    "10_colour_images": "{'models': measured, 'epochs': EPOCHS, 'training images': len(train_data), "
                        "'dataset': train_data.name}",
}

_SAMPLER_CELL = """
import threading as _threading, time as _time
_peak_allocated = [None]


def _sample_allocated_memory():
    while True:
        with open("/proc/self/status") as _status:
            _fields = dict(_line.split(":", 1) for _line in _status)
        _allocated = sum(int(_fields[_name].split()[0]) * 1024 for _name in ("RssAnon", "RssShmem"))
        _peak_allocated[0] = max(_peak_allocated[0] or 0, _allocated)
        _time.sleep(0.01)


try:
    open("/proc/self/status").close()
    _threading.Thread(target=_sample_allocated_memory, daemon=True).start()
except OSError:  # no /proc (macOS): resident memory only
    pass
"""
_REPORT_CELL = """
import json as _json, resource as _resource, sys as _sys
_peak = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss * (1 if _sys.platform == "darwin" else 1024)
print({marker!r} + _json.dumps({{"peak bytes": _peak, "peak allocated bytes": _peak_allocated[0],
                                 "quality": {quality}}}, default=float))
"""


@contextlib.contextmanager
def environment(values: dict):
    """Set environment variables for what runs inside, then restore the previous ones."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def execute(path: Path, mode: str, timeout: int = 900, cache: Path | None = None, keep: Path | None = None) -> dict:
    """Run every cell of the notebook at ``path`` in ``mode`` ("student" or "fast") in a new kernel, what its
    calls train kept in ``cache`` (a re-run with the same folder loads them), or nowhere; where it runs to its end,
    the notebook as it ran (its own cells and their outputs) is written to ``keep`` (a file), where given: the
    course's site shows those outputs (``python -m website``).

    Returns ``{"notebook", "mode", "seconds", "start-up seconds", "loaded", "peak bytes", "peak allocated bytes",
    "slowest cells", "quality", "error"}`` (the allocated peak is None where the OS does not report it; the slowest
    cells are the three longest [(seconds, index of the cell in the notebook)]); ``seconds`` runs from starting the
    kernel to the end of the last cell, ``start-up seconds`` to the end of the notebook's first code cell (the kernel,
    the imports and the data: what no cache can skip); ``loaded`` counts the results a remembered call loaded from
    the cache; ``error`` is None or the failure's first line.
    """
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    name = path.stem
    report = _REPORT_CELL.format(marker=MARKER, quality=QUALITY.get(name, "None"))
    notebook.cells = [nbformat.v4.new_code_cell(_SAMPLER_CELL), *notebook.cells, nbformat.v4.new_code_cell(report)]
    result = {"notebook": name, "mode": mode, "seconds": None, "start-up seconds": None, "loaded": 0,
              "peak bytes": None, "peak allocated bytes": None, "slowest cells": [], "quality": None, "error": None}
    with tempfile.TemporaryDirectory() as workdir:  # whatever the notebook writes stays out of the repository
        client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": workdir}})
        started, started_at = time.perf_counter(), datetime.datetime.now(datetime.timezone.utc)
        try:
            with environment({**MODE_ENVIRONMENT[mode], "MPLBACKEND": "Agg", CACHE_VARIABLE: str(cache or "off")}):
                client.execute()
        except CellExecutionError as error:
            result["error"] = str(error).strip().splitlines()[-1][:300]
            return result
        result["seconds"] = time.perf_counter() - started
    printed = "".join(output.get("text", "") for output in notebook.cells[-1].outputs)
    reported = json.loads(printed[printed.index(MARKER) + len(MARKER):])
    result.update({key: reported[key] for key in ("peak bytes", "peak allocated bytes", "quality")})
    own_code = [cell for cell in notebook.cells[1:-1] if cell.cell_type == "code"]
    first_ended = _timestamp(own_code[0], "shell.execute_reply") if own_code else None
    result["start-up seconds"] = None if first_ended is None else (first_ended - started_at).total_seconds()
    result["loaded"] = sum(output.get("text", "").count(LOADED) for cell in own_code for output in cell.outputs)
    result["slowest cells"] = sorted(((_seconds_of(cell), index) for index, cell in enumerate(notebook.cells[1:-1])
                                      if cell.cell_type == "code"), reverse=True)[:3]
    if keep is not None:
        notebook.cells = notebook.cells[1:-1]  # without the sampler and the report
        keep.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, keep)
    return result


def _timestamp(cell, event: str) -> datetime.datetime | None:
    """When ``event`` happened to an executed cell, from the timestamps nbclient records in its metadata."""
    recorded = cell.metadata.get("execution", {}).get(event)
    return None if recorded is None else datetime.datetime.fromisoformat(recorded.replace("Z", "+00:00"))


def _seconds_of(cell) -> float:
    """How long an executed cell ran (0 where nbclient recorded no times)."""
    started, ended = _timestamp(cell, "iopub.execute_input"), _timestamp(cell, "shell.execute_reply")
    return 0.0 if started is None or ended is None else (ended - started).total_seconds()

"""A notebook re-run loads what each remembered call trained, and trains again whenever anything that decides
the call changed: checked in real kernels, one per "run" of a small notebook, as a student restarts one."""
import os
import shutil

import pytest
import torch
from jupyter_client.manager import start_new_kernel

from support.course import REPO
from support.idx import write_idx
from vae_helpers import remember

SETUP = """import os, random
import numpy as np
import torch
from torch import nn
from vae_helpers import Batches, load_images, plots, remembered, seed_everything, train
seed_everything(0)
torch.rand(int(os.environ.get("DRAWS_BEFORE", "0")))  # the random state, changed without changing the code
batches = Batches(load_images("mnist", "train"), batch_size=50)


def loss(model, x, y):
    return nn.functional.cross_entropy(model(x), y)


@remembered
def fitted(width):
    '''A notebook's own function that makes a model, trains it and returns it.'''
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, width), nn.ReLU(), nn.Linear(width, 10))
    train(model, loss, batches, torch.optim.Adam(model.parameters(), lr=1e-2), 1)
    return model
"""
TRAINING = """model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=LR)
history = train(model, loss, batches, optimizer, 2)
fitted_models = [fitted(width) for width in (4, 8)]
projection = plots.projected(np.random.rand(40, 5), "tsne", 0)  # a long computation, not a training
principal = plots.projected(np.random.rand(40, 5), "pca", 0)  # a moment's: not kept
after_each_epoch = []
measured = nn.Linear(784, 10)
train(measured, lambda m, x, y: loss(m, x.flatten(1), y), batches, torch.optim.SGD(measured.parameters(), lr=0.1), 2,
      after_epoch=after_each_epoch.append)
"""
STATE = """print("history", history)
print("weights", [float(p.sum()) for p in model.parameters()], [float(p.sum()) for m in fitted_models for p in m.parameters()])
print("optimizer", optimizer.state_dict()["state"][0]["step"].item(), float(optimizer.state_dict()["state"][0]["exp_avg"].sum()))
print("callback", after_each_epoch, "modes", model.training, "projection", projection.round(4).tolist())
print("random", torch.rand(2).tolist(), np.random.rand(), random.random())
"""
LOADED = "from the cache"


@pytest.fixture
def course(tmp_path):
    """A data folder with a small MNIST of its own, a cache folder, and a function that runs the notebook."""
    images = torch.randint(0, 256, (200, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(200, dtype=torch.uint8) % 10
    raw = tmp_path / "data" / "MNIST" / "raw"
    write_idx(raw / "train-images-idx3-ubyte", images, compress=False)
    write_idx(raw / "train-labels-idx1-ubyte", labels, compress=False)
    cache = tmp_path / "cache"

    def run(lr="1e-2", **environment):
        """The three cells' outputs in a fresh kernel (a restart and Run All)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAE_COURSE", "NBGRADER"))}
        env.update(PYTHONPATH=str(REPO), VAE_COURSE_FAST="1", VAE_COURSE_DATA=str(tmp_path / "data"),
                   VAE_COURSE_CACHE=str(cache), **environment)
        manager, client = start_new_kernel(kernel_name="python3", env=env)
        try:
            return [_executed(client, cell) for cell in (SETUP, TRAINING.replace("LR", lr), STATE)]
        finally:
            manager.shutdown_kernel(now=True)

    run.cache, run.images = cache, raw / "train-images-idx3-ubyte"
    return run


def _executed(client, source) -> str:
    client.execute(source)
    printed = []
    while True:
        message = client.get_iopub_msg(timeout=120)
        kind, content = message["msg_type"], message["content"]
        if kind == "stream" and content["name"] == "stdout":
            printed.append(content["text"])
        elif kind == "error":
            raise AssertionError("a cell failed:\n" + "\n".join(content["traceback"]))
        elif kind == "status" and content["execution_state"] == "idle":
            return "".join(printed)


def test_a_rerun_loads_every_remembered_call_and_leaves_the_kernel_as_training_did(course):
    first = course()
    assert LOADED not in "".join(first)
    assert len(list(course.cache.glob("*.pt"))) == 4  # train, fitted twice (not its own train call inside), the t-SNE
    again = course()
    assert again[1].count(LOADED) == 4, again[1]
    assert "epoch 2/2" in again[1]  # what the call printed is printed again
    assert again[2] == first[2]  # models, optimizer, history and every random generator as the training left them
    assert "callback [1, 2]" in again[2]  # a call with after_epoch trained again: its callback ran


@pytest.mark.parametrize("change", ["the code before", "the random state", "the data", "the setting"])
def test_anything_that_decides_a_call_trains_it_again(course, change):
    first = course()
    if change == "the code before":
        again = course(lr="2e-2")
    elif change == "the random state":
        again = course(DRAWS_BEFORE="1")
    elif change == "the data":
        images = torch.randint(0, 256, (200, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
        write_idx(course.images, images, compress=False)
        again = course()
    else:
        again = course(VAE_COURSE_DATASET="mnist")
    assert LOADED not in again[1], f"{change} changed and the model was loaded anyway"
    if change != "the setting":  # the same data under another name trains the same model
        assert again[2] != first[2]


def test_retrain_trains_every_call_again_and_keeps_the_new_results(course):
    first = course()
    files = {path: path.stat().st_mtime_ns for path in course.cache.glob("*.pt")}
    retrained = course(VAE_COURSE_RETRAIN="1")
    assert LOADED not in retrained[1] and retrained[2] == first[2]
    assert all(path.stat().st_mtime_ns > made for path, made in files.items())


def test_a_damaged_copy_is_trained_again_with_a_note(course):
    first = course()
    for path in course.cache.glob("*.pt"):
        path.write_bytes(path.read_bytes()[:100])
    again = course()
    assert again[1].count("could not be read") == 4 and LOADED not in again[1]
    assert again[2] == first[2]
    assert course()[1].count(LOADED) == 4  # the copies were written again


def test_nothing_is_kept_while_nbgrader_runs_the_notebook(course):
    course(NBGRADER_EXECUTION="validate")  # any value: nbgrader runs the notebook (run_mode "autograde")
    assert not course.cache.exists() or not list(course.cache.iterdir())


def test_only_a_kernel_with_a_code_history_remembers(monkeypatch, tmp_path):
    monkeypatch.setenv(remember.CACHE_VARIABLE, str(tmp_path))
    assert remember.cache_folder() is None  # plain Python, as pytest here: nothing to key on


def test_student_mode_keeps_its_cache_in_the_users_cache_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(remember.CACHE_VARIABLE, raising=False)
    monkeypatch.delenv("VAE_COURSE_FAST", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(remember, "_code_so_far", lambda: ["x = 1"])
    assert remember.cache_folder() == tmp_path / "vae-course"
    monkeypatch.setenv("VAE_COURSE_FAST", "1")
    assert remember.cache_folder() is None
    monkeypatch.setenv(remember.CACHE_VARIABLE, "off")
    monkeypatch.delenv("VAE_COURSE_FAST")
    assert remember.cache_folder() is None

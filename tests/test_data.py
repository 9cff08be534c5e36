import struct

import pytest
import torch

from vae_helpers import data
from vae_helpers.data import Batches, DatasetNotFoundError, available_datasets, load_images, read_idx
from vae_helpers.data.__main__ import main as data_command

from support.idx import write_idx


def make_local_mnist(root, n=12, compress=True):
    images = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8)
    labels = torch.arange(n, dtype=torch.uint8) % 10
    for split_images, split_labels in (("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                                       ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")):
        write_idx(root / "MNIST" / "raw" / split_images, images, compress)
        write_idx(root / "MNIST" / "raw" / split_labels, labels, compress)
    return images, labels


def offline(monkeypatch):
    """Make torchvision's download fail as it does without a network."""
    import torchvision.datasets

    class NoNetwork:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("Error downloading: <urlopen error [Errno -2] Name or service not known>")

    monkeypatch.setattr(torchvision.datasets, "MNIST", NoNetwork)
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", NoNetwork)


@pytest.mark.parametrize("compress", [True, False])
def test_local_data_folder_is_read_first(clean_env, tmp_path, compress):
    images, labels = make_local_mnist(tmp_path, compress=compress)
    clean_env.setenv("VAE_COURSE_DATA", str(tmp_path))
    loaded = load_images("mnist", "test")
    assert loaded.images.dtype == torch.uint8 and loaded.images.shape == (12, 28, 28)
    assert torch.equal(loaded.images, images)
    assert loaded.labels.dtype == torch.int64 and torch.equal(loaded.labels, labels.long())
    assert loaded.name == "MNIST"


def test_loaded_once_per_process(clean_env, tmp_path):
    make_local_mnist(tmp_path)
    clean_env.setenv("VAE_COURSE_DATA", str(tmp_path))
    assert load_images("mnist", "train").images is load_images("mnist", "train").images


def test_missing_data_names_every_place_tried_and_the_fix(clean_env, tmp_path, monkeypatch):
    clean_env.setenv("VAE_COURSE_DATA", str(tmp_path))
    monkeypatch.setitem(data._SOURCES, "fashion-mnist",
                        data._Source("Fashion-MNIST", "FashionMNIST", data._FASHION_CLASSES,
                                     tmp_path / "no-debian-package"))
    offline(monkeypatch)
    with pytest.raises(DatasetNotFoundError) as error:
        load_images("fashion-mnist", "train")
    message = str(error.value)
    assert str(tmp_path / "FashionMNIST" / "raw") in message
    assert str(tmp_path / "no-debian-package") in message
    assert "torchvision download" in message and "Name or service not known" in message
    assert "python -m vae_helpers.data download" in message and "apt-get install dataset-fashion-mnist" in message


def test_debian_fashion_mnist_folder_is_the_second_source(clean_env, tmp_path, monkeypatch):
    system = tmp_path / "debian"
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    write_idx(system / "t10k-images-idx3-ubyte", images, compress=True)
    write_idx(system / "t10k-labels-idx1-ubyte", torch.arange(5, dtype=torch.uint8), compress=True)
    monkeypatch.setitem(data._SOURCES, "fashion-mnist",
                        data._Source("Fashion-MNIST", "FashionMNIST", data._FASHION_CLASSES, system))
    clean_env.setenv("VAE_COURSE_DATA", str(tmp_path / "empty"))
    offline(monkeypatch)
    loaded = load_images("fashion-mnist", "test")
    assert torch.equal(loaded.images, images)
    assert loaded.classes[9] == "Ankle boot"


def test_corrupt_file_gets_a_clear_error(tmp_path):
    path = tmp_path / "broken-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">III", 10, 28, 28) + b"\x00" * 100)
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_idx(path)
    path.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(path)


def test_digits_replace_the_requested_dataset_only_when_asked(clean_env, capsys):
    clean_env.setenv("VAE_COURSE_DATASET", "digits")
    train, test = load_images("mnist", "train"), load_images("mnist", "test")
    assert "loading 'digits' instead of 'mnist'" in capsys.readouterr().out
    assert train.images.shape[1:] == (28, 28) and train.images.dtype == torch.uint8
    assert len(train) + len(test) == 1797
    assert set(train.labels.tolist()) == set(range(10))
    # digits sit in a 20x20 box centred in 28x28, as MNIST's do
    assert train.images[:, :4].max() == 0 and train.images[:, :, -4:].max() == 0
    assert train.images.max() > 200


def test_the_bundled_digits_are_scikit_learns_read_without_importing_it():
    from sklearn.datasets import load_digits

    grey_levels, labels = data.bundled_digits()
    reference = load_digits()
    assert torch.equal(grey_levels, torch.tensor(reference.images, dtype=torch.float32))
    assert torch.equal(labels, torch.tensor(reference.target))


def test_unknown_names_are_refused_clearly(clean_env):
    with pytest.raises(ValueError, match="choose one of mnist, fashion-mnist, digits, cifar10, photographs"):
        load_images("svhn")
    clean_env.setenv("VAE_COURSE_DATASET", "mnsit")
    with pytest.raises(ValueError, match="VAE_COURSE_DATASET='mnsit'"):
        load_images("mnist")
    with pytest.raises(ValueError, match="'train' or 'test'"):
        load_images("digits", "validation")


def test_batches_cover_every_image_once_per_epoch(clean_env):
    clean_env.setenv("VAE_COURSE_DATASET", "digits")
    test = load_images("digits", "test")
    batches = Batches(test, batch_size=64)
    assert len(batches) == 5
    seen = []
    for x, y in batches:
        assert x.dtype == torch.float32 and x.shape[1:] == (1, 28, 28)
        assert 0.0 <= x.min() and x.max() <= 1.0
        seen.append(y)
    assert sorted(torch.cat(seen).tolist()) == sorted(test.labels.tolist())
    first_epoch = torch.cat([y for _, y in batches])
    second_epoch = torch.cat([y for _, y in batches])
    assert not torch.equal(first_epoch, second_epoch), "batches must be reshuffled every epoch"


def test_batches_in_order_and_binarised_anew_each_pass(clean_env):
    clean_env.setenv("VAE_COURSE_DATASET", "digits")
    test = load_images("digits", "test")
    batches = Batches(test, batch_size=len(test), shuffle=False, binarize=True)
    torch.manual_seed(0)
    passes = [next(iter(batches)) for _ in range(200)]
    assert torch.equal(passes[0][1], test.labels)
    assert set(passes[0][0].unique().tolist()) == {0.0, 1.0}
    assert not torch.equal(passes[0][0], passes[1][0]), "each pass must draw new binary images"
    ink, grey = torch.stack([x for x, _ in passes]).mean(0)[:, 0], test.images.float() / 255
    assert torch.equal(ink[grey == 0], grey[grey == 0]) and torch.equal(ink[grey == 1], grey[grey == 1])
    # 200 draws of P(1) = grey: the mean of each pixel lies within a few hundredths of its grey level
    assert (ink - grey).abs().mean() < 0.01, "P(pixel = 1) must be its grey level"


def test_binarized_test_set_is_one_fixed_draw(clean_env):
    clean_env.setenv("VAE_COURSE_DATASET", "digits")
    test = load_images("digits", "test")
    binary = test.binarized()
    assert set(binary.images.unique().tolist()) == {0, 255} and torch.equal(binary.labels, test.labels)
    assert torch.equal(binary.images, test.binarized().images), "the same seed must give the same images"
    assert not torch.equal(binary.images, test.binarized(seed=1).images)
    grey = (test.images > 0) & (test.images < 255)
    assert binary.images[grey].float().mean().div(255).sub(test.images[grey].float().mean().div(255)).abs() < 0.02
    with pytest.raises(ValueError, match="batch_size"):
        Batches(test, batch_size=0)


def test_download_command_fetches_into_the_data_folder(clean_env, tmp_path, capsys):
    make_local_mnist(tmp_path)  # stands in for what torchvision's download would have written
    clean_env.setenv("VAE_COURSE_DATA", str(tmp_path))
    assert data_command(["download", "--dataset", "mnist"]) == 0
    assert capsys.readouterr().out.splitlines() == ["MNIST train: 12 images ready", "MNIST test: 12 images ready"]


def test_download_command_offline_says_what_to_do_without_a_traceback(clean_env, tmp_path, monkeypatch, capsys):
    clean_env.setenv("VAE_COURSE_DATA", str(tmp_path / "data"))
    offline(monkeypatch)
    assert data_command(["download", "--dataset", "mnist"]) == 1
    message = capsys.readouterr().err
    assert "could not download MNIST" in message and "Name or service not known" in message
    assert "needs a network" in message and str(tmp_path / "data" / "MNIST" / "raw") in message
    assert "Traceback" not in message
    assert not (tmp_path / "data").exists(), "a failed download must leave no empty folders"


def test_download_command_runs_as_a_module_without_warnings(tmp_path):
    """`python -m vae_helpers.data download`, offline: a clear message, no RuntimeWarning, exit 1."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "VAE_COURSE_DATA": str(tmp_path), "no_proxy": "", "https_proxy": "http://127.0.0.1:9",
           "http_proxy": "http://127.0.0.1:9"}
    result = subprocess.run([sys.executable, "-m", "vae_helpers.data", "download", "--dataset", "mnist"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "could not download MNIST" in result.stderr
    assert "Warning" not in result.stderr and "Traceback" not in result.stderr


def test_offline_error_names_what_is_available_and_the_one_line_change(clean_env, tmp_path, monkeypatch):
    system = tmp_path / "debian"
    for split in ("train", "t10k"):
        write_idx(system / f"{split}-images-idx3-ubyte", torch.zeros(2, 28, 28, dtype=torch.uint8), compress=True)
        write_idx(system / f"{split}-labels-idx1-ubyte", torch.zeros(2, dtype=torch.uint8), compress=True)
    monkeypatch.setitem(data._SOURCES, "fashion-mnist",
                        data._Source("Fashion-MNIST", "FashionMNIST", data._FASHION_CLASSES, system))
    clean_env.setenv("VAE_COURSE_DATA", str(tmp_path / "data"))
    offline(monkeypatch)
    assert available_datasets() == {"fashion-mnist": str(system), "digits": "bundled with scikit-learn"}
    with pytest.raises(DatasetNotFoundError) as error:
        load_images("mnist", "train")
    message = str(error.value)
    assert message.startswith("Could not load MNIST (train split)")
    assert f"fashion-mnist ({system})" in message and "digits (bundled with scikit-learn)" in message
    assert "DATASET = 'fashion-mnist'" in message
    assert not (tmp_path / "data").exists(), "a failed download must leave no empty data/MNIST/raw/"


def test_nbgrader_runs_use_the_bundled_digits_unless_a_dataset_is_named(clean_env, capsys):
    clean_env.setenv("NBGRADER_EXECUTION", "autograde")
    assert load_images("mnist", "test").name.startswith("digits")
    assert "nbgrader is running this notebook: loading the bundled 'digits'" in capsys.readouterr().out
    clean_env.setenv("VAE_COURSE_DATASET", "fashion-mnist")
    assert data.resolve_name("mnist") == "fashion-mnist"


def test_disjoint_holds_out_the_last_test_images_only_when_training_on_the_test_set():
    images = torch.arange(10 * 28 * 28, dtype=torch.int64).remainder(256).to(torch.uint8).view(10, 28, 28)
    same = data.ImageData(images, torch.arange(10), "MNIST", tuple("0123456789"))
    train, test = data.disjoint(same, same, held_out=3)
    assert (len(train), len(test)) == (7, 3)
    assert torch.equal(test.images, images[7:]) and torch.equal(test.labels, torch.arange(7, 10))
    assert torch.equal(train.images, images[:7])
    other = data.ImageData(images[:4].flip(0), torch.arange(4), "MNIST", tuple("0123456789"))
    assert data.disjoint(same, other) == (same, other)  # already different images: nothing changes
    with pytest.raises(ValueError, match="held_out must be between 1 and 9"):
        data.disjoint(same, same, held_out=10)


def write_cifar10(root, per_batch=4):
    """CIFAR-10's six batch files in its own format (pickled dicts of bytes keys), with random images: the
    images of each split, (N, 3, 32, 32) uint8, and labels."""
    import pickle

    written = {}
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    generator = torch.Generator().manual_seed(1)
    for split, names in (("train", [f"data_batch_{i}" for i in range(1, 6)]), ("test", ["test_batch"])):
        images, labels = [], []
        for name in names:
            batch = torch.randint(0, 256, (per_batch, 3, 32, 32), dtype=torch.uint8, generator=generator)
            batch_labels = torch.randint(0, 10, (per_batch,), generator=generator)
            with open(folder / name, "wb") as handle:
                pickle.dump({b"batch_label": name.encode(), b"data": batch.reshape(per_batch, -1).numpy(),
                             b"labels": batch_labels.tolist(), b"filenames": [b"x.png"] * per_batch}, handle)
            images.append(batch)
            labels.append(batch_labels)
        written[split] = (torch.cat(images), torch.cat(labels))
    return written


def cifar10_offline(monkeypatch):
    import torchvision.datasets

    class NoNetwork:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("Error downloading: <urlopen error [Errno -2] Name or service not known>")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", NoNetwork)


def test_cifar10_is_read_from_torchvision_s_layout_in_the_data_folder(clean_env, tmp_path):
    written = write_cifar10(tmp_path)
    clean_env.setenv("VAE_COURSE_DATA", str(tmp_path))
    for split in ("train", "test"):
        loaded = load_images("cifar10", split)
        assert loaded.images.dtype == torch.uint8 and loaded.images.shape == (len(written[split][0]), 3, 32, 32)
        assert torch.equal(loaded.images, written[split][0]) and torch.equal(loaded.labels, written[split][1])
        assert loaded.name == "CIFAR-10" and loaded.classes[0] == "airplane"
    assert data.available_datasets(images="colour")["cifar10"] == str(tmp_path / "cifar-10-batches-py")
    x, y = next(iter(Batches(load_images("cifar10", "test"), batch_size=3, shuffle=False)))
    assert x.shape == (3, 3, 32, 32) and x.dtype == torch.float32 and torch.equal(x, written["test"][0][:3] / 255)


def test_missing_cifar10_names_what_was_tried_and_the_fix(clean_env, tmp_path, monkeypatch):
    clean_env.setenv("VAE_COURSE_DATA", str(tmp_path / "data"))
    cifar10_offline(monkeypatch)
    assert data.available_datasets(images="colour") == {
        "photographs": "patches of photographs bundled with scikit-learn and matplotlib"}
    with pytest.raises(DatasetNotFoundError) as error:
        load_images("cifar10", "train")
    message = str(error.value)
    assert message.startswith("Could not load CIFAR-10 (train split)")
    assert "DATASET = 'photographs'" in message and "python -m vae_helpers.data download --dataset cifar10" in message
    assert f"{tmp_path / 'data' / 'cifar-10-batches-py'}: no data_batch_1" in message
    assert "Name or service not known" in message
    assert not (tmp_path / "data").exists(), "a failed download must leave no empty folders"
    assert data_command(["download", "--dataset", "cifar10"]) == 1


def test_a_corrupt_cifar10_file_gets_a_clear_error(clean_env, tmp_path):
    write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"not a pickle")
    clean_env.setenv("VAE_COURSE_DATA", str(tmp_path))
    with pytest.raises(ValueError, match="test_batch is not a CIFAR-10 batch file.*fetch it again"):
        load_images("cifar10", "test")


def test_photograph_patches_split_by_photograph(clean_env):
    train, test = load_images("photographs", "train"), load_images("photographs", "test")
    assert train.images.shape[1:] == (3, 32, 32) and train.images.dtype == torch.uint8 and len(train) > 5_000
    assert test.images.shape[1:] == (3, 32, 32) and len(test) > 2_000
    assert set(train.classes).isdisjoint(test.classes), "no photograph may give both training and test patches"
    assert sorted(train.labels.unique().tolist()) == list(range(len(train.classes)))
    assert train.labels[:200].unique().numel() == len(train.classes), "the first patches come from every photograph"
    training_patches = {bytes(p) for p in train.images.flatten(1).numpy()}
    assert not any(bytes(p) in training_patches for p in test.images.flatten(1).numpy())
    assert load_images("photographs", "train").images is train.images  # loaded once per process
    assert train.images.float().std() > 30, "photographs, not flat colour"


def test_one_setting_names_the_bundled_data_of_both_kinds(clean_env, capsys):
    clean_env.setenv("VAE_COURSE_DATASET", "digits")
    assert load_images("cifar10", "test").name.startswith("photograph patches")
    assert "VAE_COURSE_DATASET=digits: loading the bundled 'photographs' instead of 'cifar10'" in capsys.readouterr().out
    clean_env.setenv("VAE_COURSE_DATASET", "photographs")
    assert data.resolve_name("mnist") == "digits"
    clean_env.setenv("VAE_COURSE_DATASET", "fashion-mnist")
    with pytest.raises(ValueError, match="names grey images, and 'cifar10' is a dataset of colour images: set it "
                                         "to one of cifar10, photographs"):
        load_images("cifar10", "train")
    clean_env.delenv("VAE_COURSE_DATASET")
    clean_env.setenv("NBGRADER_EXECUTION", "autograde")
    assert data.resolve_name("cifar10") == "photographs" and data.resolve_name("mnist") == "digits"


def test_download_command_makes_cifar10_ready_from_the_data_folder(clean_env, tmp_path, capsys):
    write_cifar10(tmp_path, per_batch=3)  # stands in for what torchvision's download would have written
    clean_env.setenv("VAE_COURSE_DATA", str(tmp_path))
    assert data_command(["download", "--dataset", "cifar10"]) == 0
    assert capsys.readouterr().out.splitlines() == ["CIFAR-10 train: 15 images ready", "CIFAR-10 test: 3 images ready"]

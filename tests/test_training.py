import pytest
import torch

from vae_helpers import Batches, evaluate, load_images, seed_everything, train
from vae_helpers.training import progress_bar


@pytest.fixture
def digits(clean_env):
    clean_env.setenv("VAE_COURSE_DATASET", "digits")
    return load_images("digits", "train")


def autoencoder_loss(model, x, y):
    reconstruction = model(x).view_as(x)
    rec = ((reconstruction - x) ** 2).flatten(1).sum(1).mean()
    penalty = 1e-3 * sum(p.pow(2).sum() for p in model.parameters())
    return {"loss": rec + penalty, "reconstruction": rec, "penalty": penalty}


def test_train_reduces_the_loss_and_records_every_term(digits, capsys):
    seed_everything(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 784))
    history = train(model, autoencoder_loss, Batches(digits, 128), torch.optim.Adam(model.parameters(), 1e-3), epochs=3)
    assert set(history) == {"loss", "reconstruction", "penalty"}
    assert all(len(values) == 3 for values in history.values())
    assert history["loss"][-1] < history["loss"][0]
    assert "epoch 3/3: loss" in capsys.readouterr().out


def test_train_reports_every_few_epochs_and_after_the_last(digits, capsys):
    model = torch.nn.Linear(784, 784)
    train(model, lambda m, x, y: ((m(x.flatten(1)) - x.flatten(1)) ** 2).mean(), Batches(digits.take(128), 64),
          torch.optim.SGD(model.parameters(), 0.1), epochs=5, progress=False, report_every=2)
    reported = [line.split(":")[0] for line in capsys.readouterr().out.splitlines()]
    assert reported == ["epoch 2/5", "epoch 4/5", "epoch 5/5"]


def test_train_calls_after_epoch_with_the_model_in_its_state_after_each_epoch(digits):
    model = torch.nn.Linear(784, 784)
    seen = []
    train(model, lambda m, x, y: ((m(x.flatten(1)) - x.flatten(1)) ** 2).mean(), Batches(digits.take(128), 64),
          torch.optim.SGD(model.parameters(), 0.1), epochs=3, progress=False, report_every=3,
          after_epoch=lambda epoch: seen.append((epoch, model.weight.detach().clone())))
    assert [epoch for epoch, _ in seen] == [1, 2, 3]
    assert not torch.equal(seen[0][1], seen[1][1]) and torch.equal(seen[2][1], model.weight.detach())


def test_train_accepts_a_plain_loss_tensor(digits):
    model = torch.nn.Linear(784, 784)
    history = train(model, lambda m, x, y: ((m(x.flatten(1)) - x.flatten(1)) ** 2).mean(),
                    Batches(digits.take(256), 64), torch.optim.SGD(model.parameters(), 0.1), epochs=2, progress=False)
    assert list(history) == ["loss"] and len(history["loss"]) == 2


def test_train_history_is_the_per_example_mean(digits):
    """Epoch values weight each batch by its size, so a short last batch does not skew them."""
    data = digits.take(100)
    model = torch.nn.Linear(1, 1)  # untouched by the loss below
    optimizer = torch.optim.SGD(model.parameters(), 0.0)
    mean_label = lambda m, x, y: y.float().mean() + 0 * m.weight.sum()
    history = train(model, mean_label, Batches(data, 64), optimizer, epochs=1, progress=False)
    assert history["loss"][0] == pytest.approx(data.labels.float().mean().item(), rel=1e-6)


def test_train_refuses_a_loss_without_a_loss_term(digits):
    model = torch.nn.Linear(784, 1)
    with pytest.raises(KeyError, match="must include 'loss'"):
        train(model, lambda m, x, y: {"kl": m(x.flatten(1)).mean()}, Batches(digits.take(10), 10),
              torch.optim.SGD(model.parameters(), 0.1), epochs=1, progress=False)


def test_train_says_when_the_batches_are_empty(digits):
    model = torch.nn.Linear(784, 1)
    with pytest.raises(ValueError, match="held no examples"):
        train(model, lambda m, x, y: m(x.flatten(1)).mean(), [], torch.optim.SGD(model.parameters(), 0.1),
              epochs=1, progress=False)


class Noisy(torch.nn.Module):
    """Adds noise in train mode only, like dropout: shows which mode evaluate ran in."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(784, 1)

    def forward(self, x):
        out = self.linear(x.flatten(1))
        return out + torch.randn_like(out) if self.training else out


def test_evaluate_gives_per_example_means_of_every_term(digits):
    data = digits.take(100)
    model = Noisy()
    terms = lambda m, x, y: {"loss": m(x).mean(), "label": y.float().mean()}
    means = evaluate(model, terms, Batches(data, 64, shuffle=False))
    assert set(means) == {"loss", "label"} and all(isinstance(v, float) for v in means.values())
    assert means["label"] == pytest.approx(data.labels.float().mean().item(), rel=1e-6)
    with torch.no_grad():
        expected = model.linear(data.images.flatten(1).float().div(255)).mean().item()
    assert means["loss"] == pytest.approx(expected, rel=1e-5), "evaluate must run the model in eval mode"


def test_evaluate_restores_the_mode_and_builds_no_graph(digits):
    model = Noisy()
    seen = []

    def loss(m, x, y):
        out = m(x).mean()
        seen.append(out.requires_grad)
        return out

    for mode in (True, False):
        model.train(mode)
        evaluate(model, loss, Batches(digits.take(20), 10))
        assert model.training is mode
    assert seen and not any(seen)
    with pytest.raises(ValueError, match="held no examples"):
        evaluate(model, loss, [])


def test_progress_bar_is_silent_under_nbgrader(clean_env):
    clean_env.setenv("NBGRADER_EXECUTION", "autograde")
    assert progress_bar(range(3)).disable
    clean_env.delenv("NBGRADER_EXECUTION")
    assert not progress_bar(range(3)).disable
    assert progress_bar(range(3), enabled=False).disable


def test_progress_bar_works_without_ipywidgets(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_widgets(name, *args, **kwargs):
        if name == "ipywidgets":
            raise ImportError("No module named 'ipywidgets'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_widgets)
    bar = progress_bar(range(4))
    assert type(bar).__module__ == "tqdm.std"
    assert list(bar) == [0, 1, 2, 3]

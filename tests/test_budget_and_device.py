import random

import numpy as np
import pytest
import torch

from vae_helpers import choose, get_device, run_mode, seed_everything


def test_student_default_is_full_mode(clean_env):
    assert run_mode() == "full"
    assert choose(full=10, fast=1) == 10


@pytest.mark.parametrize("value", ["1", "true", "yes", "on"])
def test_fast_mode_from_environment(clean_env, value):
    clean_env.setenv("VAE_COURSE_FAST", value)
    assert run_mode() == "fast"
    assert choose(full=10, fast=1) == 1


@pytest.mark.parametrize("value", ["0", "false", "", "off"])
def test_fast_mode_switched_off(clean_env, value):
    clean_env.setenv("VAE_COURSE_FAST", value)
    assert run_mode() == "full"


def test_autograde_uses_fast_budgets_even_when_fast_mode_is_off(clean_env):
    clean_env.setenv("VAE_COURSE_FAST", "0")
    clean_env.setenv("NBGRADER_EXECUTION", "autograde")
    assert run_mode() == "autograde"
    assert choose(full=[60_000], fast=[500]) == [500]


def test_device_falls_back_to_cpu_without_accelerators(clean_env, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert get_device() == torch.device("cpu")


def test_device_prefers_cuda_then_mps(clean_env, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert get_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device() == torch.device("cuda")


def test_device_can_be_forced(clean_env):
    clean_env.setenv("VAE_COURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_seed_everything_makes_all_generators_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3)

    seed_everything(123)
    first = draw()
    seed_everything(123)
    second = draw()
    assert first[0] == second[0] and first[1] == second[1]
    assert torch.equal(first[2], second[2])
    seed_everything(124)
    assert not torch.equal(draw()[2], first[2])

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vae_helpers import choose, describe, get_device, run_mode, seed_everything
from vae_helpers.device import THREAD_VARIABLES, cgroup_cpu_quota


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


def fake_cgroup(tmp_path, version, quota):
    """A /proc/self/cgroup and a cgroup tree whose process group allows ``quota`` (text as the kernel writes it)."""
    proc = tmp_path / "cgroup"
    if version == 2:
        proc.write_text("0::/user.slice/notebook\n")
        group = tmp_path / "fs" / "user.slice" / "notebook"
        group.mkdir(parents=True)
        (group / "cpu.max").write_text(quota)
        (group.parent / "cpu.max").write_text("max 100000\n")
    else:
        proc.write_text("4:memory:/x\n2:cpu,cpuacct:/docker/abc\n")
        group = tmp_path / "fs" / "cpu,cpuacct" / "docker" / "abc"
        group.mkdir(parents=True)
        (group / "cpu.cfs_quota_us").write_text(quota)
        (group / "cpu.cfs_period_us").write_text("100000\n")
    return proc, tmp_path / "fs"


@pytest.mark.parametrize("version, quota, cpus", [(2, "150000 100000\n", 1.5), (2, "max 100000\n", None),
                                                  (1, "200000\n", 2.0), (1, "-1\n", None)])
def test_the_cpu_quota_is_read_from_cgroups(tmp_path, version, quota, cpus):
    assert cgroup_cpu_quota(*fake_cgroup(tmp_path, version, quota)) == cpus


def test_no_cgroups_means_no_quota(tmp_path):
    assert cgroup_cpu_quota(tmp_path / "missing", tmp_path) is None


def threads_in_a_new_python(code, preexec_fn=None):
    environment = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    result = subprocess.run([sys.executable, "-c", f"{code}\nimport torch; print(torch.get_num_threads())"],
                            capture_output=True, text=True, env=environment, preexec_fn=preexec_fn, check=True)
    return int(result.stdout.split()[-1])


@pytest.mark.skipif(not Path("/sys/fs/cgroup/cpu").is_dir() or os.geteuid() != 0,
                    reason="needs root and cgroup v1's cpu controller to make a quota")
def test_a_notebook_under_a_one_cpu_quota_trains_with_one_thread():
    """As on Binder or a hub with a CPU limit: PyTorch alone takes every core, the course takes its share."""
    group = Path("/sys/fs/cgroup/cpu") / f"vae-course-test-{os.getpid()}"
    group.mkdir()
    try:
        (group / "cpu.cfs_quota_us").write_text("100000")  # one CPU's worth of time
        enter = lambda: (group / "cgroup.procs").write_text(str(os.getpid()))  # noqa: E731
        assert threads_in_a_new_python("", enter) == os.cpu_count() > 1, "PyTorch ignores the quota"
        assert threads_in_a_new_python("import vae_helpers", enter) == 1
        assert threads_in_a_new_python("import vae_helpers") == len(os.sched_getaffinity(0)), "no quota here"
    finally:
        group.rmdir()


def test_the_setup_line_says_how_many_threads():
    assert describe(torch.device("cpu")) == f"cpu ({torch.get_num_threads()} thread" + \
        ("s)" if torch.get_num_threads() != 1 else ")")

"""The tripwire behind every graded cell: each way of replacing what the hidden tests rely on is
caught, and the course's own use of torch is not mistaken for tampering. Each case runs in a fresh
interpreter, so no patch leaks into the test process."""
import subprocess
import sys

import pytest

from conftest import REPO

CLEAN_USE = """
import torch
torch.set_default_dtype(torch.float64)          # rebinds torch.Storage
model = torch.nn.Linear(2, 1)
torch.optim.Adam(model.parameters()).step()     # wraps Adam.step in place
torch.set_default_dtype(torch.float32)
"""
ATTEMPTS = {
    "a torch function": ("import torch\ntorch.allclose = lambda *a, **k: True\n", "`torch.allclose` was replaced"),
    "a Tensor method": ("import torch\ntorch.Tensor.backward = lambda self, *a, **k: None\n",
                        "`torch.Tensor.backward` was replaced"),
    "a method added to shadow an inherited one": (
        "import torch\ntorch.Tensor.expand_as = lambda self, other: other\n", "`torch.Tensor.expand_as` was added"),
    "a built-in": ("import builtins\nbuiltins.abs = lambda x: 0.0\n", "`builtins.abs` was replaced"),
    "a built-in rebound where the cell reads it": ("abs = lambda x: 0.0\nabs(-1)\n",
                                                   "the built-in `abs` is rebound in the notebook"),
    "a course helper": ("import vae_helpers.checks\nvae_helpers.checks.expect_close = lambda *a, **k: None\n",
                        "`vae_helpers.checks.expect_close` was replaced"),
    "a NumPy function": ("import numpy\nnumpy.isclose = lambda *a, **k: True\n", "`numpy.isclose` was replaced"),
    "a math constant": ("import math\nmath.pi = 3.0\n", "`math.pi` was replaced"),
    "the module in sys.modules": ("import sys, types\nsys.modules['torch'].nn = types.SimpleNamespace()\n",
                                  "`torch.nn` was replaced"),
}


def run_cell(tmp_path, code):
    """Run ``code`` as a file (so that its source can be read back, as a notebook cell's can), after
    ``import vae_helpers`` and before the check; returns the process."""
    cell = tmp_path / "cell.py"
    cell.write_text("import vae_helpers\n" + code +
                    "\nfrom vae_helpers.integrity import expect_untampered\nexpect_untampered()\n")
    return subprocess.run([sys.executable, str(cell)], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_the_course_using_torch_is_not_tampering(tmp_path):
    result = run_cell(tmp_path, CLEAN_USE)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("attempt", ATTEMPTS)
def test_replacing_what_grading_relies_on_is_caught(tmp_path, attempt):
    code, reported = ATTEMPTS[attempt]
    result = run_cell(tmp_path, code)
    assert result.returncode != 0, f"{attempt} went unnoticed"
    assert reported in result.stderr and "reviews it by hand" in result.stderr, result.stderr[-2000:]

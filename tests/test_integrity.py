"""The tripwire behind every graded cell: each way of replacing what the hidden tests rely on is
caught, and the course's own use of torch is not mistaken for tampering.

All cases run in one fresh interpreter, so that no patch leaks into the test process: each case is a
file (its source can be read back, as a notebook cell's can), run after the one before it was undone.
"""
import json
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO

CLEAN_USE = """
torch.set_default_dtype(torch.float64)          # rebinds torch.Storage
model = torch.nn.Linear(2, 1)
torch.optim.Adam(model.parameters()).step()     # wraps Adam.step in place
torch.set_default_dtype(torch.float32)
"""
# attempt: (code, what the check must report)
ATTEMPTS = {
    "a torch function": ("torch.allclose = lambda *a, **k: True", "`torch.allclose` was replaced"),
    "a Tensor method": ("torch.Tensor.backward = lambda self, *a, **k: None", "`torch.Tensor.backward` was replaced"),
    "a method added to shadow an inherited one": ("torch.Tensor.expand_as = lambda self, other: other",
                                                  "`torch.Tensor.expand_as` was added"),
    "a built-in": ("builtins.abs = lambda x: 0.0", "`builtins.abs` was replaced"),
    "a built-in rebound where the cell reads it": ("abs = lambda x: 0.0\nabs(-1)",
                                                   "the built-in `abs` is rebound in the notebook"),
    "a course helper": ("vae_helpers.checks.expect_close = lambda *a, **k: None",
                        "`vae_helpers.checks.expect_close` was replaced"),
    "a NumPy function": ("numpy.isclose = lambda *a, **k: True", "`numpy.isclose` was replaced"),
    "a math constant": ("math.pi = 3.0", "`math.pi` was replaced"),
    "a submodule": ("torch.nn = types.SimpleNamespace()", "`torch.nn` was replaced"),
}
RUNNER = """
import builtins, json, math, runpy, sys, types
import numpy, torch
import vae_helpers, vae_helpers.checks
from vae_helpers import integrity

outcomes = {{}}
for name, path in {cases!r}.items():
    try:
        runpy.run_path(path, init_globals={{"builtins": builtins, "math": math, "numpy": numpy, "torch": torch,
                                            "types": types, "vae_helpers": vae_helpers}})
        outcomes[name] = None
    except AssertionError as error:
        outcomes[name] = str(error)
    for label, owner in integrity._owners():  # undo the attempt before the next one
        current, recorded = vars(owner), integrity.BASELINE.get(label, {{}})
        for key in set(current) - set(recorded):
            if callable(current[key]) and not isinstance(current[key], types.ModuleType):
                delattr(owner, key)
        for key, value in recorded.items():
            if current.get(key) is not value:
                setattr(owner, key, value)
print("OUTCOMES " + json.dumps(outcomes))
"""


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """{case: the check's message, or None when it passed}, for the clean use and every attempt."""
    folder = tmp_path_factory.mktemp("integrity")
    cases = {}
    for name, code in [("clean use", CLEAN_USE)] + [(name, code) for name, (code, _) in ATTEMPTS.items()]:
        path = folder / f"case-{len(cases)}.py"
        path.write_text(textwrap.dedent(code) + "\nfrom vae_helpers.integrity import expect_untampered\n"
                        "expect_untampered()\n")
        cases[name] = str(path)
    result = subprocess.run([sys.executable, "-c", RUNNER.format(cases=cases)], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.split("OUTCOMES ", 1)[1])


def test_the_course_using_torch_is_not_tampering(outcomes):
    assert outcomes["clean use"] is None, outcomes["clean use"]


@pytest.mark.parametrize("attempt", ATTEMPTS)
def test_replacing_what_grading_relies_on_is_caught(outcomes, attempt):
    message = outcomes[attempt]
    assert message is not None, f"{attempt} went unnoticed"
    assert ATTEMPTS[attempt][1] in message and "reviews it by hand" in message, message


REFERENCE_CELLS = '''
import json
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
seen = {}
shell.user_ns["seen"] = seen
for cell in (
    "def encode(x): return 'student'",
    "from vae_helpers.integrity import use_reference_versions\\n"
    "use_reference_versions({'encode': lambda x: 'reference', 'decode': lambda z: 'reference'})\\n"
    "seen['in the grading cell'] = (encode(0), decode(0))",
    "seen['in the next cell'] = (encode(0), 'decode' in globals())",
    "use_reference_versions({'encode': lambda x: 'reference'})\\nraise AssertionError('a failing test')",
    "seen['after a failing grading cell'] = encode(0)",
):
    shell.run_cell(cell)
print("SEEN " + json.dumps(seen))
'''


def test_reference_versions_hold_for_one_cell_then_the_students_come_back():
    """A hidden test grades an exercise on its own with reference versions of the code it calls; from the
    next cell on, the student's own code (and only it) is back, also when the grading cell failed."""
    done = subprocess.run([sys.executable, "-c", REFERENCE_CELLS], capture_output=True, text=True, cwd=REPO,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.split("SEEN ", 1)[1])
    assert seen == {"in the grading cell": ["reference", "reference"],
                    "in the next cell": ["student", False],
                    "after a failing grading cell": "student"}

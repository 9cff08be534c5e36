"""Evidence that grading ran against the real torch, NumPy, math, builtins and course helpers.

An answer cell runs in the same kernel as the hidden tests that grade it, so it could replace
what those tests rely on (``torch.allclose = lambda *a, **k: True``, ``abs = ...``) and pass
an exercise it never solved. The setup cell imports this package, which records every function
and class of those modules (`BASELINE`); each graded cell ends with `expect_untampered()`,
which fails the exercise, asking for a manual review, when any of them was replaced, when a
new attribute shadows one, or when the cell reads a built-in name that the notebook rebound.
"""
import ast
import builtins
import importlib
import inspect
import linecache
import sys
import types
from pathlib import Path

# what the hidden tests call, directly or through the course's helpers
WATCHED_MODULES = (
    "builtins", "math", "numpy", "numpy.linalg", "numpy.random", "numpy.testing",
    "torch", "torch.nn", "torch.nn.functional", "torch.nn.init", "torch.nn.modules.module",
    "torch.distributions", "torch.distributions.kl", "torch.autograd", "torch.linalg",
    "torch.special", "torch.testing", "torch.optim",
    "vae_helpers", "vae_helpers.budget", "vae_helpers.checks", "vae_helpers.data", "vae_helpers.device",
    "vae_helpers.integrity", "vae_helpers.metrics", "vae_helpers.plots", "vae_helpers.training",
)
_TRUSTED_PACKAGES = ("builtins", "math", "numpy", "torch", "vae_helpers", "typing", "functools", "_operator")
_TRUSTED_ROOTS = tuple(str(Path(importlib.import_module(name).__file__).parent)
                       for name in ("functools", "numpy", "torch", "vae_helpers"))
# attributes that torch itself rebinds: torch.set_default_dtype sets torch.Storage
_REBOUND_BY_TORCH = frozenset({("torch", "Storage")})
# names that IPython and ipykernel rebind in builtins on their own (ipykernel: `input` at each cell)
_VOLATILE_BUILTINS = frozenset({"_", "__", "___", "exit", "quit", "get_ipython", "display", "__IPYTHON__", "input"})


def _owners():
    """(label, module or class) for each watched module and each class those modules define or inherit."""
    modules = [importlib.import_module(name) for name in WATCHED_MODULES]  # all imported before any is read
    classes = {}
    for module in modules:
        yield module.__name__, module
        for value in list(vars(module).values()):
            for cls in value.__mro__ if isinstance(value, type) else ():  # with the bases they inherit from
                if cls.__module__.split(".")[0] in _TRUSTED_PACKAGES:
                    classes.setdefault(f"{cls.__module__}.{cls.__qualname__}", cls)
    yield from classes.items()


def _foreign(value) -> bool:
    """True when ``value`` is code written outside the trusted packages (e.g. in the notebook)."""
    value = getattr(value, "__func__", value)
    value = getattr(value, "func", value)  # functools.partial
    code = getattr(value, "__code__", None)
    if code is not None:  # where the code was written, which functools.wraps does not hide
        return not any(code.co_filename.startswith(root) for root in _TRUSTED_ROOTS)
    module = getattr(value, "__module__", None) or type(value).__module__
    return isinstance(module, str) and module.split(".")[0] not in _TRUSTED_PACKAGES


def _changes():
    for label, owner in _owners():
        namespace, recorded = vars(owner), BASELINE.get(label)
        if recorded is None:
            continue
        for key, value in namespace.items():
            if label == "builtins" and key in _VOLATILE_BUILTINS:
                continue
            if key in recorded:
                # torch wraps some methods in place (e.g. Optimizer.step, with functools.wraps)
                if value is not recorded[key] and (label, key) not in _REBOUND_BY_TORCH and (
                        _foreign(value) or inspect.unwrap(value) is not inspect.unwrap(recorded[key])):
                    yield f"`{label}.{key}` was replaced"
            elif isinstance(value, types.ModuleType):
                continue  # a submodule imported since
            elif _foreign(value) or callable(value):
                yield f"`{label}.{key}` was added"
        for key in recorded.keys() - namespace.keys():
            if not (label == "builtins" and key in _VOLATILE_BUILTINS):
                yield f"`{label}.{key}` was deleted"


def _shadowed_builtins(frame):
    """Built-in names that the code running in ``frame`` reads but the notebook rebound."""
    source = "".join(linecache.getlines(frame.f_code.co_filename))
    try:
        names = {node.id for node in ast.walk(ast.parse(source))
                 if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    except SyntaxError:
        names = set(frame.f_globals)
    for name in sorted((names & set(vars(builtins)) & set(frame.f_globals)) - _VOLATILE_BUILTINS):
        if frame.f_globals[name] is not vars(builtins)[name]:
            yield f"the built-in `{name}` is rebound in the notebook"


def expect_untampered() -> None:
    """Fail, asking for a manual review, when grading's tools were replaced in this kernel."""
    caller = sys._getframe(1)
    problems = list(_changes()) + list(_shadowed_builtins(caller))
    if caller.f_globals.get("__builtins__", builtins) not in (builtins, vars(builtins)):
        problems.append("the notebook's `__builtins__` was replaced")
    if problems:
        raise AssertionError(
            "grading cannot trust this result, so this exercise scores 0 until your instructor reviews it by hand: "
            + "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
            + ". Code that changes torch, NumPy, math, the built-ins or the course's helpers is not allowed; "
              "remove it, restart the kernel and validate again.")


def use_reference_versions(references: dict) -> None:
    """Grade one exercise on its own: until the running cell ends, the notebook's names in ``references``
    (code this exercise calls from other exercises) mean the reference versions; then the student's come back."""
    from IPython import get_ipython

    namespace, shell = sys._getframe(1).f_globals, get_ipython()
    students_versions = {name: namespace[name] for name in references if name in namespace}
    namespace.update(references)

    def put_back_students_versions(*_):
        for name in references:
            namespace.pop(name, None)
        namespace.update(students_versions)
        shell.events.unregister("post_run_cell", put_back_students_versions)

    shell.events.register("post_run_cell", put_back_students_versions)


BASELINE = {label: dict(vars(owner)) for label, owner in _owners()}  # last, so it holds this module too

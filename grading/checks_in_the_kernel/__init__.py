"""The visible checks as a grading kernel has them: each does nothing.

At grading the grading process runs every graded cell's visible checks itself, beside its hidden test (``judge``),
so the kernel needs none of them. The sandbox binds this package over ``vae_helpers/exercises`` in the kernel:
the checks' own reference code (an exact quadrature, a reference optimisation, the expected values) is not there for
an answer to call, and an answer that imports it fails as any answer that imports what does not exist.
``from vae_helpers.exercises import elbo as checks`` still works, and each ``checks.name(...)`` returns None.
"""
import types


def _nothing(*args, **kwargs):
    return None


class _Checks(types.ModuleType):
    """An exercise's checks, every one of them doing nothing."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _nothing


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return _Checks(f"{__name__}.{name}")

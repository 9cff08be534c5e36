"""Errors in a notebook that end on the course's own message, with no frames of the course's helpers.

A failed check ("... expected [0.5], got [-0.5]. Hint: ...") or a missing dataset (which says what to
change) is raised inside ``vae_helpers``; IPython would show those frames first, the message under them.
Once ``import vae_helpers`` has run in a notebook, its tracebacks leave out every frame of the helpers:
what remains is the student's cell, their own functions, and the message. The error itself is the same
(its type, its message, a failed cell), so Validate and grading see exactly what they saw before.
"""
import types
from pathlib import Path

HELPERS = str(Path(__file__).resolve().parent)


def without_helper_frames(traceback):
    """The traceback ``traceback`` with every frame of vae_helpers taken out (the first one is always kept)."""
    frames = []
    while traceback is not None:
        if not frames or not traceback.tb_frame.f_code.co_filename.startswith(HELPERS):
            frames.append(traceback)
        traceback = traceback.tb_next
    trimmed = None
    for frame in reversed(frames):
        trimmed = types.TracebackType(trimmed, frame.tb_frame, frame.tb_lasti, frame.tb_lineno)
    return trimmed


def show_errors_without_helper_frames():
    """In an IPython kernel, show every error's traceback without the helpers' frames; elsewhere nothing."""
    try:
        shell = get_ipython()  # noqa: F821  (defined only inside IPython)
    except NameError:
        return

    def show(shell, kind, error, traceback, tb_offset=None):
        shown = shell.InteractiveTB.structured_traceback(kind, error, without_helper_frames(traceback),
                                                         tb_offset=tb_offset)
        shell._showtraceback(kind, error, shown)

    shell.set_custom_exc((Exception,), show)

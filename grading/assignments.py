"""What the gradebook must know of an assignment before its submissions can be graded.

nbgrader records an assignment (its notebooks and graded cells) when ``nbgrader generate_assignment``
writes its release; a fresh clone of the course has ``course/`` but an empty gradebook, and every
submission then fails to grade. ``record_assignment`` records it from ``solutions/`` without touching
``course/``: it generates the release into a scratch folder and checks that it is what ``course/`` holds,
since the students worked on ``course/``.
"""
import subprocess
import sys
import tempfile
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from grading.autograde import quiet_gradebook_session_warnings

REGENERATE = "nbgrader generate_assignment {assignment} --force"


def is_recorded(gradebook, assignment):
    if not Path(gradebook).is_file():
        return False
    quiet_gradebook_session_warnings()
    with Gradebook(f"sqlite:///{gradebook}") as book:
        try:
            return bool(book.find_assignment(assignment).notebooks)
        except MissingEntry:
            return False


def record_assignment(course, assignment):
    """Record ``assignment`` in the gradebook from ``solutions/`` if it is not there; a line saying what was
    done, or None. Stops, saying what to run, where it cannot be done safely."""
    if is_recorded(course.gradebook, assignment):
        return None
    source, release = course.root / "solutions" / assignment, course.root / "course" / assignment
    if not source.is_dir():
        raise SystemExit(f"{assignment} is not in the gradebook, and there is no {source} to record it from.")
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment,
                                 f"--CourseDirectory.release_directory={scratch}"],
                                cwd=course.root, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"Could not record {assignment} from {source}:\n{result.stderr[-2000:]}")
        generated = {p.relative_to(scratch): p.read_bytes() for p in Path(scratch).rglob("*.ipynb")}
    released = {p.relative_to(release.parent): p.read_bytes() for p in release.glob("*.ipynb")}
    if generated != released:
        with Gradebook(f"sqlite:///{course.gradebook}") as book:
            book.remove_assignment(assignment)  # not graded against a source the students did not get
        raise SystemExit(
            f"{assignment} is not in the gradebook, and {release} differs from what {source} generates; the "
            f"students worked on {release}, so nothing was graded. If solutions/ is right, regenerate course/ with "
            f"`{REGENERATE.format(assignment=assignment)}` (it overwrites {release}); else correct solutions/. "
            "Then grade again.")
    return f"{assignment} was not in the gradebook: recorded it from {source} (course/ matches it)."

"""Build the site with Sphinx (myst-nb reads the lectures as they are, executing nothing) from a source folder of
its own: the guides of docs/, BENCHMARKS.md, and the lectures written by ``website.lectures``."""
import shutil
import tempfile
from pathlib import Path

import nbformat
from sphinx.cmd.build import build_main

from website.lectures import COURSE, lecture

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


def executed_notebook(assignment: str, folders: list[Path]) -> Path | None:
    """The executed notebook of ``assignment`` in the first of ``folders`` that holds one, or None."""
    return next((folder / f"{assignment}.ipynb" for folder in folders if (folder / f"{assignment}.ipynb").is_file()),
                None)


def write_sources(source: Path, folders: list[Path]) -> list[str]:
    """Writes the site's sources into ``source``; returns the assignments that no folder had executed (their
    lectures have no outputs)."""
    shutil.copytree(DOCS, source, ignore=shutil.ignore_patterns("_build"))
    for page in source.glob("*.md"):  # the guides link to ../BENCHMARKS.md, which the site holds beside them
        page.write_text(page.read_text().replace("](../BENCHMARKS.md)", "](BENCHMARKS.md)"))
    shutil.copy(REPO / "BENCHMARKS.md", source / "BENCHMARKS.md")
    (source / "lectures").mkdir()
    missing = []
    for assignment in sorted(path.name for path in COURSE.iterdir() if path.is_dir()):
        executed = executed_notebook(assignment, folders)
        if executed is None:
            missing.append(assignment)
        nbformat.write(lecture(assignment, executed), source / "lectures" / f"{assignment}.ipynb")
    return missing


def build(folders: list[Path], output: Path) -> list[str]:
    """Builds the site into ``output`` (HTML) from the executed notebooks in ``folders``; returns the assignments
    shown without outputs. Raises RuntimeError when Sphinx fails."""
    with tempfile.TemporaryDirectory() as workdir:
        source = Path(workdir) / "docs"
        missing = write_sources(source, folders)
        if output.exists():
            shutil.rmtree(output)
        status = build_main(["-b", "html", "-q", "-d", str(Path(workdir) / "doctrees"), str(source), str(output)])
        if status != 0:
            raise RuntimeError(f"sphinx-build failed (exit status {status}); its messages are above")
    return missing

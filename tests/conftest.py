"""The suite's fixtures and tiers; the settings every kernel inherits are in the repository's conftest.py."""
import shutil
from pathlib import Path

import pytest

from support.course import REPO, nbgrader
from support.tiers import LONGEST_FIRST, TIERS


def pytest_collection_modifyitems(items):
    """Mark every test with its module's tiers, so that `-m "not slow"` is the quick loop; put the longest
    modules first (``LONGEST_FIRST``), the others after them in their order."""
    for item in items:
        path = Path(str(item.fspath))
        tiers = TIERS.get(path.stem, ("unit",))
        for tier in tiers:
            item.add_marker(tier)
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(Path(str(item.fspath)).stem, len(rank)))


@pytest.fixture
def clean_env(monkeypatch):
    """No course variables set: the defaults a student gets."""
    for name in ("VAE_COURSE_FAST", "VAE_COURSE_DATASET", "VAE_COURSE_DATA", "VAE_COURSE_DEVICE",
                 "NBGRADER_EXECUTION"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture(scope="session")
def course(tmp_path_factory):
    """A throw-away course folder: the repository's config, solutions and hidden tests, a fresh gradebook."""
    root = tmp_path_factory.mktemp("course")
    shutil.copy(REPO / "nbgrader_config.py", root)
    for folder in ("solutions", "hidden_tests"):
        shutil.copytree(REPO / folder, root / folder)
    nbgrader(root, "generate_assignment", "*", "--force")
    return root

"""Run times stated in the notebooks and the README must be those BENCHMARKS.md records (student mode,
Fashion-MNIST, 2 CPU cores): a change that makes a notebook slower fails here until the text follows."""
import json
import re

import pytest

from conftest import ASSIGNMENTS, REPO, notebook_path

TOLERANCE = 0.2  # a stated "about" may round the measurement by up to 20 %
_UNITS = {"s": 1, "seconds": 1, "second": 1, "min": 60, "minute": 60, "minutes": 60}


def measured_seconds(dataset="fashion-mnist"):
    """{notebook: student-mode wall time in s} from the CPU section of BENCHMARKS.md for ``dataset``."""
    text = (REPO / "BENCHMARKS.md").read_text()
    section = re.search(rf"<!-- bench cpu:{dataset} -->\n(.*?)<!-- /bench -->", text, re.DOTALL).group(1)
    rows = re.findall(r"^\| (\d\d_\w+) \| student \| ([\d.]+) s \|", section, re.MULTILINE)
    return {name: float(seconds) for name, seconds in rows}


def stated_seconds(text):
    """The first "<number> <unit>" of ``text``, in seconds."""
    number, unit = re.match(r"\D*?([\d.]+)\s*(seconds|second|minutes|minute|min|s)\b", text).groups()
    return float(number) * _UNITS[unit]


def test_the_benchmark_records_every_notebook():
    assert set(measured_seconds()) == set(ASSIGNMENTS)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebook_states_its_measured_run_time(assignment):
    cells = json.loads(notebook_path(REPO / "solutions", assignment).read_text())["cells"]
    line = next(line for line in "".join(cells[0]["source"]).splitlines() if line.startswith("**Run time:**"))
    measured = measured_seconds()[assignment]
    assert abs(stated_seconds(line) - measured) <= TOLERANCE * measured, \
        f"{assignment} says {line!r}; BENCHMARKS.md measured {measured:.0f} s"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_readme_states_the_measured_run_time(assignment):
    row = next(line for line in (REPO / "README.md").read_text().splitlines()
               if line.startswith(f"| [`{assignment}`]"))
    stated = stated_seconds(row.rstrip(" |").rsplit("|", 1)[1])
    measured = measured_seconds()[assignment]
    assert abs(stated - measured) <= TOLERANCE * measured, \
        f"the README says {stated:.0f} s for {assignment}; BENCHMARKS.md measured {measured:.0f} s"

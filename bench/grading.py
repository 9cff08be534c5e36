"""Benchmark grading a class: serial ``nbgrader autograde`` against ``python -m grading autograde``.

    python -m bench.grading                      # 40 submissions of 02_dense_vae; updates BENCHMARKS.md
    python -m bench.grading --students 3 --pairs 1 --quick   # about two minutes, prints only

A synthetic class (solutions, untouched notebooks, notebooks with a planted mistake from the test
suite's list) is graded twice in one run, each time in a fresh copy of the course: by plain
``nbgrader autograde`` one submission after another, and by the parallel command. The two
gradebooks must agree. The parallel run's logs say where each submission's time went (starting the kernel,
the student's cells, judging the hidden tests, nbgrader's own work). The sandbox's cost is measured on
submissions graded alone, with and without it, in alternation. Every assignment's solution is then graded
once to project a whole course.
"""
import argparse
import datetime
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nbgrader.api import Gradebook

from bench.run import REPO, SOLUTIONS, machine, solution_notebook, update_benchmarks
from grading.execution import TIMED_PARTS, TIMING_MARK
from grading.sandbox import sandbox_problem
from judge.hidden_tests import FOLDER
from tests.support.planted import MISTAKES
from vae_helpers import get_device

KINDS = ("solution", "untouched", "mistaken")
SPEED_UP_TARGET, SANDBOX_COST_TARGET, JUDGING_COST_TARGET = 1.8, 0.10, 0.10
PROJECTED = (200, (2, 16))  # students, core counts


def planted_mistakes(assignment):
    """(solution cell, correct, mistaken) of each mistake the test suite plants in ``assignment``."""
    return [(cell, correct, mistaken) for name, _, cell, correct, mistaken, _ in MISTAKES if name == assignment]


def nbgrader(course, *args, env=None):
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True,
                            env=env)
    if result.returncode != 0:
        raise SystemExit(f"bench: nbgrader {' '.join(args)} failed:\n{result.stderr[-3000:]}")


def new_course(folder, assignments):
    """A course with the repository's configuration, solutions and hidden tests, ``assignments`` released."""
    folder.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", folder)
    shutil.copytree(SOLUTIONS, folder / "solutions")
    shutil.copytree(REPO / FOLDER, folder / FOLDER)
    for assignment in assignments:
        nbgrader(folder, "generate_assignment", assignment, "--force")
    return folder


def enrol(course, assignment, students):
    """``students`` submissions, cycling through a solution, an untouched notebook and each planted mistake."""
    source = json.loads(solution_notebook(assignment).read_text())
    release = (course / "course" / assignment / f"{assignment}.ipynb").read_text()
    mistakes = planted_mistakes(assignment)
    for number in range(students):
        kind = KINDS[number % len(KINDS)]
        if kind == "untouched":
            text = release
        else:
            notebook = json.loads(json.dumps(source))
            if kind == "mistaken":
                cell_id, correct, mistaken = mistakes[(number // len(KINDS)) % len(mistakes)]
                (cell,) = [c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == cell_id]
                cell["source"] = "".join(cell["source"]).replace(correct, mistaken)
            text = json.dumps(notebook)
        path = course / "nbgrader_work" / "submitted" / f"{kind}-{number:03d}" / assignment / f"{assignment}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(text)


def scores(course, assignment):
    with Gradebook(f"sqlite:///{course / 'nbgrader_work' / 'gradebook.db'}") as gradebook:
        return {s.student_id: sorted((g.name, g.auto_score) for n in s.notebooks for g in n.grades)
                for s in gradebook.assignment_submissions(assignment)}


def timed(command, course, env=None):
    start = time.perf_counter()
    result = subprocess.run(command, cwd=course, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise SystemExit(f"bench: {' '.join(command)} failed:\n{result.stdout[-1500:]}\n{result.stderr[-3000:]}")
    return time.perf_counter() - start


def measure(workdir, assignment, students, workers, pairs, every=True):
    """Seconds for the class graded serially and in parallel, whether their scores agree, the sandbox's cost,
    and (``every``) each assignment's solution graded alone."""
    template = new_course(workdir / "template", sorted(p.name for p in SOLUTIONS.iterdir()
                                                      if solution_notebook(p.name).is_file()))
    courses = {}
    for way in ("serial", "parallel"):
        courses[way] = workdir / way
        shutil.copytree(template, courses[way])
        enrol(courses[way], assignment, students)
    print(f"grading {students} submissions of {assignment} serially ...", flush=True)
    serial = timed([sys.executable, "-m", "nbgrader", "autograde", assignment], courses["serial"])
    print(f"... and with {workers} workers ...", flush=True)
    parallel = timed([sys.executable, "-m", "grading", "autograde", assignment, "--workers", str(workers)],
                     courses["parallel"])
    agree = scores(courses["serial"], assignment) == scores(courses["parallel"], assignment)
    logs = [log.read_text() for log in sorted((courses["parallel"] / "nbgrader_work" / "logs" / assignment).glob("*.log"))]
    timings = [json.loads(text.split(TIMING_MARK)[1].splitlines()[0]) for text in logs if TIMING_MARK in text]
    print(f"sandbox cost: {pairs} submissions graded alone, with and without the sandbox ...", flush=True)
    with_sandbox, without = [], []
    for student in sorted(p.name for p in (courses["serial"] / "nbgrader_work" / "submitted").iterdir())[:pairs]:
        one = [sys.executable, "-m", "nbgrader", "autograde", assignment, f"--student={student}", "--force"]
        with_sandbox.append(timed(one, courses["serial"]))
        without.append(timed(one + ["--SandboxedExecute.sandbox=off"], courses["serial"]))
    print("each assignment's solution, graded alone ...", flush=True)
    per_assignment = {}
    for other in sorted(p.name for p in SOLUTIONS.iterdir() if solution_notebook(p.name).is_file()) if every else []:
        folder = template / "nbgrader_work" / "submitted" / "solution" / other
        folder.mkdir(parents=True)
        shutil.copy(solution_notebook(other), folder)
        per_assignment[other] = timed([sys.executable, "-m", "nbgrader", "autograde", other, "--student=solution"],
                                      template)
    return {"serial": serial, "parallel": parallel, "agree": agree, "timings": timings, "with_sandbox": with_sandbox,
            "without_sandbox": without,
            "per_assignment": per_assignment or {assignment: serial / students}}


def _hours(seconds):
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def where_the_time_goes(timings, per_submission):
    """The parallel run's submissions, their medians by part (``grading.execution.TIMING_MARK``), against the
    ``per_submission`` seconds a worker spent on each; and the judging's cost beside the rest."""
    if not timings:
        return ["Where the time goes: no submission's log said (graded by another version of `grading`?).", ""]
    part = {name: statistics.median(timing[name] for timing in timings) for name in TIMED_PARTS}
    cells = {cell: statistics.median(timing["judging by cell"].get(cell, 0.0) for timing in timings)
             for cell in timings[0]["judging by cell"]}
    slowest = sorted(cells.items(), key=lambda item: -item[1])[:3]
    rest = per_submission - part["kernel start"] - part["cells"] - part["judging"]
    cost = part["judging"] / (per_submission - part["judging"])
    return [f"Where a submission's grading goes (medians over the parallel run's {len(timings)} submissions, each "
            f"worker's {per_submission:.1f} s per submission in all): starting its kernel {part['kernel start']:.1f} s, "
            f"the student's cells {part['cells']:.1f} s, judging the hidden tests {part['judging']:.1f} s (of it "
            f"{part['judging CPU']:.1f} s of the grading process's CPU), and the rest, nbgrader's own work (its start, "
            f"reading and writing the notebook and the gradebook), {rest:.1f} s. The longest judged cells: "
            + ", ".join(f"{cell} {seconds:.1f} s" for cell, seconds in slowest) + ". Judging costs "
            f"**{cost:+.0%}** beside the rest of a submission's grading (target ≤ {JUDGING_COST_TARGET:.0%}: "
            f"{'met' if cost <= JUDGING_COST_TARGET else 'NOT met'}).", ""]


def section(figures, assignment, students, workers, command):
    serial, parallel = figures["serial"], figures["parallel"]
    speed_up = serial / parallel
    costs = [w / wo - 1 for w, wo in zip(figures["with_sandbox"], figures["without_sandbox"])]
    cost = statistics.median(costs)
    course_serial = PROJECTED[0] * sum(figures["per_assignment"].values())
    per_core = speed_up / workers  # the parallel efficiency measured here, assumed to hold on more cores
    lines = [
        "## Grading a class", "",
        f"Measured {datetime.date.today().isoformat()} on {machine(get_device())}.", "",
        f"Command: `{command}`", "",
        f"{students} submissions of {assignment} (solutions, untouched notebooks, planted mistakes, in turn), "
        "graded in a fresh copy of the course each way; the grading machine holds no dataset.", "",
        "| grading | workers | seconds | s/submission | speed-up | target |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
        f"| `nbgrader autograde` (serial, sandboxed) | 1 | {serial:.0f} | {serial / students:.1f} | 1.000× | |",
        f"| `python -m grading autograde` | {workers} | {parallel:.0f} | {parallel / students:.1f} | "
        f"{speed_up:.3f}× | ≥ {SPEED_UP_TARGET}× {'met' if speed_up >= SPEED_UP_TARGET else 'NOT met'} |", "",
        f"Scores identical in the two gradebooks: **{'yes' if figures['agree'] else 'NO'}**.", "",
        *where_the_time_goes(figures["timings"], parallel * workers / students),
        f"Sandbox cost: {len(costs)} submissions each graded alone with and without the sandbox, in alternation: "
        f"{statistics.median(figures['without_sandbox']):.1f} s without, "
        f"{statistics.median(figures['with_sandbox']):.1f} s with (medians); median cost "
        f"**{cost:+.0%}** per submission (target ≤ {SANDBOX_COST_TARGET:.0%}: "
        f"{'met' if cost <= SANDBOX_COST_TARGET else 'NOT met'}).", "",
        "Each assignment's solution graded alone (seconds, serial `nbgrader autograde`, one submission): "
        + ", ".join(f"{name} {seconds:.1f}" for name, seconds in figures["per_assignment"].items()) + ".", "",
        f"Projected for {PROJECTED[0]} students × {len(figures['per_assignment'])} notebooks: "
        f"{_hours(course_serial)} serially; "
        + "; ".join(f"{_hours(course_serial / (per_core * cores))} with {cores} workers on {cores} cores"
                    for cores in PROJECTED[1])
        + f" (the sum of those times × {PROJECTED[0]}, divided by the workers and by the parallel efficiency "
          f"measured here, {per_core:.2f} per worker; memory allowing).",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench.grading", description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignment", default="02_dense_vae")
    parser.add_argument("--students", type=int, default=40, help="submissions in the class (default 40)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=6, help="submissions timed with and without the sandbox")
    parser.add_argument("--quick", action="store_true",
                        help="no other assignment graded (the projection uses this one alone); prints only, unless --output")
    parser.add_argument("--output", type=Path, default=None, help="the benchmarks file (default: BENCHMARKS.md)")
    args = parser.parse_args(argv)
    if not solution_notebook(args.assignment).is_file():
        parser.error(f"no assignment {args.assignment} in solutions/")
    problem = sandbox_problem()
    if problem:
        print(f"bench: grading is benchmarked in its sandbox, and {problem}", file=sys.stderr)
        return 2
    output = args.output or (None if args.quick else REPO / "BENCHMARKS.md")
    environment = {name: value for name, value in os.environ.items() if not name.startswith("VAE_COURSE")}
    with tempfile.TemporaryDirectory() as workdir:
        os.environ.clear()
        os.environ.update(environment)  # the course's defaults, as on a grading machine
        figures = measure(Path(workdir), args.assignment, args.students, args.workers, min(args.pairs, args.students),
                          every=not args.quick)
    text = section(figures, args.assignment, args.students, args.workers, shlex.join(["python", "-m", "bench.grading", *argv]))
    print("\n" + text)
    if output:
        update_benchmarks(output, "cpu:grading", text)
        print(f"updated {output}")
    return 0 if figures["agree"] else 1


if __name__ == "__main__":
    sys.exit(main())

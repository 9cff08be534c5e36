"""``python -m grading``: the instructor's commands. Run them in the course folder.

    python -m grading autograde ASSIGNMENT [--workers N] [--student ID ...] [--force] [--unsandboxed] [--no-merge]
    python -m grading merge ASSIGNMENT
    python -m grading record ASSIGNMENT
    python -m grading dismiss HAND_IN_FOLDER_NAME ...
"""
import argparse
import os
import sys
import time

from grading.assignments import is_recorded, record_assignment
from grading.exchange import DISMISSED, dismiss
from grading.execution import unavailable_message
from grading.parallel import FAILED, GRADED, TIMED_OUT, UNREADABLE, Course, autograde, merge
from grading.sandbox import sandbox_problem


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m grading", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("autograde", help="autograde the submissions of an assignment in parallel")
    grade.add_argument("assignment")
    grade.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                       help="submissions graded at once (default: one per core)")
    grade.add_argument("--student", action="append", metavar="ID", help="grade only this student (repeatable)")
    grade.add_argument("--force", action="store_true", help="grade again what is already graded")
    grade.add_argument("--unsandboxed", action="store_true",
                       help="run student code with your own rights where no sandbox can start (trusted code only)")
    grade.add_argument("--no-merge", dest="merge", action="store_false",
                       help="leave each result in its own gradebook for a later `merge` (one job per student on a cluster)")
    grade.add_argument("--timeout", type=float, default=1800, help="seconds one submission may take (default 1800)")
    folded = commands.add_parser("merge", help="record the results that `autograde --no-merge` left in the gradebook")
    folded.add_argument("assignment")
    record = commands.add_parser("record", help="record an assignment in the gradebook from solutions/, leaving "
                                                "course/ as it is (autograde does it when needed)")
    record.add_argument("assignment")
    dismissal = commands.add_parser("dismiss", help="make `nbgrader collect` skip a refused hand-in for good "
                                                    "(only root or the student may remove it from the exchange)")
    dismissal.add_argument("names", nargs="+", metavar="hand_in", help="the hand-in folder's name, as collect gives it")
    args = parser.parse_args(argv)
    course = Course(os.getcwd())

    if args.command == "record":
        print(record_assignment(course, args.assignment) or f"{args.assignment} is in the gradebook already.")
        return 0
    if args.command == "dismiss":
        for name in args.names:
            try:
                dismiss(course.root, name)
            except ValueError as error:
                parser.error(str(error))
            print(f"Dismissed {name}: `nbgrader collect` skips it from now on (listed in {DISMISSED}).")
        return 0
    if args.command == "merge":
        outcomes = merge(course, args.assignment)
        print(f"{len(outcomes)} result(s) of {args.assignment} recorded in {course.gradebook}.")
        return 0
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    problem = sandbox_problem()
    if problem and not args.unsandboxed:
        print(f"ERROR: {unavailable_message(problem)}", file=sys.stderr)
        return 2
    if problem:
        print(f"WARNING: grading WITHOUT A SANDBOX, as asked ({problem}): student code runs with your rights.",
              file=sys.stderr)
    if not args.merge and not is_recorded(course.gradebook, args.assignment):
        # one job of many: none of them may write the course's gradebook
        print(f"ERROR: {args.assignment} is not in the gradebook: run `python -m grading record {args.assignment}` "
              "once before the grading jobs.", file=sys.stderr)
        return 2
    recorded = record_assignment(course, args.assignment)
    if recorded:
        print(recorded)
    outcomes, skipped, resubmitted, seconds = autograde(
        course, args.assignment, workers=args.workers, students=args.student, force=args.force,
        unsandboxed=args.unsandboxed and bool(problem), merge_results=args.merge, timeout=args.timeout)
    print(summary(outcomes, skipped, resubmitted, seconds, course, args.assignment))
    return 0 if all(o.status == GRADED for o in outcomes) else 1


def summary(outcomes, skipped, resubmitted, seconds, course, assignment):
    """The table printed at the end: counts, then every submission that needs the instructor's eye."""
    counts = {status: sum(o.status == status for o in outcomes) for status in (GRADED, FAILED, TIMED_OUT)}
    if any(o.status == UNREADABLE for o in outcomes):
        counts["unreadable (needs a look)"] = sum(o.status == UNREADABLE for o in outcomes)
    lines = [f"{assignment}: " + ", ".join(f"{n} {status}" for status, n in counts.items())
             + f", {skipped} already graded (skipped; --force grades them again)"
             + f" in {time.strftime('%H:%M:%S', time.gmtime(seconds))}."]
    if resubmitted:
        lines.append(f"  Submitted again since they were graded, so graded anew: {', '.join(resubmitted)}.")
    for outcome in outcomes:
        if outcome.status == UNREADABLE:  # nothing was run, so there is no log
            lines.append(f"  {outcome.student:<20} {outcome.status:<10} {outcome.note}; kept out of the grades")
        elif outcome.status != GRADED:
            lines.append(f"  {outcome.student:<20} {outcome.status:<10} {outcome.note}  (log: "
                         f"{course.log(assignment, outcome.student).relative_to(course.root)})")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

"""``nbgrader export`` of the assignments a class was given.

nbgrader writes a row for every student and every assignment in the gradebook, and an assignment is in
the gradebook as soon as its release is generated: a course that generated all its assignments at once
would export zeros for those never given. Here only assignments that were released to the exchange or
have a submission are exported, unless ``--assignment`` names others; and a submission whose notebook
cannot be read is left out (it has no grade yet), with a warning that says what to ask its student for.
"""
import csv
from pathlib import Path

from nbgrader.plugins import CsvExportPlugin

from grading.lms import unreadable, what_to_ask


class CsvExportOfGivenAssignments(CsvExportPlugin):
    """nbgrader's CSV export, limited to the assignments that were released or submitted."""

    def export(self, gradebook):
        if not self.assignment:
            outbound = Path(self.parent.config.Exchange.root, self.parent.coursedir.course_id, "outbound")
            given = [a.name for a in gradebook.assignments if a.submissions or (outbound / a.name).is_dir()]
            left_out = sorted(a.name for a in gradebook.assignments if a.name not in given)
            if left_out:
                self.log.info("Not exported (neither released nor submitted): %s", ", ".join(left_out))
            # nbgrader exports every assignment when none is named: name one that cannot exist instead
            self.assignment = given or ["(no assignment was given)"]
        super().export(gradebook)
        self.leave_out_unreadable_submissions()

    def leave_out_unreadable_submissions(self):
        """A submission whose notebook cannot be read has no grade yet, not a zero: it is named, and its row
        (if nbgrader wrote one) is left out."""
        coursedir = self.parent.coursedir
        unreadable_ones = {}
        for folder in sorted(Path(coursedir.root, coursedir.submitted_directory).glob("*/*")):
            if folder.name in self.assignment:
                reason = next(filter(None, map(unreadable, sorted(folder.glob("*.ipynb")))), None)
                if reason:
                    unreadable_ones[folder.parent.name, folder.name] = reason
        for (student, assignment), reason in unreadable_ones.items():
            self.log.warning("Not exported: %s, %s (unreadable, needs a look): %s.", student, assignment,
                             what_to_ask(student, reason))
        path = Path(self.to or "grades.csv")
        with open(path, newline="") as table:
            rows = list(csv.DictReader(table))
        kept = [row for row in rows if (row["student_id"], row["assignment"]) not in unreadable_ones]
        if len(kept) < len(rows):
            with open(path, "w", newline="") as table:
                writer = csv.DictWriter(table, fieldnames=list(rows[0]), lineterminator="\n")
                writer.writeheader()
                writer.writerows(kept)

"""Submissions from a learning management system: collected by ``nbgrader zip_collect``, and
left out of ``release_feedback``, whose exchange they never passed through."""
import datetime
import glob
import os
from pathlib import Path

from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
from nbgrader.plugins import FileNameCollectorPlugin

# "<student id>_<notebook>.ipynb", as an instructor names them, or Canvas's
# "<student>_[late_]<numbers>_..._<notebook>.ipynb"; the student id is the part before the first "_".
SUBMISSION_NAME = r".*/(?P<student_id>[^/_]+)_(?:late_)?(?:\d+_)*(?P<file_id>\d\d_\w+\.ipynb)$"


class SubmissionCollector(FileNameCollectorPlugin):
    """nbgrader's file-name collector, with the file's modification time as the submission time
    when its name carries none.

    nbgrader writes a submission's ``timestamp.txt`` only from a time in the file name, and
    ``release_feedback`` then fails for every submission without one.
    """

    def collect(self, submitted_file):
        found = super().collect(submitted_file)
        if found is not None and not found.get("timestamp"):
            modified = datetime.datetime.fromtimestamp(os.path.getmtime(submitted_file), datetime.timezone.utc)
            found["timestamp"] = modified.isoformat()
        return found


class ReleaseFeedbackToExchangeStudents(ExchangeReleaseFeedback):
    """nbgrader's ``release_feedback``, which leaves out submissions that did not come through the exchange.

    Feedback goes to the exchange under a name made from the secret that ``nbgrader submit``
    stores with a submission. A notebook collected from an LMS has no such secret, and nbgrader
    stops at the first one with a ``FileNotFoundError``, releasing nothing to the students after
    it. Here those students are skipped and named: their feedback waits in
    ``nbgrader_work/feedback/<student>/<assignment>/`` for the instructor to upload to the LMS.
    """

    def copy_files(self):
        from_lms = sorted(Path(folder).parent.name for folder in glob.glob(self.src_path)
                          if not (Path(folder) / "submission_secret.txt").is_file())
        if from_lms:
            self.log.info("Not released to the exchange (collected from an LMS; upload their feedback from %s): %s",
                          self.coursedir.format_path(self.coursedir.feedback_directory, "<student>",
                                                     self.coursedir.assignment_id), ", ".join(from_lms))
        excluded = self.coursedir.student_id_exclude
        self.coursedir.student_id_exclude = ",".join(filter(None, [excluded, *from_lms]))
        try:
            super().copy_files()
        finally:
            self.coursedir.student_id_exclude = excluded

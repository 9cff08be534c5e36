"""Submissions from a learning management system: how ``nbgrader zip_collect`` reads their names,
and a ``release_feedback`` that leaves them out, since they never passed through the exchange.

Such a submission has no submission time: a downloaded file's date is that of the download, and
taking it would mark every submission late once the assignment has a due date.
"""
import glob
from pathlib import Path

from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback

# "<student id>_<notebook>.ipynb", as an instructor names them, or Canvas's
# "<student>_[late_]<numbers>_..._<notebook>.ipynb"; the student id is the part before the first "_".
SUBMISSION_NAME = r".*/(?P<student_id>[^/_]+)_(?:late_)?(?:\d+_)*(?P<file_id>\d\d_\w+\.ipynb)$"


class ReleaseFeedbackToExchangeStudents(ExchangeReleaseFeedback):
    """nbgrader's ``release_feedback``, which leaves out submissions that did not come through the exchange.

    Feedback goes to the exchange under a name made from the secret that ``nbgrader submit``
    stores with a submission, and its time. A notebook collected from an LMS has neither, and
    nbgrader stops at the first one with a ``FileNotFoundError``, releasing nothing to the students
    after it. Here those students are skipped and named: their feedback waits in
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

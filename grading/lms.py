"""Submissions downloaded from a learning management system, collected by ``nbgrader zip_collect``."""
import datetime
import os

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

"""Submissions from a learning management system: how ``nbgrader zip_collect`` reads their names, what
it does with files that are not notebooks and with students no longer in the download, and a
``release_feedback`` that leaves them out, since they never passed through the exchange.

Such a submission has no submission time: a downloaded file's date is that of the download, and
taking it would mark every submission late once the assignment has a due date.
"""
import datetime
import glob
import shutil
from pathlib import Path

import nbformat
from nbgrader.apps.zipcollectapp import ZipCollectApp
from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
from nbgrader.plugins import ExtractorPlugin, FileNameCollectorPlugin

# "<student id>_<notebook>.ipynb", as an instructor names them, or Canvas's
# "<student>_[late_]<numbers>_..._<notebook>.ipynb"; the student id is the part before the first "_".
SUBMISSION_NAME = r".*/(?P<student_id>[^/_]+)_(?:late_)?(?:\d+_)*(?P<file_id>\d\d_\w+\.ipynb)$"


def unreadable(notebook):
    """Why ``notebook`` cannot be read as a notebook (truncated, not JSON, not a notebook), or None."""
    try:
        nbformat.read(notebook, as_version=4)
    except Exception as error:  # nbformat raises several kinds; each means the same to the instructor
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'unreadable'}"
    return None


def what_to_ask(student, reason):
    return (f"{student}'s file is not a notebook that can be graded ({reason}); ask {student} to download the "
            "notebook again from JupyterLab (File > Download) and hand in that file")


def create_folders_quietly():
    """zip_collect warns "Directory not found. Creating: ..." for each folder it makes, every student's
    submission folder on a first collect included; making them is its normal work, logged as info here."""
    def make_missing_folder(app, path):
        if not Path(path).is_dir():
            app.log.info("Creating %s", path)
            Path(path).mkdir(parents=True)

    ZipCollectApp._mkdirs_if_missing = make_missing_folder


class NamedSubmissions(FileNameCollectorPlugin):
    """nbgrader's collector, which says at once which downloaded files are not notebooks. They are collected
    all the same (nothing is dropped) and graded as "unreadable", never as a zero."""

    def collect(self, submitted_file):
        info = super().collect(submitted_file)
        if info and submitted_file.endswith(".ipynb"):
            reason = unreadable(submitted_file)
            if reason:
                self.log.warning("%s: %s.", Path(submitted_file).name, what_to_ask(info["student_id"], reason))
        return info


class ExtractedDownloads(ExtractorPlugin):
    """nbgrader's extractor, which keeps the collected set to what the download folder holds: with
    ``--force`` (every file collected again), a student no longer in it has their collected submission
    moved aside to ``nbgrader_work/withdrawn/<assignment>/``, and is named."""

    def extract(self, archive_path, extracted_path):
        super().extract(archive_path, extracted_path)
        app = self.parent
        if not self.force:
            return
        named = (FileNameCollectorPlugin.collect(app.collector_plugin_inst, str(path))  # without the warnings
                 for path in sorted(Path(extracted_path).rglob("*")) if path.is_file())
        present = {info["student_id"] for info in named if info}
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        submitted = Path(app.coursedir.root, app.coursedir.submitted_directory)
        for folder in sorted(submitted.glob(f"*/{app.coursedir.assignment_id}")):
            student = folder.parent.name
            if student not in present:
                aside = Path(app.coursedir.root, "nbgrader_work", "withdrawn", app.coursedir.assignment_id,
                             f"{student}-{stamp}")
                aside.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(folder, aside)
                self.log.warning("%s has no file in %s any more: their collected submission was moved to %s (its "
                                 "grades stay in the gradebook; move it back to collect it again).",
                                 student, archive_path, aside)


class ReleaseFeedbackToExchangeStudents(ExchangeReleaseFeedback):
    """nbgrader's ``release_feedback``, which releases no feedback older than the gradebook, and leaves out
    submissions that did not come through the exchange.

    Feedback made before a change to the gradebook (a written answer graded by hand, a submission graded
    again) would show the old scores: nothing is released then, and the instructor is told to generate it
    again.

    Feedback goes to the exchange under a name made from the secret that ``nbgrader submit``
    stores with a submission, and its time. A notebook collected from an LMS has neither, and
    nbgrader stops at the first one with a ``FileNotFoundError``, releasing nothing to the students
    after it. Here those students are skipped and named: their feedback waits in
    ``nbgrader_work/feedback/<student>/<assignment>/`` for the instructor to upload to the LMS.
    """

    def copy_files(self):
        gradebook = Path(self.coursedir.db_url.removeprefix("sqlite:///"))
        stale = sorted(Path(html).parent.parent.name for html in glob.glob(str(Path(self.src_path, "*.html")))
                       if gradebook.is_file() and Path(html).stat().st_mtime < gradebook.stat().st_mtime)
        if stale:
            self.fail(f"The gradebook changed after the feedback of {', '.join(stale)} was made, so it may show old "
                      f"scores; nothing was released. Run `nbgrader generate_feedback {self.coursedir.assignment_id}`, "
                      "then release again.")
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

"""nbgrader configuration for the course.

solutions/ holds the instructor notebooks (the source), course/ the student notebooks
that nbgrader generates from them. Everything nbgrader writes while grading (gradebook,
exchange, submissions, autograded copies, feedback, exported grades) lives under
nbgrader_work/, which git ignores and which is created on first use.
"""
import os
import sys
from pathlib import Path

import nbgrader

import grading
from grading.autograde import quiet_gradebook_session_warnings
from grading.lms import SUBMISSION_NAME, create_folders_quietly
from grading.sandbox import socket_folder
from grading.validation import exit_nonzero_when_validation_fails, short_reports

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

# nbgrader creates a new gradebook with its `alembic` command, which sits next to the Python that
# runs nbgrader: found even when the environment is not activated (e.g. `.venv/bin/nbgrader ...`).
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

work = Path(__file__).resolve().parent / "nbgrader_work"
# The exchange must exist before Formgrader or a student's Assignment List looks at it. On a shared
# JupyterHub, hub/deploy.py makes nbgrader_work/exchange a link to the exchange that the class shares.
(work / "exchange").mkdir(parents=True, exist_ok=True)

c.CourseDirectory.course_id = "vae-hands-on"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "course"
c.CourseDirectory.submitted_directory = "nbgrader_work/submitted"
c.CourseDirectory.autograded_directory = "nbgrader_work/autograded"
c.CourseDirectory.feedback_directory = "nbgrader_work/feedback"
c.CourseDirectory.db_url = f"sqlite:///{work / 'gradebook.db'}"
c.Exchange.root = str(work / "exchange")
c.CsvExportPlugin.to = str(work / "grades.csv")
# export: only the assignments that were released or submitted (grading/export.py)
c.ExportApp.plugin_class = "grading.export.CsvExportOfGivenAssignments"

# Downloads from an LMS: put them (notebooks or zip files) in nbgrader_work/downloaded/<assignment>/archive/,
# named "<student id>_<notebook>.ipynb" (Canvas's names work as they are), then `nbgrader zip_collect`.
c.ZipCollectApp.downloaded_directory = "nbgrader_work/downloaded"
c.FileNameCollectorPlugin.named_regexp = SUBMISSION_NAME
# zip_collect names the files that are not notebooks, and with --force keeps the collected set to the download
# folder's (grading/lms.py).
c.ZipCollectApp.collector_plugin = "grading.lms.NamedSubmissions"
c.ZipCollectApp.extractor_plugin = "grading.lms.ExtractedDownloads"
create_folders_quietly()
# release_feedback then releases the exchange's students and names those who came from the LMS.
c.ExchangeFactory.release_feedback = "grading.lms.ReleaseFeedbackToExchangeStudents"
# collect takes a submission only from the student it names, as they handed it in (grading/exchange.py).
c.ExchangeFactory.collect = "grading.exchange.CollectOwnSubmissions"

# Stubs that name the function to write, instead of a bare NotImplementedError.
c.GenerateAssignment.preprocessors = [
    "nbgrader.preprocessors.IncludeHeaderFooter",
    "nbgrader.preprocessors.InstantiateTests",
    "nbgrader.preprocessors.LockCells",
    "grading.release.ClearSolutionsNamingTheExercise",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.CheckCellMetadata",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.SaveCells",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.ClearMarkScheme",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# Training cells take longer than nbgrader's 30 s default (they use the fast budgets
# under nbgrader, but a slow laptop still needs headroom).
c.ExecutePreprocessor.timeout = 600

# Autograding runs student code in a sandbox (grading/sandbox.py): no network, nothing of the course
# visible, writes only in the submission's own folder, a memory limit, a cell that loops forever stopped
# after 3 minutes (a whole notebook takes about a minute under grading), and a kernel that dies replaced.
c.Autograde.autograde_preprocessors = [
    "grading.execution.SandboxedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.SandboxedExecute.timeout = 180

# `nbgrader validate` prints each failing cell; wide enough for the stubs' messages.
c.Validator.width = 120

# A log instructors can read: no warning for each hidden test put back (nbgrader#1961), none from
# the gradebook's SQLAlchemy session for each submission, no kernel warning about TCP.
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "grading.autograde.OverwriteCellsExpectingHiddenTests",
    "nbgrader.preprocessors.CheckCellMetadata",
]
quiet_gradebook_session_warnings()
# Kernels talk to nbgrader over Unix sockets where there are some (kept short: a socket path has at
# most 104 characters), with one prefix per process so that no two commands pick the same path.
if os.name == "posix":
    sockets = socket_folder()
    c.KernelManager.transport = "ipc"
    c.KernelManager.ip = str(sockets / f"kernel-{os.getpid()}")

# Feedback must not reveal the hidden tests (neither their code nor the tracebacks that quote them).
# Feedback is made anew each time from the gradebook (nbgrader would keep what it made before hand grading),
# and release_feedback refuses feedback older than the gradebook.
c.GenerateFeedback.force = True
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "grading.feedback.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# The feedback's summary names each exercise, and its error lines wrap: grading/templates/course_feedback,
# which extends nbgrader's feedback template (found, with the stylesheet it includes, in nbgrader's folders).
formgrader = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
c.GenerateFeedback.HTMLExporter.template_name = "course_feedback"
c.GenerateFeedback.HTMLExporter.extra_template_basedirs = [str(Path(grading.__file__).parent / "templates")]
c.GenerateFeedback.HTMLExporter.extra_template_paths = [
    str(formgrader / "templates"), str(formgrader / "static" / "node_modules" / "bootstrap" / "dist" / "css")]

# Math must read without a network, in the feedback and in Formgrader's hand-grading view (both
# nbconvert's HTMLExporter, which would load MathJax from the internet).
c.HTMLExporter.preprocessors = ["grading.feedback.RenderMath"]
# ... and nothing a student wrote or printed runs there: every page made from a submission passes its HTML
# through one allow-list (grading/inert.py), markdown cells included, which nbgrader's templates do not sanitise.
c.HTMLExporter.sanitize_html = True
c.HTMLExporter.filters = {"clean_html": "grading.inert.inert_html", "markdown2html": "grading.inert.InertMarkdown"}

short_reports()
exit_nonzero_when_validation_fails()

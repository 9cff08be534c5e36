"""nbgrader configuration for the course.

solutions/ holds the instructor notebooks (the source), course/ the student notebooks
that nbgrader generates from them. Everything nbgrader writes while grading (gradebook,
exchange, submissions, autograded copies, feedback) lives under nbgrader_work/, which
git ignores and which is created on first use.
"""
from pathlib import Path

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

work = Path(__file__).resolve().parent / "nbgrader_work"
work.mkdir(exist_ok=True)

c.CourseDirectory.course_id = "vae-hands-on"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "course"
c.CourseDirectory.submitted_directory = "nbgrader_work/submitted"
c.CourseDirectory.autograded_directory = "nbgrader_work/autograded"
c.CourseDirectory.feedback_directory = "nbgrader_work/feedback"
c.CourseDirectory.db_url = f"sqlite:///{work / 'gradebook.db'}"
c.Exchange.root = str(work / "exchange")

# Training cells take longer than nbgrader's 30 s default (they use the fast budgets
# under nbgrader, but a slow laptop still needs headroom).
c.ExecutePreprocessor.timeout = 600

# Feedback must not reveal the hidden tests: neither their code nor the tracebacks that quote it.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "vae_helpers.feedback.TrimGradedTracebacks",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

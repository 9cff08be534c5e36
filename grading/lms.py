"""Submissions from a learning management system: how ``nbgrader zip_collect`` reads their names, extracts
their archives, what it does with files that are not notebooks and with students no longer in the download,
and a ``release_feedback`` that leaves them out, since they never passed through the exchange.

The LMS decides who a student is, not the content of their upload: everything in an archive the LMS named
for a student is that student's. Archives are bounded: each is read a piece at a time, within limits on
what it expands to, so that a zip bomb stops early; one bad archive is set aside, the others collected.

Such a submission has no submission time: a downloaded file's date is that of the download, and
taking it would mark every submission late once the assignment has a due date.
"""
import datetime
import glob
import gzip
import os
import re
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path

import nbformat
from nbgrader.apps.zipcollectapp import ZipCollectApp
from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
from nbgrader.plugins import ExtractorPlugin, FileNameCollectorPlugin

# "<student id>_<notebook>.ipynb", as an instructor names them, or Canvas's
# "<student>_[late_]<numbers>_..._<notebook>.ipynb"; the student id is the part before the first "_".
STUDENT_PREFIX = r"(?P<student_id>[^/_]+)_(?:late_)?(?:\d+_)*"
NOTEBOOK_NAME = r"\d\d_\w+\.ipynb"
SUBMISSION_NAME = rf".*/{STUDENT_PREFIX}(?P<file_id>{NOTEBOOK_NAME})$"
# An archive the LMS made for one student ("alan_01_elbo.zip", Canvas's "alan_12345_67890_work.zip"); one
# whose name gives no student (Canvas's "submissions.zip") is the LMS's download of a whole class, whose files
# (and archives) name their students.
ARCHIVE_NAME = rf"{STUDENT_PREFIX}.+"

# What one file of the download folder may extract, the archives inside it included.
ARCHIVE_BYTES_LIMIT = 512 * 2**20
ARCHIVE_MEMBERS_LIMIT = 5000
# How many times a member (a tar.gz: its whole stream) may expand; a zip bomb expands about 1000 times.
# Below RATIO_FREE_BYTES any ratio is allowed: a small file of repeated text compresses well.
COMPRESSION_RATIO_LIMIT = 200
RATIO_FREE_BYTES = 2**20
CHUNK_BYTES = 2**16


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


class SetAside(Exception):
    """``archive`` is not extracted at all, for ``reason`` (a limit of the whole download file sets it aside)."""

    def __init__(self, archive, reason):
        super().__init__(reason)
        self.archive, self.reason = archive, reason


class Refused(Exception):
    """One member is not extracted, for the reason given; the rest of its archive is."""


class Limits:
    """What one file of the download folder has extracted so far, the archives inside it included."""

    def __init__(self, download):
        self.download, self.members, self.bytes = download, 0, 0

    def count(self, members=0, bytes_read=0):
        self.members += members
        self.bytes += bytes_read
        if self.members > ARCHIVE_MEMBERS_LIMIT:
            raise SetAside(self.download, f"more than {ARCHIVE_MEMBERS_LIMIT} files")
        if self.bytes > ARCHIVE_BYTES_LIMIT:
            raise SetAside(self.download, f"more than {ARCHIVE_BYTES_LIMIT // 2**20} MiB once extracted")


class Expanding:
    """Bytes decompressed from ``raw`` (an open archive file) since ``start``, counted as they are read, never
    as the archive declares them, and refused once they expand more than the limits allow."""

    def __init__(self, data, raw, start, limits, archive, what):
        self.data, self.raw, self.start, self.limits, self.archive, self.what = data, raw, start, limits, archive, what
        self.expanded = 0

    def read(self, size):
        chunk = self.data.read(size)
        self.expanded += len(chunk)
        self.limits.count(bytes_read=len(chunk))
        if self.expanded > max(RATIO_FREE_BYTES, COMPRESSION_RATIO_LIMIT * (self.raw.tell() - self.start)):
            raise SetAside(self.archive, f"{self.what} expands more than {COMPRESSION_RATIO_LIMIT} times: a zip bomb")
        return chunk


def members(archive, limits):
    """(name, kind, data) for each member of a zip or tar(.gz) file: kind is "file", "folder" or "other" (a link,
    a device), data reads a file's bytes through the limits. zipfile and tarfile only read here, never extract."""
    with open(archive, "rb") as raw:
        if Path(archive).suffix == ".zip" or zipfile.is_zipfile(raw):
            with zipfile.ZipFile(raw) as zipped:
                infos = zipped.infolist()
                limits.count(members=len(infos))
                for info in infos:
                    file_type = stat.S_IFMT(info.external_attr >> 16)
                    if info.is_dir() or file_type not in (0, stat.S_IFREG):
                        yield info.filename, "folder" if info.is_dir() else "other", None
                        continue
                    with zipped.open(info) as data:
                        yield info.filename, "file", Expanding(data, raw, info.header_offset, limits, archive,
                                                               info.filename)
        else:
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw) as unzipped, tarfile.open(
                    fileobj=Expanding(unzipped, raw, 0, limits, archive, "the archive"), mode="r|") as tar:
                for member in tar:
                    limits.count(members=1)
                    kind = "folder" if member.isdir() else "file" if member.isreg() else "other"
                    yield member.name, kind, tar.extractfile(member) if kind == "file" else None


def archive_stem(name):
    """The folder an archive is extracted to, as nbgrader names it: "alan_01_elbo.tar.gz" -> "alan_01_elbo"."""
    return Path(name).stem.removesuffix(".tar")


def student_named(archive_name):
    """Whose archive this is, by the name the LMS gave it; None for the LMS's download of a whole class."""
    named = re.fullmatch(ARCHIVE_NAME, archive_name)
    return named["student_id"] if named else None


def write_plain_file(data, path):
    """Write ``data`` to a new file ``path`` with mode 0o644, whatever modes the archive gave."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        raise Refused(f"a file named {path.name} was extracted from this archive already") from None
    with open(descriptor, "wb") as file:
        os.fchmod(descriptor, 0o644)
        while chunk := data.read(CHUNK_BYTES):
            file.write(chunk)


def filed_name(file_name, student):
    """The name a member is written under, which the collector reads as ``student``'s (a notebook named
    "01_elbo.ipynb" gains the prefix); refused if it names someone else."""
    if student is None:
        return file_name
    named = re.match(SUBMISSION_NAME, "/" + file_name)
    if named and named["student_id"] != student:
        raise Refused(f"its name gives it to {named['student_id']}, but the LMS named the archive for {student}")
    if not named and re.fullmatch(NOTEBOOK_NAME, file_name):
        return f"{student}_{file_name}"
    return file_name


class ExtractedDownloads(ExtractorPlugin):
    """nbgrader's extractor, bounded (see the module), which keeps the collected set to what the download
    folder holds: with ``--force`` (every file collected again), a student no longer in it has their collected
    submission moved aside to ``nbgrader_work/withdrawn/<assignment>/``, and is named.

    Each member is written flat into its archive's folder, as a plain file. Something left out (an archive set
    aside, a member refused) is warned about at once, and zip_collect exits 1 once the rest is collected."""

    def extract(self, archive_path, extracted_path):
        self.left_out, self.set_aside_students = [], set()
        if not os.listdir(archive_path):
            self.log.warning("No files found in directory: %s", archive_path)
        for root, _, files in os.walk(archive_path):
            folder = Path(extracted_path, os.path.relpath(root, archive_path))
            if files:
                folder.mkdir(parents=True, exist_ok=True)
            for name in sorted(files):
                download = Path(root, name)
                if download.suffix in self.zip_ext:
                    self.extract_archive(download, folder / archive_stem(name), student_named(name),
                                         Limits(download), str(download.relative_to(archive_path)))
                else:
                    self.log.info("Copying %s to %s", download, folder)
                    shutil.copy(download, folder / name)
        if self.force:
            self.withdraw_students_not_downloaded(archive_path, extracted_path)
        if self.left_out:
            self.fail_once_collected()

    def extract_archive(self, archive, folder, student, limits, label):
        """Extract ``archive`` into ``folder`` as ``student``'s (None: its files name their students), or set it
        aside whole, so that nothing half extracted is collected."""
        self.log.info("Extracting %s (%s) to %s", label, f"{student}'s" if student else "its files name their students",
                      folder)
        try:
            folder.mkdir(mode=0o755)
        except FileExistsError:
            self.set_aside(label, student, f"another file of the download was extracted to {folder.name}/ already")
            return
        folder.chmod(0o755)
        try:
            for name, kind, data in members(archive, limits):
                try:
                    self.extract_member(name, kind, data, archive, folder, student, limits, label)
                except Refused as refusal:
                    self.log.warning("%s: %r was not extracted: %s.", label, name, refusal)
                    self.left_out.append(f"{label}: {name!r} (refused)")
        except SetAside as problem:
            shutil.rmtree(folder)
            if problem.archive != archive:
                raise
            self.set_aside(label, student, problem.reason)
        except Exception as error:  # zipfile, tarfile, gzip and zlib raise many kinds; each means the same here
            shutil.rmtree(folder)
            self.set_aside(label, student, f"it cannot be read: {type(error).__name__}: {error}")

    def extract_member(self, name, kind, data, archive, folder, student, limits, label):
        """Write one member into ``folder``. A path leading out of it, a link or a device sets the whole archive
        aside: nothing else in an archive made to attack is trusted either."""
        parts = re.split(r"[/\\]", name)
        if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name) or ".." in parts or "\0" in name:
            raise SetAside(archive, f"{name!r} would be written outside its folder")
        if kind == "other":
            raise SetAside(archive, f"{name!r} is a link or a device, not a plain file")
        if kind == "folder" or parts[0] == "__MACOSX":  # folders are flattened; macOS's resource forks skipped
            return
        file_name = parts[-1]
        if Path(file_name).suffix not in self.zip_ext:
            write_plain_file(data, folder / filed_name(file_name, student))
            return
        if student:
            raise Refused("an archive inside an archive is not opened; ask for the notebook itself")
        inner_student = student_named(file_name)
        if not inner_student:
            raise Refused("an archive in a download of the whole class must be named for its student by the LMS")
        inner = folder / file_name
        write_plain_file(data, inner)
        self.extract_archive(inner, folder / archive_stem(file_name), inner_student, limits, f"{label}/{file_name}")
        inner.unlink()

    def set_aside(self, label, student, reason):
        self.set_aside_students.add(student)
        ask = (f"ask {student} to hand in the notebook itself (File > Download in JupyterLab), not an archive; their "
               "submission collected before, if any, is kept" if student else "download it from the LMS again")
        self.log.warning("%s: set aside, nothing in it was collected (%s); %s.", label, reason, ask)
        self.left_out.append(f"{label} (set aside)")

    def withdraw_students_not_downloaded(self, archive_path, extracted_path):
        app = self.parent
        if None in self.set_aside_students:
            self.log.warning("No student is withdrawn: a download of a whole class was set aside, so who is in "
                             "the download is not known.")
            return
        named = (FileNameCollectorPlugin.collect(app.collector_plugin_inst, str(path))  # without the warnings
                 for path in sorted(Path(extracted_path).rglob("*")) if path.is_file())
        present = {info["student_id"] for info in named if info} | self.set_aside_students
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

    def fail_once_collected(self):
        """Make zip_collect exit 1 once the rest is collected: it collects right after extracting and has no
        later step, so its collecting step is wrapped, for this run."""
        app = self.parent
        collect = app.process_extracted_files

        def collect_then_fail():
            collect()
            app.fail("Not collected (see the warnings above): %s.", "; ".join(self.left_out))

        app.process_extracted_files = collect_then_fail


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

"""``nbgrader collect`` for an exchange that a class shares on one machine.

Collect reads a hand-in the way it was checked, and one hand-in never stops the others.

In nbgrader's filesystem exchange a student owns what they hand in: they can name another student in it
(``nbgrader submit --student bob``), change it while it is collected, rewrite its ``timestamp.txt``, put
links, pipes or unreadable files in it, make it huge, or give it a name nbgrader cannot parse. Here a
hand-in is read only through file descriptors: its folder and each entry in it are opened without
following links, checked on the opened descriptor (a plain file or folder, owned by the Unix user the
hand-in names, within ``MAX_BYTES`` and ``MAX_FILES``), and copied from that same descriptor, so nothing
can be swapped in between. Every descriptor is checked again once all is read, so a hand-in that changed
meanwhile is refused for this run. It is copied into a folder beside its destination that replaces the
copy collected before only once complete, so a refused hand-in never costs that copy.

A refused hand-in gets one error line (the hand-in, its owner, what to do), collect goes on with the other
students and with that student's previous hand-in, and exits non-zero at the end. Only root or its owner
may remove a hand-in from the exchange, so an instructor dismisses one for good with
``python -m grading dismiss NAME``, which lists it in ``nbgrader_work/dismissed_hand_ins.txt``; collect
skips the hand-ins listed there.

A hand-in's time is never earlier than the last change to its files (the inode's change time, which no
user can set back): a claimed time more than ``SLACK`` older than that is replaced, with a warning.
"""
import datetime
import fnmatch
import glob
import os
import pwd
import secrets
import shlex
import shutil
import stat
import warnings
from collections import defaultdict
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.utils import check_mode, parse_utc

MAX_BYTES = 50 * 2**20  # in all the files of one hand-in
MAX_FILES = 200  # files and folders in one hand-in
# How much later than its timestamp a hand-in's files may have been written by `nbgrader submit`.
SLACK = datetime.timedelta(seconds=10)
DISMISSED = Path("nbgrader_work", "dismissed_hand_ins.txt")  # in the course folder
# Never follow a link; never wait on a pipe; never let a terminal become this process's.
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
CHUNK = 2**20

SUBMIT_AGAIN = "ask {owner} to submit again from the Assignment List"
COLLECT_AGAIN = "collect again"
CHANGED = "it changed while it was collected"


class Refused(Exception):
    """Why a hand-in is not collected, and what the instructor can do about it (``{owner}`` is filled in)."""

    def __init__(self, reason, fix=SUBMIT_AGAIN):
        super().__init__(reason)
        self.reason, self.fix = reason, fix


def user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"user id {uid}"


def dismissed(course_root):
    """The hand-ins an instructor dismissed with ``python -m grading dismiss``."""
    path = Path(course_root, DISMISSED)
    return set(path.read_text().splitlines()) if path.is_file() else set()


def dismiss(course_root, name):
    """Make collect skip the hand-in folder ``name`` from now on; instructors cannot remove it from the exchange."""
    if not name or name in (".", "..") or "/" in name or "\n" in name:
        raise ValueError(f"{name!r} is not the name of a hand-in folder")
    if name not in dismissed(course_root):
        path = Path(course_root, DISMISSED)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as listed:
            listed.write(name + "\n")


def fingerprint(info):
    """What changes when anything about a file or folder changes (its entries, for a folder)."""
    return info.st_ino, info.st_mode, info.st_uid, info.st_size, info.st_mtime_ns, info.st_ctime_ns


def parse_time(text):
    """A time a student wrote, read as nbgrader reads it (naive UTC), but never as a path: dateutil would open
    a time zone file there."""
    if "/" in text or "\\" in text:
        raise ValueError(f"{text!r} names a file")
    with warnings.catch_warnings():  # dateutil's warnings about odd time zone names
        warnings.simplefilter("ignore")
        return parse_utc(text)


def recorded_time(folder):
    """The time in a collected folder's timestamp.txt (naive UTC), or None where none parses."""
    try:
        return parse_time(Path(folder, "timestamp.txt").read_text().strip())
    except (OSError, ValueError, OverflowError):
        return None


class HandInReader:
    """Copies one hand-in, reading every entry through the descriptor on which it was checked."""

    def __init__(self, student, uid, ignore, include):
        self.student, self.uid = student, uid
        self.ignore, self.include = ignore, include
        self.opened = []  # (descriptor, its fingerprint when checked), compared again once all is read
        self.entries = self.bytes = self.last_change_ns = 0

    def copy(self, path, dest):
        """Copy the hand-in folder at ``path`` into the empty folder ``dest``; when its files last changed."""
        try:
            folder, info = self.open(path, None, "its folder", os.O_DIRECTORY)
            if info.st_uid != self.uid:
                raise Refused(f"it names {self.student} but its folder belongs to {user_name(info.st_uid)}",
                              "ask {owner} to submit under their own name, from the Assignment List")
            self.check(info, "its folder")
            self.copy_folder(folder, "", dest)
            if any(fingerprint(os.fstat(fd)) != seen for fd, seen in self.opened):
                raise Refused(CHANGED, COLLECT_AGAIN)
        finally:
            for fd, _ in self.opened:
                os.close(fd)
        # naive UTC, as nbgrader's parse_utc gives hand-in times
        return datetime.datetime.fromtimestamp(self.last_change_ns / 1e9, datetime.timezone.utc).replace(tzinfo=None)

    def open(self, name, dir_fd, label, flags=0):
        """A descriptor for ``name`` (in ``dir_fd``), and what fstat says of it, to be checked."""
        try:
            fd = os.open(name, OPEN_FLAGS | flags, dir_fd=dir_fd)
        except OSError as error:
            raise self.refusal(name, dir_fd, label, error) from None
        info = os.fstat(fd)
        self.opened.append((fd, fingerprint(info)))
        return fd, info

    def check(self, info, label):
        """Refuse what the hand-in's student may not hand in; count what they hand in."""
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
            raise Refused(f"{label} is not a plain file or folder (a pipe, socket or device)")
        if info.st_uid != self.uid:
            raise Refused(f"{label} belongs to {user_name(info.st_uid)}, not to {self.student}")
        if stat.S_ISREG(info.st_mode):
            self.bytes += info.st_size
            if self.bytes > MAX_BYTES:
                raise Refused(f"it holds more than {MAX_BYTES // 2**20} MiB",
                              f"ask {{owner}} to hand in at most {MAX_BYTES // 2**20} MiB, from the Assignment List")
        self.last_change_ns = max(self.last_change_ns, info.st_ctime_ns)

    def refusal(self, name, dir_fd, label, error):
        """Why ``name`` could not be opened, as the instructor needs to hear it."""
        try:
            mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return Refused(CHANGED, COLLECT_AGAIN)
        except OSError:
            return Refused(f"{label} cannot be opened ({error.strerror})")
        if stat.S_ISLNK(mode):
            return Refused(f"{label} is a link")
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            return Refused(f"{label} is not a plain file or folder (a pipe, socket or device)")
        if isinstance(error, PermissionError):
            return Refused(f"{label} cannot be read (its permissions keep the instructors out)")
        return Refused(f"{label} cannot be opened ({error.strerror})")

    def copy_folder(self, folder, path, dest):
        names = sorted(os.listdir(folder))
        self.entries += len(names)
        if self.entries > MAX_FILES:
            raise Refused(f"it holds more than {MAX_FILES} files and folders",
                          f"ask {{owner}} to hand in at most {MAX_FILES} files and folders, from the Assignment List")
        for name in names:
            if any(fnmatch.fnmatch(name, pattern) for pattern in self.ignore):
                continue
            entry, info = self.open(name, folder, os.path.join(path, name))
            self.check(info, os.path.join(path, name))
            if stat.S_ISDIR(info.st_mode):
                os.mkdir(os.path.join(dest, name))
                self.copy_folder(entry, os.path.join(path, name), os.path.join(dest, name))
            elif any(fnmatch.fnmatch(name, pattern) for pattern in self.include):
                self.copy_file(entry, info, os.path.join(path, name), os.path.join(dest, name))

    def copy_file(self, fd, info, label, dest):
        """Copy exactly the ``info.st_size`` bytes that were checked, or refuse: the file grew or shrank."""
        copied = 0
        with open(dest, "xb") as out:
            while chunk := self.read(fd, min(CHUNK, info.st_size - copied + 1), label):
                copied += len(chunk)
                if copied > info.st_size:
                    break
                out.write(chunk)
        if copied != info.st_size:
            raise Refused(CHANGED, COLLECT_AGAIN)

    @staticmethod
    def read(fd, size, label):
        try:
            return os.read(fd, size)
        except OSError as error:
            raise Refused(f"{label} cannot be read ({error.strerror})") from None


def share_with_group(folder):
    """What nbgrader's groupshared setting asks of a collected copy: the group may read and write it."""
    for path, _, files in os.walk(folder):
        os.chmod(path, os.stat(path).st_mode & 0o7777 | 0o2770)
        for name in files:
            os.chmod(os.path.join(path, name), os.stat(os.path.join(path, name)).st_mode & 0o777 | 0o660)


def replace(incoming, dest, aside):
    """Put the folder ``incoming`` at ``dest``; the copy there before goes only once the new one is in place."""
    if not os.path.isdir(dest):
        os.rename(incoming, dest)
        return
    os.rename(dest, aside)
    try:
        os.rename(incoming, dest)
    except OSError:
        os.rename(aside, dest)
        raise
    shutil.rmtree(aside)


class CollectOwnSubmissions(ExchangeCollect):
    """nbgrader's collect, reading each hand-in only as it was checked (see the module)."""

    def init_src(self):
        """Each student's hand-ins, in the order nbgrader prefers them; refuse those whose name does not parse."""
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail(f"Course not found: {self.inbound_path}")
        if not check_mode(self.inbound_path, read=True, execute=True):
            self.fail(f"You don't have read permissions for the directory: {self.inbound_path}")
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gradebook:
            try:
                self.duedate = gradebook.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                self.duedate = None

        self.refused = []
        skipped = dismissed(self.coursedir.root)
        by_student = defaultdict(list)
        pattern = f"{self.coursedir.student_id or '*'}+{self.coursedir.assignment_id}+*"
        for path in sorted(glob.glob(os.path.join(self.inbound_path, pattern))):
            name = os.path.basename(path)
            if name in skipped:
                self.log.info("Skipped %s: dismissed (listed in %s).", name, DISMISSED)
                continue
            try:
                record = self.parse(name)
            except Refused as refusal:
                self.refuse(name, refusal)
                continue
            by_student[record["username"]].append(record)
        self.hand_ins = {student: self.preferred_first(records) for student, records in sorted(by_student.items())}

    def parse(self, name):
        """The student and time that a hand-in's name gives, as nbgrader reads them."""
        parts = name.rsplit("+", 3)  # <student>+<assignment>+<time>[+<random>], the student may hold a "+"
        if len(parts) < 3 or parts[1] != self.coursedir.assignment_id:
            raise Refused(f"its name is not <student>+{self.coursedir.assignment_id}+<time>+<random>, "
                          "as nbgrader submit names a hand-in")
        try:
            timestamp = parse_time(parts[2])
        except (ValueError, OverflowError):
            raise Refused(f"its name holds {parts[2]!r} where nbgrader submit puts the time") from None
        return {"username": parts[0], "filename": name, "timestamp": timestamp}

    def preferred_first(self, records):
        """The newest first; with --before-duedate, those before the due date come first (nbgrader's choice)."""
        ordered = sorted(records, key=lambda record: (record["timestamp"], record["filename"]), reverse=True)
        if self.before_duedate and self.duedate is not None:
            ordered.sort(key=lambda record: record["timestamp"] > self.duedate)
        return ordered

    def copy_files(self):
        if not self.hand_ins:
            self.log.warning("No submissions of '%s' for course '%s' to collect",
                             self.coursedir.assignment_id, self.coursedir.course_id)
        else:
            self.log.info("Processing %d submissions of '%s' for course '%s'", len(self.hand_ins),
                          self.coursedir.assignment_id, self.coursedir.course_id)
        for records in self.hand_ins.values():
            for record in records:  # until one is collected, or what is collected is as new
                try:
                    self.collect(record)
                    break
                except Refused as refusal:
                    self.refuse(record["filename"], refusal)
        if self.refused:
            self.fail(f"{len(self.refused)} hand-in(s) refused (see above); everything else was collected.")

    def refuse(self, name, refusal):
        """One error line: the hand-in, its owner, why, and what the instructor can do."""
        try:
            owner = user_name(os.lstat(os.path.join(self.inbound_path, name)).st_uid)
        except OSError:
            owner = "its owner"
        self.refused.append(name)
        message = (f"Refused {name}, handed in by {owner}: {refusal.reason}. Nothing of it was collected; "
                   f"{refusal.fix.format(owner=owner)}, or dismiss it for good with "
                   f"`python -m grading dismiss {shlex.quote(name)}`.")
        self.log.error(message if message.isprintable() else ascii(message)[1:-1])  # one line, whatever names hold

    def collect(self, record):
        """Collect one hand-in unless the collected copy is as new; Refused says why it cannot be collected."""
        student, assignment = record["username"], self.coursedir.assignment_id
        try:
            uid = pwd.getpwnam(student).pw_uid
        except KeyError:
            raise Refused(f"it names {student}, who has no account here",
                          "ask {owner} to submit under their own name, from the Assignment List") from None
        dest = self.coursedir.format_path(self.coursedir.submitted_directory, student, assignment)
        updating = os.path.isdir(dest)
        if updating:
            existing = recorded_time(dest)
            newer = self.update and (existing is None or record["timestamp"] > existing)
            if not (newer or (self.before_duedate and existing != record["timestamp"])):
                self.log.info("No newer submission to collect: %s %s" if self.update else
                              "Submission already exists, use --update to update: %s %s", student, assignment)
                return
        self.log.info("%s submission: %s %s", "Updating" if updating else "Collecting", student, assignment)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        token = secrets.token_hex(4)
        incoming = os.path.join(os.path.dirname(dest), f".{assignment}.collecting-{token}")
        os.mkdir(incoming)
        try:
            reader = HandInReader(student, uid, self.coursedir.ignore, self.coursedir.include)
            last_change = reader.copy(os.path.join(self.inbound_path, record["filename"]), incoming)
            self.record_time(record, incoming, last_change)
            if self.coursedir.groupshared:
                share_with_group(incoming)
            replace(incoming, dest, os.path.join(os.path.dirname(dest), f".{assignment}.replaced-{token}"))
        except OSError as error:  # writing the copy: nothing of the hand-in is half collected
            raise Refused(f"it could not be copied into the course folder ({error})", COLLECT_AGAIN) from None
        finally:
            if os.path.isdir(incoming):
                shutil.rmtree(incoming)

    def record_time(self, record, folder, last_change):
        """Never record a hand-in as made before its files last changed; give it a timestamp.txt that parses."""
        claimed = recorded_time(folder)
        recorded = claimed or record["timestamp"]
        if last_change - recorded > SLACK:
            self.log.warning("%s says it was submitted at %s, but its files were last changed at %s: recorded the "
                             "later time.", record["filename"], recorded, last_change)
            recorded = last_change
        if recorded != claimed:
            Path(folder, "timestamp.txt").write_text(
                recorded.replace(tzinfo=datetime.timezone.utc).strftime(self.timestamp_format))

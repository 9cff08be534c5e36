"""``nbgrader collect`` for an exchange that a class shares on one machine.

In nbgrader's filesystem exchange a student owns what they hand in: they can name another student in it
(``nbgrader submit --student bob``), edit it after the deadline and rewrite its ``timestamp.txt``, or put
links in it that collecting would follow into the course folder. nbgrader only warns about the first.
Here a submission is collected only if

- its folder and every file in it belong to the Unix user it names (else it is refused, and the
  student's own latest submission is collected instead, if they made one);
- it holds plain files and folders only (no links, pipes or devices);

and its time is never earlier than the last change to its files (the inode's change time, which no
user can set back): a ``timestamp.txt`` more than ``SLACK`` older than that is replaced, with a warning.
"""
import datetime
import os
import pwd
import shutil
import stat
from pathlib import Path

from nbgrader.exchange.default.collect import ExchangeCollect

# How much later than its timestamp a submission's files may have been written by `nbgrader submit`.
SLACK = datetime.timedelta(seconds=10)


def owner_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"user id {uid}"


def what_is_wrong(folder, student):
    """Why ``folder`` is not a submission of ``student``'s own, or None; and the last change to it (UTC)."""
    last_change = 0.0
    for path in [Path(folder), *sorted(Path(folder).rglob("*"))]:
        info = path.lstat()
        last_change = max(last_change, info.st_ctime)
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
            return f"{path.relative_to(folder)} is not a plain file (a link, pipe or device)", None
        if owner_name(info.st_uid) != student:
            return (f"it names {student} but {path.relative_to(folder) if path != Path(folder) else 'its folder'} "
                    f"belongs to {owner_name(info.st_uid)}"), None
    # naive UTC, as nbgrader's parse_utc gives submission times
    return None, datetime.datetime.fromtimestamp(last_change, datetime.timezone.utc).replace(tzinfo=None)


class CollectOwnSubmissions(ExchangeCollect):
    """nbgrader's collect, which refuses submissions not owned by the student they name (see the module)."""

    def init_src(self):
        self._checked = {}  # every submission of the assignment in the exchange: (reason refused, last change)
        super().init_src()

    def check(self, record):
        """(reason refused or None, last change) of a record, worked out once."""
        if record["filename"] not in self._checked:
            self._checked[record["filename"]] = what_is_wrong(
                os.path.join(self.inbound_path, record["filename"]), record["username"])
        return self._checked[record["filename"]]

    def _sort_by_timestamp(self, records):
        # nbgrader collects the first record of each student: the newest that is really theirs
        ordered = super()._sort_by_timestamp(records)
        return [r for r in ordered if self.check(r)[0] is None] + [r for r in ordered if self.check(r)[0] is not None]

    def copy_files(self):
        refused = sorted(name for name, (reason, _) in self._checked.items() if reason is not None)
        for name in refused:
            self.log.error("Refused %s: %s. Nothing of it was collected; ask %s about it. It stays in %s, where only "
                           "root or its owner may remove it, and each collect names it until then.", name, self._checked[name][0],
                           owner_name(os.lstat(os.path.join(self.inbound_path, name)).st_uid), self.inbound_path)
        self.src_records = [r for r in self.src_records if r["filename"] not in refused]
        super().copy_files()
        if refused:
            self.fail(f"{len(refused)} submission(s) refused (see above); the others were collected.")

    def do_copy(self, src, dest, log=None):
        record = next(r for r in self.src_records if os.path.join(self.inbound_path, r["filename"]) == src)
        _, last_change = self.check(record)
        super().do_copy(src, dest, log)
        # Anything changed in it since it was checked (a file swapped for a link) changed an inode's change time.
        if what_is_wrong(src, record["username"]) != (None, last_change):
            shutil.rmtree(dest)
            self.fail(f"{record['filename']} changed while it was collected, so it was not collected; "
                      "run the collect command again.")
        claimed = self.coursedir.get_existing_timestamp(dest) or record["timestamp"]
        if last_change - claimed > SLACK:
            self.log.warning("%s says it was submitted at %s, but its files were last changed at %s: recorded the "
                             "later time.", record["filename"], claimed, last_change)
            Path(dest, "timestamp.txt").write_text(
                last_change.replace(tzinfo=datetime.timezone.utc).strftime(self.timestamp_format))

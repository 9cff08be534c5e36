"""The LMS decides who a student is, and archives are bounded: a real ``nbgrader zip_collect`` of one download
that holds every attack below next to honest students' files, who are collected as themselves each time.

Another student's notebook inside a student's archive is refused; a zip bomb (one member that expands a
thousand times, too many members, too many bytes) stops early with little memory; a member that leads out of
its folder or is a link sets its archive aside; no mode of an archive's is kept; zips and tar.gz files alike.
zip_collect then exits 1, naming what it left out."""
import io
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib
from types import SimpleNamespace

import pytest

from support.course import REPO, notebook_path
from grading.lms import ARCHIVE_BYTES_LIMIT, ARCHIVE_MEMBERS_LIMIT

ASSIGNMENT = "01_elbo"
MIB = 2**20
HONEST = ("ada", "bob", "carl", "hal", "mia", "ned", "jan", "kim")
SET_ASIDE = {  # archive: (its student, why, as the warning says)
    "eve_01_elbo.zip": ("eve", "01_elbo.ipynb expands more than 200 times"),
    "tara_01_elbo.tar.gz": ("tara", "the archive expands more than 200 times"),
    "fay_01_elbo.zip": ("fay", f"more than {ARCHIVE_MEMBERS_LIMIT} files"),
    "gus_01_elbo.zip": ("gus", f"more than {ARCHIVE_BYTES_LIMIT // MIB} MiB once extracted"),
    "gil_01_elbo.zip": ("gil", "'../gil_01_elbo.ipynb' would be written outside its folder"),
    "hana_01_elbo.zip": ("hana", "would be written outside its folder"),
    "ivan_01_elbo.zip": ("ivan", "'01_elbo.ipynb' is a link or a device"),
    "ivy_01_elbo.tar.gz": ("ivy", "'01_elbo.ipynb' is a link or a device"),
    "lee_01_elbo.zip": ("lee", "it cannot be read: BadZipFile"),
}


def notebook_by(author):
    """The released notebook, with a cell saying who handed it in."""
    notebook = json.loads(notebook_path(REPO / "course", ASSIGNMENT).read_text())
    notebook["cells"].append({"cell_type": "markdown", "metadata": {}, "source": f"Handed in by {author}."})
    return json.dumps(notebook).encode()


def author_of(notebook):
    return json.loads(notebook.read_text())["cells"][-1]["source"].removeprefix("Handed in by ").rstrip(".")


def zip_of(path, members):
    """A zip of (name, data, mode) members; mode None: no Unix mode, as Windows tools write them."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            if mode is not None:
                info.external_attr = mode << 16
            archive.writestr(info, data)


def tar_gz_of(path, members):
    """A tar.gz of (TarInfo, data) members."""
    with tarfile.open(path, "w:gz") as archive:
        for info, data in members:
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def deflated_repeats(block, repeats, crc=0):
    """(deflated, crc, size) of ``block`` repeated: a full flush makes each block's deflate stream the same, so
    a member of a GiB costs one block's compression to make. ``crc``: that of what comes before."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated_block = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    for _ in range(repeats):
        crc = zlib.crc32(block, crc)
    return deflated_block * repeats + compressor.flush(), crc, len(block) * repeats


def zip_of_deflated(path, names, deflated):
    """A zip whose members, named ``names``, each hold the same (deflated, crc, size)."""
    data, crc, size = deflated
    local, central = b"", b""
    for name in map(str.encode, names):
        central += struct.pack("<4s6H3L5H2L", b"PK\1\2", 20, 20, 0, 8, 0, 33, crc, len(data), size, len(name), 0, 0,
                               0, 0, 0, len(local)) + name
        local += struct.pack("<4s5H3L2H", b"PK\3\4", 20, 0, 8, 0, 33, crc, len(data), size, len(name), 0) + name + data
    end = struct.pack("<4s4H2LH", b"PK\5\6", 0, 0, len(names), len(names), len(central), len(local), 0)
    path.write_bytes(local + central + end)


def tar_gz_bomb(path):
    """A tar.gz holding one GiB of zeros, which gzip compresses about a thousand times."""
    header = tarfile.TarInfo(f"{ASSIGNMENT}.ipynb")
    header.size = 1024 * MIB
    header_block = header.tobuf()
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated_header = compressor.compress(header_block) + compressor.flush(zlib.Z_FULL_FLUSH)
    zeros, crc, size = deflated_repeats(bytes(MIB), 1025, zlib.crc32(header_block))  # the member, the end blocks
    gzip_header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    gzip_trailer = struct.pack("<2L", crc, (len(header_block) + size) % 2**32)
    path.write_bytes(gzip_header + deflated_header + zeros + gzip_trailer)


def make_download(archive, outside):
    nb = notebook_by
    (archive / f"ada_{ASSIGNMENT}.ipynb").write_bytes(nb("ada"))
    (archive / f"bob_{ASSIGNMENT}.ipynb").write_bytes(nb("bob"))
    zip_of(archive / "hal_01_elbo.zip", [("hal_01_elbo.ipynb", nb("hal"), None)])
    # another student's notebook in a student's archive: as the instructor names them, and as Canvas does
    zip_of(archive / "alan_01_elbo.zip", [("bob_01_elbo.ipynb", nb("alan"), None)])
    zip_of(archive / "carl_12345_67890_anything.zip", [("01_elbo.ipynb", nb("carl"), None),
                                                       ("work/dora_late_12345_67890_01_elbo.ipynb", nb("carl"), None)])
    # the LMS's download of a whole class: its files, and the archive one student uploaded, named by the LMS
    class_download = io.BytesIO()
    zip_of(class_download, [("01_elbo.ipynb", nb("ned"), None)])
    zip_of(archive / "submissions.zip", [("mia_1_2_01_elbo.ipynb", nb("mia"), None),
                                         ("ned_1_2_work.zip", class_download.getvalue(), None)])
    # bombs
    zip_of_deflated(archive / "eve_01_elbo.zip", ["01_elbo.ipynb"], deflated_repeats(bytes(MIB), 1024))
    tar_gz_bomb(archive / "tara_01_elbo.tar.gz")
    zip_of(archive / "fay_01_elbo.zip", [(f"{i}.txt", b"", None) for i in range(ARCHIVE_MEMBERS_LIMIT + 1)])
    text = b"".join(os.urandom(40) + b" " * 4000 for _ in range(MIB // 4000 + 1))[:MIB]  # expands about 80 times
    zip_of_deflated(archive / "gus_01_elbo.zip", [f"{i}.txt" for i in range(ARCHIVE_BYTES_LIMIT // MIB + 1)],
                    deflated_repeats(text, 1))
    # unsafe members, after an honest one
    zip_of(archive / "gil_01_elbo.zip", [("01_elbo.ipynb", nb("gil"), None), ("../gil_01_elbo.ipynb", nb("gil"), None)])
    zip_of(archive / "hana_01_elbo.zip", [("01_elbo.ipynb", nb("hana"), None),
                                          (str(outside / "hana_01_elbo.ipynb"), nb("hana"), None)])
    zip_of(archive / "ivan_01_elbo.zip", [("01_elbo.ipynb", b"/etc/passwd", stat.S_IFLNK | 0o777)])
    link = tarfile.TarInfo("01_elbo.ipynb")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    tar_gz_of(archive / "ivy_01_elbo.tar.gz", [(link, b"")])
    (archive / "lee_01_elbo.zip").write_bytes(b"PK\3\4 cut off")
    # modes: setuid and world-writable, from a zip and a tar
    zip_of(archive / "jan_01_elbo.zip", [("01_elbo.ipynb", nb("jan"), stat.S_IFREG | 0o4777)])
    world_writable = tarfile.TarInfo("kim/01_elbo.ipynb")
    world_writable.mode = 0o777
    tar_gz_of(archive / "kim_01_elbo.tar.gz", [(world_writable, nb("kim"))])


# Runs a command and prints its peak memory (KiB): measured from a small process, since a child's peak counts
# what it held before exec, a copy of the process that forked it (pytest's, with PyTorch loaded).
MEASURED = ("import os, subprocess, sys; child = subprocess.Popen(sys.argv[1:]);"
            " _, status, usage = os.wait4(child.pid, 0); print(usage.ru_maxrss);"
            " sys.exit(os.waitstatus_to_exitcode(status))")


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """zip_collect --force of the download, in a course where eve's earlier submission and zed's (no longer in
    the download) were collected before: its exit status, log and peak memory."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "course" / ASSIGNMENT, course / "course" / ASSIGNMENT)
    archive = course / "nbgrader_work" / "downloaded" / ASSIGNMENT / "archive"
    archive.mkdir(parents=True)
    outside = tmp_path_factory.mktemp("outside")
    make_download(archive, outside)
    for student in ("eve", "zed"):
        earlier = notebook_path(course / "nbgrader_work" / "submitted" / student, ASSIGNMENT)
        earlier.parent.mkdir(parents=True)
        earlier.write_bytes(notebook_by(f"{student}, earlier"))
    run = subprocess.run([sys.executable, "-c", MEASURED, sys.executable, "-m", "nbgrader", "zip_collect", "--force",
                          ASSIGNMENT], cwd=course, capture_output=True, text=True, timeout=600)
    return SimpleNamespace(course=course, outside=outside, status=run.returncode, log=run.stderr,
                           peak_mib=int(run.stdout.split()[-1]) / 1024)


def submission(collected, student):
    return notebook_path(collected.course / "nbgrader_work" / "submitted" / student, ASSIGNMENT)


def extracted(collected):
    return collected.course / "nbgrader_work" / "downloaded" / ASSIGNMENT / "extracted"


def assert_honest_students_collected(collected):
    authors = {student: author_of(submission(collected, student)) for student in HONEST
               if submission(collected, student).is_file()}
    assert authors == {student: student for student in HONEST}, collected.log[-3000:]


def test_the_honest_students_are_collected_as_themselves(collected):
    assert_honest_students_collected(collected)
    assert "Extracting submissions.zip (its files name their students)" in collected.log


@pytest.mark.parametrize("archive, member, named", [
    ("alan_01_elbo.zip", "bob_01_elbo.ipynb", "bob"),
    ("carl_12345_67890_anything.zip", "work/dora_late_12345_67890_01_elbo.ipynb", "dora"),
])
def test_a_notebook_that_names_another_student_in_a_students_archive_is_refused(collected, archive, member, named):
    student = archive.split("_")[0]
    warning = (f"{archive}: {member!r} was not extracted: its name gives it to {named}, but the LMS named the archive "
               f"for {student}.")
    assert collected.log.count(warning) == 1, collected.log[-3000:]
    if named in HONEST:
        assert author_of(submission(collected, named)) == named, "their own notebook, not the one in the archive"
    else:
        assert not submission(collected, named).exists()
    assert not submission(collected, student).exists() or author_of(submission(collected, student)) == student
    assert_honest_students_collected(collected)


@pytest.mark.parametrize("archive", SET_ASIDE)
def test_a_bomb_an_unsafe_member_or_a_corrupt_archive_sets_its_archive_aside_and_no_other(collected, archive):
    student, why = SET_ASIDE[archive]
    (warning,) = [line for line in collected.log.splitlines() if f"] {archive}: set aside" in line]
    assert why in warning and f"ask {student} to hand in the notebook itself" in warning
    earlier = "eve, earlier" if student == "eve" else None  # eve's submission collected before is kept
    assert (author_of(submission(collected, student)) if submission(collected, student).exists() else None) == earlier
    assert not (extracted(collected) / archive.split(".")[0]).exists(), "what was extracted of it is removed"
    assert_honest_students_collected(collected)


def test_a_bomb_stops_early_and_its_memory_stays_small(collected):
    assert collected.peak_mib < 400, f"zip_collect took {collected.peak_mib:.0f} MiB for 3 bombs of a GiB or so"
    sizes = [path.stat().st_size for path in extracted(collected).rglob("*") if path.is_file()]
    assert max(sizes) < MIB


def test_nothing_is_written_outside_the_extracted_folder(collected):
    assert not any(collected.outside.iterdir())
    assert not (extracted(collected) / "gil_01_elbo.ipynb").exists()
    assert not any(path.is_symlink() for path in extracted(collected).rglob("*"))


def test_files_are_written_with_plain_modes_never_the_archives(collected):
    for student in ("jan", "kim"):
        folder = extracted(collected) / f"{student}_01_elbo"
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755
        assert stat.S_IMODE((folder / f"{student}_01_elbo.ipynb").stat().st_mode) == 0o644
        assert stat.S_IMODE(submission(collected, student).stat().st_mode) == 0o644
    assert_honest_students_collected(collected)


def test_zip_collect_exits_1_naming_what_it_left_out_once_the_rest_is_collected(collected):
    """The exit status a script sees; the summary is the log's last line, after every honest file is copied."""
    assert collected.status == 1
    summary = collected.log.splitlines()[-1]
    assert "ERROR] Not collected (see the warnings above)" in summary
    assert all(f"{archive} (set aside)" in summary for archive in SET_ASIDE)
    assert "alan_01_elbo.zip: 'bob_01_elbo.ipynb' (refused)" in summary
    assert_honest_students_collected(collected)


def test_force_withdraws_a_student_gone_from_the_download_but_not_one_whose_archive_was_set_aside(collected):
    assert "zed has no file in" in collected.log and not submission(collected, "zed").exists()
    (aside,) = (collected.course / "nbgrader_work" / "withdrawn" / ASSIGNMENT).iterdir()
    assert aside.name.startswith("zed-")
    assert author_of(submission(collected, "eve")) == "eve, earlier"

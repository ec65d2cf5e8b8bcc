"""`course_utils.grading.files.write_atomically`, the one writer of results, gradebook and report:
a reader finds the old file or the new one, whole, whatever happens during the write."""
from __future__ import annotations

import errno
import os

import pytest

from course_utils.grading import files
from course_utils.grading.files import write_atomically, write_json_atomically

OLD = "submission,status\r\nann.ipynb,graded\r\n"


@pytest.fixture
def gradebook(tmp_path):
    path = tmp_path / "gradebook.csv"
    path.write_bytes(OLD.encode())
    return path


class _DiskFullHalfWay:
    """A file that takes half of what is written to it, then fails as a full disk does."""

    def __init__(self, file):
        self.file = file

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()

    def write(self, data):
        self.file.write(data[: len(data) // 2])
        self.file.flush()
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_write_that_fails_half_way_leaves_the_old_content_and_no_temporary_file(gradebook, monkeypatch):
    real_fdopen = os.fdopen
    monkeypatch.setattr(files.os, "fdopen", lambda fd, *a, **k: _DiskFullHalfWay(real_fdopen(fd, *a, **k)))
    with pytest.raises(OSError, match="No space left"):
        write_atomically(gradebook, "submission,status\r\n" + "bob.ipynb,graded\r\n" * 1000)
    monkeypatch.undo()
    assert gradebook.read_bytes() == OLD.encode()
    assert list(gradebook.parent.iterdir()) == [gradebook]


def test_an_interrupt_before_the_rename_leaves_the_old_content_and_no_temporary_file(gradebook, monkeypatch):
    def interrupted(src, dst):
        raise KeyboardInterrupt  # Ctrl-C between writing and renaming

    monkeypatch.setattr(files.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(gradebook, "new")
    monkeypatch.undo()
    assert gradebook.read_bytes() == OLD.encode()
    assert list(gradebook.parent.iterdir()) == [gradebook]


def test_the_new_content_is_written_byte_for_byte_into_a_new_folder(tmp_path):
    path = tmp_path / "out" / "gradebook.csv"
    text = "submission,01.a feedback\r\nzoë.ipynb,\"expected '↵' but got '·↵'\"\r\n"
    write_atomically(path, text)
    assert path.read_bytes() == text.encode("utf-8")  # csv's \r\n kept: no newline translation
    assert list(path.parent.iterdir()) == [path]


def test_the_data_is_on_disk_before_the_rename_and_the_folder_after_it(gradebook, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync folder" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync file")
        real_fsync(fd)

    def replace(src, dst):
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "fsync", fsync)
    monkeypatch.setattr(files.os, "replace", replace)
    write_atomically(gradebook, "new")
    monkeypatch.undo()
    if os.path.isdir("/proc/self/fd"):
        assert events == ["fsync file", "replace", "fsync folder"]
    else:  # no /proc to tell a folder from a file: the order still holds
        assert events[:2] == ["fsync file", "replace"]
    assert gradebook.read_text() == "new"


def test_json_is_written_readable_with_one_space_indent(tmp_path):
    path = tmp_path / "results.json"
    write_json_atomically(path, {"feedback": "✅ 01.a passed"})
    assert path.read_text(encoding="utf-8") == '{\n "feedback": "✅ 01.a passed"\n}'

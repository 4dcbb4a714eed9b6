"""tfq.files.write_atomically: all of the file or nothing."""
import errno
import os

import pytest

from tfq import files


def test_writes_and_replaces(tmp_path):
    path = tmp_path / "model.tflite"
    files.write_atomically(path, b"first")
    files.write_atomically(path, b"second")
    assert path.read_bytes() == b"second"
    assert os.listdir(tmp_path) == ["model.tflite"]


def test_a_failing_write_leaves_nothing_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.tflite"
    files.write_atomically(path, b"old")

    def disk_full(descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="nothing was written"):
        files.write_atomically(path, b"new")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["model.tflite"]  # no temporary file left


def test_bad_destinations(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        files.write_atomically(tmp_path / "missing" / "model.tflite", b"x")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        files.write_atomically(tmp_path, b"x")

"""Output files written atomically: all of it or nothing.

The bytes go to a temporary file in the destination's directory, are flushed
to disk, then renamed over the destination (rename is atomic on one file
system). On any failure (disk full, read-only directory, an interrupted
write) the temporary file is removed and the destination is untouched.
"""
from __future__ import annotations

import os
import tempfile
from typing import Union


def write_atomically(path: Union[str, os.PathLike], data: Union[bytes, str]) -> None:
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"output directory {directory!r} does not exist; create it "
                                "first or choose another output path")
    if os.path.isdir(path):
        raise IsADirectoryError(f"output path {path!r} is a directory; give a file name")
    payload = data.encode() if isinstance(data, str) else bytes(data)
    try:
        descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".tfq-",
                                                 suffix=".partial")
    except OSError as error:
        raise OSError(error.errno, f"cannot write in {directory!r} ({error.strerror}); "
                                   "choose a writable output directory") from error
    try:
        with os.fdopen(descriptor, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException as error:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(error, OSError):
            raise OSError(error.errno, f"could not write {path!r}: {error.strerror}; nothing "
                                       "was written (check free space and permissions)") from error
        raise

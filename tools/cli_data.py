"""What the command-line programs share: their usage error and the data files
they read (absl flags stay in each program: a module defining flags cannot be
imported by another program without clashing)."""
import os
import sys


class UsageError(ValueError):
    pass


def load_calibration_data(path, flag="--calibration_data"):
    """An .npz / .npy file as arrays, or an image directory as its path
    (errors name `flag`)."""
    import numpy as np  # pylint: disable=import-outside-toplevel
    if not os.path.exists(path):
        raise UsageError(f"{flag}: no file or directory at {path!r}")
    if os.path.isdir(path):
        return path
    if not path.endswith((".npz", ".npy")):
        raise UsageError(f"{flag}: {path!r} is not an .npz, an .npy or a "
                         "directory of images")
    try:
        if path.endswith(".npy"):
            return np.load(path, allow_pickle=False)
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError) as error:
        raise UsageError(f"{flag}: cannot read {path!r}: {error}") from error
    if not arrays:
        raise UsageError(f"{flag}: {path!r} holds no arrays")
    return next(iter(arrays.values())) if len(arrays) == 1 else arrays


def main_of(program: str, body):
    """An absl main running `body()`: exit status 0, or 1 with one line on
    stderr saying what is wrong (never a traceback)."""
    def main(argv):
        if len(argv) > 1:
            print(f"{program}: error: unexpected arguments {argv[1:]}; every option is a "
                  "--flag (see --helpfull)", file=sys.stderr)
            return 1
        try:
            body()
        except Exception as error:  # pylint: disable=broad-except
            message = " ".join(str(error).split()) or type(error).__name__
            print(f"{program}: error: {message}", file=sys.stderr)
            return 1
        return 0
    return main

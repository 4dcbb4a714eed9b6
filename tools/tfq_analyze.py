"""tfq-analyze: which layer of a quantized model loses the accuracy (tfq.analyze).

    tfq-analyze --float_model=model.keras --quantized_model=model.tflite \
        --data=test.npz --output_dir=analysis --num_samples=1000

--data: an .npz (the inputs as one array, or one per model input named after
it; labels, if any, under `y` or `labels`), an .npy, or a directory of images
(resized to the model input, scaled to [0, 1]). Writes `index.html` (plots
embedded, opens offline) and `report.json` to --output_dir and prints the
per-layer table. Both files or neither: nothing is left after a failure. Exit status
0 on success; otherwise 1 with one line on stderr that says what is wrong.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

from tfq_tools.cli_data import UsageError, load_calibration_data, main_of  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("float_model", None, "The float Keras model: .keras, .h5 or a Keras "
                    "SavedModel directory.")
flags.DEFINE_string("quantized_model", None, "The quantized .tflite (int8 or int16x8) "
                    "converted from it.")
flags.DEFINE_string("data", None, "Samples to compare on: file.npz (labels under y or "
                    "labels), file.npy or a directory of images.")
flags.DEFINE_string("output_dir", None, "Where to write index.html and report.json "
                    "(created if missing).")
flags.DEFINE_integer("num_samples", 1000, "Analyze at most this many samples.")
flags.DEFINE_integer("suggestions", 3, "How many of the worst layers to try keeping float "
                     "(each a measured re-conversion); 0 for none.")
flags.DEFINE_string("calibration_method", "minmax", "Calibration of the suggestions' "
                    "re-conversions: minmax, ema, percentile, entropy, mse or auto.")
flags.DEFINE_boolean("progress", True, "Show progress bars.")

LABEL_KEYS = ("y", "labels")


def load_data(path):
    """(data, labels or None) from --data."""
    import numpy as np  # pylint: disable=import-outside-toplevel
    if not path.endswith(".npz") or not os.path.isfile(path):
        return load_calibration_data(path, flag="--data"), None
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError) as error:
        raise UsageError(f"--data: cannot read {path!r}: {error}") from error
    labels = next((arrays.pop(key) for key in LABEL_KEYS if key in arrays), None)
    if not arrays:
        raise UsageError(f"--data: {path!r} holds labels but no inputs")
    return (next(iter(arrays.values())) if len(arrays) == 1 else arrays), labels


def write_all(directory, contents):
    """Writes every file or none: on a failure (disk full) the ones already
    written, and the directory if this made it, are removed."""
    from tfq import files  # pylint: disable=import-outside-toplevel
    created = not os.path.isdir(directory)
    os.makedirs(directory, exist_ok=True)
    written = []
    try:
        for name, text in contents.items():
            path = os.path.join(directory, name)
            files.write_atomically(path, text)
            written.append(path)
    except BaseException:
        for path in written:
            os.unlink(path)
        if created:
            os.rmdir(directory)
        raise


def analyze_from_flags():
    for name in ("float_model", "quantized_model", "data", "output_dir"):
        if not getattr(FLAGS, name):
            raise UsageError(f"--{name} is required (see --help)")
    if not os.path.isfile(FLAGS.quantized_model):
        raise UsageError(f"--quantized_model: no file at {FLAGS.quantized_model!r}")
    if not os.path.exists(FLAGS.float_model):
        raise UsageError(f"--float_model: no file or directory at {FLAGS.float_model!r}")
    if os.path.exists(FLAGS.output_dir) and not os.path.isdir(FLAGS.output_dir):
        raise UsageError(f"--output_dir: {FLAGS.output_dir!r} is a file, not a directory")
    data, labels = load_data(FLAGS.data)
    import tfq  # pylint: disable=import-outside-toplevel  (slow: after flag parsing)
    from tfq import analysis_report  # pylint: disable=import-outside-toplevel
    report = tfq.analyze(FLAGS.float_model, FLAGS.quantized_model, data, labels=labels,
                         num_samples=FLAGS.num_samples, suggestions=FLAGS.suggestions,
                         calibration=FLAGS.calibration_method, progress=FLAGS.progress)
    page, summary = analysis_report.render(report), report.to_json()
    write_all(FLAGS.output_dir, {"index.html": page, "report.json": summary})
    print(report)
    print(f"tfq-analyze: wrote {os.path.join(FLAGS.output_dir, 'index.html')} and report.json")


main = main_of("tfq-analyze", analyze_from_flags)


def run():
    """Console-script entry point."""
    app.run(main)


if __name__ == "__main__":
    run()

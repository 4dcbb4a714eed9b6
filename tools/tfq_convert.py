"""tfq-convert: a SavedModel, .keras or .h5 model -> a full-integer .tflite.

    tfq-convert --input=saved_model_dir --output=model.tflite --mode=int8 \
        --calibration_data=calibration.npz --calibration_method=percentile \
        --num_calibration_samples=500 --io_dtype=int8 --report=report.json

Calibration data: an .npz (one array, or one array per model input named
after the input), an .npy, or a directory of images (resized to the model
input, scaled to [0, 1]). The .tflite is written atomically: on any failure
nothing is left at --output. Exit status 0 on success; otherwise 1 with one
line on stderr that says what is wrong.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

from tfq_tools.cli_data import UsageError, load_calibration_data, main_of  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("input", None, "The model: a SavedModel directory, a .keras or an .h5 file.")
flags.DEFINE_string("output", None, "Where to write the .tflite.")
flags.DEFINE_enum("mode", "int8", ["int8", "int16x8", "dynamic", "float16"],
                  "int8: full integer; int16x8: 16-bit activations, int8 weights; dynamic: "
                  "dynamic-range int8 weights; float16: float16 weights.")
flags.DEFINE_string("calibration_data", None,
                    "Calibration set for int8/int16x8: file.npz, file.npy or a directory of "
                    "images.")
flags.DEFINE_string("calibration_method", "minmax",
                    "minmax, ema, percentile, entropy, mse or auto.")
flags.DEFINE_integer("num_calibration_samples", None,
                     "Use at most this many calibration samples (default: all).")
flags.DEFINE_integer("batch_size", 32, "Calibration batch size (auto needs 10 batches or more).",
                     lower_bound=1)
flags.DEFINE_string("io_dtype", None,
                    "Input/output type: int8 (default), uint8 or float32 in int8 mode; int16 "
                    "(default) or float32 in int16x8; float32 in dynamic and float16.")
flags.DEFINE_list("skip_layers", [], "Keras layers to keep float, comma-separated.")
flags.DEFINE_list("int16_layers", [], "Keras layers to run with 16-bit activations inside an "
                  "int8 model (--mode=int8, a Keras model), comma-separated.")
flags.DEFINE_string("report", None, "Also write tfq.inspect's report of the result as JSON.")
flags.DEFINE_boolean("progress", True, "Show a progress bar while calibrating.")


def convert_from_flags():
    import tfq  # pylint: disable=import-outside-toplevel  (slow: after flag parsing)
    if not FLAGS.input:
        raise UsageError("--input is required: a SavedModel directory, a .keras or an .h5 file")
    if not FLAGS.output:
        raise UsageError("--output is required: the .tflite file to write")
    output_directory = os.path.dirname(os.path.abspath(FLAGS.output))
    if not os.path.isdir(output_directory):
        raise UsageError(f"--output: directory {output_directory!r} does not exist")
    if not os.access(output_directory, os.W_OK):
        raise UsageError(f"--output: directory {output_directory!r} is not writable")
    data = None
    if FLAGS.calibration_data:
        data = load_calibration_data(FLAGS.calibration_data)
    elif FLAGS.mode in ("int8", "int16x8"):
        raise UsageError(f"--mode={FLAGS.mode} needs --calibration_data (an .npz, an .npy or a "
                         "directory of images) to set the activation ranges")
    tflite_model = tfq.convert(FLAGS.input, mode=FLAGS.mode, representative_data=data,
                               calibration=FLAGS.calibration_method, io_dtype=FLAGS.io_dtype,
                               skip_layers=FLAGS.skip_layers,
                               int16_layers=FLAGS.int16_layers,
                               num_calibration_samples=FLAGS.num_calibration_samples,
                               batch_size=FLAGS.batch_size, progress=FLAGS.progress)
    from tfq import files  # pylint: disable=import-outside-toplevel
    files.write_atomically(FLAGS.output, tflite_model)
    if FLAGS.report:
        files.write_atomically(FLAGS.report, tfq.inspect(tflite_model).to_json())
    print(f"tfq-convert: wrote {FLAGS.output} ({len(tflite_model) / 1024:.1f} KiB, "
          f"mode {FLAGS.mode})")


main = main_of("tfq-convert", convert_from_flags)


def run():
    """Console-script entry point."""
    app.run(main)


if __name__ == "__main__":
    run()

"""Every bad input tried on the Python API and the command lines, and the
error each gets: a Python exception (type and the words that say what is
wrong and how to fix it) or, from a CLI, exit status 1 with one line
`<program>: error: ...` on stderr. Nothing is left in the output directory
after a failure (disk full is simulated with RLIMIT_FSIZE, a read-only
directory with /proc, where not even root may create a file).

More tables of the same kind: test_converter.py (tfq.convert's arguments and
corrupt models), test_cli_convert.py, test_analysis.py (tfq.analyze,
tfq-analyze), test_delegate_validation.py / test_delegate_conv_validation.py /
test_delegate_hostile_models.py (hostile models at the delegate).
"""
import os
import resource
import signal
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest

import tfq

BIN = os.path.dirname(sys.executable)
INPUT_SHAPE = (10, 10, 3)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A SavedModel (its .tflite is over 100 KB), a good .tflite, calibration
    data and corrupt files."""
    directory = tmp_path_factory.mktemp("bad_input")
    keras.utils.set_random_seed(2)
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = keras.layers.Conv2D(64, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(300)(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.export(str(directory / "saved_model"), verbose=False)
    calibration = np.random.default_rng(2).normal(size=(8,) + INPUT_SHAPE).astype(np.float32)
    np.save(directory / "calibration.npy", calibration)
    np.save(directory / "nan.npy", calibration * np.nan)
    np.save(directory / "strings.npy", np.array(["a", "b"]))
    tflite_model = tfq.convert(model, representative_data=calibration, progress=False)
    (directory / "model.tflite").write_bytes(tflite_model)
    (directory / "truncated.tflite").write_bytes(tflite_model[:len(tflite_model) // 3])
    (directory / "text.tflite").write_text("not a model at all\n" * 10)
    (directory / "empty.tflite").write_bytes(b"")
    return dict(dir=directory, model=model, calibration=calibration, tflite=tflite_model)


API_CASES = {  # name: (call, exception, words of the message)
    "inspect: missing file": (lambda f: tfq.inspect(str(f["dir"] / "none.tflite")),
                              FileNotFoundError, "no .tflite file at"),
    "inspect: text file": (lambda f: tfq.inspect(str(f["dir"] / "text.tflite")), ValueError,
                           "not a TFLite flatbuffer"),
    "inspect: empty file": (lambda f: tfq.inspect(str(f["dir"] / "empty.tflite")), ValueError,
                            "not a TFLite flatbuffer"),
    "inspect: not bytes": (lambda f: tfq.inspect(12), TypeError, "expects .tflite bytes or a path"),
    "Interpreter: truncated model": (
        lambda f: tfq.Interpreter(model_path=str(f["dir"] / "truncated.tflite")), ValueError,
        "not a valid Flatbuffer"),
    "Interpreter: path and content": (
        lambda f: tfq.Interpreter(model_path="a", model_content=b"b"), ValueError,
        "exactly one of model_path= or model_content="),
    "Interpreter: zero threads": (lambda f: tfq.Interpreter(model_content=f["tflite"],
                                                            num_threads=0),
                                  ValueError, "num_threads must be a positive int"),
    "Interpreter: delegate of a wrong type": (
        lambda f: tfq.Interpreter(model_content=f["tflite"], delegate="yes"), TypeError,
        "delegate must be True, False"),
    "delegate: unknown option": (lambda f: tfq.delegate.load(turbo=True), ValueError, "turbo"),
    "delegate: negative threads": (lambda f: tfq.delegate.load(num_threads=-2), ValueError,
                                   "num_threads"),
    "delegate: unknown log level": (lambda f: tfq.delegate.load(log_level="loud"), ValueError,
                                    "log_level"),
    "quantize_model: not a model": (lambda f: tfq.quantize_model("model.keras"), TypeError,
                                    "expects a Keras model"),
    "quantize_model: unknown skip layer": (
        lambda f: tfq.quantize_model(f["model"], skip_layers=["nope"]), ValueError,
        "skip_layers names layers not in model"),
    "calibrate: NaN data": (
        lambda f: tfq.calibrate(tfq.quantize_model(f["model"]), f["calibration"] * np.nan,
                                progress=False), ValueError, "NaN"),
    "calibrate: strings": (
        lambda f: tfq.calibrate(tfq.quantize_model(f["model"]), np.array([["a"]]),
                                progress=False), ValueError, "does not match the model input"),
    "calibrate: empty data": (
        lambda f: tfq.calibrate(tfq.quantize_model(f["model"]),
                                np.zeros((0,) + INPUT_SHAPE, np.float32), progress=False),
        ValueError, "empty"),
    "calibrate: wrong dtype": (
        lambda f: tfq.calibrate(tfq.quantize_model(f["model"]),
                                np.full((2,) + INPUT_SHAPE, "x"), progress=False),
        TypeError, "must be numeric"),
    "convert: report in a read-only directory": (
        lambda f: tfq.convert(f["model"], representative_data=f["calibration"], progress=False,
                              report="/proc/report.json"), OSError, "cannot write in '/proc'"),
    "convert: report path is a directory": (
        lambda f: tfq.convert(f["model"], representative_data=f["calibration"], progress=False,
                              report=str(f["dir"])), IsADirectoryError, "is a directory"),
    "analyze: NaN data": (
        lambda f: tfq.analyze(f["model"], f["tflite"], f["calibration"] * np.nan,
                              progress=False), ValueError, "NaN"),
    "analyze: not the model it came from": (
        lambda f: tfq.analyze(keras.Sequential([keras.Input(INPUT_SHAPE),
                                                keras.layers.Flatten(name="other")]),
                              f["tflite"], f["calibration"], progress=False),
        ValueError, "is it the model it was converted from"),
}


@pytest.mark.parametrize("case", list(API_CASES))
def test_python_api(files, case):
    call, exception, words = API_CASES[case]
    with pytest.raises(exception) as raised:
        call(files)
    assert words in str(raised.value), str(raised.value)


def _disk_full():
    """The child's files may not grow past 20 KB: writes fail with EFBIG."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))


CLI_CASES = {  # name: (argv after the program, words of the error line, disk full?)
    "tfq-convert: disk full": (
        ["tfq-convert", "--noprogress", "--input={dir}/saved_model", "--output={out}/model.tflite",
         "--calibration_data={dir}/calibration.npy"], "nothing was written", True),
    "tfq-convert: read-only output directory": (
        ["tfq-convert", "--noprogress", "--input={dir}/saved_model", "--output=/proc/model.tflite",
         "--calibration_data={dir}/calibration.npy"], "cannot write in '/proc'", False),
    "tfq-convert: output is a directory": (
        ["tfq-convert", "--noprogress", "--input={dir}/saved_model", "--output={out}",
         "--calibration_data={dir}/calibration.npy"], "is a directory", False),
    "tfq-convert: NaN calibration data": (
        ["tfq-convert", "--noprogress", "--input={dir}/saved_model", "--output={out}/model.tflite",
         "--calibration_data={dir}/nan.npy"], "NaN", False),
    "tfq-convert: calibration data of strings": (
        ["tfq-convert", "--noprogress", "--input={dir}/saved_model", "--output={out}/model.tflite",
         "--calibration_data={dir}/strings.npy"], "does not match the model input", False),
    "tfq-convert: a .tflite as input": (
        ["tfq-convert", "--noprogress", "--input={dir}/model.tflite", "--output={out}/model.tflite",
         "--calibration_data={dir}/calibration.npy"], "model.tflite", False),
    "tfq-convert: positional argument": (
        ["tfq-convert", "--noprogress", "--input={dir}/saved_model", "--output={out}/model.tflite", "extra"],
        "unexpected arguments", False),
    "tfq-bench: truncated model": (
        ["tfq-bench", "--model={dir}/truncated.tflite"], "not a valid Flatbuffer", False),
    "tfq-bench: text file as model": (["tfq-bench", "--model={dir}/text.tflite"],
                                      "not a valid Flatbuffer", False),
    "tfq-analyze: disk full": (
        ["tfq-analyze", "--noprogress", "--float_model={dir}/model.keras", "--quantized_model={dir}/model.tflite",
         "--data={dir}/calibration.npy", "--output_dir={out}", "--suggestions=0"],
        "nothing was written", True),
}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_command_line(files, case, tmp_path):
    argv, words, disk_full = CLI_CASES[case]
    if not (files["dir"] / "model.keras").exists():
        files["model"].save(files["dir"] / "model.keras")
    out = tmp_path / "out"
    out.mkdir()
    program, *flags = [arg.format(dir=files["dir"], out=out) for arg in argv]
    result = subprocess.run([os.path.join(BIN, program), *flags],
                            capture_output=True, text=True, timeout=600,
                            preexec_fn=_disk_full if disk_full else None)
    assert result.returncode == 1, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{program}: error: ") and words in last, last
    assert os.listdir(out) == []  # no output, no temporary file

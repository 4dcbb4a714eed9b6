"""tfq-convert as a user runs it: a subprocess on a SavedModel, with an .npz
and an image-directory calibration set, and on bad input (exit != 0, one
line that says what is wrong, no output file)."""
import json
import os
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

import tfq

INPUT_SHAPE = (10, 10, 3)
TFQ_CONVERT = os.path.join(os.path.dirname(sys.executable), "tfq-convert")


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    keras.utils.set_random_seed(21)
    inputs = keras.Input(INPUT_SHAPE)
    x = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    path = str(tmp_path_factory.mktemp("cli") / "saved_model")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.export(path, verbose=False)
    return path


def _run(*flags):
    result = subprocess.run([TFQ_CONVERT, "--noprogress", *flags], capture_output=True,
                            text=True, timeout=300)
    return result.returncode, result.stdout, result.stderr


def _assert_int8_model(path):
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert not tfq.inspect(str(path)).float_ops()


def test_npz_calibration_and_report(saved_model, tmp_path):
    data = np.random.default_rng(0).uniform(size=(40,) + INPUT_SHAPE).astype(np.float32)
    np.savez(tmp_path / "calibration.npz", images=data)
    output, report = tmp_path / "model.tflite", tmp_path / "report.json"
    code, stdout, stderr = _run(f"--input={saved_model}", f"--output={output}",
                                f"--calibration_data={tmp_path / 'calibration.npz'}",
                                "--calibration_method=entropy", "--num_calibration_samples=32",
                                f"--report={report}")
    assert code == 0, stderr
    assert "wrote" in stdout
    _assert_int8_model(output)
    assert json.loads(report.read_text())["size_bytes"] == output.stat().st_size


def test_auto_calibration_on_a_small_set_with_the_default_batch_size(saved_model, tmp_path):
    # 40 samples: 2 batches of the default 32. auto holds back samples, not
    # batches: it chooses on 8 of them and says its choice is not validated.
    data = np.random.default_rng(3).uniform(size=(40,) + INPUT_SHAPE).astype(np.float32)
    np.save(tmp_path / "calibration.npy", data)
    output = tmp_path / "model.tflite"
    code, _, stderr = _run(f"--input={saved_model}", f"--output={output}",
                           f"--calibration_data={tmp_path / 'calibration.npy'}",
                           "--calibration_method=auto")
    assert code == 0, stderr
    assert "'auto' chose its methods on 8 held-back samples of 40" in stderr
    _assert_int8_model(output)


def test_int16_layers_from_a_keras_file(tmp_path):
    """--int16_layers on a .keras file: the named layer runs at 16 bits
    between two QUANTIZE ops, the rest stays int8."""
    keras.utils.set_random_seed(22)
    inputs = keras.Input(INPUT_SHAPE)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    keras.Model(inputs, keras.layers.Dense(3, name="head")(x)).save(tmp_path / "m.keras")
    data = np.random.default_rng(2).uniform(size=(16,) + INPUT_SHAPE).astype(np.float32)
    np.save(tmp_path / "calibration.npy", data)
    output = tmp_path / "model.tflite"
    code, _, stderr = _run(f"--input={tmp_path / 'm.keras'}", f"--output={output}",
                           f"--calibration_data={tmp_path / 'calibration.npy'}",
                           "--int16_layers=conv")
    assert code == 0, stderr
    report = tfq.inspect(str(output))
    ops = {(op.op, report.tensors[op.inputs[0]].dtype) for op in report.ops}
    assert ("CONV_2D", "int16") in ops and ("MEAN", "int8") in ops and \
        ("QUANTIZE", "int16") in ops, ops


def test_image_directory_calibration(saved_model, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(1)
    for i in range(6):  # other sizes than the model's: resized on the way
        pixels = rng.integers(0, 256, size=(16, 14, 3), dtype=np.uint8)
        tf.io.write_file(str(images / f"{i}.png"), tf.io.encode_png(pixels))
    output = tmp_path / "model.tflite"
    code, _, stderr = _run(f"--input={saved_model}", f"--output={output}",
                           f"--calibration_data={images}", "--io_dtype=uint8")
    assert code == 0, stderr
    assert Interpreter(model_path=str(output)).get_input_details()[0]["dtype"] == np.uint8


def _bad_cases(saved_model, tmp_path):
    corrupt = tmp_path / "corrupt_saved_model"
    corrupt.mkdir()
    (corrupt / "saved_model.pb").write_bytes(b"\x08\x01garbage")
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((8,) + INPUT_SHAPE, np.float32))
    wrong_shape = tmp_path / "wrong.npy"
    np.save(wrong_shape, np.zeros((8, 5, 5, 3), np.float32))
    return {
        "missing path": ([f"--input={tmp_path / 'nowhere'}", f"--calibration_data={good}"],
                         "no model at"),
        "corrupt SavedModel": ([f"--input={corrupt}", f"--calibration_data={good}"],
                               "corrupt_saved_model"),
        "wrong shape": ([f"--input={saved_model}", f"--calibration_data={wrong_shape}"],
                        "does not match the model input"),
        "unknown method": ([f"--input={saved_model}", f"--calibration_data={good}",
                            "--calibration_method=median"], "unknown calibration method"),
        "no calibration data": ([f"--input={saved_model}"], "needs --calibration_data"),
        "missing calibration file": ([f"--input={saved_model}",
                                      f"--calibration_data={tmp_path / 'none.npz'}"],
                                     "no file or directory"),
        "too few samples for auto": ([f"--input={saved_model}", f"--calibration_data={good}",
                                      "--calibration_method=auto"],
                                     "'auto' needs at least 10 calibration samples, got 8"),
    }


@pytest.mark.parametrize("case", ["missing path", "corrupt SavedModel", "wrong shape",
                                  "unknown method", "no calibration data",
                                  "missing calibration file", "too few samples for auto"])
def test_bad_input_fails_in_one_line_and_writes_nothing(saved_model, tmp_path, case):
    flags, reason = _bad_cases(saved_model, tmp_path)[case]
    output = tmp_path / "out" / "model.tflite"
    output.parent.mkdir()
    code, _, stderr = _run(*flags, f"--output={output}")
    assert code != 0
    errors = [line for line in stderr.splitlines() if line.startswith("tfq-convert: error:")]
    assert len(errors) == 1 and reason in errors[0], stderr[-2000:]
    assert os.listdir(output.parent) == []  # no .tflite, no temporary file


def test_unknown_mode_is_refused_by_flag_parsing(tmp_path):
    code, _, stderr = _run("--input=x", f"--output={tmp_path / 'm.tflite'}", "--mode=int4")
    assert code != 0 and "--mode" in stderr
    assert not (tmp_path / "m.tflite").exists()


def test_helpfull_lists_the_flags():
    _, stdout, _ = _run("--helpfull")  # absl's help exits 1 by design: not checked
    for flag in ("--input", "--output", "--mode", "--calibration_data", "--calibration_method",
                 "--num_calibration_samples", "--batch_size", "--io_dtype", "--skip_layers",
                 "--int16_layers", "--report"):
        assert flag in stdout

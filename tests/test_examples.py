"""The examples run on small slices of the data and report success (each
exits non-zero when its own check fails)."""
import json
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
SLICE = ["--train_images=3000", "--test_images=1000", "--float_epochs=2", "--qat_epochs=1"]


def run_example(name, *args, cwd):
    result = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=cwd,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_delegate_dense_example(tmp_path):
    stdout = run_example("delegate_dense.py", cwd=tmp_path)
    assert "outputs differing from BUILTIN_REF: 0 of 10000" in stdout


def test_qat_keras3_example(tmp_path):
    stdout = run_example("qat_keras3.py", *SLICE, cwd=tmp_path)
    assert "same class from Keras and .tflite" in stdout
    assert (tmp_path / "qat_keras3.tflite").stat().st_size > 0


def test_qat_tf_keras_example(tmp_path):
    stdout = run_example("qat_tf_keras.py", *SLICE, cwd=tmp_path)
    assert "identical predictions" in stdout
    assert (tmp_path / "qat_tf_keras.tflite").stat().st_size > 0


def test_savedmodel_to_int8_example(tmp_path):
    stdout = run_example("savedmodel_to_int8.py", "--train_images=3000", "--test_images=1000",
                         "--float_epochs=2", cwd=tmp_path)
    assert "tfq-convert --input=" in stdout and "same class:" in stdout
    assert (tmp_path / "savedmodel_example" / "model_int8.tflite").stat().st_size > 0


@pytest.mark.heavy
def test_distributed_qat_example(tmp_path):
    stdout = run_example("distributed_qat.py", "--train_images=2048", "--test_images=500",
                         "--qat_epochs=1", cwd=tmp_path)
    assert "both workers ended with identical weights and ranges" in stdout


@pytest.mark.heavy
def test_fashion_mnist_demo_quick_run(tmp_path):
    """The main job's pipeline end to end on a slice (accuracy targets need
    the full run; here: every variant converts, runs wholly on the delegate
    and lands in the table)."""
    run_example("fashion_mnist_demo.py", "--quick", "--output_dir=out", "--latency_runs=20",
                cwd=tmp_path)
    table = json.loads((tmp_path / "out" / "table.json").read_text())
    names = [row["variant"] for row in table["rows"]]
    assert names[2:] == ["TFLiteConverter PTQ", "tfq PTQ minmax", "tfq PTQ ema",
                         "tfq PTQ percentile", "tfq PTQ entropy", "tfq PTQ mse", "tfq PTQ auto",
                         "tfq PTQ int16x8 minmax", "tensorflow-model-optimization QAT",
                         "tfq QAT"]
    for row in table["rows"][2:]:
        claimed, total = map(int, row["delegated_nodes"].split("/"))
        assert claimed == total > 0, row
        assert pathlib.Path(tmp_path / row["file"]).stat().st_size == row["size_bytes"]
        assert 0.0 <= row["accuracy"] <= 1.0 and row["tfq_ms"] > 0 and row["xnnpack_ms"] > 0

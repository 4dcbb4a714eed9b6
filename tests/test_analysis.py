"""tfq.analyze on a Fashion-MNIST CNN with one deliberately broken layer.

The break: conv2 gets an extra output channel that is always 0 (zero kernel,
negative bias, ReLU), and fc1 reads it through one weight of 40. The float
model computes exactly what the trained one does, but fc1's weights are
per-tensor int8, so the 40 sets their scale (40/127) and rounds every real
weight (|w| < 0.6) to a few levels: int8 accuracy collapses because of fc1
alone. The report must rank fc1 worst and its measured suggestion (keep fc1
float) must win back the accuracy.
"""
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

import tfq
from tfq import analysis, quant_math
from tfq.datasets import fashion_mnist

TFQ_ANALYZE = os.path.join(os.path.dirname(sys.executable), "tfq-analyze")
SAMPLES = 500
OUTLIER_WEIGHT = 40.0


def _cnn(conv2_channels):
    inputs = keras.Input((28, 28, 1), name="image")
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(conv2_channels, 3, strides=2, activation="relu", name="conv2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(32, activation="relu", name="fc1")(x)
    return keras.Model(inputs, keras.layers.Dense(10, name="logits")(x))


def _with_broken_fc1(trained):
    """The trained model plus a dead conv2 channel that fc1 weighs by 40."""
    broken = _cnn(17)
    broken.get_layer("conv1").set_weights(trained.get_layer("conv1").get_weights())
    kernel, bias = trained.get_layer("conv2").get_weights()
    broken.get_layer("conv2").set_weights([
        np.concatenate([kernel, np.zeros_like(kernel[..., :1])], -1), np.append(bias, -1.0)])
    kernel, bias = trained.get_layer("fc1").get_weights()
    kernel = kernel.reshape(6, 6, 16, 32)
    kernel = np.concatenate([kernel, np.zeros_like(kernel[:, :, :1])], axis=2)
    kernel[0, 0, 16, 0] = OUTLIER_WEIGHT
    broken.get_layer("fc1").set_weights([kernel.reshape(-1, 32), bias])
    broken.get_layer("logits").set_weights(trained.get_layer("logits").get_weights())
    return broken


@pytest.fixture(scope="module")
def broken():
    keras.utils.set_random_seed(1)
    images, labels = fashion_mnist("train")
    trained = _cnn(16)
    trained.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    trained.fit(images[:6000], labels[:6000], epochs=2, batch_size=64, verbose=0)
    model = _with_broken_fc1(trained)
    test_images, test_labels = fashion_mnist("test")
    test_images, test_labels = test_images[:SAMPLES], test_labels[:SAMPLES]
    np.testing.assert_allclose(model.predict(test_images, verbose=0),
                               trained.predict(test_images, verbose=0), atol=1e-4)
    tflite_model = tfq.convert(model, representative_data=images[:500], progress=False)
    report = tfq.analyze(model, tflite_model, (test_images, test_labels), num_samples=SAMPLES,
                         progress=False)
    return dict(model=model, tflite=tflite_model, images=test_images, labels=test_labels,
                calibration=images[:500], report=report)


def test_sqnr_and_cosine_match_numpy(rng):
    reference = rng.normal(size=4000)
    approximation = reference + rng.normal(scale=0.05, size=4000)
    expected_sqnr = 10 * np.log10(np.sum(reference ** 2) / np.sum((reference - approximation) ** 2))
    expected_cosine = np.dot(reference, approximation) / (
        np.linalg.norm(reference) * np.linalg.norm(approximation))
    assert analysis.sqnr_db(reference, approximation) == pytest.approx(expected_sqnr, abs=1e-9)
    assert analysis.cosine_similarity(reference, approximation) == pytest.approx(expected_cosine,
                                                                                 abs=1e-12)
    assert 20 < expected_sqnr < 30  # the noise is 1/20 of the signal: ~26 dB
    assert analysis.sqnr_db(reference, reference) == analysis.MAX_SQNR_DB
    assert analysis.cosine_similarity(reference, -reference) == pytest.approx(-1.0)
    assert analysis.cosine_similarity(np.zeros(3), np.zeros(3)) == 1.0
    # Streamed in pieces, as analyze accumulates batches: the same numbers.
    accumulator = analysis._ErrorAccumulator((-3.0, 3.0), rng)
    for piece in np.array_split(np.arange(4000), 7):
        accumulator.update(reference[piece], approximation[piece])
    assert analysis._sqnr_from_sums(accumulator.signal, accumulator.noise) == \
        pytest.approx(expected_sqnr, abs=1e-9)
    assert accumulator.max_abs == pytest.approx(np.abs(reference - approximation).max())
    assert accumulator.clipped == np.count_nonzero(np.abs(reference) > 3.0)


def test_layer_sqnr_takes_out_the_error_of_the_inputs():
    assert analysis.layer_sqnr_db(analysis.MAX_SQNR_DB, 40.0) == pytest.approx(40.0, abs=1e-6)
    # Input at 40 dB (noise 1e-4), output at 30 dB (1e-3): the layer added 9e-4.
    assert analysis.layer_sqnr_db(40.0, 30.0) == pytest.approx(-10 * np.log10(9e-4), abs=1e-9)
    assert analysis.layer_sqnr_db(30.0, 35.0) == analysis.MAX_SQNR_DB  # cleaner than its input


def test_the_broken_layer_ranks_worst_and_keeping_it_float_recovers_accuracy(broken):
    report = broken["report"]
    assert [row.layer for row in report.layers] == ["image", "conv1", "pool1", "conv2",
                                                    "flatten", "fc1", "logits"]
    assert report.float_metric > 0.7 and report.metric_name == "accuracy"
    assert report.quantized_metric < report.float_metric - 0.2  # fc1 really breaks it
    assert report.worst(1)[0].layer == "fc1"
    fc1 = next(row for row in report.layers if row.layer == "fc1")
    conv2 = next(row for row in report.layers if row.layer == "conv2")
    assert fc1.layer_sqnr_db < 10 < 35 < conv2.sqnr_db
    best = report.suggestions[0]
    assert (best.action, best.layers) == ("skip_layers", ["fc1"]) and "skip_layers=['fc1']" in best.how
    assert best.gain > 0.2 and best.metric >= report.float_metric - 0.02
    others = [s for s in report.suggestions[1:] if s.metric is not None]
    assert {s.action for s in report.suggestions} == {"skip_layers", "int16_layers", "int16x8"}
    assert all(s.gain < 0.05 for s in others)  # nothing else fixes per-tensor weights
    assert any(s.action == "int16_layers" and s.layers == ["fc1"] and s.metric is not None
               for s in report.suggestions)  # measured, if no help (fc1's weights stay int8)
    assert abs(report.baseline_metric - report.quantized_metric) < 0.02


def test_per_layer_numbers_match_a_direct_computation(broken):
    """fc1's row recomputed by hand: its tensor read from TFLite, dequantized,
    against the float layer's output on the same images."""
    report, model = broken["report"], broken["model"]
    fc1 = next(row for row in report.layers if row.layer == "fc1")
    interpreter = Interpreter(model_content=broken["tflite"], experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    index = next(t["index"] for t in interpreter.get_tensor_details() if t["name"] == fc1.tensor)
    scale, zero_point = detail["quantization"]
    quantized, reference = [], []
    probe = keras.Model(model.inputs, model.get_layer("fc1").output)
    for image in broken["images"]:
        interpreter.set_tensor(detail["index"], quant_math.quantize(
            image[None], quant_math.QuantParams(np.float32([scale]), np.int64([zero_point]),
                                                np.int8)))
        interpreter.invoke()
        quantized.append(quant_math.dequantize(interpreter.get_tensor(index), quant_math.QuantParams(
            np.float32([fc1.scale]), np.int64([fc1.zero_point]), np.int8)))
    reference = probe.predict(broken["images"], verbose=0)
    quantized = np.concatenate(quantized)
    assert fc1.sqnr_db == pytest.approx(analysis.sqnr_db(reference, quantized), abs=1e-6)
    assert fc1.cosine == pytest.approx(analysis.cosine_similarity(reference, quantized), abs=1e-9)
    assert fc1.max_abs_error == pytest.approx(np.abs(reference - quantized).max(), rel=1e-6)
    grid_high = fc1.scale * (127 - fc1.zero_point)
    assert fc1.clipped_share == pytest.approx(np.mean(reference > grid_high), abs=1e-9)
    assert 0.0 < fc1.range_utilisation <= 1.0


def test_int16x8_models_are_analyzed_too(broken):
    tflite_model = tfq.convert(broken["model"], mode="int16x8",
                               representative_data=broken["calibration"], progress=False)
    report = tfq.analyze(broken["model"], tflite_model, broken["images"], num_samples=200,
                         suggestions=0, progress=False)
    assert report.mode == "int16x8" and report.metric_name == "top-1 agreement"
    assert {row.dtype for row in report.layers} == {"int16"}
    int8_conv1 = next(r for r in broken["report"].layers if r.layer == "conv1")
    int16_conv1 = next(r for r in report.layers if r.layer == "conv1")
    # 8 more activation bits: a grid 100x finer; the SQNR gains less, as conv1's
    # error is mostly its int8 weights'.
    assert int16_conv1.scale < int8_conv1.scale / 100 and int16_conv1.zero_point == 0
    assert int16_conv1.sqnr_db > int8_conv1.sqnr_db + 3
    assert report.worst(1)[0].layer == "fc1"  # the weights are int8 still


def test_tf_keras_models_are_aligned():
    import tf_keras
    tf_keras.utils.set_random_seed(3)
    model = tf_keras.Sequential([tf_keras.Input((12,), name="features"),
                                 tf_keras.layers.Dense(16, activation="relu", name="hidden"),
                                 tf_keras.layers.Dense(4, name="scores")])
    data = np.random.default_rng(3).normal(size=(64, 12)).astype(np.float32)
    tflite_model = tfq.convert(model, representative_data=data, progress=False)
    report = tfq.analyze(model, tflite_model, data, suggestions=0, progress=False)
    assert [row.layer for row in report.layers][-2:] == ["hidden", "scores"]
    assert all(row.sqnr_db > 25 for row in report.layers) and report.top1_agreement > 0.9


def test_bad_input_gets_a_clear_error(broken, tmp_path):
    model, images = broken["model"], broken["images"]
    with pytest.raises(ValueError, match="NaN"):
        tfq.analyze(model, broken["tflite"], np.full_like(images[:4], np.nan), progress=False)
    with pytest.raises(ValueError, match="labels has 3 rows"):
        tfq.analyze(model, broken["tflite"], images[:8], labels=np.zeros(3), progress=False)
    with pytest.raises(FileNotFoundError, match="no .tflite file"):
        tfq.analyze(model, str(tmp_path / "missing.tflite"), images, progress=False)
    with pytest.raises(ValueError, match="num_samples"):
        tfq.analyze(model, broken["tflite"], images, num_samples=0, progress=False)
    other = keras.Sequential([keras.Input((5,)), keras.layers.Dense(2, name="other")])
    with pytest.raises(ValueError, match="does not match the model input"):
        tfq.analyze(other, broken["tflite"], images, progress=False)


def test_html_page_renders_offline_in_chromium(broken, tmp_path):
    """Debian's chromium (headless, driven by playwright) opens the page: no
    request leaves file:/data:, every plot decodes, the screenshot is not
    blank, and a header click sorts the table."""
    from playwright.sync_api import sync_playwright
    path = broken["report"].to_html(tmp_path / "html")
    assert sorted(os.listdir(tmp_path / "html")) == ["index.html"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        requests = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(f"file://{path}")
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all(
            "img", "nodes => nodes.map(n => [n.complete, n.naturalWidth, n.naturalHeight])")
        screenshot = tmp_path / "page.png"
        page.screenshot(path=str(screenshot), full_page=True)
        page.click("#layers th:nth-child(6)")  # SQNR (dB), ascending
        first_layer = page.inner_text("#layers tbody tr:first-child td:nth-child(2)")
        browser.close()
    assert [url for url in requests if not url.startswith(("file:", "data:"))] == []
    assert len(images) == 1 + 3 and all(ok and w > 100 and h > 100 for ok, w, h in images)
    import matplotlib.image
    pixels = matplotlib.image.imread(str(screenshot))[..., :3]
    assert pixels.std() > 0.05 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50
    assert first_layer == min(broken["report"].layers, key=lambda r: r.sqnr_db).layer


def _analyze_cli(*flags):
    result = subprocess.run([TFQ_ANALYZE, "--noprogress", *flags], capture_output=True,
                            text=True, timeout=600)
    return result.returncode, result.stdout, result.stderr


def test_cli_writes_the_page_and_json(broken, tmp_path):
    model_path, tflite_path = tmp_path / "model.keras", tmp_path / "model.tflite"
    broken["model"].save(model_path)
    tflite_path.write_bytes(broken["tflite"])
    np.savez(tmp_path / "data.npz", x=broken["images"][:200], y=broken["labels"][:200])
    code, stdout, stderr = _analyze_cli(
        f"--float_model={model_path}", f"--quantized_model={tflite_path}",
        f"--data={tmp_path / 'data.npz'}", f"--output_dir={tmp_path / 'out'}",
        "--num_samples=200", "--suggestions=1")
    assert code == 0, stderr
    summary = json.loads((tmp_path / "out" / "report.json").read_text())
    assert summary["worst_layers"][0] == "fc1" and summary["metric_name"] == "accuracy"
    assert summary["suggestions"][0]["layers"] == ["fc1"] and summary["suggestions"][0]["gain"] > 0.2
    assert (tmp_path / "out" / "index.html").stat().st_size > 10000
    assert "fc1" in stdout and "worst layers: fc1" in stdout


@pytest.mark.parametrize("flags, message", [
    (["--quantized_model={tflite}", "--data={data}", "--output_dir={out}"], "--float_model is required"),
    (["--float_model={model}", "--quantized_model={tmp}/none.tflite", "--data={data}",
      "--output_dir={out}"], "--quantized_model: no file"),
    (["--float_model={model}", "--quantized_model={data}", "--data={data}", "--output_dir={out}"],
     "not a TFLite flatbuffer"),
    (["--float_model={model}", "--quantized_model={tflite}", "--data={tmp}/none.npz",
      "--output_dir={out}"], "--data: no file"),
    (["--float_model={model}", "--quantized_model={tflite}", "--data={data}",
      "--output_dir={data}"], "is a file, not a directory"),
    (["--float_model={model}", "--quantized_model={tflite}", "--data={data}", "--output_dir={out}",
      "--num_samples=0"], "num_samples must be >= 1"),
])
def test_cli_bad_input_fails_in_one_line_and_writes_nothing(broken, tmp_path, flags, message):
    paths = dict(model=tmp_path / "model.keras", tflite=tmp_path / "model.tflite",
                 data=tmp_path / "data.npz", out=tmp_path / "out", tmp=tmp_path)
    broken["model"].save(paths["model"])
    paths["tflite"].write_bytes(broken["tflite"])
    np.savez(paths["data"], x=broken["images"][:20])
    code, _, stderr = _analyze_cli(*[flag.format(**paths) for flag in flags])
    assert code == 1
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("tfq-analyze: error:") and message in last, stderr
    assert not (tmp_path / "out").exists()

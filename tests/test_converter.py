"""tfq.convert: every mode from every kind of input, checked in LiteRT.

Sources: a Keras 3 model, its `.keras` and `.h5` files, the same model
exported with `model.export` (a generic SavedModel: TFLite's calibration path
with tfq's ranges) and a tf_keras SavedModel (the Keras path). Integer models
are compared with the Keras fake-quant model under BUILTIN_REF with the bound
of the QAT tests (test_quantize_model.py: >= 99 % within 1 LSB, max 2).
"""
import json
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter, OpResolverType

import tfq
from tests.auto_holdout import auto_split

INPUT_SHAPE = (12, 12, 3)
INTEGER_TYPES = {"int8": {"int8", "int32"}, "int16x8": {"int16", "int8", "int32", "int64"}}


def _build(K, wide=False):
    inputs = K.Input(INPUT_SHAPE)
    x = K.layers.Conv2D(16, 3, padding="same", use_bias=False)(inputs)
    x = K.layers.ReLU(6.0)(K.layers.BatchNormalization()(x))
    y = K.layers.DepthwiseConv2D(3, padding="same")(x)
    x = K.layers.Add()([x, K.layers.ReLU(6.0)(y)])
    if wide:  # 1,152 weights: enough for the dynamic-range mode to quantize
        x = K.layers.Conv2D(72, 1, activation="relu")(x)
    x = K.layers.GlobalAveragePooling2D()(x)
    return K.Model(inputs, K.layers.Dense(5)(x), name="small_cnn")


def _trained(K, wide=False):
    """Non-trivial BatchNormalization statistics and weights, seeded."""
    K.utils.set_random_seed(11)
    model = _build(K, wide)
    rng = np.random.default_rng(3)
    model.compile(optimizer="adam", loss="mse")
    model.fit(rng.normal(size=(32,) + INPUT_SHAPE).astype(np.float32),
              rng.normal(size=(32, 5)).astype(np.float32), epochs=1, batch_size=8, verbose=0)
    return model


CALIBRATION = np.random.default_rng(4).normal(size=(64,) + INPUT_SHAPE).astype(np.float32)


def _sources(directory, wide):
    model = _trained(keras, wide)
    model.save(directory / "model.keras")
    model.save(directory / "model.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.export(str(directory / "exported"), verbose=False)
        import tf_keras
        tf_keras_model = _trained(tf_keras, wide)
        tf_keras_model.save(str(directory / "tf_keras_saved_model"), save_format="tf")
    return {"keras model": model, ".keras": str(directory / "model.keras"),
            ".h5": str(directory / "model.h5"), "exported SavedModel": str(directory / "exported"),
            "tf_keras SavedModel": str(directory / "tf_keras_saved_model"),
            "float models": {"keras": model, "tf_keras": tf_keras_model}}


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    return _sources(tmp_path_factory.mktemp("sources"), wide=False)


@pytest.fixture(scope="module")
def wide_sources(tmp_path_factory):
    """Weights large enough for the dynamic-range mode, which leaves small ones float."""
    return _sources(tmp_path_factory.mktemp("wide_sources"), wide=True)


def _interpreter(tflite_model, reference=True):
    interpreter = Interpreter(model_content=tflite_model, experimental_op_resolver_type=(
        OpResolverType.BUILTIN_REF if reference else OpResolverType.AUTO))
    interpreter.allocate_tensors()
    return interpreter


def _run(interpreter, x):
    (input_detail,), (output_detail,) = (interpreter.get_input_details(),
                                         interpreter.get_output_details())
    interpreter.set_tensor(input_detail["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(output_detail["index"])


def _assert_within_qat_bound(tflite_model, fake_quant_model, scheme="int8", lsb=1):
    """TFLite (BUILTIN_REF) vs the Keras fake-quant model, in units of `lsb`
    output steps."""
    interpreter = _interpreter(tflite_model)
    (input_detail,), (output_detail,) = (interpreter.get_input_details(),
                                         interpreter.get_output_details())
    s_in, z_in = input_detail["quantization"]
    s_out, z_out = output_detail["quantization"]
    qmin, qmax = (-32768, 32767) if scheme == "int16x8" else (-128, 127)
    x = CALIBRATION[:16]
    quantized_x = np.clip(np.round(x / s_in) + z_in, qmin, qmax).astype(input_detail["dtype"])
    differences = []
    for sample in quantized_x:
        tflite_out = _run(interpreter, sample[np.newaxis]).astype(np.int64)
        keras_out = fake_quant_model((sample[np.newaxis].astype(np.float32) - z_in) * s_in,
                                     training=False).numpy()
        keras_q = np.clip(np.round(keras_out / s_out) + z_out, qmin, qmax).astype(np.int64)
        differences.append(np.abs(tflite_out - keras_q).ravel() / lsb)
    differences = np.concatenate(differences)
    assert differences.max() <= 2 and np.mean(differences <= 1) >= 0.99, differences


def _fake_quant_twin(float_model, scheme):
    """The Keras fake-quant model tfq.convert builds from a float model."""
    quantized = tfq.quantize_model(float_model, scheme=scheme)
    tfq.calibrate(quantized, CALIBRATION, progress=False)
    return quantized


@pytest.mark.parametrize("mode", ["int8", "int16x8"])
@pytest.mark.parametrize("source", ["keras model", ".keras", ".h5", "exported SavedModel",
                                    "tf_keras SavedModel"])
def test_integer_modes_from_every_source(sources, source, mode):
    tflite_model = tfq.convert(sources[source], mode=mode, representative_data=CALIBRATION,
                               progress=False)
    report = tfq.inspect(tflite_model)
    assert not report.float_ops() and not report.float_tensors(), str(report)
    dtypes = {report.tensors[i].dtype for op in report.ops for i in op.inputs + op.outputs
              if i >= 0}
    assert dtypes <= INTEGER_TYPES[mode], (dtypes, str(report))
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"} <= set(report.op_counts())
    # The exported SavedModel is the same Keras 3 model seen as a generic
    # graph: its tfq ranges (from TFLite's tensors, same data, minmax) must
    # land where the Keras path's do.
    # In 16x8 the generic path is TFLite's calibration quantizer, whose ranges
    # (seen through TFLite's float kernels) sit ~0.1 % from the Keras ones: it
    # is held to the int8 bound, counted in int8-sized steps (256 int16 LSB).
    flavour = "tf_keras" if source == "tf_keras SavedModel" else "keras"
    lsb = 256 if (mode, source) == ("int16x8", "exported SavedModel") else 1
    _assert_within_qat_bound(tflite_model, _fake_quant_twin(sources["float models"][flavour],
                                                            mode), mode, lsb=lsb)


def test_generic_saved_model_auto_calibration_lands_where_the_keras_paths_does(sources):
    # auto on the generic path (TFLite's tensors) follows tfq.calibrate: the
    # same per-tensor choice, then the held-back samples join the statistics.
    # (Ranges agree to ~0.1 %, not exactly: TFLite's float kernels are not TF's.)
    tflite_model = tfq.convert(sources["exported SavedModel"], representative_data=CALIBRATION,
                               calibration="auto", batch_size=4, progress=False)
    twin = tfq.quantize_model(sources["float models"]["keras"])
    tfq.calibrate(twin, CALIBRATION, method="auto", batch_size=4, progress=False)
    _assert_within_qat_bound(tflite_model, twin)


def test_generic_auto_keeps_the_configuration_closest_to_float_at_the_int8_output(sources):
    from tfq import flatbuffer_edits, schemes, tflite_calibration
    path = sources["exported SavedModel"]
    inputs = tflite_calibration.signature_inputs(path).inputs
    batches = [[CALIBRATION[i:i + 4]] for i in range(0, len(CALIBRATION), 4)]
    calibrated = tflite_calibration.calibrated_float_model(
        tf.lite.TFLiteConverter.from_saved_model(path), inputs, batches[0])
    _, chosen, errors = tflite_calibration.observe_ranges(
        calibrated, inputs, iter(batches), scheme=schemes.INT8, method="auto", progress=False)
    assert chosen and "per-tensor" in errors
    # Independently, each single method: ranges from the batches kept for
    # statistics, its int8 model (ai_edge_litert, float in and out) against
    # the float model on the held-back samples (every 5th).
    statistics, halves, _ = auto_split(CALIBRATION, 4)
    kept = [[batch] for batch in statistics]
    held = np.concatenate(halves)
    float_interpreter = Interpreter(model_content=calibrated)
    float_interpreter.allocate_tensors()
    reference = np.concatenate([_run(float_interpreter, row[np.newaxis]) for row in held])
    for method in set(errors) - {"per-tensor"}:
        ranges, _, _ = tflite_calibration.observe_ranges(calibrated, inputs, iter(kept),
                                                         scheme=schemes.INT8, method=method,
                                                         progress=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            int8_model = tflite_calibration.quantize(
                flatbuffer_edits.with_ranges(calibrated, ranges), scheme=schemes.INT8,
                io_type=tf.float32)
        interpreter = Interpreter(model_content=int8_model)
        interpreter.allocate_tensors()
        output = np.concatenate([_run(interpreter, row[np.newaxis]) for row in held])
        expected = np.sum((output - reference) ** 2) / np.sum(reference ** 2)
        assert errors[method] == pytest.approx(expected, rel=1e-5), method
    best = min(errors, key=errors.get)
    if best != "per-tensor":
        assert set(chosen.values()) == {best}


@pytest.mark.parametrize("mode", ["dynamic", "float16"])
@pytest.mark.parametrize("source", ["keras model", ".keras", ".h5", "exported SavedModel",
                                    "tf_keras SavedModel"])
def test_float_modes_from_every_source(wide_sources, source, mode):
    sources = wide_sources
    tflite_model = tfq.convert(sources[source], mode=mode, progress=False)
    report = tfq.inspect(tflite_model)
    # TFLite's dynamic-range mode leaves weights under 1,024 elements float.
    smallest = 1024 if mode == "dynamic" else 1
    weights = [t for t in report.tensors
               if t.constant and len(t.shape) >= 2 and np.prod(t.shape) >= smallest]
    expected = "int8" if mode == "dynamic" else "float16"
    assert weights and all(t.dtype == expected for t in weights), str(report)
    flavour = "tf_keras" if source == "tf_keras SavedModel" else "keras"
    float_model = sources["float models"][flavour]
    x = CALIBRATION[:4]
    expected_out = float_model(x, training=False).numpy()
    interpreter = _interpreter(tflite_model, reference=False)
    got = np.concatenate([_run(interpreter, row[np.newaxis]) for row in x])
    # float16 weights: ~3 significant digits; dynamic range: int8 weights and
    # activations quantized on the fly per batch, ~1 % of the output range.
    tolerance = 0.02 if mode == "float16" else 0.05
    scale = np.abs(expected_out).max()
    assert np.abs(got - expected_out).max() <= tolerance * scale


@pytest.mark.parametrize("io_dtype", ["uint8", "float32"])
@pytest.mark.parametrize("source", ["keras model", "exported SavedModel"])
def test_io_dtypes(sources, source, io_dtype):
    tflite_model = tfq.convert(sources[source], io_dtype=io_dtype,
                               representative_data=CALIBRATION, progress=False)
    interpreter = _interpreter(tflite_model)
    assert interpreter.get_input_details()[0]["dtype"] == np.dtype(io_dtype)
    assert interpreter.get_output_details()[0]["dtype"] == np.dtype(io_dtype)
    report = tfq.inspect(tflite_model)
    assert not report.float_ops(), str(report)  # Q/DQ at float edges only
    # Integer I/O: the same codes as the int8 model, shifted by 128 for uint8.
    int8_model = _interpreter(tfq.convert(sources[source], representative_data=CALIBRATION,
                                          progress=False))
    s, z = int8_model.get_input_details()[0]["quantization"]
    x = np.clip(np.round(CALIBRATION[:1] / s) + z, -128, 127)
    reference = _run(int8_model, x.astype(np.int8)).astype(np.int32)
    if io_dtype == "uint8":
        got = _run(interpreter, (x + 128).astype(np.uint8)).astype(np.int32) - 128
        np.testing.assert_array_equal(got, reference)
    else:
        s_out, z_out = int8_model.get_output_details()[0]["quantization"]
        got = _run(interpreter, ((x - z) * s).astype(np.float32))
        np.testing.assert_allclose(got, (reference - z_out) * s_out, atol=1e-6)


def test_calibrated_or_trained_model_converts_as_is(sources):
    quantized = _fake_quant_twin(sources["keras model"], "int8")
    tflite_model = tfq.convert(quantized, progress=False)
    _assert_within_qat_bound(tflite_model, quantized)
    with pytest.raises(ValueError, match="already has its ranges"):
        tfq.convert(quantized, representative_data=CALIBRATION, progress=False)


def test_skip_layers_keeps_a_layer_float_and_report_is_written(sources, tmp_path):
    model = sources["keras model"]
    dense = model.layers[-1].name
    report_path = tmp_path / "report.json"
    tflite_model = tfq.convert(model, representative_data=CALIBRATION, skip_layers=[dense],
                               report=str(report_path), progress=False)
    report = json.loads(report_path.read_text())
    assert report["size_bytes"] == len(tflite_model) and report["skip_layers"] == [dense]
    float_ops = tfq.inspect(tflite_model).float_ops()
    assert any(op.op == "FULLY_CONNECTED" for op in float_ops)
    assert report["float_ops"] and all("CONV" not in line for line in report["float_ops"])


def test_skip_layers_keeps_a_middle_layer_float_between_integer_ops():
    """A layer inside the graph stays float (DEQUANTIZE -> float op -> QUANTIZE)
    with every other op int8; a layer whose op the converter fused away is
    named in the error."""
    keras.utils.set_random_seed(12)
    inputs = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="first")(inputs)
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="middle")(x)
    x = keras.layers.ReLU(name="middle_relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="head")(x))
    data = np.random.default_rng(12).normal(size=(32, 8, 8, 3)).astype(np.float32)
    for skip in (["middle"], ["middle_relu"], ["head"]):
        report = tfq.inspect(tfq.convert(model, representative_data=data, skip_layers=skip,
                                         progress=False))
        ops = [(op.op, report.tensors[op.outputs[0]].dtype) for op in report.ops]
        kept = "FULLY_CONNECTED" if skip == ["head"] else "DEPTHWISE_CONV_2D"
        position = ops.index((kept, "float32"))
        assert ops[position - 1] == ("DEQUANTIZE", "float32")
        assert ops[position + 1] == ("QUANTIZE", "int8")
        assert all(dtype == "int8" for i, (_, dtype) in enumerate(ops)
                   if i not in (position - 1, position)), ops
    with pytest.raises(ValueError, match="not in model"):
        tfq.convert(model, representative_data=data, skip_layers=["nope"], progress=False)


def test_inspect_names_the_float_op_and_its_layer(sources):
    """A float .tflite under the int8 check: the error names op, layer and flag."""
    from tfq import converter
    float_model = tf.lite.TFLiteConverter.from_keras_model(sources["keras model"]).convert()
    report = tfq.inspect(float_model)
    assert report.float_ops() and "FULLY_CONNECTED" in report.op_counts()
    with pytest.raises(ValueError, match=r"float op\(s\).*from layer '.*' \(.*\).*skip_layers"):
        converter._check(report, mode="int8", keras_model=sources["keras model"], skip_layers=())
    assert "float ops:" in str(report)


@pytest.mark.parametrize("call,error,match", [
    (lambda s: tfq.convert(object()), TypeError, "expects a Keras model or a path"),
    (lambda s: tfq.convert("/nonexistent/model.keras"), FileNotFoundError, "no model at"),
    (lambda s: tfq.convert(s["keras model"], mode="int4"), ValueError, "unknown mode"),
    (lambda s: tfq.convert(s["keras model"], io_dtype="int16"), ValueError,
     "io_dtype 'int16' is not available in mode 'int8'"),
    (lambda s: tfq.convert(s["keras model"], mode="dynamic", io_dtype="int8"), ValueError,
     "choose one of float32"),
    (lambda s: tfq.convert(s["keras model"]), ValueError, "needs representative_data"),
    (lambda s: tfq.convert(s["exported SavedModel"]), ValueError, "needs representative_data"),
    (lambda s: tfq.convert(s["keras model"], representative_data=CALIBRATION,
                           calibration="median"), ValueError, "unknown calibration method"),
    (lambda s: tfq.convert(s["keras model"], representative_data=CALIBRATION,
                           calibration_options={"percentile": 99}), ValueError,
     "unknown option"),
    (lambda s: tfq.convert(s["exported SavedModel"], representative_data=CALIBRATION,
                           skip_layers=["dense"]), ValueError, "generic SavedModel"),
    (lambda s: tfq.convert(s["keras model"],
                           representative_data=np.zeros((4, 8, 8, 3), np.float32)),
     ValueError, r"does not match the model input"),
    (lambda s: tfq.convert(s["exported SavedModel"],
                           representative_data=np.zeros((4, 8, 8, 3), np.float32)),
     ValueError, r"does not match the model input"),
    (lambda s: tfq.convert(s["keras model"], representative_data=CALIBRATION * np.nan),
     ValueError, "NaN"),
    (lambda s: tfq.convert(s["exported SavedModel"], representative_data=CALIBRATION * np.nan),
     ValueError, "NaN"),
])
def test_bad_input(sources, call, error, match):
    with pytest.raises(error, match=match):
        call(sources)


def test_corrupt_files(tmp_path):
    keras_file = tmp_path / "broken.keras"
    keras_file.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="could not load"):
        tfq.convert(str(keras_file), representative_data=CALIBRATION)
    saved_model = tmp_path / "broken_saved_model"
    saved_model.mkdir()
    (saved_model / "saved_model.pb").write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match="broken_saved_model"):
        tfq.convert(str(saved_model), representative_data=CALIBRATION)
    with pytest.raises(ValueError, match="not a TFLite flatbuffer"):
        tfq.inspect(b"\x00" * 64)


def _prepares_under_builtin_ref(tflite_model):
    interpreter = Interpreter(model_content=tflite_model,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()  # raises on a node TFLite refuses to prepare


@pytest.mark.heavy
def test_int16x8_random_mobilenet_v2_prepares_where_plain_ptq_does_not():
    """A random-weight MobileNetV2's dead channels calibrate to ranges near
    0; TFLite then refuses the fused RELU6 bounds of its 16x8 convolutions
    (no_integer_overflow_from_quantization). tfq widens those ranges."""
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3), alpha=0.35)
    data = np.random.default_rng(0).uniform(-1, 1, (16, 96, 96, 3)).astype(np.float32)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([sample[None]] for sample in data)
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    with pytest.raises(RuntimeError, match="no_integer_overflow_from_quantization"):
        _prepares_under_builtin_ref(converter.convert())
    with pytest.warns(UserWarning, match="widened"):
        _prepares_under_builtin_ref(tfq.convert(model, mode="int16x8", representative_data=data,
                                                progress=False))


def test_qat_range_trained_onto_a_dead_layer_still_converts_16x8():
    """QAT's moving ranges follow a layer whose output is always 0 down to
    nothing; the fake-quant keeps the range at least MIN_RANGE_WIDTH wide so
    the 16x8 model still prepares (its RELU6 bound fits int32)."""
    keras.utils.set_random_seed(4)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu6", name="dead",
                            kernel_initializer="zeros", bias_initializer="zeros")(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
    model = tfq.quantize_model(keras.Model(inputs, outputs), scheme="int16x8")
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(4)
    model.fit(rng.normal(size=(32, 8, 8, 3)), rng.normal(size=(32, 2)), epochs=2, verbose=0)
    _prepares_under_builtin_ref(tfq.convert(model, mode="int16x8", progress=False))

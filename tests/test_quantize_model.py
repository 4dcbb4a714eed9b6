"""tfq.quantize_model (Keras 3): wrap -> fit 2 steps -> stock TFLiteConverter ->
an all-integer .tflite whose outputs match the Keras fake-quant model.

Why "within 1 LSB for >= 99 %, at most 2": the Keras model computes in float
between fake-quant points and rounds once per range; TFLite rounds inside
each op too. In int8, Keras inference reproduces the conv / dense ops' own
roundings (the int32 bias grid and the double rounding's lean,
tfq/requantization.py), but not all: float32 sums, the 31-bit multipliers,
ADD's and averaging's integer arithmetic, and none in int16x8. A value within
a hair of a rounding boundary can land on the neighbouring step (1 LSB), and
such a step in an intermediate tensor can move a later output by one more
(2 LSB). Anything larger is a wrong range, a wrong fusion or a missing
fake-quant.
"""
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter, OpResolverType

import tfq
from tfq import requantization

# Tensor types a full-integer model may carry: int8 data (int16 activations in
# 16x8), int32 bias and shape arithmetic (Keras 3 Flatten/Reshape with a
# dynamic batch), int64 bias (16x8).
INTEGER_TYPES = {"int8": (np.int8, np.int32), "int16x8": (np.int16, np.int8, np.int32, np.int64)}


def _fit_two_steps(model, input_shape, output_units):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, size=(16,) + input_shape).astype(np.float32)
    y = rng.normal(0, 1, size=(16, output_units)).astype(np.float32)
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)


def _convert(model, scheme="int8"):
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    io_type = tf.int16 if scheme == "int16x8" else tf.int8
    if scheme == "int16x8":
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        # TFLite's 16x8 kernels take int64 biases; the QAT path writes int32 otherwise.
        converter._experimental_full_integer_quantization_bias_type = tf.int64
    converter.inference_input_type = io_type
    converter.inference_output_type = io_type
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return converter.convert()


def _assert_all_integer(interpreter, scheme="int8"):
    ops = interpreter._get_ops_details()  # pylint: disable=protected-access
    names = [op["op_name"] for op in ops]
    # QUANTIZE may stay as an int8 -> int8 requantization (a skip connection
    # into a Concatenate); the type check below refuses any float one.
    assert "DEQUANTIZE" not in names, names
    for op in ops:
        for index in list(op["inputs"]) + list(op["outputs"]):
            if index < 0:
                continue
            dtype = interpreter._get_tensor_details(index, 0)["dtype"]  # pylint: disable=protected-access
            assert dtype in INTEGER_TYPES[scheme], \
                f"{op['op_name']} has a {dtype.__name__} tensor: {names}"
    return names


def assert_converts_and_matches(model, input_shape, output_units, max_lsb=2, scheme="int8",
                                min_exact=0.0, **quantize_options):
    """wrap -> fit -> convert -> all-integer -> outputs vs Keras within the bound."""
    quantized = tfq.quantize_model(model, scheme=scheme, **quantize_options)
    _fit_two_steps(quantized, input_shape, output_units)
    interpreter = Interpreter(model_content=_convert(quantized, scheme),
                              experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    op_names = _assert_all_integer(interpreter, scheme)
    qmin, qmax = (-32768, 32767) if scheme == "int16x8" else (-128, 127)
    input_detail = interpreter.get_input_details()[0]
    output_detail = interpreter.get_output_details()[0]
    s_in, z_in = input_detail["quantization"]
    s_out, z_out = output_detail["quantization"]
    rng = np.random.default_rng(1)
    samples = rng.integers(qmin, qmax + 1, size=(24, 1) + input_shape).astype(
        np.int16 if scheme == "int16x8" else np.int8)
    differences = []
    for sample in samples:
        interpreter.set_tensor(input_detail["index"], sample)
        interpreter.invoke()
        tflite_out = interpreter.get_tensor(output_detail["index"]).astype(np.int64)
        keras_out = quantized((sample.astype(np.float32) - z_in) * s_in, training=False).numpy()
        keras_q = np.clip(np.round(keras_out / s_out) + z_out, qmin, qmax).astype(np.int64)
        differences.append(np.abs(tflite_out - keras_q).ravel())
    differences = np.concatenate(differences)
    assert differences.max() <= max_lsb, (differences.max(), op_names)
    assert np.mean(differences <= 1) >= 0.99, (np.mean(differences <= 1), op_names)
    assert np.mean(differences == 0) >= min_exact, (np.mean(differences == 0), op_names)
    return op_names


def _model(input_shape, *layers, K=keras):
    inputs = K.Input(input_shape)
    x = inputs
    for layer in layers:
        x = layer(x)
    return K.Model(inputs, x)


@pytest.fixture(params=["keras", "tf_keras"])
def K(request):
    """The Keras flavour under test: Keras 3 or tf_keras, one tfq implementation."""
    if request.param == "tf_keras":
        import tf_keras
        return tf_keras
    return keras


IMAGE = (10, 10, 3)
LAYER_CASES = {
    "Dense": ((12,), lambda K: [K.layers.Dense(8)], 8),
    "Dense relu": ((12,), lambda K: [K.layers.Dense(8, activation="relu")], 8),
    "Dense no bias": ((12,), lambda K: [K.layers.Dense(8, use_bias=False)], 8),
    "Dense softmax": ((12,), lambda K: [K.layers.Dense(8, activation="softmax")], 8),
    "Dense sigmoid": ((12,), lambda K: [K.layers.Dense(8, activation="sigmoid")], 8),
    "Dense tanh": ((12,), lambda K: [K.layers.Dense(8, activation="tanh")], 8),
    "Conv2D relu same": (IMAGE, lambda K: [K.layers.Conv2D(6, 3, padding="same", activation="relu")], None),
    "Conv2D stride 2 valid": (IMAGE, lambda K: [K.layers.Conv2D(6, 3, strides=2)], None),
    "Conv2D dilated": (IMAGE, lambda K: [K.layers.Conv2D(4, 3, dilation_rate=2, activation="relu6")], None),
    "Conv1D": ((16, 3), lambda K: [K.layers.Conv1D(5, 3, activation="relu")], None),
    "DepthwiseConv2D": (IMAGE, lambda K: [K.layers.DepthwiseConv2D(3, padding="same")], None),
    "DepthwiseConv2D multiplier 2": (IMAGE, lambda K: [K.layers.DepthwiseConv2D(3, depth_multiplier=2)], None),
    "SeparableConv2D relu": (IMAGE, lambda K: [K.layers.SeparableConv2D(6, 3, activation="relu")], None),
    "SeparableConv2D multiplier 2": (IMAGE, lambda K: [K.layers.SeparableConv2D(
        5, 3, depth_multiplier=2, padding="same")], None),
    "Conv2DTranspose same": (IMAGE, lambda K: [K.layers.Conv2DTranspose(4, 3, strides=2, padding="same")], None),
    "Conv2DTranspose valid": (IMAGE, lambda K: [K.layers.Conv2DTranspose(3, 3, strides=2)], None),
    "ReLU6 layer": (IMAGE, lambda K: [K.layers.Conv2D(4, 1), K.layers.ReLU(6.0)], None),
    "LeakyReLU": (IMAGE, lambda K: [K.layers.Conv2D(4, 1), K.layers.LeakyReLU(0.2)], None),
    "sigmoid layer": (IMAGE, lambda K: [K.layers.Conv2D(4, 1), K.layers.Activation("sigmoid")], None),
    "MaxPooling2D": (IMAGE, lambda K: [K.layers.Conv2D(4, 1), K.layers.MaxPooling2D(2)], None),
    "AveragePooling2D": (IMAGE, lambda K: [K.layers.Conv2D(4, 1), K.layers.AveragePooling2D(2)], None),
    "GlobalAveragePooling2D": (IMAGE, lambda K: [K.layers.Conv2D(4, 1), K.layers.GlobalAveragePooling2D()], 4),
    "ZeroPadding2D": (IMAGE, lambda K: [K.layers.Conv2D(4, 1), K.layers.ZeroPadding2D(1)], None),
    "Flatten + Dense": (IMAGE, lambda K: [K.layers.Conv2D(4, 1), K.layers.Flatten(), K.layers.Dense(5)], 5),
    "Reshape": (IMAGE, lambda K: [K.layers.Conv2D(4, 1), K.layers.Reshape((100, 4))], None),
    "UpSampling2D": (IMAGE, lambda K: [K.layers.Conv2D(4, 1), K.layers.UpSampling2D()], None),
    "Dropout": ((12,), lambda K: [K.layers.Dense(8), K.layers.Dropout(0.3), K.layers.Dense(4)], 4),
}


@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_layer_converts_and_matches(case, K):
    K.utils.set_random_seed(3)
    input_shape, make_layers, units = LAYER_CASES[case]
    model = _model(input_shape, *make_layers(K), K=K)
    output_units = units or int(np.prod(model.output_shape[1:]))
    if units is None:  # regress on the flattened output
        model = K.Model(model.inputs, K.layers.Flatten()(model.outputs[0]))
    assert_converts_and_matches(model, input_shape, output_units)


@pytest.mark.parametrize("merge", ["Add", "Subtract", "Multiply", "Concatenate"])
def test_merge_layers_convert_and_match(merge, K):
    K.utils.set_random_seed(4)
    inputs = K.Input(IMAGE)
    a = K.layers.Conv2D(4, 1, activation="relu")(inputs)
    b = K.layers.Conv2D(4, 3, padding="same")(inputs)
    merged = getattr(K.layers, merge)()([a, b])
    model = K.Model(inputs, K.layers.Flatten()(merged))
    assert_converts_and_matches(model, IMAGE, int(np.prod(model.output_shape[1:])))


def test_small_cnn_converts_and_matches(K):
    K.utils.set_random_seed(5)
    inputs = K.Input((12, 12, 3))
    x = K.layers.Conv2D(8, 3, activation="relu")(inputs)
    x = K.layers.DepthwiseConv2D(3, padding="same")(x)
    x = K.layers.ReLU(6.0)(x)
    y = K.layers.Conv2D(8, 1)(x)
    x = K.layers.Add()([x, y])
    x = K.layers.GlobalAveragePooling2D()(x)
    outputs = K.layers.Dense(10, activation="softmax")(x)
    names = assert_converts_and_matches(K.Model(inputs, outputs), (12, 12, 3), 10)
    assert names.count("CONV_2D") == 2 and "SOFTMAX" in names


@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
@pytest.mark.parametrize("conv", ["Conv2D", "DepthwiseConv2D"])
def test_conv_batchnorm_relu_folds_converts_and_matches(per_channel, conv, K):
    """model-optimization#1131: Conv->BN->ReLU with per-tensor weights. tfq folds
    BN into the weights before the fake-quant, so both schemes match."""
    K.utils.set_random_seed(8)
    inputs = K.Input(IMAGE)
    x = K.layers.Conv2D(6, 3, padding="same", use_bias=False)(inputs)
    x = K.layers.BatchNormalization()(x)
    x = K.layers.ReLU()(x)
    conv_layer = (K.layers.Conv2D(8, 3, strides=2) if conv == "Conv2D" else
                  K.layers.DepthwiseConv2D(3, strides=2))
    x = conv_layer(x)
    x = K.layers.BatchNormalization(gamma_initializer="random_uniform",
                                    moving_variance_initializer="ones")(x)
    x = K.layers.ReLU(6.0)(x)
    model = K.Model(inputs, K.layers.Flatten()(x))
    names = assert_converts_and_matches(model, IMAGE, int(np.prod(model.output_shape[1:])),
                                        per_channel=per_channel)
    assert "MUL" not in names and "ADD" not in names, names  # BN folded, not left as ops


def test_folded_batchnorm_trains_its_statistics():
    keras.utils.set_random_seed(9)
    model = _model(IMAGE, keras.layers.Conv2D(4, 3), keras.layers.BatchNormalization(name="bn"))
    quantized = tfq.quantize_model(model)
    wrapper = quantized.get_layer("quant_" + model.layers[1].name)
    assert wrapper.batch_norm is not None
    assert isinstance(quantized.get_layer("bn"), tfq.wrapper.FoldedBatchNormalization)
    before = wrapper.batch_norm.moving_mean.numpy().copy()
    _fit_two_steps(keras.Model(quantized.inputs, keras.layers.Flatten()(quantized.outputs[0])),
                   IMAGE, 8 * 8 * 4)
    assert not np.allclose(before, wrapper.batch_norm.moving_mean.numpy())


@pytest.mark.parametrize("conv", ["Conv2D", "Dense"])
def test_folded_batchnorm_trains_like_float_batchnorm(conv):
    """One training step of the folded wrapper normalizes with the batch's
    statistics and moves the moving ones as float Conv->BN does; only the
    int8 rounding differs."""
    keras.utils.set_random_seed(19)
    shape, layer = ((IMAGE, keras.layers.Conv2D(5, 3, bias_initializer="random_normal"))
                    if conv == "Conv2D" else
                    ((12,), keras.layers.Dense(5, bias_initializer="random_normal")))
    # Gammas of one magnitude: Dense weights are per-tensor, and a folded
    # channel with a tiny gamma would lose its weights to the rounding.
    bn = keras.layers.BatchNormalization(
        gamma_initializer=keras.initializers.RandomUniform(0.5, 1.5),
        beta_initializer="random_normal", momentum=0.5)
    model = _model(shape, layer, bn)
    quantized = tfq.quantize_model(model)
    wrapper = quantized.get_layer("quant_" + layer.name)
    assert wrapper.batch_norm is not None
    x = np.random.default_rng(3).normal(2.0, 3.0, size=(8,) + shape).astype(np.float32)
    expected = model(x, training=True).numpy()  # float BN updates its moving statistics
    folded = wrapper(x, training=True).numpy()  # the wrapper's (separate) copy does too
    # The wrapper also fake-quantizes its input and output (8 bits over
    # ranges of ~24 and ~8): a few hundredths at worst, far less on average.
    assert np.abs(folded - expected).max() < 0.1
    assert np.abs(folded - expected).mean() < 0.02
    np.testing.assert_allclose(wrapper.batch_norm.moving_mean.numpy(), bn.moving_mean.numpy(),
                               atol=0.03)  # the batch means of ~|2 sum(w)| carry the rounding
    np.testing.assert_allclose(wrapper.batch_norm.moving_variance.numpy(),
                               bn.moving_variance.numpy(), rtol=0.02)


def test_relu_fused_into_the_training_fake_quant_is_exact(K):
    """While training, a ReLU / ReLU6 and the fake-quant after it run as one
    fake-quant over [0, high]; the step's output must equal the inference
    graph's (ReLU then fake-quant) over the ranges that step stored. (The
    graph a converter sees: Keras inference otherwise also rounds as TFLite's
    integer ops do.)"""
    K.utils.set_random_seed(20)
    model = _model(IMAGE, K.layers.Conv2D(6, 3, activation="relu6"), K.layers.Conv2D(5, 3),
                   K.layers.ReLU(), K.layers.Flatten(), K.layers.Dense(4, activation="relu"),
                   K=K)
    quantized = tfq.quantize_model(model)
    x = np.random.default_rng(4).normal(0.0, 2.0, size=(8,) + IMAGE).astype(np.float32)
    trained = quantized(x, training=True).numpy()
    with requantization.exporting():
        inferred = quantized(x, training=False).numpy()
    np.testing.assert_array_equal(trained, inferred)
    assert trained.min() == 0.0 and (trained > 0).any()
    for layer in quantized.layers:
        if tfq.wrapper.is_wrapper(layer) and "output" in layer.range_variables():
            low, high, _ = layer.range_variables()["output"]
            assert float(low) <= 0.0 < float(high), layer.name


@pytest.mark.parametrize("where", ["activation argument", "layer"])
def test_hard_swish_converts_to_hard_swish(where):
    """Keras 3 only: tf_keras 2.21 has no hard-swish activation."""
    keras.utils.set_random_seed(11)
    layers = ([keras.layers.Conv2D(4, 1, activation="hard_swish")] if where != "layer" else
              [keras.layers.Conv2D(4, 1), keras.layers.Activation("hard_swish")])
    model = _model(IMAGE, *layers, keras.layers.Flatten())
    # max 3 LSB: TFLite's int8 HARD_SWISH is a fixed-point approximation (its
    # own ~1 LSB from float), and hard-swish's slope reaches 1.5, so a 1-LSB
    # difference in its input can move the output by 2.
    names = assert_converts_and_matches(model, IMAGE, int(np.prod(model.output_shape[1:])),
                                        max_lsb=3)
    assert "HARD_SWISH" in names, names


def test_separable_conv_batchnorm_folds_into_pointwise():
    keras.utils.set_random_seed(12)
    model = _model(IMAGE, keras.layers.SeparableConv2D(6, 3, use_bias=False),
                   keras.layers.BatchNormalization(), keras.layers.ReLU(), keras.layers.Flatten())
    names = assert_converts_and_matches(model, IMAGE, int(np.prod(model.output_shape[1:])))
    assert names.count("DEPTHWISE_CONV_2D") == 1 and names.count("CONV_2D") == 1, names


def test_nested_model_converts_and_matches(K):
    """A Functional block used as a layer (user pain: model-optimization#292)."""
    K.utils.set_random_seed(13)
    block_in = K.Input((8, 8, 6))
    block_x = K.layers.Conv2D(6, 3, padding="same", use_bias=False)(block_in)
    block_x = K.layers.BatchNormalization()(block_x)
    block_x = K.layers.ReLU(6.0)(block_x)
    block = K.Model(block_in, K.layers.Add()([block_in, block_x]), name="block")
    inputs = K.Input((10, 10, 3))
    x = K.layers.Conv2D(6, 3, activation="relu")(inputs)
    x = block(x)
    outputs = K.layers.Dense(4)(K.layers.GlobalAveragePooling2D()(x))
    model = K.Model(inputs, outputs)
    names = assert_converts_and_matches(model, (10, 10, 3), 4)
    assert names.count("CONV_2D") == 2 and "ADD" in names, names


def test_int16x8_scheme_fake_quantizes_on_a_symmetric_int16_grid():
    """schemes.INT16X8 reuses the wrappers with 16-bit symmetric activations:
    every output lies on k * scale, |k| <= 32767, zero point 0. (Converting
    16x8 QAT graphs is the converter issue's: TF 2.21's QAT path writes int32
    biases, which the 16x8 kernels reject.)"""
    keras.utils.set_random_seed(14)
    quantized = tfq.quantize_model(_model((12,), keras.layers.Dense(8)), scheme="int16x8")
    _fit_two_steps(quantized, (12,), 8)
    wrapper = quantized.layers[-1]
    assert wrapper.scheme is tfq.schemes.INT16X8
    low, high = (float(np.asarray(v)) for v in wrapper.output_range[:2])
    scale = max(-min(low, 0.0), max(high, 0.0)) / 32767
    x = np.random.default_rng(2).normal(0, 3, size=(64, 12)).astype(np.float32)
    steps = quantized(x, training=False).numpy() / scale
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-2)
    assert np.abs(np.round(steps)).max() <= 32767
    assert len(np.unique(np.round(steps))) > 256  # finer than any 8-bit grid


def test_float_model_is_untouched():
    keras.utils.set_random_seed(6)
    model = _model((4,), keras.layers.Dense(3))
    before = [w.copy() for w in model.get_weights()]
    quantized = tfq.quantize_model(model)
    _fit_two_steps(quantized, (4,), 3)
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    np.testing.assert_array_equal(quantized.get_layer("quant_" + model.layers[1].name)
                                  .layer.get_weights()[1] != before[1], True)


def test_tf_keras_h5_round_trip(tmp_path):
    import tf_keras
    tf_keras.utils.set_random_seed(7)
    quantized = tfq.quantize_model(_model((6,), tf_keras.layers.Dense(4, use_bias=False),
                                          tf_keras.layers.BatchNormalization(),
                                          tf_keras.layers.Dense(2), K=tf_keras))
    _fit_two_steps(quantized, (6,), 2)
    path = str(tmp_path / "q.h5")
    quantized.save(path)
    with tfq.quantize_scope():
        loaded = tf_keras.models.load_model(path)
    x = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x, training=False).numpy(),
                                  quantized(x, training=False).numpy())


def test_save_and_load_round_trip(tmp_path):
    keras.utils.set_random_seed(7)
    quantized = tfq.quantize_model(_model((6,), keras.layers.Dense(4, activation="relu"),
                                          keras.layers.Dense(2)))
    _fit_two_steps(quantized, (6,), 2)
    path = tmp_path / "q.keras"
    quantized.save(path)
    loaded = keras.models.load_model(path)
    x = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x, training=False).numpy(),
                                  quantized(x, training=False).numpy())


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2)

    def call(self, inputs):
        return self.dense(inputs)


def test_bad_inputs():
    with pytest.raises(TypeError, match="keras.Model"):
        tfq.quantize_model("not a model")
    model = _model((4,), keras.layers.Dense(3, name="head"))
    quantized = tfq.quantize_model(model)
    with pytest.raises(ValueError, match="already quantized"):
        tfq.quantize_model(quantized)
    norm = _model((4,), keras.layers.LayerNormalization(name="norm"))
    with pytest.raises(ValueError, match=r"'norm' of class LayerNormalization.*skip_layers"):
        tfq.quantize_model(norm)
    # A BatchNormalization with no Conv/Dense to fold into would convert to
    # float MUL/ADD: refused with the same way out.
    lone_bn = _model((4,), keras.layers.ReLU(), keras.layers.BatchNormalization(name="bn"))
    with pytest.raises(ValueError, match=r"'bn' of class BatchNormalization.*skip_layers"):
        tfq.quantize_model(lone_bn)
    with pytest.raises(ValueError, match="not in model"):
        tfq.quantize_model(model, skip_layers=["nope"])
    subclassed = _Subclassed()
    subclassed(np.zeros((1, 4), np.float32))
    with pytest.raises(ValueError, match="subclassed.*Functional"):
        tfq.quantize_model(subclassed)
    with pytest.raises(ValueError, match="scheme"):
        tfq.quantize_model(model, scheme="int4")


def test_skip_layers_keeps_a_layer_float():
    norm = _model((4,), keras.layers.Dense(4, name="d"), keras.layers.LayerNormalization(name="norm"))
    quantized = tfq.quantize_model(norm, skip_layers=["norm"])
    assert isinstance(quantized.get_layer("norm"), keras.layers.LayerNormalization)
    assert isinstance(quantized.get_layer("quant_d"), tfq.QuantizeWrapper)


@pytest.mark.parametrize("seed", range(4))
def test_residual_add_of_the_model_input_converts_and_matches(K, seed):
    """A merge layer fed by the model input and a layer (a residual block on
    the input, as in denoisers): only the model input takes the input range;
    fit used to fail with 'A merge layer should be called on a list'."""
    K.utils.set_random_seed(40 + seed)
    inputs = K.Input((8, 8, 4))
    x = K.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = K.layers.Conv2D(4, 1)(x)
    model = K.Model(inputs, K.layers.Flatten()(K.layers.Add()([inputs, x])))
    names = assert_converts_and_matches(model, (8, 8, 4), 8 * 8 * 4)
    assert names.count("ADD") == 1 and "QUANTIZE" not in names, names


def _unet_block(K):
    """Encoder, pooled bottleneck, two decoder paths (transpose conv and
    upsampled 1x1 conv) concatenated with the skip connection."""
    inputs = K.Input((16, 16, 3))
    skip = K.layers.SeparableConv2D(8, 3, padding="same", activation="relu")(inputs)
    x = K.layers.MaxPooling2D(2)(skip)
    x = K.layers.SeparableConv2D(16, 3, padding="same", activation="relu")(x)
    up_transposed = K.layers.Conv2DTranspose(8, 3, strides=2, padding="same")(x)
    up_sampled = K.layers.UpSampling2D()(K.layers.Conv2D(8, 1)(x))
    x = K.layers.Concatenate()([skip, up_transposed, up_sampled])
    return K.Model(inputs, K.layers.Flatten()(K.layers.Conv2D(4, 1)(x))), (16, 16, 3)


def _conv1d_block(K):
    inputs = K.Input((32, 4))
    x = K.layers.Conv1D(8, 3, use_bias=False)(inputs)
    x = K.layers.BatchNormalization()(x)
    x = K.layers.ReLU()(x)
    x = K.layers.Conv1D(8, 3, strides=2)(x)
    return K.Model(inputs, K.layers.Flatten()(x)), (32, 4)


def _hard_swish_block(K):
    """A mobile block with hard-swish and a residual on the input (Keras 3:
    tf_keras has no hard-swish); the sweep runs it with per-tensor weights."""
    inputs = K.Input((12, 12, 8))
    x = K.layers.Conv2D(16, 1, use_bias=False)(inputs)
    x = K.layers.BatchNormalization()(x)
    x = K.layers.Activation("hard_swish")(x)
    x = K.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    x = K.layers.BatchNormalization()(x)
    x = K.layers.Activation("hard_swish")(x)
    x = K.layers.Conv2D(8, 1, use_bias=False)(x)
    x = K.layers.BatchNormalization()(x)
    return K.Model(inputs, K.layers.Flatten()(K.layers.Add()([inputs, x]))), (12, 12, 8)


def _assert_block_matches(make_block, K, seed, min_exact=0.0, **quantize_options):
    K.utils.set_random_seed(seed)
    model, input_shape = make_block(K)
    return assert_converts_and_matches(model, input_shape, int(np.prod(model.output_shape[1:])),
                                       min_exact=min_exact, **quantize_options)


def test_upsampled_decoder_path_takes_the_concatenate_range(K):
    """UpSampling2D between a conv and a Concatenate: the conv's output takes
    the Concatenate's range, so the converter needs no requantization there.
    Seed 1 had one at s_in / s_out = 0.46, where TFLite's QUANTIZE rounds a
    quarter of the values away from what the float fake-quant gives: 98.3 %
    of outputs within 1 LSB, max 3."""
    names = _assert_block_matches(_unet_block, K, seed=1)
    assert names.count("QUANTIZE") == 1, names  # the skip connection's alone


@pytest.mark.parametrize("seed", [8, 15])
def test_inference_rounds_as_tflite_requantizes(K, seed):
    """Keras inference rounds where TFLite's integer ops do (the int32 bias
    grid, the double rounding's lean toward away-from-zero): on these U-Net
    seeds the float fake-quant alone was 92-95 % exact and 3 LSB off at
    worst; now all but a few values agree exactly."""
    _assert_block_matches(_unet_block, K, seed, min_exact=0.995)


BLOCK_SWEEPS = {"U-Net block": (_unet_block, {}),
                "Conv1D-BN-ReLU-Conv1D": (_conv1d_block, {}),
                "hard-swish block per-tensor": (_hard_swish_block, {"per_channel": False})}


@pytest.mark.heavy
@pytest.mark.parametrize("block,flavour", [(block, flavour) for block in BLOCK_SWEEPS
                                           for flavour in ("keras", "tf_keras")
                                           if not (block.startswith("hard-swish") and
                                                   flavour == "tf_keras")])
def test_blocks_match_over_twenty_seeds(block, flavour):
    """Users' weights are not our seed: 20 initialisations of each block, in
    both Keras flavours (hard-swish: Keras 3 only, tf_keras has none)."""
    import tf_keras
    K = tf_keras if flavour == "tf_keras" else keras
    make_block, options = BLOCK_SWEEPS[block]
    for seed in range(20):
        _assert_block_matches(make_block, K, seed, **options)


def test_several_inputs_and_outputs_convert_and_match():
    keras.utils.set_random_seed(10)
    a, b = keras.Input((8,), name="a"), keras.Input((6,), name="b")
    merged = keras.layers.Add()([keras.layers.Dense(5, activation="relu")(a),
                                 keras.layers.Dense(5)(b)])
    outputs = [keras.layers.Dense(3)(merged), keras.layers.Dense(2, activation="sigmoid")(merged)]
    quantized = tfq.quantize_model(keras.Model([a, b], outputs))
    rng = np.random.default_rng(0)
    quantized.compile(optimizer="adam", loss=["mse", "mse"])
    quantized.fit([rng.normal(size=(16, 8)), rng.normal(size=(16, 6))],
                  [rng.normal(size=(16, 3)), rng.normal(size=(16, 2))], batch_size=8, verbose=0)
    interpreter = Interpreter(model_content=_convert(quantized),
                              experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    _assert_all_integer(interpreter)
    runner = interpreter.get_signature_runner()
    in_details, out_details = runner.get_input_details(), runner.get_output_details()
    differences = []
    for _ in range(20):
        q_inputs = {name: rng.integers(-128, 128, size=(1,) + tuple(d["shape"][1:])).astype(np.int8)
                    for name, d in in_details.items()}
        tflite_outputs = runner(**q_inputs)
        keras_inputs = [(q_inputs[name].astype(np.float32) - in_details[name]["quantization"][1])
                        * in_details[name]["quantization"][0] for name in ("a", "b")]
        keras_outputs = quantized(keras_inputs, training=False)
        for i, keras_out in enumerate(keras_outputs):
            scale, zero_point = out_details[f"output_{i}"]["quantization"]
            keras_q = np.clip(np.round(keras_out.numpy() / scale) + zero_point, -128, 127)
            differences.append(np.abs(tflite_outputs[f"output_{i}"] - keras_q).ravel())
    differences = np.concatenate(differences)
    assert differences.max() <= 2 and np.mean(differences <= 1) >= 0.99



@pytest.mark.parametrize("dilations,padding", [((2, 2), "VALID"), ((1, 3), "SAME")])
def test_dilated_conv_gradient_matches_the_zero_inserted_kernel(dilations, padding):
    """The dilated Conv2D forward trains on every CPU (TF's CPU kernels lack its
    gradient without oneDNN). Independent oracle: a dilated kernel is the same
    kernel with zeros inserted between its taps, run undilated. (Stride 1:
    Keras allows no stride with dilation.)"""
    from tfq.registry import _conv2d_op
    rng = np.random.default_rng(5)
    inputs = tf.constant(rng.normal(size=(2, 11, 10, 3)), tf.float32)
    kernel = tf.constant(rng.normal(size=(3, 3, 3, 4)), tf.float32)
    dh, dw = dilations
    upsampled = np.zeros((2 * dh + 1, 2 * dw + 1, 3, 4), np.float32)
    upsampled[::dh, ::dw] = kernel.numpy()
    upsampled = tf.constant(upsampled)

    def run(forward, weights):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([inputs, weights])
            outputs = forward(weights)
            loss = tf.reduce_sum(outputs * tf.sin(outputs))  # a non-trivial upstream gradient
        return [outputs, *tape.gradient(loss, [inputs, weights])]

    outputs, d_inputs, d_kernel = run(
        lambda k: _conv2d_op(inputs, k, strides=[1, 1], padding=padding, dilations=[dh, dw]),
        kernel)
    reference, ref_inputs, ref_upsampled = run(
        lambda k: tf.nn.conv2d(inputs, k, strides=[1, 1], padding=padding), upsampled)
    # float32 sums in another order: equal to a few ulps of the magnitudes (~10).
    np.testing.assert_allclose(outputs, reference, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(d_inputs, ref_inputs, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(d_kernel, ref_upsampled.numpy()[::dh, ::dw], rtol=1e-5, atol=1e-4)

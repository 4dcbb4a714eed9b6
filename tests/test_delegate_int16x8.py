"""The tfq delegate's int16x8 ops (16-bit activations, int8 weights) ==
TFLite BUILTIN_REF, element for element (issue 11: CONV_2D, DEPTHWISE_CONV_2D,
FULLY_CONNECTED, ADD, SUB, MUL, MAX_POOL_2D, AVERAGE_POOL_2D, MEAN, PAD, PADV2,
CONCATENATION, RESHAPE, SQUEEZE, EXPAND_DIMS, QUANTIZE, DEQUANTIZE, LOGISTIC,
TANH and SOFTMAX).
Tolerance 0: the reference arithmetic is the spec."""
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

import tfq
from tests.test_delegate_fully_connected import ACTIVATIONS, assert_delegate_matches_reference
from tests.tflite_builder import OneOpModel


def fully_connected_int16_model(rng, *, batch, input_depth, output_depth, activation="NONE",
                                per_channel=True, bias="int64", input_zero_point=0):
    """int16 input and output (zero point 0), int8 weights, int64 bias (or
    int32 with the options' quantized_bias_type saying so, or none); the
    output scale spreads results over the int16 range, some saturating."""
    options = schema.FullyConnectedOptionsT()
    options.fusedActivationFunction = ACTIVATIONS[activation]
    if bias == "int32":
        options.quantizedBiasType = schema.TensorType.INT32
    model = OneOpModel("FULLY_CONNECTED", options)
    input_scale = np.float32(rng.uniform(1e-4, 1e-3))
    x = model.add_input([batch, input_depth], np.int16, scale=input_scale,
                        zero_point=input_zero_point)
    weights = rng.integers(-127, 128, size=(output_depth, input_depth), dtype=np.int8)
    weight_scales = rng.uniform(0.001, 0.02, size=output_depth if per_channel else 1)
    w = model.add_constant(weights, scale=weight_scales.astype(np.float32),
                           zero_point=np.zeros(weight_scales.size, np.int64), axis=0)
    inputs = [x, w]
    if bias == "none":
        inputs.append(-1)
    else:
        dtype = np.int64 if bias == "int64" else np.int32
        bias_scale = input_scale * weight_scales.astype(np.float32)
        inputs.append(model.add_constant(
            rng.integers(-2_000_000, 2_000_000, size=output_depth).astype(dtype),
            scale=bias_scale, zero_point=np.zeros(bias_scale.size, np.int64)))
    # |acc| spreads ~ sqrt(depth) * 18900 * 73: map 2 sigma to ~20,000.
    multiplier = 20000 / (2 * np.sqrt(input_depth) * 18900 * 73)
    output_scale = np.float32(input_scale * weight_scales.mean() / multiplier)
    model.add_output([batch, output_depth], np.int16, scale=output_scale, zero_point=0)
    return model.build(inputs)


def random_int16(rng, shape):
    return rng.integers(-32768, 32768, size=shape, dtype=np.int16)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
@pytest.mark.parametrize("bias", ["int64", "int32", "none"])
def test_fully_connected(rng, activation, per_channel, bias):
    model = fully_connected_int16_model(rng, batch=3, input_depth=33, output_depth=17,
                                        activation=activation, per_channel=per_channel,
                                        bias=bias)
    assert_delegate_matches_reference(model, [random_int16(rng, (3, 33))])


@pytest.mark.parametrize("batch, input_depth, output_depth",
                         [(1, 1, 1), (1, 64, 10), (5, 300, 31), (2, 1024, 8)])
def test_fully_connected_shapes(rng, batch, input_depth, output_depth):
    model = fully_connected_int16_model(rng, batch=batch, input_depth=input_depth,
                                        output_depth=output_depth)
    assert_delegate_matches_reference(model, [random_int16(rng, (batch, input_depth))])


def test_fully_connected_with_a_nonzero_zero_point_is_declined(rng):
    model = fully_connected_int16_model(rng, batch=1, input_depth=8, output_depth=4,
                                        input_zero_point=3)
    delegate = tfq.delegate.load()
    try:
        tfq.Interpreter(model_content=model, delegate=delegate)
    except (RuntimeError, ValueError):
        pass  # TFLite refuses it too, at its own prepare
    assert delegate.last_claim() == (1, 0)
    [line] = delegate.declined_nodes()
    assert "zero point 3 outside [0, 0]" in line, line  # 16-bit activations are symmetric


def add_sub_int16_model(op, shape1, shape2, *, scales=(0.0003, 0.0005, 0.0007),
                        activation="NONE", pot_scale_int16=True):
    options = schema.AddOptionsT() if op == "ADD" else schema.SubOptionsT()
    options.fusedActivationFunction = ACTIVATIONS[activation]
    options.potScaleInt16 = pot_scale_int16
    model = OneOpModel(op, options)
    a = model.add_input(list(shape1), np.int16, scale=scales[0], zero_point=0)
    b = model.add_input(list(shape2), np.int16, scale=scales[1], zero_point=0)
    out_shape = list(np.broadcast_shapes(tuple(shape1), tuple(shape2)))
    model.add_output(out_shape, np.int16, scale=scales[2], zero_point=0)
    return model.build([a, b])


@pytest.mark.parametrize("op", ["ADD", "SUB"])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("shapes", [((2, 5, 5, 7), (2, 5, 5, 7)), ((1, 4, 4, 8), (8,)),
                                    ((2, 1, 3), (1, 4, 1))], ids=["same", "channel", "both"])
def test_add_sub(rng, op, activation, shapes):
    # Sums of two full-range inputs overflow the output scale: some saturate.
    model = add_sub_int16_model(op, *shapes, activation=activation)
    assert_delegate_matches_reference(model, [random_int16(rng, shapes[0]),
                                              random_int16(rng, shapes[1])])


def test_add_with_power_of_two_scales(rng):
    """pot_scale_int16 with power-of-two scales takes TFLite's LSTM-style
    fixed-point path: declined. Without the flag, the general path: claimed."""
    scales = (2.0 ** -12, 2.0 ** -11, 2.0 ** -10)
    shape = (1, 6, 6, 4)
    delegate = tfq.delegate.load()
    tfq.Interpreter(model_content=add_sub_int16_model("ADD", shape, shape, scales=scales),
                    delegate=delegate)
    [line] = delegate.declined_nodes()
    assert "pot_scale_int16" in line, line
    model = add_sub_int16_model("ADD", shape, shape, scales=scales, pot_scale_int16=False)
    assert_delegate_matches_reference(model, [random_int16(rng, shape), random_int16(rng, shape)])


def conv_int16_model(rng, *, depthwise=False, input_shape=(1, 9, 9, 8), kernel=(3, 3),
                     output_depth=8, strides=(1, 1), dilations=(1, 1), padding="SAME",
                     activation="NONE", per_channel=True, bias="int64"):
    """A one-op int16x8 CONV_2D or DEPTHWISE_CONV_2D: int16 activations,
    int8 filter, int64 (or int32) bias; outputs spread over int16, some clamp."""
    from tests.test_delegate_conv import conv_layout
    model, filter_shape, channel_axis, taps, out_shape = conv_layout(
        depthwise=depthwise, input_shape=input_shape, kernel=kernel, output_depth=output_depth,
        strides=strides, dilations=dilations, padding=padding, activation=activation)
    input_scale = np.float32(rng.uniform(1e-4, 1e-3))
    x = model.add_input(list(input_shape), np.int16, scale=input_scale, zero_point=0)
    filters = rng.integers(-127, 128, size=filter_shape, dtype=np.int8)
    filter_scales = rng.uniform(0.001, 0.02, size=output_depth if per_channel else 1)
    w = model.add_constant(filters, scale=filter_scales.astype(np.float32),
                           zero_point=np.zeros(filter_scales.size, np.int64), axis=channel_axis)
    bias_scale = input_scale * filter_scales.astype(np.float32)
    b = model.add_constant(
        rng.integers(-2_000_000, 2_000_000, size=output_depth).astype(
            np.int64 if bias == "int64" else np.int32),
        scale=bias_scale, zero_point=np.zeros(bias_scale.size, np.int64))
    multiplier = 20000 / (2 * np.sqrt(taps) * 18900 * 73)
    output_scale = np.float32(input_scale * filter_scales.mean() / multiplier)
    model.add_output(out_shape, np.int16, scale=output_scale, zero_point=0)
    return model.build([x, w, b])


@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
def test_convolution_activations_and_weights(rng, depthwise, activation, per_channel):
    model = conv_int16_model(rng, depthwise=depthwise, activation=activation,
                             per_channel=per_channel)
    assert_delegate_matches_reference(model, [random_int16(rng, (1, 9, 9, 8))])


@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
def test_convolution_with_an_int32_bias_is_declined(rng, depthwise):
    """TFLite's int16x8 DEPTHWISE_CONV_2D refuses an int32 bias and its
    CONV_2D computes it on another path: only int64 biases are taken
    (tfq.convert writes int64 ones)."""
    model = conv_int16_model(rng, depthwise=depthwise, bias="int32")
    delegate = tfq.delegate.load()
    try:
        tfq.Interpreter(model_content=model, delegate=delegate)
    except (RuntimeError, ValueError):
        pass  # TFLite refuses the depthwise one itself, after the delegate declined it
    assert delegate.last_claim()[1] == 0
    [line] = delegate.declined_nodes()
    assert "bias tensor" in line and "is int32, expected int64" in line, line


@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
@pytest.mark.parametrize("geometry", [
    dict(input_shape=(2, 10, 7, 8), kernel=(3, 3), strides=(2, 2), padding="SAME"),
    dict(input_shape=(1, 12, 12, 8), kernel=(3, 5), strides=(1, 2), padding="VALID"),
    dict(input_shape=(1, 11, 11, 8), kernel=(3, 3), dilations=(2, 3), padding="SAME"),
    dict(input_shape=(1, 6, 6, 8), kernel=(1, 1), output_depth=16),
    # The fast paths' edges: odd im2col rows, 1x1 at stride 2 read in place,
    # channels past a 16-lane group, rows past the int32 flush (3x3x40 =
    # 360 taps), a window past the depthwise int32 bound (17x17 = 289 taps).
    dict(input_shape=(1, 7, 7, 3), kernel=(3, 3), output_depth=3),
    dict(input_shape=(2, 9, 9, 8), kernel=(1, 1), strides=(2, 2), output_depth=8),
    dict(input_shape=(1, 5, 5, 40), kernel=(3, 3), output_depth=40),
    dict(input_shape=(1, 18, 18, 8), kernel=(17, 17), padding="VALID"),
], ids=["stride2_batch2", "valid_3x5", "dilated", "1x1_depth16", "odd_row", "1x1_stride2",
        "deep", "17x17"])
def test_convolution_geometry(rng, depthwise, geometry):
    model = conv_int16_model(rng, depthwise=depthwise, **geometry)
    assert_delegate_matches_reference(model, [random_int16(rng, geometry["input_shape"])])


def test_converted_int16x8_model_runs_wholly_on_the_delegate(rng):
    """tfq.convert(mode="int16x8") of a MobileNet-style block with fresh (all
    zero) biases: every node delegated, output identical to BUILTIN_REF.
    The converter shares one buffer between equal biases; widening them to
    int64 once per tensor used to grow that buffer 2x per op, and the
    delegate's runtime check then (rightly) claimed nothing."""
    import keras
    from tests import interpreters
    from tfq import flatbuffer_edits
    layers = keras.layers
    keras.utils.set_random_seed(8)
    inputs = keras.Input((16, 16, 3))
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu6")(inputs)
    for _ in range(2):
        y = layers.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
        x = layers.Add()([x, layers.Conv2D(8, 1)(y)])
    model = keras.Model(inputs, layers.Conv2D(4, 1)(x))
    data = rng.normal(size=(16, 16, 16, 3)).astype(np.float32)
    tflite_model = tfq.convert(model, mode="int16x8", representative_data=data, progress=False)
    parsed = flatbuffer_edits.read(tflite_model)
    for tensor in parsed.subgraphs[0].tensors:
        data_bytes = parsed.buffers[tensor.buffer].data
        if data_bytes is not None and len(data_bytes):
            itemsize = {schema.TensorType.INT64: 8, schema.TensorType.INT32: 4,
                        schema.TensorType.INT8: 1, schema.TensorType.INT16: 2}[tensor.type]
            assert len(data_bytes) == itemsize * int(np.prod(tensor.shape))
    inputs_int16 = [random_int16(rng, (1, 16, 16, 3))]
    expected = interpreters.run(interpreters.reference(tflite_model), *inputs_int16)
    for num_threads in (1, 2):  # the convolutions split their rows across threads
        interpreter, delegate = interpreters.tfq_litert(tflite_model, num_threads=num_threads)
        actual = interpreters.run(interpreter, *inputs_int16)
        total, claimed = delegate.last_claim()
        assert claimed == total and total > 0, delegate.declined_nodes()
        np.testing.assert_array_equal(actual[0], expected[0])


@pytest.mark.parametrize("op", ["MAX_POOL_2D", "AVERAGE_POOL_2D"])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("geometry", [
    dict(shape=(2, 9, 9, 5), window=(3, 3), strides=(2, 2), padding="SAME"),
    dict(shape=(1, 8, 7, 3), window=(2, 3), strides=(1, 2), padding="VALID"),
    dict(shape=(1, 7, 7, 16), window=(7, 7), strides=(1, 1), padding="VALID"),
], ids=["same_stride2", "valid_2x3", "global_7x7"])
def test_pooling(rng, op, activation, geometry):
    from tests.test_delegate_pool_pad import pool_model
    model = pool_model(op, geometry["shape"], window=geometry["window"],
                       strides=geometry["strides"], padding=geometry["padding"],
                       activation=activation, scale=0.0003, dtype=np.int16)
    assert_delegate_matches_reference(model, [random_int16(rng, geometry["shape"])])


@pytest.mark.parametrize("op, input_shape, output_shape", [
    ("RESHAPE", (2, 3, 4, 5), (6, 20)),
    ("RESHAPE", (1, 7, 7, 16), (1, 784)),
    ("SQUEEZE", (1, 1, 1, 10), (1, 10)),
])
def test_reshape_and_squeeze_copy_int16_bytes(rng, op, input_shape, output_shape):
    if op == "RESHAPE":
        model = OneOpModel(op, schema.ReshapeOptionsT())
    else:
        options = schema.SqueezeOptionsT()
        options.squeezeDims = [1, 2]
        model = OneOpModel(op, options)
    x = model.add_input(list(input_shape), np.int16, scale=0.0003, zero_point=0)
    inputs = [x]
    if op == "RESHAPE":
        inputs.append(model.add_constant(np.asarray(output_shape, np.int32)))
    model.add_output(list(output_shape), np.int16, scale=0.0003, zero_point=0)
    assert_delegate_matches_reference(model.build(inputs), [random_int16(rng, input_shape)])


@pytest.mark.parametrize("dtype", [np.int8, np.int16])
@pytest.mark.parametrize("input_shape, axis", [((1, 400, 40), 1), ((1, 400, 40), -3),
                                               ((2, 5), 2), ((3,), 0)], ids=str)
def test_expand_dims_copies_bytes(rng, dtype, input_shape, axis):
    """Conv1D converts to EXPAND_DIMS -> CONV_2D -> RESHAPE."""
    model = OneOpModel("EXPAND_DIMS", schema.ExpandDimsOptionsT())
    x = model.add_input(list(input_shape), dtype, scale=0.0003, zero_point=0)
    resolved = axis if axis >= 0 else axis + len(input_shape) + 1
    output_shape = list(input_shape[:resolved]) + [1] + list(input_shape[resolved:])
    model.add_output(output_shape, dtype, scale=0.0003, zero_point=0)
    data = (random_int16(rng, input_shape) if dtype == np.int16 else
            rng.integers(-128, 128, size=input_shape, dtype=np.int8))
    assert_delegate_matches_reference(
        model.build([x, model.add_constant(np.asarray([axis], np.int32))]), [data])


def test_expand_dims_with_a_new_scale_is_declined():
    from tests import interpreters
    model = OneOpModel("EXPAND_DIMS", schema.ExpandDimsOptionsT())
    x = model.add_input([2, 3], np.int16, scale=0.0003, zero_point=0)
    model.add_output([2, 1, 3], np.int16, scale=0.0006, zero_point=0)
    [reason] = interpreters.declined(
        model.build([x, model.add_constant(np.asarray([1], np.int32))]))
    assert "differs from the input's" in reason, reason  # TFLite refuses it too


@pytest.mark.parametrize("keep_dims", [True, False])
@pytest.mark.parametrize("shape, axes", [((1, 7, 7, 32), [1, 2]), ((1, 100, 128), [1]),
                                         ((2, 6, 5, 4), [0, 3]), ((1, 3, 3, 5), [-1])],
                         ids=str)
@pytest.mark.parametrize("scales", [(0.0003, 0.0003), (0.0003, 0.0001), (0.0001, 0.0007)],
                         ids=lambda s: f"s{s[0]}_{s[1]}")
def test_mean(rng, keep_dims, shape, axes, scales):
    """Global average pooling in int16x8; an output scale below the input's
    saturates some means."""
    from tests.test_delegate_mean import mean_model
    model = mean_model(shape, axes, keep_dims=keep_dims, scales=scales, dtype=np.int16)
    assert_delegate_matches_reference(model, [random_int16(rng, shape)])


@pytest.mark.parametrize("v2, constant", [(False, None), (True, None), (True, -32768),
                                          (True, 1234)], ids=["pad", "padv2", "min", "value"])
def test_pad(rng, v2, constant):
    from tests.test_delegate_pool_pad import pad_model
    shape = (2, 5, 4, 3)
    model = pad_model(shape, [[0, 1], [2, 1], [1, 2], [0, 3]], v2=v2, constant=constant,
                      zero_point=0, dtype=np.int16)
    assert_delegate_matches_reference(model, [random_int16(rng, shape)])


@pytest.mark.parametrize("shapes, axis", [([(1, 4, 4, 3), (1, 4, 4, 5)], -1),
                                          ([(2, 3, 4), (2, 1, 4), (2, 5, 4)], 1),
                                          ([(1, 2), (3, 2)], 0)], ids=str)
def test_concatenation(rng, shapes, axis):
    from tests.test_delegate_elementwise import concatenation_model
    model = concatenation_model(shapes, axis, output_quantization=(0.05, 0), dtype=np.int16)
    assert_delegate_matches_reference(model, [random_int16(rng, shape) for shape in shapes])


ALL_INT16 = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16).reshape(256, 256)
ALL_INT8 = np.arange(-128, 128, dtype=np.int8).reshape(16, 16)


def conversion_model(op, values, output_dtype, *, input_quantization=(None, 0),
                     output_quantization=(None, 0)):
    """A one-op QUANTIZE / DEQUANTIZE model over `values`' shape; float sides
    carry no quantization."""
    model = OneOpModel(op, schema.QuantizeOptionsT() if op == "QUANTIZE"
                       else schema.DequantizeOptionsT())
    x = model.add_input(list(values.shape), values.dtype.type, scale=input_quantization[0],
                        zero_point=input_quantization[1])
    model.add_output(list(values.shape), output_dtype, scale=output_quantization[0],
                     zero_point=output_quantization[1])
    return model.build([x])


@pytest.mark.parametrize("input_scale, output_scale", [(0.0003, 0.0003), (0.0003, 0.0001),
                                                       (0.0001, 0.00037), (0.5, 0.0007)],
                         ids=str)
def test_requantize_int16_on_every_value(input_scale, output_scale):
    model = conversion_model("QUANTIZE", ALL_INT16, np.int16,
                             input_quantization=(input_scale, 0),
                             output_quantization=(output_scale, 0))
    assert_delegate_matches_reference(model, [ALL_INT16])


@pytest.mark.parametrize("output_quantization", [(0.05, -3), (0.0003, 0), (1.7, 127)], ids=str)
def test_requantize_int16_to_int8_on_every_value(output_quantization):
    """Where an int16x8 part of a model hands over to an int8 one."""
    model = conversion_model("QUANTIZE", ALL_INT16, np.int8, input_quantization=(0.0003, 0),
                             output_quantization=output_quantization)
    assert_delegate_matches_reference(model, [ALL_INT16])


@pytest.mark.parametrize("input_quantization", [(0.05, -3), (0.02, 127), (0.5, -128)], ids=str)
def test_requantize_int8_to_int16_on_every_value(input_quantization):
    model = conversion_model("QUANTIZE", ALL_INT8, np.int16,
                             input_quantization=input_quantization,
                             output_quantization=(0.0004, 0))
    assert_delegate_matches_reference(model, [ALL_INT8])


@pytest.mark.parametrize("scale", [0.0003, 1e-6, 0.25])
def test_quantize_float_to_int16(rng, scale):
    """Exact .5 ties (rounded away from zero) and values far past the int16
    range (clamped)."""
    ties = (np.arange(-128, 128) + 0.5).astype(np.float32) * np.float32(scale)
    x = np.concatenate([ties, rng.normal(0, 50000 * scale, ALL_INT16.size - ties.size)])
    x = x.astype(np.float32).reshape(ALL_INT16.shape)
    model = conversion_model("QUANTIZE", x, np.int16, output_quantization=(scale, 0))
    assert_delegate_matches_reference(model, [x])


@pytest.mark.parametrize("scale", [0.0003, 3.7e-5, 2.0])
def test_dequantize_int16_on_every_value(scale):
    model = conversion_model("DEQUANTIZE", ALL_INT16, np.float32, input_quantization=(scale, 0))
    assert_delegate_matches_reference(model, [ALL_INT16])


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("shapes", [((2, 5, 5, 7), (2, 5, 5, 7)), ((1, 4, 4, 8), (1, 1, 1, 8)),
                                    ((2, 1, 3), (1, 4, 1))], ids=["same", "channel", "both"])
@pytest.mark.parametrize("scales", [(0.0003, 0.0004, 0.0001), (0.0003, 0.0004, 1.5e-7)],
                         ids=["wide", "saturating"])
def test_mul(rng, activation, shapes, scales):
    """Full-range int16 products (up to 2^30) rescaled; a tiny output scale
    saturates most of them."""
    from tests.test_delegate_elementwise import mul_model
    model = mul_model(*shapes, scales=scales, activation=activation, dtype=np.int16)
    assert_delegate_matches_reference(model, [random_int16(rng, shapes[0]),
                                              random_int16(rng, shapes[1])])


def test_mul_whose_product_could_overflow_is_declined():
    from tests import interpreters
    from tests.test_delegate_elementwise import mul_model
    model = mul_model((1, 4), (1, 4), scales=(0.5, 0.5, 0.1), dtype=np.int16)
    [reason] = interpreters.declined(model)
    assert "too small for the product" in reason, reason


# Power-of-two input scales the reference treats apart (2^-12 for both,
# 2^-11 for TANH), near-misses, and general ones (including tiny and large).
SIGMOID_INPUT_SCALES = [2.0 ** -12, 2.0 ** -11, 2.0 ** -10, 2.0 ** -12 * 1.0005, 0.0003,
                        1.7e-5, 3.1e-8, 0.9]


@pytest.mark.parametrize("op", ["LOGISTIC", "TANH"])
@pytest.mark.parametrize("input_scale", SIGMOID_INPUT_SCALES, ids=str)
def test_logistic_and_tanh_on_every_int16_value(op, input_scale):
    """The delegate rebuilds TFLite's sigmoid table from its formula; all
    65,536 inputs at each scale must land on the reference's outputs."""
    model = OneOpModel(op)
    x = model.add_input(list(ALL_INT16.shape), np.int16, scale=input_scale, zero_point=0)
    model.add_output(list(ALL_INT16.shape), np.int16, scale=1 / 32768, zero_point=0)
    assert_delegate_matches_reference(model.build([x]), [ALL_INT16])


@pytest.mark.parametrize("op", ["LOGISTIC", "TANH"])
def test_logistic_and_tanh_with_a_non_q15_output_are_declined(op):
    from tests import interpreters
    model = OneOpModel(op)
    x = model.add_input([4], np.int16, scale=0.0003, zero_point=0)
    model.add_output([4], np.int16, scale=1 / 16384, zero_point=0)
    [reason] = interpreters.declined(model.build([x]))
    assert "output scale is not 1/32768" in reason, reason  # TFLite refuses it too


@pytest.mark.parametrize("input_scale", [0.0003, 1e-5, 0.002, 0.05])
@pytest.mark.parametrize("beta", [1.0, 0.3, 2.5])
@pytest.mark.parametrize("shape", [(16, 10), (3, 1000), (2, 1)], ids=str)
def test_softmax(rng, input_scale, beta, shape):
    """Rows of full-range logits: the exp table's clamp at -10 and the
    reciprocal of sums from one to a thousand exps."""
    from tests.test_delegate_softmax import softmax_model
    model = softmax_model(shape, input_scale=input_scale, beta=beta,
                          output_quantization=(1 / 32768, 0), dtype=np.int16)
    assert_delegate_matches_reference(model, [random_int16(rng, shape)])


def test_softmax_with_equal_logits(rng):
    """Every row at one value: exps all 1, the reciprocal of depth."""
    from tests.test_delegate_softmax import softmax_model
    shape = (4, 37)
    model = softmax_model(shape, input_scale=0.0003, output_quantization=(1 / 32768, 0),
                          dtype=np.int16)
    values = np.repeat(np.asarray([-32768, -5, 0, 32767], np.int16)[:, None], shape[1], axis=1)
    assert_delegate_matches_reference(model, [values])

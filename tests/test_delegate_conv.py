"""The tfq delegate's int8 CONV_2D and DEPTHWISE_CONV_2D == TFLite BUILTIN_REF,
element for element.

One-op models written directly (tests/tflite_builder.py): SAME and VALID
padding with strides and dilations, grouped convolutions, depth multipliers,
zero points -128 and 127, per-tensor and per-channel filters, every fused
activation, no bias, batch > 1 and depths at SIMD tile edges. Tolerance 0:
the reference arithmetic is the spec.
"""
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from tests import interpreters
from tests.test_delegate_fully_connected import (ACTIVATIONS, assert_delegate_matches_reference,
                                                 random_int8)
from tests.tflite_builder import OneOpModel

PADDINGS = {"SAME": schema.Padding.SAME, "VALID": schema.Padding.VALID}


def _output_size(padding, size, kernel, stride, dilation):
    effective = (kernel - 1) * dilation + 1
    return -(-size // stride) if padding == "SAME" else (size - effective) // stride + 1


def conv_layout(*, depthwise, input_shape, kernel, output_depth, groups=1, strides, dilations,
                padding, activation):
    """(one-op model with its options set, filter shape, channel axis, taps per
    output, output shape) of a CONV_2D or DEPTHWISE_CONV_2D; any activation type."""
    batch, height, width, depth = input_shape
    if depthwise:
        options = schema.DepthwiseConv2DOptionsT()
        options.depthMultiplier = output_depth // depth
        filter_shape, channel_axis, taps = [1, *kernel, output_depth], 3, kernel[0] * kernel[1]
    else:
        options = schema.Conv2DOptionsT()
        filter_shape = [output_depth, *kernel, depth // groups]
        channel_axis, taps = 0, kernel[0] * kernel[1] * depth // groups
    options.padding = PADDINGS[padding]
    options.strideH, options.strideW = strides
    options.dilationHFactor, options.dilationWFactor = dilations
    options.fusedActivationFunction = ACTIVATIONS[activation]
    model = OneOpModel("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", options)
    out_shape = [batch, _output_size(padding, height, kernel[0], strides[0], dilations[0]),
                 _output_size(padding, width, kernel[1], strides[1], dilations[1]), output_depth]
    return model, filter_shape, channel_axis, taps, out_shape


def conv_model(rng, *, depthwise=False, input_shape=(1, 9, 9, 8), kernel=(3, 3),
               output_depth=8, groups=1, strides=(1, 1), dilations=(1, 1), padding="SAME",
               activation="NONE", per_channel=True, bias=True, input_zero_point=0,
               output_zero_point=0):
    """A one-op int8 CONV_2D (or DEPTHWISE_CONV_2D) with random filters and
    scales chosen so outputs spread over the int8 range and some saturate."""
    model, filter_shape, channel_axis, taps, out_shape = conv_layout(
        depthwise=depthwise, input_shape=input_shape, kernel=kernel, output_depth=output_depth,
        groups=groups, strides=strides, dilations=dilations, padding=padding,
        activation=activation)
    input_scale = np.float32(rng.uniform(0.005, 0.05))
    x = model.add_input(list(input_shape), np.int8, scale=input_scale,
                        zero_point=input_zero_point)
    filters = rng.integers(-127, 128, size=filter_shape, dtype=np.int8)
    filter_scales = rng.uniform(0.001, 0.02, size=output_depth if per_channel else 1)
    w = model.add_constant(filters, scale=filter_scales.astype(np.float32),
                           zero_point=np.zeros(filter_scales.size, np.int64), axis=channel_axis)
    inputs = [x, w]
    if bias:
        bias_scale = input_scale * filter_scales.astype(np.float32)
        inputs.append(model.add_constant(
            rng.integers(-20000, 20000, size=output_depth).astype(np.int32), scale=bias_scale,
            zero_point=np.zeros(bias_scale.size, np.int64)))
    output_scale = np.float32(input_scale * filter_scales.mean() * 60 * np.sqrt(taps) / 8)
    model.add_output(out_shape, np.int8, scale=output_scale, zero_point=output_zero_point)
    return model.build(inputs)


@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
@pytest.mark.parametrize("zero_points", [(0, 0), (-128, 127), (127, -128), (5, -7)],
                         ids=lambda z: f"zp{z[0]}_{z[1]}")
def test_activations_and_zero_points(rng, depthwise, activation, per_channel, zero_points):
    model = conv_model(rng, depthwise=depthwise, activation=activation, per_channel=per_channel,
                       input_zero_point=zero_points[0], output_zero_point=zero_points[1])
    assert_delegate_matches_reference(model, [random_int8(rng, (1, 9, 9, 8))])


WINDOWS = [  # (kernel, strides, dilations, padding)
    ((3, 3), (1, 1), (1, 1), "VALID"),
    ((3, 3), (2, 2), (1, 1), "SAME"),   # odd total padding: the extra pixel at the end
    ((3, 3), (2, 2), (1, 1), "VALID"),
    ((5, 3), (1, 2), (1, 1), "SAME"),
    ((3, 3), (1, 1), (2, 2), "SAME"),
    ((3, 2), (2, 1), (2, 3), "VALID"),
    ((1, 1), (1, 1), (1, 1), "SAME"),
    ((7, 7), (3, 3), (1, 1), "SAME"),   # kernel wider than some outputs' input span
]


@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
@pytest.mark.parametrize("kernel,strides,dilations,padding", WINDOWS,
                         ids=lambda v: "x".join(map(str, v)) if isinstance(v, tuple) else v)
def test_windows(rng, depthwise, kernel, strides, dilations, padding):
    model = conv_model(rng, depthwise=depthwise, input_shape=(2, 11, 10, 4), kernel=kernel,
                       output_depth=4, strides=strides, dilations=dilations, padding=padding,
                       input_zero_point=-9)
    assert_delegate_matches_reference(model, [random_int8(rng, (2, 11, 10, 4))])


@pytest.mark.parametrize("input_depth", [1, 15, 16, 17, 32, 33, 65])
@pytest.mark.parametrize("output_depth", [1, 8, 9, 16, 33])
def test_conv_depths_at_tile_edges(rng, input_depth, output_depth):
    model = conv_model(rng, input_shape=(1, 5, 6, input_depth), output_depth=output_depth,
                       input_zero_point=3)
    assert_delegate_matches_reference(model, [random_int8(rng, (1, 5, 6, input_depth))])


@pytest.mark.parametrize("depth", [1, 15, 16, 17, 33, 64])
@pytest.mark.parametrize("multiplier", [1, 2, 3])
def test_depthwise_depths_and_multipliers(rng, depth, multiplier):
    model = conv_model(rng, depthwise=True, input_shape=(1, 6, 5, depth),
                       output_depth=depth * multiplier, input_zero_point=-2)
    assert_delegate_matches_reference(model, [random_int8(rng, (1, 6, 5, depth))])


@pytest.mark.parametrize("groups", [2, 4])
def test_grouped_conv(rng, groups):
    model = conv_model(rng, input_shape=(1, 7, 7, 8), output_depth=12, groups=groups)
    assert_delegate_matches_reference(model, [random_int8(rng, (1, 7, 7, 8))])


def test_depthwise_without_bias(rng):
    model = conv_model(rng, depthwise=True, bias=False, input_zero_point=17)
    assert_delegate_matches_reference(model, [random_int8(rng, (1, 9, 9, 8))])


DECLINED = {  # case: (conv_model overrides, what the reason must say)
    "conv without bias (TFLite refuses it too)": (dict(bias=False), "has no bias"),
    "output channels not a multiple of the groups": (
        dict(input_shape=(1, 5, 5, 8), groups=2, output_depth=7), "7 output channels for 2 groups"),
    "depthwise channels not a multiple of the input's": (
        dict(depthwise=True, input_shape=(1, 5, 5, 4), output_depth=6),
        "6 output channels for 4 input channels"),
    "VALID window larger than the input": (
        dict(input_shape=(1, 2, 2, 4), kernel=(3, 3), output_depth=4, padding="VALID"),
        "gives an empty output"),
}


@pytest.mark.parametrize("case", list(DECLINED))
def test_node_the_kernels_cannot_run_is_declined_with_reason(rng, case):
    """Checked at claim time, on the model's shapes: declined with a reason,
    never claimed only to fail in the partition's prepare."""
    overrides, reason = DECLINED[case]
    [declined] = interpreters.declined(conv_model(rng, **overrides))
    assert reason in declined, declined


def test_resize_to_an_unrunnable_shape_fails_with_the_reason(rng):
    """After a claim, an input resized so the window no longer fits is an
    error naming the op and the shape, not a crash."""
    model = conv_model(rng, input_shape=(1, 5, 5, 4), output_depth=4, padding="VALID")
    interpreter, _ = interpreters.tfq_litert(model)
    interpreter.resize_tensor_input(0, (1, 2, 2, 4))
    with pytest.raises(RuntimeError, match=r"CONV_2D input shape \[1,2,2,4\] gives an "
                                           "empty output"):
        interpreter.allocate_tensors()


@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
def test_resize_reprepares(rng, depthwise):
    """A new input size re-runs prepare: the output follows, still exact."""
    model = conv_model(rng, depthwise=depthwise, input_shape=(1, 8, 8, 8),
                       strides=(2, 2), padding="SAME")
    interpreter, delegate = interpreters.tfq_litert(model)
    reference = interpreters.reference(model)
    for shape in [(1, 8, 8, 8), (3, 13, 5, 8), (2, 1, 1, 8)]:
        x = random_int8(rng, shape)
        actual = interpreters.run(interpreter, x)[0]
        np.testing.assert_array_equal(actual, interpreters.run(reference, x)[0])
        assert actual.shape == (shape[0], -(-shape[1] // 2), -(-shape[2] // 2), 8)
    assert delegate.last_claim() == (1, 1)


def test_tf_lite_interpreter_too(rng):
    model = conv_model(rng, depthwise=True, activation="RELU6", input_zero_point=-128,
                       output_depth=16)
    assert_delegate_matches_reference(model, [random_int8(rng, (1, 9, 9, 8))],
                                      make_interpreter=interpreters.tfq_tensorflow)

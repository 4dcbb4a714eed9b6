"""The tfq delegate's int8 TRANSPOSE_CONV == TFLite BUILTIN_REF, element for
element: SAME / VALID, strides 1-3, odd and even kernels, per-tensor and
per-channel filters, with and without bias, every fused activation, zero
points -128 and 127. Tolerance 0."""
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from tests.test_delegate_conv import PADDINGS
from tests.test_delegate_fully_connected import (ACTIVATIONS, assert_delegate_matches_reference,
                                                 random_int8)
from tests.tflite_builder import OneOpModel


def transpose_conv_model(rng, *, input_shape=(1, 5, 4, 6), kernel=(3, 3), strides=(2, 2),
                         padding="SAME", output_depth=5, per_channel=True, bias=True,
                         activation="NONE", zero_points=(0, 0)):
    options = schema.TransposeConvOptionsT()
    options.padding = PADDINGS[padding]
    options.strideH, options.strideW = strides
    options.fusedActivationFunction = ACTIVATIONS[activation]
    model = OneOpModel("TRANSPOSE_CONV", options)
    batch, height, width, depth = input_shape
    if padding == "SAME":
        out_hw = [height * strides[0], width * strides[1]]
    else:
        out_hw = [(height - 1) * strides[0] + kernel[0], (width - 1) * strides[1] + kernel[1]]
    output_shape = [batch, *out_hw, output_depth]
    shape = model.add_constant(np.asarray(output_shape, np.int32))
    filter_scales = rng.uniform(0.002, 0.02, size=output_depth if per_channel else 1)
    w = model.add_constant(rng.integers(-127, 128, size=(output_depth, *kernel, depth),
                                        dtype=np.int8),
                           scale=filter_scales.astype(np.float32),
                           zero_point=np.zeros(filter_scales.size, np.int64), axis=0)
    input_scale = np.float32(0.03)
    x = model.add_input(list(input_shape), np.int8, scale=input_scale, zero_point=zero_points[0])
    inputs = [shape, w, x]
    if bias:
        bias_scale = input_scale * filter_scales.astype(np.float32)
        inputs.append(model.add_constant(
            rng.integers(-5000, 5000, size=output_depth).astype(np.int32), scale=bias_scale,
            zero_point=np.zeros(bias_scale.size, np.int64)))
    taps = kernel[0] * kernel[1] * depth / (strides[0] * strides[1])
    output_scale = np.float32(input_scale * filter_scales.mean() * 60 * np.sqrt(taps) / 8)
    model.add_output(output_shape, np.int8, scale=output_scale, zero_point=zero_points[1])
    return model.build(inputs)


@pytest.mark.parametrize("kernel,strides,padding", [
    ((3, 3), (2, 2), "SAME"), ((3, 3), (2, 2), "VALID"), ((2, 2), (2, 2), "SAME"),
    ((4, 4), (2, 2), "SAME"), ((3, 3), (1, 1), "SAME"), ((5, 3), (3, 1), "VALID"),
    ((1, 1), (2, 2), "VALID")], ids=str)
@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
def test_windows(rng, kernel, strides, padding, per_channel):
    model = transpose_conv_model(rng, kernel=kernel, strides=strides, padding=padding,
                                 per_channel=per_channel, zero_points=(-5, 3))
    assert_delegate_matches_reference(model, [random_int8(rng, (1, 5, 4, 6))])


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("zero_points", [(-128, 127), (127, -128)], ids=str)
def test_activations_and_zero_points(rng, activation, zero_points):
    model = transpose_conv_model(rng, activation=activation, zero_points=zero_points)
    assert_delegate_matches_reference(model, [random_int8(rng, (1, 5, 4, 6))])


def test_without_bias_and_batch_2(rng):
    model = transpose_conv_model(rng, input_shape=(2, 3, 3, 4), bias=False)
    assert_delegate_matches_reference(model, [random_int8(rng, (2, 3, 3, 4))])

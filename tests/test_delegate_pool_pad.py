"""The tfq delegate's int8 MAX_POOL_2D, AVERAGE_POOL_2D, PAD and PADV2 ==
TFLite BUILTIN_REF, element for element: SAME / VALID windows with strides
(padding never counts toward a max or an average), every fused activation,
zero points -128 and 127; pads of any rank, int32 and int64 paddings, the
PADV2 constant. Tolerance 0."""
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from tests import interpreters
from tests.test_delegate_conv import PADDINGS, _output_size
from tests.test_delegate_fully_connected import (ACTIVATIONS, assert_delegate_matches_reference,
                                                 random_int8)
from tests.tflite_builder import OneOpModel


def pool_model(op, shape, *, window=(3, 3), strides=(2, 2), padding="SAME", activation="NONE",
               scale=0.05, zero_point=0, output_quantization=None, dtype=np.int8):
    options = schema.Pool2DOptionsT()
    options.padding = PADDINGS[padding]
    options.strideH, options.strideW = strides
    options.filterHeight, options.filterWidth = window
    options.fusedActivationFunction = ACTIVATIONS[activation]
    model = OneOpModel(op, options)
    x = model.add_input(list(shape), dtype, scale=scale, zero_point=zero_point)
    batch, height, width, depth = shape
    out_shape = [batch, _output_size(padding, height, window[0], strides[0], 1),
                 _output_size(padding, width, window[1], strides[1], 1), depth]
    out_scale, out_zero_point = output_quantization or (scale, zero_point)
    model.add_output(out_shape, dtype, scale=out_scale, zero_point=out_zero_point)
    return model.build([x])


POOLS = ["MAX_POOL_2D", "AVERAGE_POOL_2D"]


@pytest.mark.parametrize("op", POOLS)
@pytest.mark.parametrize("window,strides,padding", [
    ((3, 3), (2, 2), "SAME"), ((3, 3), (2, 2), "VALID"), ((2, 2), (2, 2), "VALID"),
    ((3, 2), (1, 2), "SAME"), ((5, 5), (1, 1), "SAME"), ((7, 7), (7, 7), "VALID"),
    ((1, 1), (1, 1), "SAME")], ids=str)
def test_windows(rng, op, window, strides, padding):
    shape = (2, 11, 9, 5)
    model = pool_model(op, shape, window=window, strides=strides, padding=padding,
                       zero_point=-7)
    assert_delegate_matches_reference(model, [random_int8(rng, shape)])


@pytest.mark.parametrize("op", POOLS)
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("zero_point", [-128, 0, 127])
def test_activations_and_zero_points(rng, op, activation, zero_point):
    shape = (1, 8, 8, 16)
    model = pool_model(op, shape, activation=activation, zero_point=zero_point, scale=0.02)
    assert_delegate_matches_reference(model, [random_int8(rng, shape)])


def test_pool_with_rescaling_output_is_declined():
    [reason] = interpreters.declined(
        pool_model("MAX_POOL_2D", (1, 4, 4, 2), output_quantization=(0.1, 0)))
    assert "input and output quantization differ" in reason, reason


def pad_model(shape, paddings, *, v2=False, constant=None, paddings_dtype=np.int32,
              zero_point=3, dtype=np.int8):
    model = OneOpModel("PADV2" if v2 else "PAD",
                       schema.PadV2OptionsT() if v2 else schema.PadOptionsT())
    x = model.add_input(list(shape), dtype, scale=0.04, zero_point=zero_point)
    p = model.add_constant(np.asarray(paddings, paddings_dtype))
    inputs = [x, p]
    if constant is not None:
        inputs.append(model.add_constant(np.asarray([constant], dtype), scale=0.04,
                                         zero_point=zero_point))
    out_shape = [n + low + high for n, (low, high) in zip(shape, paddings)]
    model.add_output(out_shape, dtype, scale=0.04, zero_point=zero_point)
    return model.build(inputs)


@pytest.mark.parametrize("shape,paddings", [
    ((1, 5, 5, 3), [[0, 0], [1, 1], [1, 1], [0, 0]]),   # ZeroPadding2D
    ((1, 5, 6, 3), [[0, 0], [0, 1], [2, 0], [0, 0]]),   # asymmetric, like strided SAME convs
    ((2, 3, 4, 5), [[1, 0], [0, 2], [3, 1], [1, 1]]),
    ((7,), [[2, 3]]),
    ((2, 3), [[0, 0], [0, 0]]),
    ((1, 2, 2, 2, 2), [[0, 1], [1, 0], [0, 0], [1, 1], [2, 0]]),
    ((2, 3, 4, 5), [[1, 2], [0, 0], [0, 0], [0, 0]]),  # only the batch: 60-element runs
    ((1, 6, 7, 3), [[0, 0], [3, 3], [3, 3], [0, 0]]),  # ResNet50's first pad, smaller
], ids=str)
@pytest.mark.parametrize("paddings_dtype", [np.int32, np.int64], ids=["int32", "int64"])
def test_pad(rng, shape, paddings, paddings_dtype):
    model = pad_model(shape, paddings, paddings_dtype=paddings_dtype)
    assert_delegate_matches_reference(model, [random_int8(rng, shape)])


@pytest.mark.parametrize("constant", [None, -128, 17, 127])
def test_padv2(rng, constant):
    shape = (1, 4, 3, 2)
    model = pad_model(shape, [[0, 0], [2, 1], [1, 2], [0, 1]], v2=True, constant=constant)
    assert_delegate_matches_reference(model, [random_int8(rng, shape)])

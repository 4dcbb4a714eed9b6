"""The tfq delegate's int8 FULLY_CONNECTED == TFLite BUILTIN_REF, element for element.

One-op models written directly (tests/tflite_builder.py) cover what the
converter will not produce on request: zero points -128 and 127, every fused
activation, per-tensor and per-channel weights, no bias, keep_num_dims, batch
> 1 and depths at SIMD tile edges. Tolerance 0 everywhere: the reference
arithmetic is the spec.
"""
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from tests import interpreters
from tests.tflite_builder import OneOpModel
from tfq import quant_math

ACTIVATIONS = {"NONE": schema.ActivationFunctionType.NONE,
               "RELU": schema.ActivationFunctionType.RELU,
               "RELU_N1_TO1": schema.ActivationFunctionType.RELU_N1_TO_1,
               "RELU6": schema.ActivationFunctionType.RELU6}


def fully_connected_model(rng, *, batch, input_depth, output_depth, activation="NONE",
                          per_channel=True, bias=True, input_zero_point=0,
                          output_zero_point=0, keep_num_dims=False, input_shape=None):
    """A one-op int8 FULLY_CONNECTED model with random weights and scales
    chosen so outputs spread over the whole int8 range (and saturate)."""
    options = schema.FullyConnectedOptionsT()
    options.fusedActivationFunction = ACTIVATIONS[activation]
    options.keepNumDims = keep_num_dims
    model = OneOpModel("FULLY_CONNECTED", options)
    input_shape = input_shape or [batch, input_depth]
    input_scale = np.float32(rng.uniform(0.005, 0.05))
    x = model.add_input(input_shape, np.int8, scale=input_scale, zero_point=input_zero_point)
    weights = rng.integers(-127, 128, size=(output_depth, input_depth), dtype=np.int8)
    weight_scales = rng.uniform(0.001, 0.02, size=output_depth if per_channel else 1)
    w = model.add_constant(weights, scale=weight_scales.astype(np.float32),
                           zero_point=np.zeros(weight_scales.size, np.int64), axis=0)
    inputs = [x, w]
    if bias:
        bias_scale = input_scale * weight_scales.astype(np.float32)
        bias_values = rng.integers(-20000, 20000, size=output_depth).astype(np.int32)
        inputs.append(model.add_constant(bias_values, scale=bias_scale,
                                         zero_point=np.zeros(bias_scale.size, np.int64)))
    else:
        inputs.append(-1)
    # Output scale ~ the accumulator's spread, so some outputs clamp.
    output_scale = np.float32(input_scale * weight_scales.mean() * 60 * np.sqrt(input_depth) / 8)
    out_shape = (input_shape[:-1] + [output_depth]) if keep_num_dims else [batch, output_depth]
    model.add_output(out_shape, np.int8, scale=output_scale, zero_point=output_zero_point)
    return model.build(inputs)


def random_int8(rng, shape):
    return rng.integers(-128, 128, size=shape, dtype=np.int8)


def assert_delegate_matches_reference(model, inputs, *, make_interpreter=interpreters.tfq_litert):
    expected = interpreters.run(interpreters.reference(model), *inputs)
    interpreter, delegate = make_interpreter(model)
    actual = interpreters.run(interpreter, *inputs)
    assert delegate.last_claim() == (1, 1), delegate.declined_nodes()
    for e, a in zip(expected, actual):
        assert e.dtype == a.dtype and e.shape == a.shape
        mismatches = np.count_nonzero(e != a)
        assert mismatches == 0, f"{mismatches} of {e.size} outputs differ from BUILTIN_REF"


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
@pytest.mark.parametrize("zero_points", [(0, 0), (-128, 127), (127, -128), (5, -7)],
                         ids=lambda z: f"zp{z[0]}_{z[1]}")
def test_activations_and_zero_points(rng, activation, per_channel, zero_points):
    model = fully_connected_model(rng, batch=3, input_depth=33, output_depth=17,
                                  activation=activation, per_channel=per_channel,
                                  input_zero_point=zero_points[0],
                                  output_zero_point=zero_points[1])
    assert_delegate_matches_reference(model, [random_int8(rng, (3, 33))])


# Depths around the SIMD tile edges (16/32/64 lanes): 1, tile-1, tile, tile+1.
@pytest.mark.parametrize("input_depth", [1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 300])
@pytest.mark.parametrize("output_depth", [1, 7, 8, 9, 16, 33])
def test_shapes_at_tile_edges(rng, input_depth, output_depth):
    model = fully_connected_model(rng, batch=2, input_depth=input_depth,
                                  output_depth=output_depth, input_zero_point=-3)
    assert_delegate_matches_reference(model, [random_int8(rng, (2, input_depth))])


@pytest.mark.parametrize("per_channel", [True, False], ids=["per_channel", "per_tensor"])
def test_without_bias(rng, per_channel):
    model = fully_connected_model(rng, batch=4, input_depth=24, output_depth=10, bias=False,
                                  per_channel=per_channel, input_zero_point=11)
    assert_delegate_matches_reference(model, [random_int8(rng, (4, 24))])


def test_keep_num_dims_with_rank3_input(rng):
    model = fully_connected_model(rng, batch=2, input_depth=12, output_depth=5,
                                  keep_num_dims=True, input_shape=[2, 3, 12])
    assert_delegate_matches_reference(model, [random_int8(rng, (2, 3, 12))])


def test_rank3_input_flattened_to_rows(rng):
    model = fully_connected_model(rng, batch=6, input_depth=12, output_depth=5,
                                  input_shape=[2, 3, 12])
    assert_delegate_matches_reference(model, [random_int8(rng, (2, 3, 12))])


def test_tf_lite_interpreter_too(rng):
    model = fully_connected_model(rng, batch=3, input_depth=40, output_depth=9,
                                  activation="RELU6", input_zero_point=-128)
    assert_delegate_matches_reference(model, [random_int8(rng, (3, 40))],
                                      make_interpreter=interpreters.tfq_tensorflow)


def test_batch_resize_reprepares(rng):
    """Resizing the input re-runs the delegate's prepare; outputs follow."""
    model = fully_connected_model(rng, batch=1, input_depth=20, output_depth=6)
    interpreter, _ = interpreters.tfq_litert(model)
    reference = interpreters.reference(model)
    for batch in (1, 7, 2):
        x = random_int8(rng, (batch, 20))
        actual = interpreters.run(interpreter, x)[0]
        np.testing.assert_array_equal(actual, interpreters.run(reference, x)[0])
        assert actual.shape == (batch, 6)


def test_python_reference_rescale_matches_builtin_ref(rng):
    """tfq.quant_math's float64 FULLY_CONNECTED rescale == BUILTIN_REF on
    16k accumulators, including the near-ties where the fixed-point formula
    (MultiplyByQuantizedMultiplier, which BUILTIN_REF used before 2025 and the
    optimized kernels still use) rounds differently."""
    # Depth 1: acc = x * w[o] + bias[o] for every int8 x, 64 channels.
    channels = 64
    s_in, s_out = np.float32(0.0173), np.float32(0.0911)
    w_scales = rng.uniform(0.002, 0.02, size=channels).astype(np.float32)
    weights = rng.integers(1, 128, size=(channels, 1), dtype=np.int8)
    bias = rng.integers(-30000, 30000, size=channels).astype(np.int32)
    model = OneOpModel("FULLY_CONNECTED", schema.FullyConnectedOptionsT())
    x = model.add_input([256, 1], np.int8, scale=s_in, zero_point=0)
    w = model.add_constant(weights, scale=w_scales, zero_point=np.zeros(channels), axis=0)
    b = model.add_constant(bias, scale=s_in * w_scales, zero_point=np.zeros(channels))
    model.add_output([256, channels], np.int8, scale=s_out, zero_point=-4)
    tflite = model.build([x, w, b])
    inputs = np.arange(-128, 128, dtype=np.int8).reshape(256, 1)
    expected = interpreters.run(interpreters.reference(tflite), inputs)[0]

    acc = inputs.astype(np.int64) @ weights.astype(np.int64).T + bias
    multiplier = quant_math.fully_connected_multiplier(s_in, w_scales, s_out)
    ours = quant_math.fully_connected_rescale(acc, multiplier, -4, -128, 127)
    np.testing.assert_array_equal(ours, expected)
    # The data does reach outputs where the two formulas disagree, so this
    # test would notice if BUILTIN_REF went back to fixed point.
    m, shift = quant_math.quantize_multiplier(multiplier)
    fixed = np.clip(quant_math.multiply_by_quantized_multiplier(acc, m, shift) - 4, -128, 127)
    assert np.count_nonzero(fixed != expected) > 0

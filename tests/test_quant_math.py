"""tfq.quant_math: unit properties, and requantization == TFLite BUILTIN_REF.

The BUILTIN_REF comparisons use one-op models whose kernels are built on the
primitive under test: CONV_2D (per-channel QuantizeMultiplier +
MultiplyByQuantizedMultiplier), ADD (the 20-bit left shift and three
multipliers), QUANTIZE and DEQUANTIZE.
"""
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from tests import interpreters
from tests.tflite_builder import OneOpModel
from tfq import quant_math


def test_round_half_away_from_zero():
    values = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49999999999999994])
    np.testing.assert_array_equal(quant_math.round_half_away(values),
                                  [-3, -2, -1, 1, 2, 3, 0])


def test_quantize_multiplier_represents_the_real_value(rng):
    real = np.concatenate([10.0 ** rng.uniform(-8, 3, size=1000), [1.0, 0.5, 2.0 ** -31]])
    multiplier, shift = quant_math.quantize_multiplier(real)
    assert np.all((multiplier >= 2**30) & (multiplier < 2**31))
    np.testing.assert_allclose(multiplier * 2.0 ** (shift - 31), real, rtol=2.0**-30)


def test_quantize_multiplier_edge_cases():
    # 1 - 2^-40 rounds up to 2^31: TFLite halves it and bumps the shift.
    multiplier, shift = quant_math.quantize_multiplier([1.0 - 2.0**-40, 0.0, 2.0**-40])
    assert (multiplier[0], shift[0]) == (2**30, 1)
    assert (multiplier[1], shift[1]) == (0, 0)
    assert (multiplier[2], shift[2]) == (0, 0)  # shift < -31 flushes to zero
    with pytest.raises(ValueError, match="finite and >= 0"):
        quant_math.quantize_multiplier([-1.0])


def test_srdhm_saturates_and_rounds():
    srdhm = quant_math.saturating_rounding_doubling_high_mul
    assert srdhm(-(2**31), -(2**31)) == 2**31 - 1
    assert srdhm(2**30, 2**30) == 2**29
    # gemmlowp's nudge: +1.5 rounds up to 2, but -1.5 rounds toward zero to -1.
    assert srdhm(3, 2**30) == 2
    assert srdhm(-3, 2**30) == -1
    assert srdhm(-5, 2**30) == -2  # -2.5


def test_rounding_divide_by_pot_ties_away_from_zero():
    x = np.array([5, -5, 6, -6, 7, -7])
    np.testing.assert_array_equal(quant_math.rounding_divide_by_pot(x, 1), [3, -3, 3, -3, 4, -4])


def test_quantize_dequantize_round_trip_per_channel(rng):
    weights = rng.normal(size=(3, 3, 4, 8)).astype(np.float32)
    params = quant_math.weight_params(weights, axis=3)
    q = quant_math.quantize(weights, params)
    assert q.dtype == np.int8 and q.min() >= -127
    error = np.abs(quant_math.dequantize(q, params) - weights)
    assert np.all(error <= params.broadcast_to(weights.shape) / 2 * (1 + 1e-6))


def test_activation_params_reject_bad_ranges():
    with pytest.raises(ValueError, match="finite"):
        quant_math.activation_params(np.nan, 1.0)
    with pytest.raises(ValueError, match="above max"):
        quant_math.activation_params(2.0, 1.0)
    with pytest.raises(ValueError, match="int16 range of width 0"):
        quant_math.activation_params(0.0, 0.0, dtype=np.int16)
    with pytest.raises(ValueError, match="dtype"):
        quant_math.activation_params(0.0, 1.0, dtype=np.uint8)


def test_activation_range_relu6():
    params = quant_math.QuantParams(np.array([0.05], np.float32), np.array([-100]), np.int8)
    assert quant_math.activation_range("RELU6", params) == (-100, 20)
    assert quant_math.activation_range("RELU_N1_TO1", params) == (-120, -80)
    with pytest.raises(ValueError, match="unknown fused activation"):
        quant_math.activation_range("GELU", params)


def _conv1x1_model(s_in, zp_in, w_scales, weights, bias, s_out, zp_out, shape):
    options = schema.Conv2DOptionsT()
    options.padding, options.strideW, options.strideH = schema.Padding.VALID, 1, 1
    options.dilationWFactor = options.dilationHFactor = 1
    model = OneOpModel("CONV_2D", options)
    channels = weights.shape[0]
    x = model.add_input(shape, np.int8, scale=s_in, zero_point=zp_in)
    w = model.add_constant(weights, scale=w_scales, zero_point=np.zeros(channels), axis=0)
    b = model.add_constant(bias, scale=np.float32(s_in) * w_scales, zero_point=np.zeros(channels))
    model.add_output(shape[:3] + [channels], np.int8, scale=s_out, zero_point=zp_out)
    return model.build([x, w, b])


@pytest.mark.parametrize("zero_points", [(0, 0), (-128, 127), (127, -128)])
def test_multiply_by_quantized_multiplier_matches_conv2d_reference(rng, zero_points):
    """Per-channel requantization of a 1x1 CONV_2D, over multipliers from
    1e-5 to ~2 (negative and positive shifts), bit for bit."""
    zp_in, zp_out = zero_points
    channels, depth = 48, 8
    s_in, s_out = np.float32(0.02), np.float32(0.05)
    w_scales = (10.0 ** rng.uniform(-5, 0.7, size=channels) * s_out / s_in / 127).astype(np.float32)
    weights = rng.integers(-127, 128, size=(channels, 1, 1, depth), dtype=np.int8)
    bias = rng.integers(-5000, 5000, size=channels).astype(np.int32)
    shape = [1, 5, 7, depth]
    model = _conv1x1_model(s_in, zp_in, w_scales, weights, bias, s_out, zp_out, shape)
    x = rng.integers(-128, 128, size=shape, dtype=np.int8)
    expected = interpreters.run(interpreters.reference(model), x)[0]

    acc = (x.astype(np.int64) - zp_in).reshape(-1, depth) @ weights.reshape(channels, depth).T.astype(np.int64) + bias
    real = np.float64(s_in) * w_scales.astype(np.float64) / np.float64(s_out)
    multiplier, shift = quant_math.quantize_multiplier(real)
    ours = np.clip(quant_math.multiply_by_quantized_multiplier(acc, multiplier, shift) + zp_out,
                   -128, 127)
    np.testing.assert_array_equal(ours.reshape(expected.shape), expected)


def test_add_requantization_matches_reference(rng):
    """ADD's arithmetic (left shift 20, three SmallerThanOne multipliers)."""
    s1, s2, s_out = np.float32(0.031), np.float32(0.0077), np.float32(0.04)
    zp1, zp2, zp_out = -128, 17, 127
    model = OneOpModel("ADD", schema.AddOptionsT())
    a = model.add_input([4, 64], np.int8, scale=s1, zero_point=zp1)
    b = model.add_input([4, 64], np.int8, scale=s2, zero_point=zp2)
    model.add_output([4, 64], np.int8, scale=s_out, zero_point=zp_out)
    tflite = model.build([a, b])
    x1 = rng.integers(-128, 128, size=(4, 64), dtype=np.int8)
    x2 = rng.integers(-128, 128, size=(4, 64), dtype=np.int8)
    expected = interpreters.run(interpreters.reference(tflite), x1, x2)[0]

    twice_max = 2.0 * max(float(s1), float(s2))
    m1, sh1 = quant_math.quantize_multiplier(float(s1) / twice_max)
    m2, sh2 = quant_math.quantize_multiplier(float(s2) / twice_max)
    mo, sho = quant_math.quantize_multiplier(twice_max / ((1 << 20) * float(s_out)))
    v1 = quant_math.multiply_by_quantized_multiplier((x1.astype(np.int64) - zp1) << 20, m1, sh1)
    v2 = quant_math.multiply_by_quantized_multiplier((x2.astype(np.int64) - zp2) << 20, m2, sh2)
    ours = np.clip(quant_math.multiply_by_quantized_multiplier(v1 + v2, mo, sho) + zp_out, -128, 127)
    np.testing.assert_array_equal(ours, expected)


def test_quantize_and_dequantize_match_reference(rng):
    params = quant_math.activation_params(-3.1, 7.9)
    values = np.concatenate([rng.uniform(-4, 9, size=2000),
                             # exact ties of x / scale, where rounding mode shows
                             (np.arange(-40, 40) + 0.5) * params.scale[0]]).astype(np.float32)
    quantize = OneOpModel("QUANTIZE", schema.QuantizeOptionsT())
    x = quantize.add_input([values.size], np.float32)
    quantize.add_output([values.size], np.int8, scale=params.scale, zero_point=params.zero_point)
    expected_q = interpreters.run(interpreters.reference(quantize.build([x])), values)[0]
    np.testing.assert_array_equal(quant_math.quantize(values, params), expected_q)

    dequantize = OneOpModel("DEQUANTIZE", schema.DequantizeOptionsT())
    q = dequantize.add_input([256], np.int8, scale=params.scale, zero_point=params.zero_point)
    dequantize.add_output([256], np.float32)
    all_int8 = np.arange(-128, 128, dtype=np.int8)
    expected_f = interpreters.run(interpreters.reference(dequantize.build([q])), all_int8)[0]
    np.testing.assert_array_equal(quant_math.dequantize(all_int8, params), expected_f)

"""tfq.quant_math parameters == what TFLiteConverter 2.21 writes, bit for bit.

Each test converts one small model holding many ranges at once (conversion is
the slow part) and compares every scale (float32, exactly) and zero point.
"""
import numpy as np
import pytest

from tests import converter_probe
from tfq import quant_math

# Ranges where rounding is delicate: symmetric ties, ranges that exclude 0,
# and the narrow ranges the converter widens.
EDGE_RANGES = [
    (-1.0, 1.0), (0.0, 6.0), (-6.0, 0.0), (0.5, 2.0), (-2.0, -0.5), (-0.3, 0.7),
    (0.0, 0.0), (0.0, 5e-7), (-3e-7, 2e-7), (0.0, 1e-6), (-1e-6, 1e-6),
    (-5e-7, 5e-7), (-1e-7, -5e-8), (1e-3, 1e-3 + 1e-7), (2e-6, 2.5e-6), (-9.9e-7, 0.0),
]


def _random_ranges(rng, count):
    ranges = []
    for _ in range(count):
        lo, hi = np.sort(rng.normal(0.0, 10.0 ** rng.uniform(-4, 2), size=2))
        ranges.append((lo, hi))
    return ranges


def _as_float32(ranges):
    return [(np.float32(lo), np.float32(hi)) for lo, hi in ranges]


def _assert_same_params(ranges, converted, ours):
    mismatches = [
        (r, (float(c_scale), c_zp), (float(o.scale[0]), int(o.zero_point[0])))
        for r, (c_scale, c_zp), o in zip(ranges, converted, ours)
        if not (np.float32(o.scale[0]) == c_scale and int(o.zero_point[0]) == c_zp)]
    assert not mismatches, f"(range, converter, tfq) differ: {mismatches}"


@pytest.mark.parametrize("dtype", [np.int8, np.int16])
def test_calibrated_activation_params_match_converter(rng, dtype):
    ranges = _as_float32(EDGE_RANGES + _random_ranges(rng, 32))
    if dtype == np.int16:  # zero width has no int16 scale (tfq raises; see below)
        ranges = [r for r in ranges if max(abs(r[0]), abs(r[1])) > 0]
    converted = converter_probe.calibrated_input_params(ranges, int16=dtype == np.int16)
    ours = [quant_math.activation_params(lo, hi, dtype=dtype) for lo, hi in ranges]
    _assert_same_params(ranges, converted, ours)


def test_fake_quant_params_match_converter(rng):
    ranges = _as_float32(EDGE_RANGES + _random_ranges(rng, 24))
    converted = converter_probe.fake_quant_input_params(ranges)
    ours = [quant_math.fake_quant_params(lo, hi) for lo, hi in ranges]
    _assert_same_params(ranges, converted, ours)


@pytest.mark.parametrize("kind,shape,axis", [
    ("conv", (3, 3, 4, 8), 3),       # Keras HWIO; TFLite OHWI quantizes dim 0 = Keras dim 3
    ("depthwise", (3, 3, 6, 1), 2),  # TFLite [1,H,W,C] quantizes dim 3 = Keras channel dim 2
    ("dense", (12, 5), 1),           # per-channel Dense: TFLite [out,in] dim 0 = Keras dim 1
])
def test_per_channel_weight_params_match_converter(rng, kind, shape, axis):
    kernel = rng.normal(0.0, 1.0, size=shape).astype(np.float32)
    # Channels of very different magnitudes, one all-zero channel.
    magnitudes = 10.0 ** rng.uniform(-3, 1, size=shape[axis])
    magnitudes[1] = 0.0
    kernel *= np.expand_dims(magnitudes, tuple(d for d in range(len(shape)) if d != axis))
    scales, zero_points = converter_probe.converted_weight_params(kind, kernel)
    ours = quant_math.weight_params(kernel, axis=axis)
    np.testing.assert_array_equal(zero_points, 0)
    np.testing.assert_array_equal(ours.zero_point, 0)
    np.testing.assert_array_equal(ours.scale, scales)
    # The all-zero channel gets the converter's minimum scale, not 0 or 1.
    assert ours.scale[1] == np.float32(1e-6 / 254)


def test_per_tensor_dense_weight_params_match_converter(rng):
    kernel = rng.normal(0.0, 0.3, size=(16, 7)).astype(np.float32)
    scales, _ = converter_probe.converted_weight_params("dense", kernel, per_tensor_dense=True)
    np.testing.assert_array_equal(quant_math.weight_params(kernel).scale, scales)

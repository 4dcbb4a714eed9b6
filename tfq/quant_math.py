"""The normative quantization arithmetic of tfq, in vectorized numpy.

Everything here reproduces what TFLite 2.21 does, bit for bit: the parameters
the converter writes for a range, and the integer arithmetic of the reference
kernels (`OpResolverType.BUILTIN_REF`). The delegate's kernels, the Keras
quantizers and the analysis tools are all checked against these functions, and
these functions are checked against TFLite itself (tests/test_quant_math.py).

Conventions: scales are float32 (what a .tflite stores); zero points and
quantized values are int64 arrays until they are cast to their storage type,
so intermediate arithmetic cannot overflow silently.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

INT8_MIN, INT8_MAX = -128, 127
INT16_MIN, INT16_MAX = -32768, 32767
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

# Below this width the converter widens a range to +-1e-6 (ExpandVerySmallRange
# in the MLIR quantizer), which avoids tiny scales and overflowing zero points.
_NEAR_ZERO_RANGE = 1.0e-6

_ACTIVATIONS = ("NONE", "RELU", "RELU_N1_TO1", "RELU6")


@dataclasses.dataclass(frozen=True)
class QuantParams:
    """Affine quantization of one tensor: real = scale * (q - zero_point).

    `axis` is None for per-tensor parameters (scale and zero_point of shape
    (1,)), else the quantized dimension with one entry per channel.
    """

    scale: np.ndarray  # float32
    zero_point: np.ndarray  # int64
    dtype: type  # np.int8 or np.int16
    axis: Optional[int] = None

    @property
    def qmin(self) -> int:
        return int(np.iinfo(self.dtype).min)

    @property
    def qmax(self) -> int:
        return int(np.iinfo(self.dtype).max)

    def broadcast_to(self, shape, what="scale"):
        """Scale or zero point shaped to broadcast against a tensor of `shape`."""
        value = self.scale if what == "scale" else self.zero_point
        if self.axis is None:
            return value.reshape(())
        if shape[self.axis] != value.size:
            raise ValueError(
                f"per-channel parameters have {value.size} channels but the tensor "
                f"has {shape[self.axis]} along axis {self.axis} (shape {tuple(shape)})")
        expanded = [1] * len(shape)
        expanded[self.axis] = value.size
        return value.reshape(expanded)


def round_half_away(x) -> np.ndarray:
    """C's round()/TfLiteRound: ties away from zero (numpy's round is half-even)."""
    x = np.asarray(x, dtype=np.float64)
    whole = np.trunc(x)
    # x - trunc(x) is exact; adding 0.5 first would misround 0.49999999999999994.
    return np.where(np.abs(x - whole) >= 0.5, whole + np.sign(x), whole)


def _check_range(range_min, range_max, what):
    range_min = np.asarray(range_min, dtype=np.float64)
    range_max = np.asarray(range_max, dtype=np.float64)
    if not (np.all(np.isfinite(range_min)) and np.all(np.isfinite(range_max))):
        raise ValueError(f"{what}: the range must be finite, got [{range_min}, {range_max}]; "
                         "calibrate on data without NaN or infinity")
    if np.any(range_min > range_max):
        raise ValueError(f"{what}: range min {range_min} is above max {range_max}")
    return range_min, range_max


def _nudged_scale_and_zero_point(range_min, range_max, qmin, qmax):
    """MLIR's fakeQuantAttrsToType: scale = width / (qmax - qmin) in float64;
    the zero point from whichever range end gives the smaller float error,
    rounded half away from zero and clamped to [qmin, qmax]; a zero-width
    range gets scale 1 and zero point qmin. The .tflite stores the scale as
    float32."""
    width = range_max - range_min
    degenerate = np.abs(width) < np.finfo(np.float64).eps
    scale = np.where(degenerate, 1.0, width) / float(qmax - qmin)
    zp_from_min = qmin - range_min / scale
    zp_from_max = qmax - range_max / scale
    use_min = (abs(qmin) + np.abs(range_min / scale)) < (abs(qmax) + np.abs(range_max / scale))
    zp = np.clip(round_half_away(np.where(use_min, zp_from_min, zp_from_max)), qmin, qmax)
    scale = np.where(degenerate, 1.0, scale)
    zp = np.where(degenerate, qmin, zp)
    return scale.astype(np.float32), zp.astype(np.int64)


def _expand_very_small_range(range_min, range_max):
    """The MLIR quantizer widens a range of width <= 1e-6 to at least
    [-5e-7, 5e-7] (fake-quant ranges and weights), avoiding tiny scales."""
    narrow = (range_max - range_min) <= _NEAR_ZERO_RANGE
    range_min = np.where(narrow, np.minimum(range_min, -_NEAR_ZERO_RANGE / 2), range_min)
    range_max = np.where(narrow, np.maximum(range_max, _NEAR_ZERO_RANGE / 2), range_max)
    return range_min, range_max


def _float32_scale_and_zero_point(range_min, range_max, qmin, qmax):
    """The converter's legacy float scale (DownCastScale), used for calibrated
    ranges: scale = (float(max) - float(min)) / (qmax - qmin) in float32
    arithmetic; for asymmetric storage the zero point is recomputed from the
    minimum, as float32, and rounded half away from zero."""
    width = np.float32(range_max) - np.float32(range_min)
    scale = (width / np.float32(qmax - qmin)).astype(np.float32)
    if qmax == -qmin:  # symmetric storage keeps zero point 0
        return scale, np.zeros_like(scale, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        zp = (qmin - range_min / scale.astype(np.float64)).astype(np.float32)
    zp = np.clip(round_half_away(zp), qmin, qmax)
    return scale, zp.astype(np.int64)


def activation_params(range_min, range_max, *, dtype=np.int8) -> QuantParams:
    """Per-tensor activation parameters the converter writes for a range
    calibrated on a representative dataset (TFLiteConverter's
    calibrate-then-quantize path).

    int8: asymmetric over [-128, 127]. The range is extended to contain 0, so
    that 0.0 (padding, ReLU) is exact; a range narrower than 1e-6 is widened by
    1e-6 on both sides. int16 (16x8): symmetric, zero point 0, scale = max|x| /
    32767, computed in float32.
    """
    range_min, range_max = _check_range(range_min, range_max, "activation_params")
    range_min = np.minimum(range_min, 0.0)
    range_max = np.maximum(range_max, 0.0)
    if np.dtype(dtype) == np.int8:
        narrow = (range_max - range_min) < _NEAR_ZERO_RANGE
        range_min = np.where(narrow, range_min - _NEAR_ZERO_RANGE, range_min)
        range_max = np.where(narrow, range_max + _NEAR_ZERO_RANGE, range_max)
        scale, zp = _float32_scale_and_zero_point(range_min, range_max, INT8_MIN, INT8_MAX)
    elif np.dtype(dtype) == np.int16:
        bound = np.maximum(np.abs(range_min), np.abs(range_max))
        if np.any(bound == 0):
            raise ValueError("activation_params: an int16 range of width 0 has no valid "
                             "scale; widen it (a constant-zero tensor needs no quantization)")
        scale, zp = _float32_scale_and_zero_point(-bound, bound, -INT16_MAX, INT16_MAX)
    else:
        raise ValueError(f"activation_params: dtype must be np.int8 or np.int16, got {dtype}")
    return QuantParams(scale.reshape(1), zp.reshape(1), np.dtype(dtype).type)


def fake_quant_params(range_min, range_max) -> QuantParams:
    """int8 parameters the converter writes for `tf.quantization.fake_quant_with_min_max_vars`
    (the QAT path): scale = (max - min) / 255 in float64 over uint8 storage,
    zero point nudged and shifted by -128. The range is not extended to 0 (the
    zero point clamps instead, as TF's FakeQuant op does); a range narrower than
    1e-6 is widened to at least +-5e-7.
    """
    range_min, range_max = _check_range(range_min, range_max, "fake_quant_params")
    range_min, range_max = _expand_very_small_range(range_min, range_max)
    scale, zp = _nudged_scale_and_zero_point(range_min, range_max, 0, 255)
    return QuantParams(scale.reshape(1), (zp - 128).reshape(1), np.int8)


def weight_params(weights, *, axis: Optional[int] = None) -> QuantParams:
    """Symmetric narrow-range int8 weight parameters ([-127, 127], zero point 0).

    Per-tensor when `axis` is None, else one scale per slice along `axis`
    (TFLite's axes: CONV_2D 0, DEPTHWISE_CONV_2D 3, FULLY_CONNECTED 0).
    scale = max|w| / 127 (float64, stored as float32); a channel with max|w| <=
    5e-7 (e.g. all zeros) gets the converter's minimum scale 1e-6 / 254.
    """
    weights = np.asarray(weights, dtype=np.float32)
    if not np.all(np.isfinite(weights)):
        raise ValueError("weight_params: weights contain NaN or infinity")
    if axis is None:
        bound = np.max(np.abs(weights), initial=0.0).reshape(1)
    else:
        if not -weights.ndim <= axis < weights.ndim:
            raise ValueError(f"weight_params: axis {axis} is out of range for weights "
                             f"of shape {weights.shape}")
        axis = axis % weights.ndim
        other = tuple(d for d in range(weights.ndim) if d != axis)
        bound = np.max(np.abs(weights), axis=other, initial=0.0)
    range_min, range_max = _expand_very_small_range(-bound.astype(np.float64),
                                                    bound.astype(np.float64))
    scale, zp = _nudged_scale_and_zero_point(range_min, range_max, -INT8_MAX, INT8_MAX)
    return QuantParams(scale, zp, np.int8, axis)


def quantize(x, params: QuantParams) -> np.ndarray:
    """Float to integer like TFLite's QUANTIZE: round(x / scale) + zp in float32, clamped."""
    x = np.asarray(x, dtype=np.float32)
    scaled = x / params.broadcast_to(x.shape, "scale")  # float32 division, as in C++
    q = round_half_away(scaled) + params.broadcast_to(x.shape, "zero_point")
    return np.clip(q, params.qmin, params.qmax).astype(params.dtype)


def dequantize(q, params: QuantParams) -> np.ndarray:
    """Integer to float like TFLite's DEQUANTIZE: float32(double(scale) * (q - zp))."""
    q = np.asarray(q, dtype=np.int64)
    centered = q - params.broadcast_to(q.shape, "zero_point")
    return (params.broadcast_to(q.shape, "scale").astype(np.float64) * centered).astype(np.float32)


def quantize_multiplier(real_multiplier):
    """TFLite's QuantizeMultiplier: real = q31 * 2**(shift - 31), q31 in [2**30, 2**31).

    Returns (multiplier int64 array, shift int64 array). A multiplier too small
    to represent (shift < -31) becomes (0, 0), as in TFLite.
    """
    real = np.asarray(real_multiplier, dtype=np.float64)
    if np.any(real < 0) or not np.all(np.isfinite(real)):
        raise ValueError(f"quantize_multiplier: multipliers must be finite and >= 0, got {real}")
    fraction, shift = np.frexp(real)
    q = round_half_away(fraction * 2.0**31).astype(np.int64)
    shift = shift.astype(np.int64)
    overflow = q == 2**31
    q = np.where(overflow, q // 2, q)
    shift = np.where(overflow, shift + 1, shift)
    underflow = shift < -31
    q = np.where(underflow, 0, q)
    shift = np.where(underflow, 0, shift)
    return q, shift


def saturating_rounding_doubling_high_mul(a, b) -> np.ndarray:
    """gemmlowp SRDHM on int32 values: (a*b + nudge) / 2**31 with C truncation."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    product = a * b  # |a*b| <= 2**62: exact in int64
    nudge = np.where(product >= 0, 1 << 30, 1 - (1 << 30))
    total = product + nudge
    high = np.where(total >= 0, total >> 31, -((-total) >> 31))  # truncate toward zero
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    return np.where(overflow, INT32_MAX, high)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT: x / 2**exponent, ties away from zero."""
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_quantized_multiplier(x, multiplier, shift) -> np.ndarray:
    """TFLite's MultiplyByQuantizedMultiplier as built into the 2.21 wheels
    (double rounding): RDBPOT(SRDHM(x << max(shift, 0), m), max(-shift, 0))."""
    x = np.asarray(x, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    # The left shift happens in int32 in C++; values stay in range for valid models.
    shifted = (x * (np.int64(1) << left)).astype(np.int64)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)


def fully_connected_multiplier(input_scale, weight_scale, output_scale) -> np.ndarray:
    """The reference FULLY_CONNECTED rescale factor, in float64:
    (double)s_in * (double)s_w / (double)s_out (per channel if s_w is)."""
    s_in = np.float64(np.float32(input_scale))
    s_w = np.asarray(weight_scale, dtype=np.float32).astype(np.float64)
    s_out = np.float64(np.float32(output_scale))
    return s_in * s_w / s_out


def fully_connected_rescale(acc, multiplier, output_zero_point, activation_min, activation_max):
    """int32 accumulators to int8 as the reference FULLY_CONNECTED does since
    2025: (int32)round((double)acc * multiplier) + zp, clamped. `multiplier`
    broadcasts over the last (output channel) axis."""
    acc = np.asarray(acc, dtype=np.int64)
    rescaled = round_half_away(acc.astype(np.float64) * np.asarray(multiplier, np.float64))
    out = rescaled.astype(np.int64) + int(output_zero_point)
    return np.clip(out, activation_min, activation_max)


def activation_range(activation: str, params: QuantParams):
    """The clamp bounds of a fused activation (CalculateActivationRangeQuantized):
    zp + round(f / scale) computed in float32, intersected with the type's range."""
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation_range: unknown fused activation {activation!r}; "
                         f"expected one of {_ACTIVATIONS}")
    scale = np.float32(params.scale.reshape(-1)[0])
    zp = int(params.zero_point.reshape(-1)[0])
    lo, hi = params.qmin, params.qmax

    def q(value):
        return zp + int(round_half_away(np.float32(value) / scale))

    if activation == "RELU":
        return max(lo, q(0.0)), hi
    if activation == "RELU6":
        return max(lo, q(0.0)), min(hi, q(6.0))
    if activation == "RELU_N1_TO1":
        return max(lo, q(-1.0)), min(hi, q(1.0))
    return lo, hi

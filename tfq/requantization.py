"""TFLite's requantization rounding, reproduced on the Keras side.

An int8 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED / TRANSPOSE_CONV turns
its int32 accumulator into the output's scale with MultiplyByQuantizedMultiplier
(both TFLite wheels build gemmlowp's double rounding): the real multiplier
m = s_in * s_w / s_out is q * 2^-r with q in [0.5, 1); the accumulator is first
multiplied by q and rounded to an integer (half away from zero), then divided
by 2^r and rounded again. For r >= 1 the first rounding lands values within
2^-(r+1) below a half on the half, which the second rounds away from zero, so
the op computes

    round_half_away(v + sign(v) * 2^-(r+1)),   v = acc * m (output LSBs),

instead of round(v). A float fake-quant rounds v itself. The difference is one
LSB on a few per mille of a wide layer's outputs, but where r is small (a
depthwise conv with few taps, a ratio s_in * s_w / s_out near 1/4) it moves
up to a quarter of an LSB and, through a SeparableConv2D's two roundings and
the next layer, left a U-Net block 3 LSB from its .tflite.

`lean(values, ...)` adds the same sign(v) * 2^-(r+1) output LSBs before the
fake-quant, so Keras inference rounds where TFLite does. It is an
inference-time correction only: never traced into a SavedModel (the converter
would keep its SIGN / MUL / ADD as float ops) and not used in int16x8, whose
64-bit requantization rounds once.
"""
from __future__ import annotations

import contextlib
import math
import threading

import tensorflow as tf
# Private, but the only way to know that a function is being traced for a
# SavedModel (which is also how TFLiteConverter.from_keras_model reads a model).
from tensorflow.python.saved_model import save_context


_export = threading.local()


@contextlib.contextmanager
def exporting():
    """Graphs traced inside this block are for a converter: no correction,
    even where the converter traces the model without writing a SavedModel
    (tfq.convert runs TFLiteConverter in it)."""
    previous = getattr(_export, "active", False)
    _export.active = True
    try:
        yield
    finally:
        _export.active = previous


def applies() -> bool:
    """Whether the graph being built may carry the correction (not one for
    a SavedModel or a converter)."""
    return not (save_context.in_save_context() or getattr(_export, "active", False))


def lean(values, input_scale, weight_scales, output_scale):
    """`values` (real units, channels last) moved by TFLite's rounding lean
    sign(values) * 2^-(r+1) * output_scale, r per output channel from
    m = input_scale * weight_scales / output_scale (no lean where r < 1: the
    second rounding is then a no-op)."""
    multiplier = tf.cast(input_scale, tf.float64) * tf.cast(weight_scales, tf.float64) / \
        tf.cast(output_scale, tf.float64)
    # m = q * 2^-r, q in [0.5, 1): r = -floor(log2 m) - 1. A zero multiplier
    # (an all-zero channel) gives r = inf and no lean.
    right_shift = -tf.floor(tf.math.log(multiplier) / math.log(2.0)) - 1.0
    two = tf.constant(2.0, tf.float64)
    half_step = tf.where(right_shift >= 1.0, tf.pow(two, -(right_shift + 1.0)),
                         tf.zeros_like(right_shift))
    step = tf.cast(half_step * tf.cast(output_scale, tf.float64), values.dtype)
    return values + tf.sign(values) * step

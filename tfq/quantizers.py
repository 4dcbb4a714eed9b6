"""Fake-quantization on TF ops: what the Keras wrappers put in the graph.

The converter turns exactly these ops into TFLite quantization parameters
(`tf.quantization.fake_quant_with_min_max_vars*`), so the ranges here decide
the .tflite's scales and zero points (see quant_math.fake_quant_params).

- Weights: symmetric, narrow range [-127, 127], from the current weights.
  Per-tensor, or per-channel along the kernel's last axis (TFLite's output
  channel once the converter transposes it).
- Activations: a range kept in non-trainable variables, a moving average of
  batch min/max while training (first batch taken as is), the stored range at
  inference; how it becomes a fake-quant is the scheme's (schemes.py).
"""
from __future__ import annotations

import tensorflow as tf


def weight_bound(kernel, *, per_channel: bool):
    """max |w|, per channel of the last axis or of the whole kernel: the
    symmetric range fake_quant_weights gives it (its int8 scale is this / 127)."""
    kernel = tf.convert_to_tensor(kernel)
    axes = list(range(kernel.shape.rank - 1)) if per_channel else None
    return tf.reduce_max(tf.abs(kernel), axis=axes)


def fake_quant_weights(kernel, *, per_channel: bool):
    """Symmetric narrow-range int8 fake-quant of a kernel (per-channel over the last axis)."""
    kernel = tf.convert_to_tensor(kernel)
    # The bound is a statistic of the weights, not a path for their gradient
    # (as a range variable would be): the straight-through estimator alone.
    bound = tf.stop_gradient(weight_bound(kernel, per_channel=per_channel))
    fake_quant = (tf.quantization.fake_quant_with_min_max_vars_per_channel if per_channel else
                  tf.quantization.fake_quant_with_min_max_vars)
    return fake_quant(kernel, -bound, bound, num_bits=8, narrow_range=True)


def depthwise_channels(kernel):
    """DepthwiseConv2D kernels are [h, w, in, multiplier]; TFLite's channel is
    in * multiplier: the kernel as [h, w, in * multiplier]."""
    kernel = tf.convert_to_tensor(kernel)
    h, w, channels, multiplier = kernel.shape
    return tf.reshape(kernel, [h, w, channels * multiplier])


def fake_quant_depthwise_weights(kernel):
    """Per-channel fake-quant of a DepthwiseConv2D kernel, per TFLite channel."""
    kernel = tf.convert_to_tensor(kernel)
    return tf.reshape(fake_quant_weights(depthwise_channels(kernel), per_channel=True),
                      kernel.shape)


def update_moving_range(min_var, max_var, initialized_var, batch_min, batch_max, decay: float):
    """Moves [min_var, max_var] toward the batch's range; returns (min, max) to use now."""
    first = tf.equal(tf.convert_to_tensor(initialized_var), 0.0)
    moved_min = decay * tf.convert_to_tensor(min_var) + (1 - decay) * batch_min
    moved_max = decay * tf.convert_to_tensor(max_var) + (1 - decay) * batch_max
    new_min = tf.where(first, batch_min, moved_min)
    new_max = tf.where(first, batch_max, moved_max)
    min_var.assign(new_min)
    max_var.assign(new_max)
    initialized_var.assign(1.0)
    return new_min, new_max

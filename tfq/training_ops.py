"""tfq's own TF kernels for QAT training steps and calibration passes
(tfq/cc/training_ops.cc).

A QAT step fake-quantizes every tensor TFLite will hold. With TF's stock ops
each one costs reduce_min + reduce_max and a gradient op that also reduces
d/dmin and d/dmax, which tfq never uses (ranges are moving averages, not
trained). Two kernels do only the needed work:

- `batch_range(values)`: min and max in one vectorized pass;
- `fake_quant(values, low, high, ...)`: FakeQuantWithMinMaxVars (the same
  values, on AVX-512 where TF's build stops at AVX), with a gradient that
  computes d/dvalues alone (the stock op's, exactly).

Calibration passes histogram every activation of every batch:

- `histogram(values, bound, bins)`: HistogramFixedWidth over [-bound, bound]
  (the same bins) and the count of exact zeros, in one vectorized pass.

Only training steps and calibration passes on CPU use them. Inference graphs,
anything traced while a SavedModel is written, XLA-compiled steps and machines
with a GPU or TPU use the stock ops, so a saved or converted model never needs
tfq's library.
If the library does not load (a TensorFlow other than the one tfq was built
against), the stock ops run instead, with one warning.
"""
from __future__ import annotations

import functools
import os

import tensorflow as tf
from absl import logging
# Private, but the only way to know that a function is being traced for a
# SavedModel (tf.saved_model.save, Keras export / SavedModel save).
from tensorflow.python.saved_model import save_context
# Private too: whether the graph being built will be compiled by XLA.
from tensorflow.python.ops import control_flow_util

LIBRARY_PATH = os.path.join(os.path.dirname(__file__), "_training_ops.so")


@functools.lru_cache(maxsize=None)
def _library():
    """The loaded op library, or None (after one warning) if it cannot load."""
    try:
        return tf.load_op_library(LIBRARY_PATH)
    except (tf.errors.NotFoundError, OSError) as error:
        logging.warning("tfq's QAT training kernels (%s) did not load; training uses TF's "
                        "stock fake-quant ops instead (same results, about 15%% slower "
                        "steps). Reinstall tfq against this TensorFlow to get them back. "
                        "Cause: %s", LIBRARY_PATH, error)
        return None


def available() -> bool:
    """Whether training steps run on tfq's kernels."""
    return _library() is not None


def _use_library():
    """tfq's kernels are CPU kernels with no XLA lowering: they serve plain TF
    graphs on machines without an accelerator, and never a SavedModel."""
    if _library() is None or save_context.in_save_context():
        return False
    if control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()):
        return False  # jit_compile=True (Keras 3's default on GPUs)
    return not _has_accelerator()


@functools.lru_cache(maxsize=None)
def _has_accelerator() -> bool:
    return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


def batch_range(values):
    """(min, max) of a batch as constants of the step (the range is a
    statistic: no gradient flows through it). NaN if any value is NaN."""
    values = tf.convert_to_tensor(values)
    if _use_library() and values.dtype == tf.float32:
        low, high = _library().tfq_batch_range(values)
    else:
        low, high = tf.reduce_min(values), tf.reduce_max(values)
    return tf.stop_gradient(low), tf.stop_gradient(high)


def histogram(values, bound, bins: int):
    """(int64 counts of `values` in `bins` equal bins over [-bound, bound],
    the ends catching what lies beyond; the number of values equal to 0).
    `values` must be finite and `bound` > 0."""
    values = tf.reshape(tf.convert_to_tensor(values), [-1])
    value_range = tf.stack([-bound, bound])
    if _use_library() and values.dtype == tf.float32:
        return tuple(_library().tfq_histogram(values, tf.cast(value_range, tf.float32),
                                              nbins=bins))
    return (tf.histogram_fixed_width(values, value_range, bins, dtype=tf.int64),
            tf.reduce_sum(tf.cast(tf.equal(values, 0), tf.int64)))


def fake_quant(values, low, high, *, num_bits: int, narrow_range: bool):
    """FakeQuantWithMinMaxVars(values, low, high) with the straight-through
    gradient to `values` only (none to the range)."""
    if not _use_library():
        return tf.quantization.fake_quant_with_min_max_vars(
            values, tf.stop_gradient(low), tf.stop_gradient(high), num_bits=num_bits,
            narrow_range=narrow_range)
    library = _library()
    low, high = tf.stop_gradient(low), tf.stop_gradient(high)

    @tf.custom_gradient
    def straight_through(inputs):
        outputs = library.tfq_fake_quant(inputs, low, high, num_bits=num_bits,
                                         narrow_range=narrow_range)

        def gradient(upstream):
            return library.tfq_fake_quant_gradient(upstream, inputs, low, high,
                                                   num_bits=num_bits, narrow_range=narrow_range)
        return outputs, gradient

    return straight_through(values)

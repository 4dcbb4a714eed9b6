"""tfq.requantization.lean against TFLite's MultiplyByQuantizedMultiplier
(tfq.quant_math's model of it, itself checked against TFLite's kernels)."""
import numpy as np
import pytest
import tensorflow as tf

from tfq import quant_math, requantization


@pytest.mark.parametrize("seed", range(5))
def test_lean_rounds_as_tflite_requantization(seed):
    """round(v + lean) equals TFLite's double-rounded requantization of the
    accumulator, where plain round(v) differs on the values within 2^-(r+1)
    below a half."""
    rng = np.random.default_rng(seed)
    accumulators = rng.integers(-2**20, 2**20, size=20000)
    # Multipliers over right shifts 0 (no lean) to 12, one per "channel".
    multipliers = np.exp2(rng.uniform(-13, 0, size=accumulators.shape))
    q31, shift = quant_math.quantize_multiplier(multipliers)
    tflite = quant_math.multiply_by_quantized_multiplier(accumulators, q31, shift)
    # The real value TFLite's integer multiplier stands for.
    values = accumulators * (q31.astype(np.float64) * np.exp2(shift.astype(np.float64) - 31))
    leaned = requantization.lean(tf.constant(values), 1.0, tf.constant(multipliers), 1.0).numpy()
    assert np.array_equal(quant_math.round_half_away(leaned), tflite)
    plain_misses = np.count_nonzero(quant_math.round_half_away(values) != tflite)
    assert plain_misses > 100, plain_misses  # what the lean fixes: 1.5-2 % of these values


def test_lean_is_zero_without_a_second_rounding():
    """m in [0.5, 1) (right shift 0) and above: one rounding, no lean; an
    all-zero channel's multiplier 0: no lean."""
    values = tf.constant([[2.4, -2.4, 0.49]], tf.float32)
    moved = requantization.lean(values, 1.0, tf.constant([0.75, 3.0, 0.0]), 1.0).numpy()
    np.testing.assert_array_equal(moved, values.numpy())
    # m = 0.3: right shift 1, a quarter of an output step.
    moved = requantization.lean(values, 0.5, tf.constant([0.6, 0.6, 0.6]), 1.0).numpy()
    np.testing.assert_allclose(moved, [[2.65, -2.65, 0.74]], rtol=1e-6)


def test_lean_stays_out_of_saved_models(tmp_path):
    """Under a SavedModel trace the correction must not apply (the converter
    would keep its ops as float)."""
    seen = []

    class Probe(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([], tf.float32)])
        def __call__(self, x):
            seen.append(requantization.applies())
            return x

    probe = Probe()
    probe(tf.constant(1.0))
    tf.saved_model.save(probe, str(tmp_path / "probe"))
    assert seen[0] is True and seen[-1] is False, seen


def test_lean_stays_out_of_graphs_traced_for_a_converter():
    """tfq.convert traces inside requantization.exporting(), so a converter
    that reads the model without writing a SavedModel gets no correction."""
    with requantization.exporting():
        assert not requantization.applies()
    assert requantization.applies()

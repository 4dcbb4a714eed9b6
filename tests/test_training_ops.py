"""tfq's kernels for QAT training steps and calibration passes
(tfq/cc/training_ops.cc) against TF's stock ops: the same values exactly, and
never inside a saved model."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfq
from tfq import training_ops

# Sizes around the AVX-512 loops' steps (16 and 32 floats) and the 16384-float
# work blocks, so vector bodies, tails and several threads' blocks all run.
SIZES = [1, 15, 16, 17, 31, 32, 33, 16384, 16384 * 3 + 7, 100_003]


def test_library_is_built_and_loads():
    # The test environment must exercise tfq's kernels, not the fallback.
    assert training_ops.available(), training_ops.LIBRARY_PATH


@pytest.mark.parametrize("size", SIZES)
def test_batch_range_equals_reduce_min_max(rng, size):
    values = tf.constant(rng.normal(size=size) * 3 + 1, tf.float32)
    low, high = training_ops.batch_range(values)
    assert low.numpy() == tf.reduce_min(values).numpy()
    assert high.numpy() == tf.reduce_max(values).numpy()


@pytest.mark.parametrize("position", [0, 5, 16, 40, 16384 + 3, 49158])
@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf])
def test_batch_range_propagates_nan_and_infinities_like_tf(rng, position, special):
    values = rng.normal(size=16384 * 3 + 7).astype(np.float32)
    values[position] = special
    low, high = training_ops.batch_range(tf.constant(values))
    np.testing.assert_array_equal([low.numpy(), high.numpy()],
                                  [tf.reduce_min(values).numpy(), tf.reduce_max(values).numpy()])


def test_batch_range_of_an_empty_tensor_is_tfs():
    low, high = training_ops.batch_range(tf.zeros([0, 3]))
    assert (low.numpy(), high.numpy()) == (np.inf, -np.inf)


def _stock_histogram(values, bound, bins):
    return (tf.histogram_fixed_width(values, [-bound, bound], bins, dtype=tf.int64).numpy(),
            tf.reduce_sum(tf.cast(tf.equal(values, 0), tf.int64)).numpy())


def _assert_histogram_is_stock(values, bound, bins):
    counts, zeros = training_ops.histogram(tf.constant(values), bound, bins)
    expected_counts, expected_zeros = _stock_histogram(values, bound, bins)
    np.testing.assert_array_equal(counts.numpy(), expected_counts)
    assert zeros.numpy() == expected_zeros


# Vector bodies and tails (16 floats), and sizes split into 2 pieces (2^17
# values each at least) counted on separate threads.
@pytest.mark.parametrize("size", [1, 15, 16, 17, 33, 100_003, 2 * 2**17 + 5])
@pytest.mark.parametrize("bins", [7, 4096])
def test_histogram_equals_histogram_fixed_width(rng, size, bins):
    values = (rng.normal(size=size) * 1.5).astype(np.float32)
    values[::5] = 0.0  # runs of one bin, as a ReLU's zeros
    values[::7] = -0.0
    values[::11] *= 4  # beyond the bound: counted in the end bins
    _assert_histogram_is_stock(values, np.float32(2.5), bins)


@pytest.mark.parametrize("bins", [7, 100, 4096])
@pytest.mark.parametrize("bound", [1e-3, 0.37, 3.3, 17.1, 1234.5])
def test_histogram_bins_values_on_and_beside_every_edge_as_tf_does(bins, bound):
    # Where the bin arithmetic's precision shows: a float offset from the low
    # end (instead of TF's double) moves some of these by one bin.
    bound = np.float32(bound)
    edges = (-np.float64(bound) + np.arange(bins + 1) * (2 * np.float64(bound) / bins)
             ).astype(np.float32)
    values = np.concatenate([edges, np.nextafter(edges, np.float32(np.inf)),
                             np.nextafter(edges, np.float32(-np.inf))])
    _assert_histogram_is_stock(values, bound, bins)


def test_histogram_counts_a_nan_in_bin_0_in_vector_bodies_and_tails():
    # Callers keep NaN out (tf.cond on finiteness); should one arrive, the
    # kernel must still stay inside its bins: 16-value bodies and the scalar
    # tail alike put it in bin 0.
    values = np.full(19, 0.5, np.float32)
    values[[3, 17]] = np.nan  # one in the vector body, one in the tail
    counts, zeros = training_ops.histogram(tf.constant(values), np.float32(1.0), 4)
    np.testing.assert_array_equal(counts.numpy(), [2, 0, 0, 17])
    assert zeros.numpy() == 0


def test_calibration_histograms_run_on_tfqs_kernel():
    from tfq import observers
    traced = tf.function(lambda values: observers.summarize_batch(values, 1.0))
    graph = traced.get_concrete_function(tf.TensorSpec([None, 8], tf.float32)).graph
    op_types = {op.type for op in graph.get_operations()}
    for function in graph._functions.values():  # the tf.cond branches
        op_types |= {node.op for node in function.definition.node_def}
    assert "TfqHistogram" in op_types and "TfqBatchRange" in op_types


def stock_input_gradient(upstream, inputs, low, high, num_bits, narrow_range):
    return tf.quantization.fake_quant_with_min_max_vars_gradient(
        upstream, inputs, low, high, num_bits=num_bits, narrow_range=narrow_range)[0]


def own_input_gradient(upstream, inputs, low, high, num_bits, narrow_range):
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = training_ops.fake_quant(inputs, low, high, num_bits=num_bits,
                                          narrow_range=narrow_range)
    return outputs, tape.gradient(outputs, inputs, output_gradients=upstream)


@pytest.mark.parametrize("num_bits,narrow_range", [(8, False), (8, True), (16, True), (4, False)])
@pytest.mark.parametrize("size", [33, 16384 * 2 + 5])
def test_fake_quant_forward_and_gradient_equal_the_stock_ops(rng, num_bits, narrow_range, size):
    for low, high in [(-1.3, 2.7), (0.0, 6.0), (-0.01, 0.0), (0.25, 3.0), (-5.0, -1.0),
                      (-0.0005, 0.0005)]:
        scale = (high - low) / ((1 << num_bits) - 1 - int(narrow_range))
        inputs = rng.uniform(low - 1, high + 1, size=size).astype(np.float32)
        # Values on and next to the nudged ends, where the mask's edges lie.
        edges = np.float32([low, high, low - scale / 2, high + scale / 2, 0.0])
        inputs[:edges.size] = edges
        inputs[edges.size:2 * edges.size] = np.nextafter(edges, np.float32(np.inf))
        inputs, upstream = tf.constant(inputs), tf.constant(rng.normal(size=size), tf.float32)
        outputs, gradient = own_input_gradient(upstream, inputs, tf.constant(low),
                                               tf.constant(high), num_bits, narrow_range)
        expected_outputs = tf.quantization.fake_quant_with_min_max_vars(
            inputs, low, high, num_bits=num_bits, narrow_range=narrow_range)
        expected = stock_input_gradient(upstream, inputs, low, high, num_bits, narrow_range)
        np.testing.assert_array_equal(outputs.numpy(), expected_outputs.numpy())
        np.testing.assert_array_equal(gradient.numpy(), expected.numpy(), err_msg=f"{low, high}")
        # The mask must cut something in every case above, or the test shows nothing.
        assert 0 < np.count_nonzero(gradient.numpy()) < size


def test_zero_range_is_the_stock_ops(rng):
    # [0, 0]: the stock forward gives zeros and its gradient passes everything.
    inputs, upstream = (tf.constant(rng.normal(size=100), tf.float32) for _ in range(2))
    outputs, gradient = own_input_gradient(upstream, inputs, tf.constant(0.0), tf.constant(0.0),
                                           8, False)
    np.testing.assert_array_equal(outputs.numpy(), np.zeros(100, np.float32))
    np.testing.assert_array_equal(gradient.numpy(), upstream.numpy())


def test_xla_compiled_steps_use_the_stock_ops(rng):
    # tfq's kernels have no XLA lowering: under jit_compile the stock ops run.
    inputs = tf.constant(rng.normal(size=1000) * 3, tf.float32)

    @tf.function(jit_compile=True)
    def compiled(values):
        return own_input_gradient(tf.ones_like(values), values, tf.constant(-2.0),
                                  tf.constant(2.5), 8, False)
    outputs, gradient = compiled(inputs)
    graph = compiled.get_concrete_function(inputs).graph.as_graph_def()
    ops = [node.op for node in graph.node] + [
        node.op for function in graph.library.function for node in function.node_def]
    assert "FakeQuantWithMinMaxVars" in ops
    assert not any(op.startswith("Tfq") for op in ops)
    np.testing.assert_array_equal(gradient.numpy(), stock_input_gradient(
        tf.ones_like(inputs), inputs, -2.0, 2.5, 8, False).numpy())


def test_gradient_kernel_rejects_bad_arguments():
    library = training_ops._library()  # pylint: disable=protected-access
    ones = tf.ones([4])
    with pytest.raises(tf.errors.InvalidArgumentError, match="min 2 is above max 1"):
        library.tfq_fake_quant_gradient(ones, ones, 2.0, 1.0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="differ in shape"):
        library.tfq_fake_quant_gradient(ones, tf.ones([5]), 0.0, 1.0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="must be scalars"):
        library.tfq_fake_quant_gradient(ones, ones, [0.0], [1.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_bits"):
        library.tfq_fake_quant_gradient(ones, ones, 0.0, 1.0, num_bits=17)
    with pytest.raises(tf.errors.InvalidArgumentError, match="TfqFakeQuant: min 1 is above"):
        library.tfq_fake_quant(ones, 1.0, 0.5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="TfqFakeQuant: num_bits"):
        library.tfq_fake_quant(ones, 0.0, 1.0, num_bits=1)


def small_cnn(K):
    inputs = K.Input((12, 12, 3))
    x = K.layers.Conv2D(8, 3, use_bias=False)(inputs)
    x = K.layers.ReLU(6.0)(K.layers.BatchNormalization()(x))
    y = K.layers.Conv2D(8, 1)(x)
    x = K.layers.Add()([x, y])
    x = K.layers.GlobalAveragePooling2D()(x)
    return K.Model(inputs, K.layers.Dense(4, activation="softmax")(x))


def train_two_steps(K, rng):
    keras.utils.set_random_seed(7)
    model = tfq.quantize_model(small_cnn(K))
    model.compile(optimizer=K.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    x = rng.normal(size=(32, 12, 12, 3)).astype(np.float32)
    y = rng.integers(0, 4, size=32)
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    return [w.numpy() for w in model.weights]


def test_training_on_own_kernels_equals_training_on_stock_ops(monkeypatch):
    answers = []
    use_library = training_ops._use_library  # pylint: disable=protected-access
    monkeypatch.setattr(training_ops, "_use_library",
                        lambda: answers.append(use_library()) or answers[-1])
    with_kernels = train_two_steps(keras, np.random.default_rng(3))
    assert answers and all(answers)  # the training step was traced on tfq's kernels
    monkeypatch.setattr(training_ops, "_use_library", lambda: False)
    with_stock_ops = train_two_steps(keras, np.random.default_rng(3))
    assert len(with_kernels) == len(with_stock_ops)
    for own, stock in zip(with_kernels, with_stock_ops):
        np.testing.assert_array_equal(own, stock)


def saved_graph_bytes(directory):
    with open(os.path.join(directory, "saved_model.pb"), "rb") as handle:
        return handle.read()


def test_tf_keras_saved_model_holds_no_tfq_kernel(tmp_path, rng):
    import tf_keras  # pylint: disable=import-outside-toplevel
    model = tfq.quantize_model(small_cnn(tf_keras))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(rng.normal(size=(8, 12, 12, 3)).astype(np.float32), rng.integers(0, 4, size=8),
              verbose=0)
    path = str(tmp_path / "saved")
    model.save(path, save_format="tf")  # traces the training call functions too
    contents = saved_graph_bytes(path)
    assert b"FakeQuantWithMinMaxVars" in contents  # the check can see ops at all
    assert b"TfqFakeQuantGradient" not in contents and b"TfqBatchRange" not in contents


def test_keras3_export_holds_no_tfq_kernel(tmp_path):
    model = tfq.quantize_model(small_cnn(keras))
    path = str(tmp_path / "exported")
    model.export(path, verbose=False)
    contents = saved_graph_bytes(path)
    assert b"FakeQuantWithMinMaxVars" in contents
    assert b"Tfq" not in contents


@pytest.mark.parametrize("num_bits,narrow_range", [(8, False), (16, True)])
def test_fake_quant_equals_the_stock_op_over_random_ranges(rng, num_bits, narrow_range):
    # 300 ranges from 1e-3 to 1e3 wide, anywhere around 0: every nudge case.
    for _ in range(300):
        width = 10.0 ** rng.uniform(-3, 3)
        low = -width * rng.uniform(-0.2, 1.2)
        low, high = np.float32(low), np.float32(low + width)
        inputs = tf.constant(rng.uniform(low - width / 4, high + width / 4, size=67), tf.float32)
        outputs, gradient = own_input_gradient(tf.ones_like(inputs), inputs, tf.constant(low),
                                               tf.constant(high), num_bits, narrow_range)
        expected = tf.quantization.fake_quant_with_min_max_vars(
            inputs, low, high, num_bits=num_bits, narrow_range=narrow_range)
        np.testing.assert_array_equal(outputs.numpy(), expected.numpy(), err_msg=f"{low, high}")
        np.testing.assert_array_equal(
            gradient.numpy(),
            stock_input_gradient(tf.ones_like(inputs), inputs, low, high, num_bits,
                                 narrow_range).numpy())

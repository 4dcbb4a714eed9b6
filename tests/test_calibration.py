"""tfq.calibrate and its observers: range methods on known data, streaming
state, data adapters, degenerate ranges, and ranges that reach the .tflite."""
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfq
from tfq import observers, quant_math


def _observer(values, **kwargs):
    observer = observers.TensorObserver(**kwargs)
    for chunk in np.array_split(values, 10):
        observer.update(chunk)
    return observer


def test_minmax_and_ema(rng):
    values = rng.normal(size=10000)
    observer = _observer(values, ema_decay=0.5)
    assert observer.range("minmax") == (values.min(), values.max())
    expected_min, expected_max = None, None
    for chunk in np.array_split(values, 10):
        low, high = chunk.min(), chunk.max()
        expected_min = low if expected_min is None else 0.5 * expected_min + 0.5 * low
        expected_max = high if expected_max is None else 0.5 * expected_max + 0.5 * high
    np.testing.assert_allclose(observer.range("ema"), (expected_min, expected_max))


def test_histogram_streams_in_constant_state(rng):
    observer = observers.TensorObserver()
    total = 0
    for scale in (0.1, 1.0, 10.0, 100.0):  # the bound doubles as data widens
        chunk = rng.normal(0, scale, size=5000)
        observer.update(chunk)
        total += chunk.size
    assert observer.histogram.size == observers.HISTOGRAM_BINS
    assert observer.histogram.sum() == total == observer.count


def _distribution(name, rng):
    """The known distributions the methods are checked on."""
    if name == "gaussian with outliers":
        return np.concatenate([rng.normal(0, 1, 50000), rng.normal(0, 25, 40)])
    if name == "relu-shaped":
        return np.maximum(rng.normal(0.3, 1, 50000), 0)
    return np.concatenate([rng.normal(-2, 0.5, 25000), rng.normal(3, 1, 25000)])  # bimodal


DISTRIBUTIONS = ("gaussian with outliers", "relu-shaped", "bimodal")


def _reference_percentile_range(observer, percentile):
    """Independent percentile on the observer's signed histogram: walk the bins."""
    edges = np.linspace(-observer.bound, observer.bound, observer.bins + 1)
    total, running, low, high = observer.histogram.sum(), 0, None, None
    for index, count in enumerate(observer.histogram):
        running += count
        if low is None and running / total >= (100 - percentile) / 100:
            low = edges[index]
        if high is None and running / total >= percentile / 100:
            high = edges[index + 1]
    return max(observer.min, low), min(observer.max, high)


def _reference_tensorrt_threshold(histogram, bound, levels):
    """TensorRT's entropy calibration written out step by step (after the GTC 2017
    "8-bit inference with TensorRT" slides and NVIDIA's pytorch-quantization):
    thresholds from bin 128, tail folded into the last kept bin, `levels` groups
    spread over their nonzero bins, the last of equal minima wins."""
    divergences = []
    for i in range(128, histogram.size + 1):
        p = histogram[:i].astype(np.float64)
        p[-1] += histogram[i:].sum()
        group = np.digitize(np.arange(i), np.linspace(0, i, levels + 1)) - 1
        q = np.zeros(i)
        for k in range(levels):
            members = (group == k) & (histogram[:i] != 0)
            if members.any():
                q[members] = histogram[:i][members].sum() / members.sum()
        p, q = p / p.sum(), q / q.sum()
        used = p > 0
        divergences.append(np.inf if np.any(q[used] == 0) else
                           float(np.sum(p[used] * np.log(p[used] / q[used]))))
    divergences = np.asarray(divergences)
    last_minimum = len(divergences) - 1 - int(np.argmin(divergences[::-1]))
    return np.linspace(0, bound, histogram.size + 1)[128 + last_minimum]


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_minmax_and_percentile_are_exact(rng, distribution):
    values = _distribution(distribution, rng)
    observer = _observer(values)
    assert observer.range("minmax") == (values.min(), values.max())
    for percentile in (99.0, 99.9, 99.99):
        low, high = observer.range("percentile", percentile=percentile)
        assert (low, high) == _reference_percentile_range(observer, percentile)
        # ...and on the raw data, each end is the edge of the bin that holds the quantile.
        width, tail = 2 * observer.bound / observer.bins, (100 - percentile) / 100 * values.size
        assert np.sum(values < low) <= tail <= np.sum(values < low + width)
        assert np.sum(values > high) <= tail <= np.sum(values > high - width)


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_entropy_threshold_is_tensorrts(rng, distribution):
    values = _distribution(distribution, rng)
    observer = _observer(values)
    folded = observer._absolute_histogram()
    assert folded.size == 2048  # TensorRT's histogram size
    one_sided = values.min() >= 0
    threshold = _reference_tensorrt_threshold(folded, observer.bound, 256 if one_sided else 128)
    assert observer.range("entropy") == (max(values.min(), -threshold),
                                         min(values.max(), threshold))


def test_histogram_is_numpys_histogram_of_all_the_data(rng):
    values = _distribution("gaussian with outliers", rng)
    observer = _observer(values)  # the bound doubled on the way
    expected, _ = np.histogram(values, bins=observer.bins, range=(-observer.bound, observer.bound))
    # Bin edges of a doubled grid are the old grid's every other edge, up to rounding.
    assert np.abs(observer.histogram - expected).sum() <= 4


def test_entropy_clips_a_long_tail_but_not_a_uniform_range(rng):
    tailed = np.concatenate([rng.normal(0, 1, size=100000), rng.normal(0, 30, size=50)])
    low, high = _observer(tailed).range("entropy")
    assert 2.0 < high < 0.5 * tailed.max() and low > 0.5 * tailed.min()
    uniform = rng.uniform(-1, 1, size=100000)
    low, high = _observer(uniform).range("entropy")
    assert high > 0.95 and low < -0.95


def test_kl_threshold_of_a_flat_histogram_is_its_end():
    assert observers.kl_threshold_bin(np.ones(2048)) == 2048


def test_one_sided_tensors_keep_zero_as_their_minimum(rng):
    relu = np.maximum(rng.normal(size=100000), 0)
    low, high = _observer(relu).range("entropy")
    assert low == 0.0 and 0.5 < high <= relu.max()


def test_mse_prefers_clipping_a_heavy_tail_to_losing_resolution(rng):
    values = np.concatenate([rng.normal(0, 1, size=100000), rng.uniform(8, 20, size=100)])
    low, high = _observer(values).range("mse")
    assert high < 20 and low < -2


def test_observer_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        observers.TensorObserver().update(np.array([1.0, np.nan]))


def _cnn():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(6, 3, activation="relu"),
                             keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(4)])


@pytest.mark.parametrize("method", observers.METHODS)
def test_calibrated_ranges_are_what_the_tflite_holds(rng, method):
    quantized = tfq.quantize_model(_cnn())
    data = rng.normal(size=(96, 8, 8, 3)).astype(np.float32)
    result = tfq.calibrate(quantized, data, method=method, batch_size=32, progress=False)
    assert result.samples == 96 and len(result.ranges) == 4
    assert method in str(result)
    converter = tf.lite.TFLiteConverter.from_keras_model(quantized)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.inference_input_type = tf.int8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ai_edge_litert.interpreter import Interpreter
        interpreter = Interpreter(model_content=converter.convert())
    scale, zero_point = interpreter.get_input_details()[0]["quantization"]
    low, high = result.ranges[f"{quantized.layers[0].name}/input"]
    expected = quant_math.fake_quant_params(np.float32(low), np.float32(high))
    assert np.float32(scale) == expected.scale[0] and zero_point == expected.zero_point[0]


def test_data_adapters_all_reach_the_same_ranges(rng, tmp_path):
    quantized = tfq.quantize_model(_cnn())
    images = rng.uniform(0, 1, size=(12, 8, 8, 3)).astype(np.float32)
    # PNG round trip quantizes to 1/255: build every form from that exact data.
    images = np.round(images * 255) / 255
    for i, image in enumerate(images):
        png = tf.io.encode_png(tf.cast(tf.round(image * 255), tf.uint8))
        tf.io.write_file(str(tmp_path / f"{i:02d}.png"), png)
    forms = {
        "array": images,
        "dataset unbatched": tf.data.Dataset.from_tensor_slices(images),
        "dataset batched": tf.data.Dataset.from_tensor_slices(images).batch(5),
        "dataset (x, y)": tf.data.Dataset.from_tensor_slices((images, np.zeros(12))).batch(4),
        "representative_dataset": lambda: ([image[np.newaxis]] for image in images),
        "image directory": str(tmp_path),
    }
    results = {name: tfq.calibrate(quantized, data, progress=False).ranges
               for name, data in forms.items()}
    reference = results["array"]
    for name, ranges in results.items():
        for key in reference:
            np.testing.assert_allclose(ranges[key], reference[key], rtol=1e-5, err_msg=name)


def test_multi_input_dict_and_list(rng):
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    model = keras.Model([a, b], keras.layers.Add()([keras.layers.Dense(2)(a), keras.layers.Dense(2)(b)]))
    quantized = tfq.quantize_model(model)
    xa, xb = rng.normal(size=(10, 4)), rng.normal(size=(10, 3))
    by_list = tfq.calibrate(quantized, [xa, xb], progress=False).ranges
    by_dict = tfq.calibrate(quantized, {"a": xa, "b": xb}, progress=False).ranges
    assert by_list == by_dict and len(by_list) == 5
    with pytest.raises(ValueError, match="lacks model inputs"):
        tfq.calibrate(quantized, {"a": xa}, progress=False)


def test_num_samples_limits_the_stream(rng):
    quantized = tfq.quantize_model(_cnn())
    result = tfq.calibrate(quantized, rng.normal(size=(100, 8, 8, 3)), num_samples=37,
                           batch_size=10, progress=False)
    assert result.samples == 37


def test_degenerate_range_is_widened_with_a_warning_naming_the_tensor():
    quantized = tfq.quantize_model(_cnn())
    with pytest.warns(UserWarning, match=r"tensor 'quant_conv2d.*/input'.*widened"):
        result = tfq.calibrate(quantized, np.zeros((4, 8, 8, 3), np.float32), progress=False)
    low, high = next(v for k, v in result.ranges.items() if k.endswith("/input"))
    assert high - low >= 1e-3


def test_bad_calibration_calls(rng):
    quantized = tfq.quantize_model(_cnn())
    with pytest.raises(ValueError, match="unknown calibration method"):
        tfq.calibrate(quantized, rng.normal(size=(4, 8, 8, 3)), method="magic")
    with pytest.raises(ValueError, match="quantize_model"):
        tfq.calibrate(_cnn(), rng.normal(size=(4, 8, 8, 3)))
    with pytest.raises(ValueError, match="NaN"):
        tfq.calibrate(quantized, np.full((4, 8, 8, 3), np.nan, np.float32), progress=False)
    with pytest.raises(ValueError, match="empty"):
        tfq.calibrate(quantized, lambda: iter([]), progress=False)
    with pytest.raises(ValueError, match="does not match the model input shape"):
        tfq.calibrate(quantized, rng.normal(size=(4, 9, 9, 3)), progress=False)
    with pytest.raises(TypeError, match="unsupported calibration data"):
        tfq.calibrate(quantized, 42, progress=False)

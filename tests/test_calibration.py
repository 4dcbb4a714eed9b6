"""tfq.calibrate and its observers: range methods on known data, streaming
state, data adapters, degenerate ranges, and ranges that reach the .tflite."""
import json
import pathlib
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfq
from tests.auto_holdout import auto_split
from tfq import calibration, observers, quant_math, requantization

SCRIPTS = pathlib.Path(__file__).resolve().parent / "scripts"


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


def _reference_tensorrt_bin(histogram, levels, max_clipped=None):
    """TensorRT's entropy calibration written out step by step (after the GTC 2017
    "8-bit inference with TensorRT" slides and NVIDIA's pytorch-quantization):
    thresholds from bin 128, tail folded into the last kept bin, `levels` groups
    spread over their nonzero bins, the last of equal minima wins. With
    `max_clipped`, the thresholds clipping more than that share of the count
    are skipped."""
    divergences = []
    for i in range(128, histogram.size + 1):
        if max_clipped is not None and histogram[i:].sum() > max_clipped * histogram.sum():
            divergences.append(np.inf)
            continue
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
    return 128 + last_minimum


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
    levels = 256 if values.min() >= 0 else 128
    # Unconstrained, the search is TensorRT's; tfq's entropy skips the
    # thresholds that clip more than ENTROPY_MAX_CLIPPED of the values.
    assert observers.kl_threshold_bin(folded, levels) == _reference_tensorrt_bin(folded, levels)
    threshold_bin = _reference_tensorrt_bin(folded, levels, observers.ENTROPY_MAX_CLIPPED)
    threshold = np.linspace(0, observer.bound, folded.size + 1)[threshold_bin]
    assert observer.range("entropy") == (max(values.min(), -threshold),
                                         min(values.max(), threshold))


@pytest.mark.parametrize("max_clipped", [None, 0.02])
@pytest.mark.parametrize("levels", [128, 256])
def test_kl_search_on_sparse_histograms_is_tensorrts(rng, levels, max_clipped):
    """Gaps (empty bins inside the data) exercise Q's zero bins and infinite KL."""
    histogram = np.zeros(2048)
    histogram[:700:3] = rng.integers(1, 1000, size=234)
    histogram[700:1500:37] = rng.integers(0, 5, size=22)
    assert observers.kl_threshold_bin(histogram, levels, max_clipped=max_clipped) == \
        _reference_tensorrt_bin(histogram, levels, max_clipped)


def test_entropy_does_not_clip_the_dense_part_of_a_discrete_input():
    """The 8x8 digits' pixels sit on 17 levels (1/16 apart), 9 % of them at 1.
    On this draw of 200 images, TensorRT's KL minimum folds every nonzero
    pixel into one bin at the first level (Q then matches P exactly: KL 0)
    and clips the input from 1 to 0.06; the int8 model fell from 96 % to 15 %."""
    from tfq.datasets import digits
    images, _ = digits("train")
    sample = images[np.random.default_rng(3).permutation(len(images))[:200]]
    observer = _observer(sample)
    folded = observer._absolute_histogram()
    assert observers.kl_threshold_bin(folded, 256) == 129  # TensorRT's threshold: 129 / 2048
    low, high = observer.range("entropy")
    nonzero = sample[sample != 0]
    assert low == 0.0 and np.mean(nonzero > high) <= observers.ENTROPY_MAX_CLIPPED
    assert high == 1.0


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


@pytest.mark.parametrize("method", ["entropy", "mse"])
def test_exact_zeros_do_not_pull_the_range_in(rng, method):
    """Zero is exact at any range, so a ReLU's zeros (half its values here, 3/4
    with the padding) must not move the range. Counted in KL's bin 0 they did:
    the threshold fell to about 1/8 of the max (0.58 of 4.7 with the padding)."""
    relu = np.maximum(rng.normal(0, 1, 100000), 0)
    ranges = []
    for values in (relu, np.concatenate([relu, np.zeros(3 * relu.size)])):
        observer = observers.TensorObserver()
        observer.update(values)  # one batch: the same bound (max |x|) for both
        assert observer.zeros == np.sum(values == 0)
        ranges.append(observer.range(method))
    assert ranges[0] == ranges[1]
    assert ranges[0][1] > np.quantile(relu[relu > 0], 0.99)


def test_all_zero_tensor_keeps_its_range():
    observer = observers.TensorObserver()
    observer.update(np.zeros(1000))
    assert observer.range("entropy") == observer.range("mse") == (0.0, 0.0)


def test_mse_prefers_clipping_a_heavy_tail_to_losing_resolution(rng):
    values = np.concatenate([rng.normal(0, 1, size=100000), rng.uniform(8, 20, size=100)])
    low, high = _observer(values).range("mse")
    assert high < 20 and low < -2


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("size,position", [(2, 1), (33, 0), (200000, 123457), (200000, 199999)])
def test_observer_rejects_nan_and_inf_anywhere(bad, size, position):
    """The finite check reads only the batch's min and max: TF's reductions
    must propagate NaN wherever it sits (vectorized body or remainder)."""
    values = np.ones(size, np.float32)
    values[position] = bad
    with pytest.raises(ValueError, match="NaN"):
        observers.TensorObserver().update(values)


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
    data = rng.normal(size=(4, 8, 8, 3))
    with pytest.raises(ValueError, match=r"unknown calibration method 'magic'.*'entropy'.*'auto'"):
        tfq.calibrate(quantized, data, method="magic")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['percentile'\].*'entropy'.*none"):
        tfq.calibrate(quantized, data, method="entropy", percentile=99.9)
    with pytest.raises(ValueError, match=r"\['bins'\].*options are: percentile"):
        tfq.calibrate(quantized, data, method="percentile", bins=10)
    with pytest.raises(ValueError, match="auto: methods must be"):
        tfq.calibrate(quantized, data, method="auto", methods=["minmax", "magic"])
    with pytest.raises(ValueError, match="quantize_model"):
        tfq.calibrate(_cnn(), data)
    with pytest.raises(ValueError, match="empty"):
        tfq.calibrate(quantized, lambda: iter([]), progress=False)
    with pytest.raises(ValueError, match=r"shape \(4, 9, 9, 3\) does not match the model input "
                                         r"'.*', which expects \(batch, 8, 8, 3\)"):
        tfq.calibrate(quantized, rng.normal(size=(4, 9, 9, 3)), progress=False)
    with pytest.raises(TypeError, match="model input '.*' has dtype <U1"):
        tfq.calibrate(quantized, np.full((4, 8, 8, 3), "a"), progress=False)
    with pytest.raises(TypeError, match="unsupported calibration data"):
        tfq.calibrate(quantized, 42, progress=False)
    with pytest.raises(ValueError, match=r"'auto' needs at least 10 calibration samples, got "
                                         r"9: .*every 5th sample.*method='percentile'"):
        # 9 samples: one held back, nothing to cross-fit the per-tensor mix with.
        tfq.calibrate(quantized, rng.normal(size=(9, 8, 8, 3)), method="auto", progress=False)


@pytest.mark.parametrize("samples,batch_size", [(100, 32), (200, 32), (100, 100), (137, 50)])
def test_auto_takes_what_the_other_methods_take_with_default_arguments(rng, samples, batch_size):
    # 100 samples in 4 batches of 32 (the default): auto holds back samples,
    # not batches, so it still has 20 to choose on, in two halves of 10.
    data = rng.normal(size=(samples, 8, 8, 3)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 100 samples or more: no "not validated" warning
        result = tfq.calibrate(tfq.quantize_model(_cnn()), data, method="auto",
                               batch_size=batch_size, progress=False)
    assert result.samples == samples and result.held_out == samples // 5
    assert set(result.chosen) == set(result.ranges) and len(result.cross_fitted) == 2
    assert "every 5th" in str(result)
    _assert_auto_ranges_are_the_chosen_methods_on_all_data(result, data, batch_size)


def test_auto_below_100_samples_warns_that_its_choice_is_not_validated(rng):
    data = rng.normal(size=(30, 8, 8, 3)).astype(np.float32)
    with pytest.warns(UserWarning, match=r"'auto' chose its methods on 6 held-back samples of 30; "
                                         r"with fewer than 100 .*not validated"):
        result = tfq.calibrate(tfq.quantize_model(_cnn()), data, method="auto", progress=False)
    assert result.held_out == 6 and result.chosen


def test_nan_activation_names_the_tensor_and_layer():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="logits")])
    quantized = tfq.quantize_model(model)
    with pytest.raises(ValueError, match=r"NaN or infinite.*'quant_logits/input'.*layer 'logits'"):
        tfq.calibrate(quantized, np.full((4, 4), np.inf, np.float32), progress=False)


def _tailed_cnn_data(rng, count=200):
    # Mostly small values, a few huge pixels: minmax wastes the int8 range.
    data = rng.normal(size=(count, 8, 8, 3)).astype(np.float32)
    data[::40, 0, 0, 0] = 60.0
    return data


def test_auto_picks_per_tensor_the_method_closest_to_float(rng):
    data = _tailed_cnn_data(rng)
    quantized = tfq.quantize_model(_cnn())
    result = tfq.calibrate(quantized, data, method="auto", batch_size=20, progress=False)
    # 40 samples chose the methods; then they joined the statistics.
    assert result.held_out == 40 and result.samples == 200
    assert set(result.chosen) == set(result.per_tensor) == set(result.ranges)
    assert set(result.chosen.values()) <= set(observers.METHODS)
    input_key = f"{quantized.layers[0].name}/input"
    assert result.per_tensor[input_key] != "minmax"  # the outlier pixels are not worth the range
    assert "method" in str(result) and "held out" in str(result)
    assert "model output error" in str(result)
    _assert_auto_ranges_are_the_chosen_methods_on_all_data(result, data)


@pytest.mark.parametrize("methods", [["percentile", "mse"], ["entropy", "ema"]])
def test_auto_histograms_take_in_the_held_back_batches(rng, methods):
    # Histogram methods: the held-back batches must land in the same bins
    # (at the observer's bound), as if they had come last in one pass. Plain
    # Gaussian data: each batch's own max |x| differs from that bound.
    data = rng.normal(size=(200, 8, 8, 3)).astype(np.float32)
    result = tfq.calibrate(tfq.quantize_model(_cnn()), data, method="auto", methods=methods,
                           batch_size=20, progress=False)
    _assert_auto_ranges_are_the_chosen_methods_on_all_data(result, data)


def _assert_auto_ranges_are_the_chosen_methods_on_all_data(result, data, batch_size=20):
    """Each chosen range is exactly that method's range on all the data, the
    held-back batches (every 5th of 20) last: the order histogram bounds and
    ema depend on."""
    statistics, _, half_batches = auto_split(data, batch_size)
    stream = statistics + half_batches[0] + half_batches[1]
    for name in set(result.chosen.values()):
        single = tfq.calibrate(tfq.quantize_model(_cnn()), lambda: iter(stream), method=name,
                               progress=False)
        # Same architecture, same tensor order: compare position by position.
        for (key, auto_range), single_range in zip(result.ranges.items(), single.ranges.values()):
            if result.chosen[key] == name:
                assert auto_range == single_range, (key, name)


def test_auto_choice_minimizes_the_held_out_error(rng):
    data = _tailed_cnn_data(rng)
    quantized = tfq.quantize_model(_cnn())
    result = tfq.calibrate(quantized, data, method="auto", methods=["minmax", "percentile"],
                           percentile=99.0, batch_size=20, progress=False)
    # The held-back samples (every 5th), dealt alternately into two halves.
    statistics, halves, _ = auto_split(data, 20)
    # The model input's error on each, measured independently in numpy.
    input_key = f"{quantized.layers[0].name}/input"
    errors = {}
    for name in ("minmax", "percentile"):
        low, high = calibration.usable_range(
            *_observer_of(statistics).range(name, percentile=99.0))[0]
        params = quant_math.fake_quant_params(np.float32(low), np.float32(high))
        errors[name] = []
        for held in halves:
            codes = np.clip(np.round(held / params.scale[0]) + params.zero_point[0], -128, 127)
            errors[name].append(np.sum(((codes - params.zero_point[0]) * params.scale[0]
                                        - held) ** 2))
    assert result.per_tensor[input_key] == min(errors, key=lambda name: sum(errors[name]))
    for half, choice in enumerate(result.cross_fitted):
        assert choice[input_key] == min(errors, key=lambda name: errors[name][half]), half


def test_auto_keeps_the_configuration_closest_to_float_at_the_model_output(rng):
    data = _tailed_cnn_data(rng)
    result = tfq.calibrate(tfq.quantize_model(_cnn()), data, method="auto", batch_size=20,
                           progress=False)
    statistics, halves, _ = auto_split(data, 20)
    # Independently: each configuration's ranges (from the batches kept for
    # statistics) set on a fresh model, which then runs on the held-back
    # samples against the float Keras model. The per-tensor mix is
    # cross-fitted: on each half, the mix chosen on the other half.
    float_model = _cnn()
    references = [float_model(held).numpy() for held in halves]
    # Same architecture, same tensor order: ranges go by position.
    keys = list(result.ranges)
    singles = {m: list(tfq.calibrate(tfq.quantize_model(_cnn()), lambda: iter(statistics),
                                     method=m, progress=False).ranges.values())
               for m in observers.METHODS}
    assert result.output_errors and set(result.output_errors) <= {"per-tensor",
                                                                   *observers.METHODS}
    assert len(result.cross_fitted) == 2
    measured = {}
    for name in result.output_errors:
        squared_error = 0.0
        for held, reference, other_half in zip(halves, references, result.cross_fitted[::-1]):
            methods = [other_half[key] if name == "per-tensor" else name for key in keys]
            quantized = tfq.quantize_model(_cnn())
            variables = [v for wrapper in calibration.wrappers_in(quantized)
                         for v in wrapper.range_variables().values()]
            for position, (low, high, initialized) in enumerate(variables):
                low.assign(singles[methods[position]][position][0])
                high.assign(singles[methods[position]][position][1])
                initialized.assign(1.0)
            # As auto runs it: the fake-quant graph without TFLite's own
            # roundings (which Keras inference otherwise reproduces).
            with requantization.exporting():
                output = quantized(held, training=False).numpy()
            squared_error += np.sum((output - reference) ** 2)
        measured[name] = squared_error / sum(np.sum(r ** 2) for r in references)
    for name, error in measured.items():
        # The Keras model's float weights against tfq's fake-quantized ones:
        # close, not equal (their rounding adds about 1e-5 of relative error).
        assert result.output_errors[name] == pytest.approx(error, rel=0.05, abs=3e-5), name
    best = min(result.output_errors, key=result.output_errors.get)
    assert min(measured, key=measured.get) == best == result.kept
    expected = result.per_tensor if best == "per-tensor" else dict.fromkeys(result.ranges, best)
    assert result.chosen == expected


def _observer_of(batches):
    observer = observers.TensorObserver()
    for batch in batches:
        observer.update(batch)
    return observer


@pytest.mark.parametrize("flavour,method", [("keras", "entropy"), ("tf_keras", "entropy"),
                                            ("keras", "auto"), ("tf_keras", "auto")])
def test_mirrored_strategy_merges_replica_statistics(flavour, method):
    result = subprocess.run([sys.executable, str(SCRIPTS / "mirrored_calibration.py"), flavour,
                             method], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    # auto: the replicas' halves of each held-back batch give the whole
    # batch's errors, per tensor and at the model output.
    assert report["merged_chosen"] == report["single_chosen"]
    assert report["merged_output_errors"].keys() == report["single_output_errors"].keys()
    for name, error in report["merged_output_errors"].items():
        assert error == pytest.approx(report["single_output_errors"][name], rel=1e-4), name
    # Each replica saw half of every batch; the merged ranges are the whole batch's.
    assert report["merged"] == report["single"]
    assert len(report["spread"]) == 2 * len(report["merged"])
    assert all(spread == 0.0 for spread in report["spread"].values()), report["spread"]


@pytest.fixture(scope="module")
def digits_cnn():
    """scikit-learn's 8x8 digits (real data, bundled) and the benchmarks'
    MobileNet-style depthwise CNN trained on them with a fixed seed."""
    from tfq.datasets import digits
    from tfq_tools.models import mobilenet_style
    train, test = digits("train"), digits("test")
    keras.utils.set_random_seed(0)
    model = mobilenet_style(keras, input_shape=(8, 8, 1))
    model.compile(optimizer="adam", metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(*train, batch_size=64, epochs=30, verbose=0)
    return model, train[0], test


@pytest.mark.parametrize("draw", range(5))
@pytest.mark.parametrize("method", ["entropy", "auto"])
def test_small_calibration_sets_of_real_digits_quantize_well(digits_cnn, method, draw):
    """200 calibration images, the size TFLite's docs suggest: auto runs with
    default arguments (it needed 10 batches before), and entropy's int8 model
    stays within a point of float on every draw (draw 3 fell from 96 % to
    15 %: KL clipped the input to 1/16 of its range)."""
    from ai_edge_litert.interpreter import Interpreter
    model, train_images, (test_images, test_labels) = digits_cnn
    calibration_images = train_images[np.random.default_rng(draw).permutation(
        len(train_images))[:200]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tflite_model = tfq.convert(model, representative_data=calibration_images,
                                   calibration=method, progress=False)
    interpreter = Interpreter(model_content=tflite_model)
    interpreter.allocate_tensors()
    (source,), (sink,) = interpreter.get_input_details(), interpreter.get_output_details()
    scale, zero_point = source["quantization"]
    codes = np.clip(np.round(test_images / scale) + zero_point, -128, 127).astype(np.int8)
    predictions = []
    for image in codes:
        interpreter.set_tensor(source["index"], image[np.newaxis])
        interpreter.invoke()
        predictions.append(np.argmax(interpreter.get_tensor(sink["index"])[0]))
    float_accuracy = np.mean(np.argmax(model.predict(test_images, verbose=0), -1) == test_labels)
    accuracy = np.mean(np.array(predictions) == test_labels)
    assert accuracy >= float_accuracy - 0.01, (accuracy, float_accuracy)

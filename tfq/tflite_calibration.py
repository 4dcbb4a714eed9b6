"""Full-integer quantization of a generic graph (a SavedModel that does not load
as Keras): TFLite's calibrate-then-quantize path, with tfq's ranges.

1. TFLiteConverter converts the float graph and lays out its calibration
   statistics (`_experimental_calibrate_only`) from one sample: this says
   which tensors TFLite will quantize and so needs a range for.
2. That float model runs in TFLite's interpreter over the calibration data,
   every tensor kept; each of those tensors streams into a tfq observer
   (observers.py) and the calibration method turns it into a range (`auto`
   holds back every 5th sample and picks, per tensor, the method whose
   fake-quant of it is closest to float; then, as tfq.calibrate does, that
   choice meets each method applied everywhere at the model output, here
   the quantized model's, and the one closest to float is kept).
3. The ranges replace TFLite's in the model, which is then quantized: int8
   by the MLIR quantizer (what TFLiteConverter itself uses for int8), 16x8 by
   TFLite's calibration quantizer, which reads the ranges from the model when
   it has logged none of its own (the MLIR quantizer refuses many 16x8 graphs).
"""
from __future__ import annotations

import types
import warnings
from typing import Dict, Iterable, List, Tuple

import numpy as np
import tensorflow as tf
from absl import logging

from tfq import calibration, flatbuffer_edits, observers, schemes, tflite_runner


def signature_inputs(saved_model_dir: str, signature: str = "serving_default"):
    """The SavedModel's serving inputs as data_adapters expects a model's: objects
    with `.shape` (batch dimension None) and `.name` (the signature's input
    names, in sorted order), read from saved_model.pb without loading weights."""
    from tensorflow.python.tools import saved_model_utils  # pylint: disable=import-outside-toplevel
    try:
        signatures = saved_model_utils.get_meta_graph_def(saved_model_dir, "serve").signature_def
    except (RuntimeError, OSError, ValueError) as error:
        raise ValueError(f"could not read the serving signature of SavedModel "
                         f"{saved_model_dir!r}: {str(error).splitlines()[0]}") from error
    if signature not in signatures:
        raise ValueError(f"SavedModel {saved_model_dir!r} has no {signature!r} signature "
                         f"(it has {sorted(signatures)}); export it with a serving signature")
    specs = []
    for name in sorted(signatures[signature].inputs):
        info = signatures[signature].inputs[name]
        if info.tensor_shape.unknown_rank:
            raise ValueError(f"SavedModel input {name!r} has an unknown rank; export it with "
                             "a fixed-rank input signature")
        shape = [None if d.size < 0 else int(d.size) for d in info.tensor_shape.dim]
        if shape:
            shape[0] = None
        specs.append(tf.TensorSpec(shape, tf.dtypes.as_dtype(info.dtype), name=name))
    return types.SimpleNamespace(inputs=specs)


def calibrated_tensors(calibrated_model: bytes) -> Dict[int, str]:
    """{tensor index: name} of the tensors TFLite recorded a range for (subgraph 0)."""
    graph = flatbuffer_edits.read(calibrated_model).subgraphs[0]
    found = {}
    for index, tensor in enumerate(graph.tensors):
        quant = tensor.quantization
        if quant is not None and quant.min is not None and len(quant.min) == 1:
            found[index] = tensor.name.decode(errors="replace")
    return found


def check_finite(inputs, batch: List[np.ndarray]) -> None:
    for spec, array in zip(inputs, batch):
        if not np.all(np.isfinite(array)):
            raise ValueError(f"calibration data for input {spec.name!r} holds NaN or infinite "
                             "values; clean the data (or its preprocessing) first")


def calibrated_float_model(converter, inputs, first_batch: List[np.ndarray]) -> bytes:
    """TFLite's float model with calibration statistics laid out (from one sample)."""
    check_finite(inputs, first_batch)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter(
        [{spec.name: array[:1] for spec, array in zip(inputs, first_batch)}])
    converter._experimental_calibrate_only = True  # pylint: disable=protected-access
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bytes(converter.convert())


def observe_ranges(calibrated_model: bytes, inputs, batches, *, scheme: schemes.Scheme,
                   method: str, progress: bool = True,
                   **method_options) -> Tuple[Dict[int, Tuple[float, float]], dict, dict]:
    """tfq's ranges for every tensor TFLite wants one for, from `batches` (lists
    of arrays in `inputs` order); for auto also {tensor name: method} and the
    model output error of each configuration it compared (else two {})."""
    candidates = calibration.validate_method(method, method_options)
    names = calibrated_tensors(calibrated_model)
    runner = tflite_runner.TfliteRunner(calibrated_model, keep_all_tensors=True,
                                        input_names=[spec.name for spec in inputs])
    tensor_observers = {i: observers.TensorObserver(ema_decay=method_options.get("ema_decay", 0.9))
                        for i in names}
    held_back = calibration.HeldBack()

    def checked_batches():  # held-back samples are checked too
        for batch in batches:
            check_finite(inputs, batch)
            yield batch

    for batch in calibration.statistics_batches_of(checked_batches(), method, progress,
                                                   held_back):
        for activations, _ in runner.run(batch, names):
            for index, values in activations.items():
                if not np.all(np.isfinite(values)):
                    raise ValueError(f"calibration produced NaN or infinite values at tensor "
                                     f"{names[index]!r}; check the calibration data and its "
                                     "preprocessing")
                tensor_observers[index].update(values)
    proposals = calibration.propose_ranges(
        {index: observer for index, observer in tensor_observers.items() if observer.count},
        candidates, method_options)
    chosen, by_name = {}, {}
    if method == "auto":
        held_back.check()
        halves = held_back.halves()
        held_batches = [batch for half in halves for batch in half]
        batch_errors = {index: np.zeros((len(held_batches), len(candidates)))
                        for index in proposals}
        candidate_ranges = calibration.candidate_ranges_of(proposals, candidates)
        for position, batch in enumerate(held_batches):
            for activations, _ in runner.run(batch, names):
                for index in proposals:
                    batch_errors[index][position] += calibration.candidate_errors(
                        scheme, activations[index], candidate_ranges[index]).numpy()
                    # Then the batch joins the statistics, as in tfq.calibrate.
                    tensor_observers[index].update(activations[index])
        per_tensor, cross_fitted = calibration.per_tensor_choices(batch_errors, candidates,
                                                                  halves)

        quantized_runners = {}  # the halves share all but the per-tensor mix: quantize once

        def output_error_sums(batches, configurations):
            return quantized_output_error_sums(calibrated_model, inputs, batches, configurations,
                                               scheme=scheme, quantized_runners=quantized_runners)
        chosen, by_name = calibration.check_at_model_output(
            output_error_sums, halves, proposals, per_tensor, cross_fitted, candidates)
        logging.info("calibration auto: model output error on the held-back samples: %s",
                     ", ".join(f"{name} {error:.3g}" for name, error in by_name.items()))
        proposals = calibration.propose_ranges(
            {index: tensor_observers[index] for index in chosen},
            {index: (method,) for index, method in chosen.items()}, method_options)
    ranges = {}
    for index, by_method in proposals.items():
        (low, high), widened = by_method[chosen.get(index, candidates[0])]
        if widened:
            calibration.warn_widened(names[index], low, high)
        ranges[index] = (low, high)
    return ranges, {names[i]: m for i, m in chosen.items()}, by_name


def quantized_output_error_sums(calibrated_model: bytes, inputs, batches, configurations, *,
                                scheme: schemes.Scheme,
                                quantized_runners=None) -> Tuple[np.ndarray, np.ndarray]:
    """Per configuration ({tensor index: (min, max)}): the int8 (or 16x8) model
    quantized with those ranges, its output error against the float model on
    `batches`. Returns the squared errors [configurations, outputs] and the
    squared float outputs [outputs], summed over `batches`. `quantized_runners`:
    a dict keeping the quantized models' runners across calls, by their ranges."""
    input_names = [spec.name for spec in inputs]
    reference = tflite_runner.TfliteRunner(calibrated_model, keep_all_tensors=False,
                                           input_names=input_names)
    quantized_runners = {} if quantized_runners is None else quantized_runners

    def runner_of(ranges):
        signature = tuple(sorted(ranges.items()))
        if signature not in quantized_runners:
            quantized_runners[signature] = tflite_runner.TfliteRunner(
                quantize(flatbuffer_edits.with_ranges(calibrated_model, ranges), scheme=scheme,
                         io_type=tf.float32),
                keep_all_tensors=False, input_names=input_names)
        return quantized_runners[signature]
    quantized = [runner_of(ranges) for ranges in configurations]
    squared_errors, squares = 0.0, 0.0
    for batch in batches:
        expected = [outputs for _, outputs in reference.run(batch)]
        squares = squares + np.array([sum(np.sum(np.square(run[o])) for run in expected)
                                      for o in range(len(expected[0]))])
        squared_errors = squared_errors + np.array([[
            sum(np.sum(np.square(got[o] - want[o]))
                for (_, got), want in zip(runner.run(batch), expected))
            for o in range(len(expected[0]))] for runner in quantized])
    return squared_errors, squares


def quantize(calibrated_model: bytes, *, scheme: schemes.Scheme, io_type: tf.DType,
             float_nodes: Iterable[str] = ()) -> bytes:
    """The calibrated float model, fully quantized with the ranges it holds;
    `io_type` the model's input/output type. `float_nodes` (int8 only): the
    output tensor names of ops kept float, between DEQUANTIZE and QUANTIZE."""
    float_nodes = list(float_nodes)
    if float_nodes and scheme is not schemes.INT8:
        raise ValueError(f"keeping ops float in a calibrated graph is available in mode 'int8', "
                         f"not {scheme.name!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if scheme is schemes.INT16X8:
            # Per-tensor FULLY_CONNECTED weights (the last flag), like tfq's Keras path.
            # pylint: disable=import-outside-toplevel,protected-access
            from tensorflow.lite.python.optimize import calibrator
            quantizer = calibrator.Calibrator(calibrated_model)
            return bytes(quantizer._calibrator.QuantizeModel(
                np.dtype(io_type.as_numpy_dtype).num, np.dtype(io_type.as_numpy_dtype).num,
                False, np.dtype(np.int16).num, np.dtype(np.int64).num, False, True))
        from tensorflow.lite.python import convert  # pylint: disable=import-outside-toplevel
        # As TFLiteConverter calls it (the I/O types given, the body fully
        # integer), with per-tensor FULLY_CONNECTED weights like tfq's Keras path.
        return bytes(convert.mlir_quantize(calibrated_model, input_data_type=io_type,
                                           output_data_type=io_type,
                                           disable_per_channel_for_dense_layers=True,
                                           denylisted_nodes=float_nodes or None))

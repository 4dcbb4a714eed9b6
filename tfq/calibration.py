"""tfq.calibrate: set every activation range of a quantized model from data.

The same ranges serve post-training quantization (convert right away) and the
start of QAT (fit from there). Activations stream through per-tensor
observers (observers.py): O(bins) state per tensor, never the activations.
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Dict, Tuple

import numpy as np
from tqdm.auto import tqdm

from tfq import data_adapters, observers
from tfq.wrapper import is_wrapper

# A calibrated range narrower than this is widened to it (with a warning):
# TFLite's int8 kernels cannot take near-zero scales (an int8 SOFTMAX whose
# input scale is ~1e-8 aborts the process under BUILTIN_REF).
MIN_RANGE_WIDTH = 1e-3


@dataclasses.dataclass
class CalibrationResult:
    method: str
    ranges: Dict[str, Tuple[float, float]]  # "layer/range" -> (min, max)
    samples: int

    def __str__(self):
        width = max([len(name) for name in self.ranges] + [6])
        lines = [f"calibration: {self.method}, {self.samples} samples",
                 f"{'tensor':{width}s} {'min':>12s} {'max':>12s}"]
        lines += [f"{name:{width}s} {low:12.6g} {high:12.6g}"
                  for name, (low, high) in self.ranges.items()]
        return "\n".join(lines)


def _wrappers(model):
    for layer in model.layers:
        if is_wrapper(layer):
            yield layer
        elif hasattr(layer, "layers"):  # a nested model
            yield from _wrappers(layer)


def calibrate(model, data, *, method: str = "minmax", num_samples=None, batch_size: int = 32,
              progress: bool = True, **method_options) -> CalibrationResult:
    """Runs `data` through `model` (from tfq.quantize_model) in float, and sets
    every activation range with `method`: minmax, ema, percentile (option
    `percentile`, default 99.99), entropy or mse. Returns the ranges set."""
    if method not in observers.METHODS:
        raise ValueError(f"unknown calibration method {method!r}; expected one of "
                         f"{observers.METHODS}")
    wrappers = list(_wrappers(model))
    if not wrappers:
        raise ValueError(f"model {getattr(model, 'name', model)!r} has no tfq quantization "
                         "wrappers; call tfq.quantize_model(model) first and calibrate its result")
    tensor_observers: Dict[str, observers.TensorObserver] = {}
    variables = {}

    def observe(wrapper, range_name, values):
        key = f"{wrapper.name}/{range_name}"
        if key not in tensor_observers:
            tensor_observers[key] = observers.TensorObserver(
                ema_decay=method_options.get("ema_decay", 0.9))
            variables[key] = wrapper.range_variables()[range_name]
        tensor_observers[key].update(values.numpy())

    samples = 0
    for wrapper in wrappers:
        wrapper.calibration_observer = observe
    try:
        for batch in tqdm(data_adapters.batches(model, data, batch_size=batch_size,
                                                num_samples=num_samples),
                          desc=f"calibrating ({method})", unit="batch", disable=not progress):
            model(batch if len(batch) > 1 else batch[0], training=False)
            samples += batch[0].shape[0]
    finally:
        for wrapper in wrappers:
            wrapper.calibration_observer = None

    ranges = {}
    for key, observer in tensor_observers.items():
        low, high = observer.range(method, **method_options)
        low, high = min(float(low), 0.0), max(float(high), 0.0)
        if high - low < MIN_RANGE_WIDTH:
            warnings.warn(f"tfq.calibrate: tensor {key!r} has a calibrated range "
                          f"[{low:.3g}, {high:.3g}] narrower than {MIN_RANGE_WIDTH}; widened to "
                          f"{MIN_RANGE_WIDTH} so TFLite's int8 kernels can take it. Check the "
                          "data reaches this layer with realistic values.", stacklevel=2)
            center = (low + high) / 2
            low, high = min(center - MIN_RANGE_WIDTH / 2, 0.0), max(center + MIN_RANGE_WIDTH / 2, 0.0)
        range_min, range_max, initialized = variables[key]
        range_min.assign(np.float32(low))
        range_max.assign(np.float32(high))
        initialized.assign(1.0)
        ranges[key] = (low, high)
    return CalibrationResult(method=method, ranges=ranges, samples=samples)

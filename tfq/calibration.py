"""tfq.calibrate: set every activation range of a quantized model from data.

The same ranges serve post-training quantization (convert right away) and the
start of QAT (fit from there). Activations stream through per-tensor
observers (observers.py): O(bins) state per tensor, never the activations.

`auto` chooses per tensor: every 5th batch is held back from the statistics;
on those batches, each candidate method's range fake-quantizes the tensor and
the method with the smallest squared error against float wins.

Under a tf.distribute strategy with several replicas on this worker (e.g.
MirroredStrategy), each batch is split across the replicas and their
activations are merged before they reach the observers, so the ranges are
those of the whole batch.
"""
from __future__ import annotations

import dataclasses
import threading
import warnings
from typing import Callable, Dict, Iterable, List, Tuple

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from tfq import data_adapters, observers
from tfq.wrapper import is_wrapper

# A calibrated range narrower than this is widened to it (with a warning):
# TFLite's int8 kernels cannot take near-zero scales (an int8 SOFTMAX whose
# input scale is ~1e-8 aborts the process under BUILTIN_REF).
MIN_RANGE_WIDTH = 1e-3

METHODS = observers.METHODS + ("auto",)
# Options each method takes (beyond num_samples, batch_size, progress).
METHOD_OPTIONS = {
    "minmax": (),
    "ema": ("ema_decay",),
    "percentile": ("percentile",),
    "entropy": (),
    "mse": (),
    "auto": ("methods", "ema_decay", "percentile"),
}
AUTO_HOLDOUT_EVERY = 5  # auto holds back every 5th batch to compare methods


@dataclasses.dataclass
class CalibrationResult:
    method: str
    ranges: Dict[str, Tuple[float, float]]  # "wrapper/range" -> (min, max)
    samples: int  # samples the statistics came from
    chosen: Dict[str, str] = dataclasses.field(default_factory=dict)  # auto: tensor -> method
    held_out: int = 0  # auto: samples used to choose
    replicas: int = 1

    def __str__(self):
        width = max([len(name) for name in self.ranges] + [6])
        header = f"calibration: {self.method}, {self.samples} samples"
        if self.held_out:
            header += f" (+{self.held_out} held out to choose methods)"
        if self.replicas > 1:
            header += f", merged over {self.replicas} replicas"
        lines = [header, f"{'tensor':{width}s} {'min':>12s} {'max':>12s}"
                         + ("  method" if self.chosen else "")]
        for name, (low, high) in self.ranges.items():
            chosen = f"  {self.chosen[name]}" if name in self.chosen else ""
            lines.append(f"{name:{width}s} {low:12.6g} {high:12.6g}{chosen}")
        return "\n".join(lines)


def _wrappers(model):
    for layer in model.layers:
        if is_wrapper(layer):
            yield layer
        elif hasattr(layer, "layers"):  # a nested model
            yield from _wrappers(layer)


def _validate(method: str, options: dict) -> Tuple[str, ...]:
    """Checks method and options; returns the candidate methods (auto) or (method,)."""
    if method not in METHODS:
        raise ValueError(f"unknown calibration method {method!r}; expected one of {METHODS}")
    unknown = sorted(set(options) - set(METHOD_OPTIONS[method]))
    if unknown:
        valid = ", ".join(METHOD_OPTIONS[method]) or "none"
        raise ValueError(f"unknown option(s) {unknown} for calibration method {method!r}; "
                         f"its options are: {valid}")
    if method != "auto":
        return (method,)
    candidates = tuple(options.get("methods", observers.METHODS))
    bad = [m for m in candidates if m not in observers.METHODS]
    if bad or not candidates:
        raise ValueError(f"auto: methods must be a non-empty subset of {observers.METHODS}, "
                         f"got {list(candidates)}")
    return candidates


def _strategy_of(model):
    strategy = tf.distribute.get_strategy() if tf.distribute.has_strategy() \
        else getattr(model, "distribute_strategy", tf.distribute.get_strategy())
    if strategy.num_replicas_in_sync > 1 and strategy.extended._in_multi_worker_mode():
        raise ValueError("tfq.calibrate runs on one worker: calibrate the model before "
                         "distributing it over workers (outside MultiWorkerMirroredStrategy), "
                         "or start QAT from its moving-average ranges")
    return strategy


class _ObservedPass:
    """Runs batches through the model with every wrapper reporting its float
    activations to `sink(wrapper, range_name, values)`; with several replicas,
    a batch is split across them and each tensor's parts are joined (in
    replica order) before they reach the sink."""

    def __init__(self, model, wrappers, strategy):
        self.model, self.wrappers, self.strategy = model, wrappers, strategy
        self.replicas = strategy.num_replicas_in_sync

    def run(self, batches: Iterable[List[np.ndarray]], sink: Callable) -> int:
        lock, parts = threading.Lock(), {}

        def observe(wrapper, range_name, values):
            if self.replicas == 1:
                sink(wrapper, range_name, values.numpy())
                return
            replica = int(tf.get_static_value(
                tf.distribute.get_replica_context().replica_id_in_sync_group))
            with lock:
                parts.setdefault((wrapper.name, range_name), (wrapper, {}))[1][replica] = \
                    values.numpy()

        samples = 0
        for wrapper in self.wrappers:
            wrapper.calibration_observer = observe
        try:
            for batch in batches:
                if self.replicas == 1:
                    self.model(batch if len(batch) > 1 else batch[0], training=False)
                else:
                    parts.clear()
                    self._run_split(batch)
                    for (_, range_name), (wrapper, by_replica) in parts.items():
                        sink(wrapper, range_name,
                             np.concatenate([by_replica[r] for r in sorted(by_replica)]))
                samples += batch[0].shape[0]
        finally:
            for wrapper in self.wrappers:
                wrapper.calibration_observer = None
        return samples

    def _run_split(self, batch):
        rows = batch[0].shape[0]
        bounds = np.linspace(0, rows, self.replicas + 1).astype(int)

        def replica_inputs(context):
            i = context.replica_id_in_sync_group
            part = [tf.constant(a[bounds[i]:bounds[i + 1]]) for a in batch]
            return part if len(part) > 1 else part[0]

        inputs = self.strategy.experimental_distribute_values_from_function(replica_inputs)
        self.strategy.run(lambda x: self.model(x, training=False), args=(inputs,))


def _check_finite(wrapper, range_name, values):
    if not np.all(np.isfinite(values)):
        raise ValueError(f"calibration produced NaN or infinite activations at tensor "
                         f"'{wrapper.name}/{range_name}' (layer {wrapper.layer.name!r}); check "
                         "the calibration data and its preprocessing, and that the float model "
                         "gives finite outputs on it")


def _usable_range(low, high):
    """(min, max) with 0 inside and at least MIN_RANGE_WIDTH wide; and whether it was widened."""
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    if high - low >= MIN_RANGE_WIDTH:
        return (low, high), False
    center = (low + high) / 2
    return (min(center - MIN_RANGE_WIDTH / 2, 0.0), max(center + MIN_RANGE_WIDTH / 2, 0.0)), True


def calibrate(model, data, *, method: str = "minmax", num_samples=None, batch_size: int = 32,
              progress: bool = True, **method_options) -> CalibrationResult:
    """Runs `data` through `model` (from tfq.quantize_model) in float, and sets
    every activation range with `method`: minmax, ema (option `ema_decay`,
    default 0.9), percentile (option `percentile`, default 99.99), entropy,
    mse, or auto (option `methods`, the candidates; default all five).
    Returns the ranges set."""
    candidates = _validate(method, method_options)
    wrappers = list(_wrappers(model))
    if not wrappers:
        raise ValueError(f"model {getattr(model, 'name', model)!r} has no tfq quantization "
                         "wrappers; call tfq.quantize_model(model) first and calibrate its result")
    observed = _ObservedPass(model, wrappers, _strategy_of(model))
    tensor_observers: Dict[str, observers.TensorObserver] = {}
    owners = {}

    def accumulate(wrapper, range_name, values):
        _check_finite(wrapper, range_name, values)
        key = f"{wrapper.name}/{range_name}"
        if key not in tensor_observers:
            tensor_observers[key] = observers.TensorObserver(
                ema_decay=method_options.get("ema_decay", 0.9))
            owners[key] = (wrapper, range_name)
        tensor_observers[key].update(values)

    held_back = []

    def statistics_batches():
        stream = data_adapters.batches(model, data, batch_size=batch_size, num_samples=num_samples)
        for index, batch in enumerate(tqdm(stream, desc=f"calibrating ({method})", unit="batch",
                                           disable=not progress)):
            if method == "auto" and index % AUTO_HOLDOUT_EVERY == AUTO_HOLDOUT_EVERY - 1:
                held_back.append(batch)
            else:
                yield batch

    samples = observed.run(statistics_batches(), accumulate)
    range_options = {k: v for k, v in method_options.items() if k == "percentile"}
    proposals = {key: {m: _usable_range(*observer.range(m, **range_options))
                       for m in candidates}
                 for key, observer in tensor_observers.items()}

    chosen, held_out = {}, 0
    if method == "auto":
        if not held_back:
            raise ValueError(f"calibration method 'auto' holds back every {AUTO_HOLDOUT_EVERY}th "
                             f"batch to choose between methods, but the data gave fewer than "
                             f"{AUTO_HOLDOUT_EVERY} batches of {batch_size}: pass more data or "
                             "a smaller batch_size")
        chosen, held_out = _choose_methods(observed, held_back, proposals, candidates)

    ranges = {}
    for key, by_method in proposals.items():
        (low, high), widened = by_method[chosen.get(key, candidates[0])]
        if widened:
            warnings.warn(f"tfq.calibrate: tensor {key!r} has a calibrated range narrower than "
                          f"{MIN_RANGE_WIDTH}; widened to [{low:.3g}, {high:.3g}] so TFLite's "
                          "int8 kernels can take it. Check the data reaches this layer with "
                          "realistic values.", stacklevel=2)
        wrapper, range_name = owners[key]
        range_min, range_max, initialized = wrapper.range_variables()[range_name]
        range_min.assign(np.float32(low))
        range_max.assign(np.float32(high))
        initialized.assign(1.0)
        ranges[key] = (low, high)
    return CalibrationResult(method=method, ranges=ranges, samples=samples, chosen=chosen,
                             held_out=held_out, replicas=observed.replicas)


def _choose_methods(observed, held_back, proposals, candidates):
    """Per tensor, the candidate whose range fake-quantizes the held-back
    activations closest to float (sum of squared errors); ties: first listed."""
    errors = {key: dict.fromkeys(candidates, 0.0) for key in proposals}

    def measure(wrapper, range_name, values):
        key = f"{wrapper.name}/{range_name}"
        for name, ((low, high), _) in proposals[key].items():
            quantized = wrapper.scheme.fake_quant_activations(values, np.float32(low),
                                                              np.float32(high))
            errors[key][name] += float(tf.reduce_sum(tf.square(quantized - values)))

    held_out = observed.run(held_back, measure)
    chosen = {key: min(candidates, key=lambda name: by_method[name])
              for key, by_method in errors.items()}
    return chosen, held_out

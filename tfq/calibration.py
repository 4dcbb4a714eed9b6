"""tfq.calibrate: set every activation range of a quantized model from data.

The same ranges serve post-training quantization (convert right away) and the
start of QAT (fit from there). Activations stream through per-tensor
observers (observers.py): O(bins) state per tensor, never the activations.

`auto` chooses per tensor: every 5th sample is held back from the statistics;
on those samples, each candidate method's range fake-quantizes the tensor and
the method with the smallest squared error against float wins. That
per-tensor choice then meets each method applied to every tensor at the
model output, on the same samples: the configuration whose outputs are
closest to float is kept (tensor errors do not simply add up downstream).
The per-tensor mix is cross-fitted there: on each half of the held-back
samples (alternate ones) it is the mix chosen on the other half, so it is not
judged on the samples it was chosen on. The held-back samples join the
statistics (last), and each tensor's range is its chosen method's on all the
data, as a single method's would be. Holding back samples rather than whole
batches lets auto run on what the other methods take: 100 samples in 4
batches leave it 20 to choose on.

Under a tf.distribute strategy with several replicas on this worker (e.g.
MirroredStrategy), each batch is split across the replicas and their
activations are merged before they reach the observers, so the ranges are
those of the whole batch.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import warnings
from typing import Dict, Tuple

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from tfq import calibration_pass, data_adapters, observers
from tfq.schemes import MIN_RANGE_WIDTH  # narrower calibrated ranges are widened to it
from tfq.wrapper import is_wrapper


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
AUTO_HOLDOUT_EVERY = 5  # auto holds back every 5th sample to compare methods
AUTO_HALVES = 2  # the held-back samples are dealt into two halves, for cross-fitting
AUTO_MIN_SAMPLES = AUTO_HOLDOUT_EVERY * AUTO_HALVES  # one held-back sample per half
# Below this, auto chooses on fewer than 20 held-back samples: it still runs,
# with a warning that its choice is not validated.
AUTO_VALIDATED_SAMPLES = 100


class HeldBack:
    """auto's held-back samples: every AUTO_HOLDOUT_EVERY-th sample of the
    calibration stream (by sample, not by batch, so 100 samples in 4 batches
    serve as well as in 100), dealt alternately into two halves and batched
    again at the stream's own batch size."""

    def __init__(self):
        self.seen = 0  # samples in the stream so far, held back or not
        self.batch_size = 1
        self._chunks = tuple([] for _ in range(AUTO_HALVES))

    def split(self, batch: list) -> list:
        """Keeps this batch's held-back rows; returns the rest (maybe empty)."""
        rows = batch[0].shape[0]
        self.batch_size = max(self.batch_size, rows)
        index = np.arange(self.seen, self.seen + rows)
        self.seen += rows
        held = index % AUTO_HOLDOUT_EVERY == AUTO_HOLDOUT_EVERY - 1
        for half, chunks in enumerate(self._chunks):
            mine = held & ((index // AUTO_HOLDOUT_EVERY) % AUTO_HALVES == half)
            if mine.any():
                chunks.append([array[mine] for array in batch])
        return [array[~held] for array in batch]

    @property
    def samples(self) -> int:
        return sum(chunk[0].shape[0] for chunks in self._chunks for chunk in chunks)

    def halves(self) -> Tuple[list, ...]:
        """Each half's samples, as batches of (at most) the stream's batch size."""
        batched = []
        for chunks in self._chunks:
            arrays = [np.concatenate(parts) for parts in zip(*chunks)] if chunks else []
            total = arrays[0].shape[0] if arrays else 0
            batched.append([[a[i:i + self.batch_size] for a in arrays]
                            for i in range(0, total, self.batch_size)])
        return tuple(batched)

    def check(self) -> None:
        """Fails when a half is empty; warns when the choice rests on few samples."""
        if any(not chunks for chunks in self._chunks):
            raise ValueError(
                f"calibration method 'auto' needs at least {AUTO_MIN_SAMPLES} calibration "
                f"samples, got {self.seen}: it holds back every {AUTO_HOLDOUT_EVERY}th sample "
                f"and compares the methods on two halves of those. Pass more data (100 or "
                "more for a validated choice), or name a method (e.g. method='percentile')")
        if self.seen < AUTO_VALIDATED_SAMPLES:
            warnings.warn(
                f"calibration method 'auto' chose its methods on {self.samples} held-back samples "
                f"of {self.seen}; with fewer than {AUTO_VALIDATED_SAMPLES} calibration samples "
                "that choice is not validated. Pass more data, or name a method.",
                stacklevel=3)


def statistics_batches_of(batches, method: str, progress: bool, held_back: HeldBack):
    """The batches a calibration pass takes statistics from, behind a progress
    bar (on a console only); for `auto`, every AUTO_HOLDOUT_EVERY-th sample goes
    to `held_back` instead, to compare the methods on."""
    for batch in tqdm(batches, desc=f"calibrating ({method})", unit="batch",
                      disable=None if progress else True):
        if method == "auto":
            batch = held_back.split(batch)
            if batch[0].shape[0] == 0:
                continue
        yield batch


@dataclasses.dataclass
class CalibrationResult:
    method: str
    ranges: Dict[str, Tuple[float, float]]  # "wrapper/range" -> (min, max)
    samples: int  # samples the statistics came from
    chosen: Dict[str, str] = dataclasses.field(default_factory=dict)  # auto: tensor -> method
    held_out: int = 0  # auto: samples used to choose (then statistics too)
    # auto: each tensor's own choice, before the check at the model output.
    per_tensor: Dict[str, str] = dataclasses.field(default_factory=dict)
    # auto: the per-tensor choices made on each half of the held-back batches
    # (HeldBack.halves); the check at the model output measures each on the other half.
    cross_fitted: Tuple[Dict[str, str], ...] = ()
    # auto: the model's output error on the held-back samples, of the
    # per-tensor choice ("per-tensor") and of each method applied everywhere.
    output_errors: Dict[str, float] = dataclasses.field(default_factory=dict)
    replicas: int = 1

    @property
    def kept(self):
        """auto: the configuration kept at the model output ("per-tensor" or a
        method applied everywhere); None for the other methods."""
        return min(self.output_errors, key=self.output_errors.get) if self.output_errors else None

    def __str__(self):
        width = max([len(name) for name in self.ranges] + [6])
        header = f"calibration: {self.method}, {self.samples} samples"
        if self.held_out:
            header += (f" ({self.held_out} of them, every {AUTO_HOLDOUT_EVERY}th, first held out "
                       "to choose methods)")
        if self.replicas > 1:
            header += f", merged over {self.replicas} replicas"
        lines = [header]
        if self.output_errors:
            lines.append("model output error on the held-out samples: " + ", ".join(
                f"{name} {error:.3g}" for name, error in self.output_errors.items())
                + f"; kept {self.kept}")
        lines.append(f"{'tensor':{width}s} {'min':>12s} {'max':>12s}"
                     + ("  method" if self.chosen else ""))
        for name, (low, high) in self.ranges.items():
            chosen = f"  {self.chosen[name]}" if name in self.chosen else ""
            lines.append(f"{name:{width}s} {low:12.6g} {high:12.6g}{chosen}")
        return "\n".join(lines)


def wrappers_in(model):
    for layer in model.layers:
        if is_wrapper(layer):
            yield layer
        elif hasattr(layer, "layers"):  # a nested model
            yield from wrappers_in(layer)


def validate_method(method: str, options: dict) -> Tuple[str, ...]:
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


def _check_finite(wrapper, range_name, finite: bool):
    if not finite:
        raise ValueError(f"calibration produced NaN or infinite activations at tensor "
                         f"'{wrapper.name}/{range_name}' (layer {wrapper.layer.name!r}); check "
                         "the calibration data and its preprocessing, and that the float model "
                         "gives finite outputs on it")


def usable_range(low, high):
    """(min, max) with 0 inside and at least MIN_RANGE_WIDTH wide; and whether it was widened."""
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    if high - low >= MIN_RANGE_WIDTH:
        return (low, high), False
    center = (low + high) / 2
    return (min(center - MIN_RANGE_WIDTH / 2, 0.0), max(center + MIN_RANGE_WIDTH / 2, 0.0)), True


def warn_widened(tensor: str, low: float, high: float) -> None:
    warnings.warn(f"tfq.calibrate: tensor {tensor!r} has a calibrated range narrower than "
                  f"{MIN_RANGE_WIDTH}; widened to [{low:.3g}, {high:.3g}] so TFLite's "
                  "int8 kernels can take it. Check the data reaches this layer with "
                  "realistic values.", stacklevel=3)


class _Calibration:
    """The passes of one tfq.calibrate call over one model."""

    def __init__(self, model, wrappers, strategy):
        self.model, self.wrappers, self.strategy = model, wrappers, strategy
        self.replicas = strategy.num_replicas_in_sync
        self.owners = {calibration_pass.tensor_key(w, name): (w, name)
                       for w in wrappers for name in w.range_variables()}

    def _activations_or_reductions(self, batch, traced):
        """{key: ("values", array)} with several replicas, else {key: ("reduced", dict)}."""
        if self.replicas > 1:
            merged = calibration_pass.replica_activations(self.model, self.wrappers,
                                                          self.strategy, batch)
            return {key: ("values", values) for key, (_, _, values) in merged.items()}
        return {key: ("reduced", reduced) for key, reduced in traced()(batch).items()}

    def statistics(self, batches, tensor_observers, with_histogram, ema_decay,
                   candidate_ranges=None):
        """Streams batches into per-tensor observers; returns the sample count
        and, given `candidate_ranges` ({key: [[min, max] per candidate]}), each
        tensor's squared error of fake-quantizing its activations with each
        candidate range, summed per batch ([batches, candidates]; auto's
        per-tensor comparison, in the same pass; else {})."""
        count = 0 if candidate_ranges is None else len(next(iter(candidate_ranges.values())))

        def make():
            # Each tensor's histogram bound, carried from batch to batch in the
            # graph, and its candidate ranges.
            bounds = {key: tf.Variable(0.0, trainable=False) for key in self.owners}
            ranges = {key: tf.Variable(tf.zeros([count, 2]), trainable=False)
                      for key in self.owners} if count else {}

            def reduce(key, values):
                summary = observers.summarize_batch(values, bounds[key],
                                                    with_histogram=with_histogram)
                bounds[key].assign(summary["bound"])
                if count:
                    wrapper, _ = self.owners[key]
                    summary["errors"] = candidate_errors(wrapper.scheme, values, ranges[key])
                return summary
            traced = calibration_pass.TracedPass(self.model, self.wrappers, reduce)
            traced.bounds, traced.ranges = bounds, ranges
            return traced

        def traced():
            return calibration_pass.traced_pass(self.model, self.wrappers,
                                                ("statistics", with_histogram, count), make)

        if self.replicas == 1:
            # Each histogram continues at its observer's bound (0 if new).
            for key, variable in traced().bounds.items():
                observer = tensor_observers.get(key)
                variable.assign(observer.bound if observer is not None else 0.0)
            for key, variable in traced().ranges.items():
                if key in candidate_ranges:
                    variable.assign(candidate_ranges[key])
        errors = {key: [] for key in (candidate_ranges or {})}
        samples = 0
        for batch in batches:
            for key, (kind, payload) in self._activations_or_reductions(batch, traced).items():
                wrapper, range_name = self.owners[key]
                if key not in tensor_observers:
                    tensor_observers[key] = observers.TensorObserver(ema_decay=ema_decay)
                observer = tensor_observers[key]
                if kind == "values":
                    values = tf.constant(payload)
                    summary = observers.summarize_batch(values, observer.bound,
                                                        with_histogram=with_histogram)
                    if count:
                        summary["errors"] = candidate_errors(wrapper.scheme, values,
                                                             candidate_ranges[key])
                    payload = {name: value.numpy() for name, value in summary.items()}
                _check_finite(wrapper, range_name, bool(payload["finite"]))
                observer.merge(payload)
                if count:
                    errors[key].append(payload["errors"])
            samples += batch[0].shape[0]
        return samples, {key: np.array(rows) for key, rows in errors.items()}

    def output_error_sums(self, batches, configurations) -> Tuple[np.ndarray, np.ndarray]:
        """Per configuration ({key: (min, max)} for every tensor): the model's
        output error with its activations fake-quantized so, against float
        activations. Returns the squared errors [configurations, outputs] and
        the squared float outputs [outputs], summed over `batches`."""
        keys = list(configurations[0])
        stacked = {key: np.array([c[key] for c in configurations], np.float32) for key in keys}

        def quantizing_hook(ranges, index):
            def hook(wrapper, range_name, values):
                key = calibration_pass.tensor_key(wrapper, range_name)
                if key not in ranges:  # a tensor no batch reached: nothing to compare
                    return None
                return wrapper.scheme.fake_quant_activations(values, ranges[key][index][0],
                                                             ranges[key][index][1])
            return hook

        def make():
            ranges = {key: tf.Variable(stacked[key], trainable=False) for key in keys}

            def step(*inputs):
                reference = calibration_pass.outputs_with(self.model, self.wrappers,
                                                          lambda *_: None, inputs)
                squares = [tf.reduce_sum(tf.square(r)) for r in reference]
                errors = []
                for index in range(len(configurations)):
                    outputs = calibration_pass.outputs_with(
                        self.model, self.wrappers, quantizing_hook(ranges, index), inputs)
                    errors.append([tf.reduce_sum(tf.square(o - r))
                                   for o, r in zip(outputs, reference)])
                return tf.convert_to_tensor(errors), tf.stack(squares)
            traced = calibration_pass.TracedStep(self.model, step)
            traced.ranges = ranges
            return traced

        if self.replicas == 1:
            traced = calibration_pass.traced_pass(self.model, self.wrappers,
                                                  ("output errors", len(configurations)), make)
            for key, variable in traced.ranges.items():
                variable.assign(stacked[key])
        squared_errors, squares = 0.0, 0.0
        for batch in batches:
            if self.replicas == 1:
                errors, energy = (value.numpy() for value in traced(*batch))
            else:
                reference = calibration_pass.replica_outputs(
                    self.model, self.wrappers, self.strategy, batch, lambda *_: None)
                energy = np.array([np.sum(np.square(r)) for r in reference])
                errors = np.array([[np.sum(np.square(o - r)) for o, r in zip(
                    calibration_pass.replica_outputs(self.model, self.wrappers, self.strategy,
                                                     batch, quantizing_hook(stacked, index)),
                    reference)] for index in range(len(configurations))])
            squared_errors, squares = squared_errors + errors, squares + energy
        return squared_errors, squares


def propose_ranges(tensor_observers: dict, candidates, method_options: dict) -> dict:
    """{key: {method: (usable (min, max), widened)}} for every observer and
    candidate method; `candidates` the same methods for every tensor, or
    {key: methods} per tensor."""
    range_options = {k: v for k, v in method_options.items() if k == "percentile"}
    methods_of = (candidates if isinstance(candidates, dict)
                  else dict.fromkeys(tensor_observers, candidates))

    def propose(key):
        return {m: usable_range(*tensor_observers[key].range(m, **range_options))
                for m in methods_of[key]}
    # The range searches are numpy on O(bins) arrays, which release the GIL:
    # one thread per core halves entropy's and auto's fixed cost.
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:
        return dict(zip(tensor_observers, pool.map(propose, tensor_observers)))


def candidate_errors(scheme, values, ranges):
    """Summed squared error of fake-quantizing `values` with each (min, max) row of `ranges`."""
    ranges = tf.convert_to_tensor(ranges, tf.float32)
    values = tf.convert_to_tensor(values, tf.float32)
    return tf.stack([tf.reduce_sum(tf.square(
        scheme.fake_quant_activations(values, ranges[i, 0], ranges[i, 1]) - values))
        for i in range(ranges.shape[0])])


def candidate_ranges_of(proposals, candidates) -> dict:
    """{key: float32 array of each candidate method's (min, max)}, as
    candidate_errors takes them."""
    return {key: np.array([by_method[m][0] for m in candidates], np.float32)
            for key, by_method in proposals.items()}


def relative_output_errors(squared_errors, squares) -> np.ndarray:
    """auto's output criterion per configuration: summed over the model's
    outputs, squared error / squared float output ([configurations, outputs]
    and [outputs] sums over the batches)."""
    return np.sum(squared_errors / np.maximum(squares, np.finfo(np.float32).tiny), axis=1)


def per_tensor_choices(batch_errors: dict, candidates,
                       held_back_halves) -> Tuple[dict, Tuple[dict, ...]]:
    """auto's per-tensor choice, from each tensor's errors on every held-back
    batch ({key: [batches, candidates]}, the batches of HeldBack.halves() in
    turn; ties go to the first candidate); and the choices made on each half."""
    def choose(rows):
        return {key: candidates[int(np.argmin(np.sum(errors[rows], axis=0)))]
                for key, errors in batch_errors.items()}
    half_sizes = [len(half) for half in held_back_halves]
    ends = np.cumsum(half_sizes)
    return choose(slice(None)), tuple(choose(slice(end - size, end))
                                      for end, size in zip(ends, half_sizes))


def check_at_model_output(output_error_sums, held_back_halves, proposals, per_tensor,
                          cross_fitted, candidates) -> Tuple[dict, Dict[str, float]]:
    """auto's last step: the per-tensor choice against each candidate method
    applied to every tensor, compared by the model's output error on the
    held-back samples (ranges from the others). Per-tensor errors do
    not add up at the output: on a MobileNet-style Fashion-MNIST model the
    per-tensor mix had a larger output error, and lower test accuracy, than
    percentile or mse everywhere.

    The mix is cross-fitted: on each half of the held-back batches it is the
    mix chosen on the other half. Judged on the batches it was chosen on, it
    looked better than it did on new data, and was kept when percentile or
    minmax everywhere would have been closer to float.

    `output_error_sums(batches, [{key: (min, max)}, ...])` gives squared output
    errors [configurations, outputs] and squared float outputs [outputs].
    Returns the kept {key: method} (the least error; ties go to the per-tensor
    choice), and every configuration's error by name."""
    configurations, seen = {"per-tensor": per_tensor}, set()
    for method in candidates:  # a method with the same ranges as an earlier one measures the same
        signature = tuple(proposals[key][method][0] for key in per_tensor)
        if signature not in seen:
            seen.add(signature)
            configurations[method] = dict.fromkeys(per_tensor, method)
    squared_errors, squares = 0.0, 0.0
    for half, measured_mix in zip(held_back_halves, reversed(cross_fitted)):
        mixes = [measured_mix] + list(configurations.values())[1:]
        errors, energy = output_error_sums(half, [
            {key: proposals[key][methods[key]][0] for key in per_tensor} for methods in mixes])
        squared_errors, squares = squared_errors + errors, squares + energy
    errors = relative_output_errors(squared_errors, squares)
    names = list(configurations)
    return configurations[names[int(np.argmin(errors))]], dict(zip(names, map(float, errors)))


def calibrate(model, data, *, method: str = "minmax", num_samples=None, batch_size: int = 32,
              progress: bool = True, **method_options) -> CalibrationResult:
    """Runs `data` through `model` (from tfq.quantize_model) in float, and sets
    every activation range with `method`: minmax, ema (option `ema_decay`,
    default 0.9), percentile (option `percentile`, default 99.99), entropy,
    mse, or auto (option `methods`, the candidates; default all five).
    Returns the ranges set."""
    candidates = validate_method(method, method_options)
    wrappers = list(wrappers_in(model))
    if not wrappers:
        raise ValueError(f"model {getattr(model, 'name', model)!r} has no tfq quantization "
                         "wrappers; call tfq.quantize_model(model) first and calibrate its result")
    passes = _Calibration(model, wrappers, _strategy_of(model))
    held_back = HeldBack()
    tensor_observers: Dict[str, observers.TensorObserver] = {}
    with_histogram = any(m in observers.HISTOGRAM_METHODS for m in candidates)
    ema_decay = method_options.get("ema_decay", 0.9)
    stream = data_adapters.batches(model, data, batch_size=batch_size, num_samples=num_samples)
    samples, _ = passes.statistics(statistics_batches_of(stream, method, progress, held_back),
                                tensor_observers, with_histogram, ema_decay)
    proposals = propose_ranges(tensor_observers, candidates, method_options)

    chosen, held_out, per_tensor, cross_fitted, output_errors = {}, 0, {}, (), {}
    if method == "auto":
        held_back.check()
        halves = held_back.halves()
        candidate_ranges = candidate_ranges_of(proposals, candidates)
        # The held-back batches join the statistics in the same pass (after
        # `proposals`, which they must not inform).
        held_out, errors = passes.statistics([b for half in halves for b in half],
                                             tensor_observers, with_histogram, ema_decay,
                                             candidate_ranges=candidate_ranges)
        samples += held_out
        per_tensor, cross_fitted = per_tensor_choices(errors, candidates, halves)
        chosen, output_errors = check_at_model_output(passes.output_error_sums, halves,
                                                      proposals, per_tensor, cross_fitted,
                                                      candidates)
        proposals = propose_ranges({key: tensor_observers[key] for key in chosen},
                                   {key: (method,) for key, method in chosen.items()},
                                   method_options)

    ranges = {}
    for key, by_method in proposals.items():
        (low, high), widened = by_method[chosen.get(key, candidates[0])]
        if widened:
            warn_widened(key, low, high)
        wrapper, range_name = passes.owners[key]
        range_min, range_max, initialized = wrapper.range_variables()[range_name]
        range_min.assign(np.float32(low))
        range_max.assign(np.float32(high))
        initialized.assign(1.0)
        ranges[key] = (low, high)
    return CalibrationResult(method=method, ranges=ranges, samples=samples, chosen=chosen,
                             held_out=held_out, per_tensor=per_tensor,
                             cross_fitted=cross_fitted,
                             output_errors=output_errors,
                             replicas=passes.replicas)

"""tfq.analyze: which layer of a quantized model loses the accuracy.

The quantized .tflite runs in TFLite's interpreter with every tensor kept;
the float Keras model runs on the same samples with every layer's output
exposed. Each activation tensor of the .tflite is aligned to the Keras layer
it came from (by the layer names the converter writes into tensor names, and
by shape), dequantized and compared with that layer's float output:

- SQNR (dB) and cosine similarity: how much of the signal survives so far;
- layer SQNR: the SQNR of the error this layer adds by itself, the
  noise-to-signal power of its output minus that of its inputs (errors
  propagate, so the first broken layer drags every later one down; this is
  what ranks the culprit first);
- max and mean absolute error, range utilisation (the share of the
  quantization grid the float values span) and clipped share (float values
  outside the grid).

Suggestions are measured, not guessed: for the layers that lose the most,
tfq.convert re-converts the float model keeping that one layer float
(skip_layers), and once running it with 16-bit activations inside the int8
model (int16_layers), and the whole model once with 16-bit activations; the
gain is the change in accuracy (with labels) or in top-1 agreement with the
float model, against a re-conversion with none of these, on the same samples.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Dict, Iterable, List, Optional

import numpy as np
from tqdm.auto import tqdm

from tfq import data_adapters, inspection, model_sources, quant_math, tflite_runner
from tfq.quantize import _keras_flavour

# An SQNR above this is reported as this: the error is float32 round-off.
MAX_SQNR_DB = 120.0
HISTOGRAM_SAMPLES = 20000  # float/quantized value pairs kept per tensor for plots
QUANTIZED_TYPES = {"int8": np.int8, "int16": np.int16, "uint8": np.uint8}


def sqnr_db(reference, approximation) -> float:
    """Signal-to-quantization-noise ratio, 10 log10(sum ref^2 / sum (ref - approx)^2)."""
    reference = np.asarray(reference, np.float64)
    noise = np.sum((reference - np.asarray(approximation, np.float64)) ** 2)
    return _sqnr_from_sums(np.sum(reference ** 2), noise)


def _sqnr_from_sums(signal: float, noise: float) -> float:
    if noise <= 0.0:
        return MAX_SQNR_DB
    if signal <= 0.0:
        return -MAX_SQNR_DB
    return float(np.clip(10.0 * math.log10(signal / noise), -MAX_SQNR_DB, MAX_SQNR_DB))


def cosine_similarity(a, b) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return _cosine_from_sums(np.dot(a, b), np.dot(a, a), np.dot(b, b))


def _cosine_from_sums(dot: float, norm_a: float, norm_b: float) -> float:
    if norm_a == 0.0 and norm_b == 0.0:
        return 1.0
    if norm_a == 0.0 or norm_b == 0.0:
        return 0.0
    return float(dot / math.sqrt(norm_a * norm_b))


class _ErrorAccumulator:
    """Streaming error statistics of one tensor over all batches."""

    def __init__(self, grid, rng):
        self.grid = grid  # (low, high) representable floats, or None for a float tensor
        self.rng = rng
        self.signal = self.noise = self.dot = self.approx_norm = self.abs_sum = 0.0
        self.max_abs = 0.0
        self.count = self.clipped = 0
        self.low, self.high = math.inf, -math.inf
        self.samples = ([], [])

    def update(self, reference: np.ndarray, approximation: np.ndarray):
        f = reference.astype(np.float64).ravel()
        q = approximation.astype(np.float64).ravel()
        error = np.abs(f - q)
        self.signal += float(np.dot(f, f))
        self.noise += float(np.dot(error, error))
        self.dot += float(np.dot(f, q))
        self.approx_norm += float(np.dot(q, q))
        self.abs_sum += float(error.sum())
        self.max_abs = max(self.max_abs, float(error.max(initial=0.0)))
        self.count += f.size
        self.low, self.high = min(self.low, float(f.min())), max(self.high, float(f.max()))
        if self.grid is not None:
            self.clipped += int(np.count_nonzero((f < self.grid[0]) | (f > self.grid[1])))
        keep = min(f.size, HISTOGRAM_SAMPLES // 8)
        chosen = self.rng.choice(f.size, keep, replace=False) if keep < f.size else slice(None)
        self.samples[0].append(f[chosen].astype(np.float32))
        self.samples[1].append(q[chosen].astype(np.float32))

    def utilisation(self) -> Optional[float]:
        if self.grid is None:
            return None
        low, high = self.grid
        used = min(self.high, high) - max(self.low, low)
        return float(max(used, 0.0) / (high - low))

    def sample_pairs(self):
        f, q = np.concatenate(self.samples[0]), np.concatenate(self.samples[1])
        return f[:HISTOGRAM_SAMPLES], q[:HISTOGRAM_SAMPLES]


@dataclasses.dataclass
class LayerError:
    """One activation tensor of the quantized model against its Keras layer."""
    layer: str
    layer_class: str
    op: str
    tensor: str
    dtype: str  # int8 / int16, or float32 for a layer kept float
    shape: List[int]
    sqnr_db: float
    layer_sqnr_db: float  # SQNR of the error this layer adds (its inputs' taken out)
    cosine: float
    max_abs_error: float
    mean_abs_error: float
    range_utilisation: Optional[float]  # None for float tensors
    clipped_share: Optional[float]
    scale: Optional[float]
    zero_point: Optional[int]


@dataclasses.dataclass
class Suggestion:
    """A measured change: keep `layers` float (skip_layers), run them at 16
    bits (int16_layers), or the whole model (int16x8)."""
    action: str  # "skip_layers", "int16_layers" or "int16x8"
    layers: List[str]
    metric: Optional[float]  # the metric of the re-converted model, None if it failed
    gain: Optional[float]  # metric minus the re-converted baseline's
    how: str  # the call that makes it
    error: Optional[str] = None  # why the re-conversion failed


@dataclasses.dataclass
class Report:
    mode: str  # int8 or int16x8 (from the .tflite's activation types)
    samples: int
    metric_name: str  # "accuracy" (labels given) or "top-1 agreement"
    float_metric: Optional[float]  # accuracy of the float model (labels given)
    quantized_metric: float  # metric of the analyzed .tflite
    top1_agreement: float
    output_sqnr_db: float
    output_cosine: float
    output_max_abs_error: float
    layers: List[LayerError]
    suggestions: List[Suggestion] = dataclasses.field(default_factory=list)
    baseline_metric: Optional[float] = None  # the suggestions' re-converted baseline
    histograms: Dict[str, tuple] = dataclasses.field(default_factory=dict, repr=False)

    def worst(self, count: int = 3) -> List[LayerError]:
        """The quantized tensors whose own error is the largest (lowest layer SQNR)."""
        quantized = [row for row in self.layers if row.dtype != "float32"]
        return sorted(quantized, key=lambda row: row.layer_sqnr_db)[:count]

    def to_dict(self) -> dict:
        result = dataclasses.asdict(self)
        result.pop("histograms")
        result["worst_layers"] = [row.layer for row in self.worst()]
        return result

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **{"indent": 2, **kwargs})

    def to_html(self, directory) -> str:
        """Writes `directory`/index.html (self-contained: plots embedded as PNG,
        no network) and returns its path."""
        from tfq import analysis_report  # pylint: disable=import-outside-toplevel
        return analysis_report.write_html(self, os.fspath(directory))

    def __str__(self):
        lines = [f"{self.mode} model on {self.samples} samples: {self.metric_name} "
                 f"{self.quantized_metric:.2%}"
                 + (f" (float {self.float_metric:.2%})" if self.float_metric is not None else "")
                 + f", top-1 agreement {self.top1_agreement:.2%}, output SQNR "
                 f"{self.output_sqnr_db:.1f} dB",
                 f"{'layer':24s} {'op':18s} {'type':7s} {'SQNR dB':>8s} {'layer dB':>8s} "
                 f"{'cosine':>8s} {'clipped':>8s} {'range use':>9s}"]
        for row in self.layers:
            clipped = "" if row.clipped_share is None else f"{row.clipped_share:.2%}"
            used = "" if row.range_utilisation is None else f"{row.range_utilisation:.1%}"
            lines.append(f"{row.layer[:24]:24s} {row.op[:18]:18s} {row.dtype:7s} "
                         f"{row.sqnr_db:8.1f} {row.layer_sqnr_db:8.1f} {row.cosine:8.4f} "
                         f"{clipped:>8s} {used:>9s}")
        lines.append("worst layers: " + ", ".join(row.layer for row in self.worst()))
        if self.suggestions:
            lines.append(f"suggestions ({self.metric_name}; re-converted baseline "
                         f"{self.baseline_metric:.2%}):")
            for s in self.suggestions:
                outcome = (f"{s.metric:.2%} ({100 * s.gain:+.2f} points)" if s.metric is not None
                           else f"failed: {s.error}")
                lines.append(f"  {s.how}: {outcome}")
        return "\n".join(lines)


def quantization_grid(dtype: str, scale: float, zero_point: int):
    """(lowest, highest): the floats a `dtype` ("int8", "int16", "uint8")
    tensor with this scale and zero point can represent."""
    info = np.iinfo(QUANTIZED_TYPES[dtype])
    return scale * (info.min - zero_point), scale * (info.max - zero_point)


def _grid(tensor: inspection.TensorInfo):
    """The grid of a quantized activation, or None for a float one."""
    if tensor.dtype not in QUANTIZED_TYPES or not tensor.scale:
        return None
    return quantization_grid(tensor.dtype, tensor.scale[0], tensor.zero_point[0])


def _dequantized(values: np.ndarray, tensor: inspection.TensorInfo) -> np.ndarray:
    if tensor.dtype not in QUANTIZED_TYPES or not tensor.scale:
        return values.astype(np.float32)
    params = quant_math.QuantParams(np.float32(tensor.scale[:1]),
                                    np.int64(tensor.zero_point[:1]),
                                    QUANTIZED_TYPES[tensor.dtype])
    return quant_math.dequantize(values, params)


@dataclasses.dataclass
class _Aligned:
    layer: str
    op: inspection.OpInfo
    tensor: inspection.TensorInfo


def _keras_layers(model):
    """{name: layer} of the top-level layers whose single output can be probed."""
    found = {}
    for layer in model.layers:
        try:
            output = layer.output
        except (AttributeError, ValueError, RuntimeError):  # shared layer: several outputs
            continue
        if not isinstance(output, (list, tuple)):
            found[layer.name] = layer
    return found


def _shape_matches(tensor_shape, layer) -> bool:
    want = tuple(layer.output.shape[1:])
    got = tuple(tensor_shape[1:])
    return len(want) == len(got) and all(w is None or w == g for w, g in zip(want, got))


def _align(report: inspection.InspectionReport, model, layers) -> List[_Aligned]:
    """Each Keras layer's tensor in the .tflite: the latest op (in layer order)
    whose output names it and has its shape. Model inputs and outputs align
    by position (the converter names them after the signature)."""
    order = {name: index for index, name in enumerate(layers)}
    input_layers = [t._keras_history[0].name for t in model.inputs]  # pylint: disable=protected-access
    output_layers = [t._keras_history[0].name for t in model.outputs]  # pylint: disable=protected-access
    by_position = {}
    for index, name in zip(report.inputs, input_layers):
        by_position[index] = name
    for index, name in zip(report.outputs, output_layers):
        by_position[index] = name
    aligned: Dict[str, _Aligned] = {}
    named = False  # whether any tensor names a layer (inputs and outputs align anyway)
    for position, name in zip(report.inputs, input_layers):
        tensor = report.tensors[position]
        if tensor.dtype in QUANTIZED_TYPES and name in layers:
            aligned[name] = _Aligned(name, inspection.OpInfo(-1, "INPUT", [], [position]), tensor)
    for op in report.ops:
        if not op.outputs or op.op == "DEQUANTIZE":
            continue
        tensor = report.tensors[op.outputs[0]]
        if tensor.constant:
            continue
        if op.op == "QUANTIZE" and op.inputs and op.inputs[0] in report.inputs:
            candidates = [by_position.get(op.inputs[0])]  # a float model input, quantized
        else:
            candidates = inspection.layers_in(tensor.name, layers)
            named = named or bool(candidates)
            if op.outputs[0] in by_position:
                candidates.append(by_position[op.outputs[0]])
        candidates = [c for c in candidates if c in layers and _shape_matches(tensor.shape, layers[c])]
        if candidates:
            layer = max(candidates, key=order.__getitem__)
            aligned[layer] = _Aligned(layer, op, tensor)
    if not named:
        return []
    return sorted(aligned.values(), key=lambda a: (a.op.index, order[a.layer]))


def _input_sqnr(report, op, sqnr_of_tensor, producers) -> float:
    """The worst SQNR among the op's activation inputs, looking through
    unaligned tensors to the aligned ones they come from; exact float model
    inputs count as MAX_SQNR_DB."""
    worst, seen = MAX_SQNR_DB, set()
    pending = [i for i in op.inputs if i >= 0]
    while pending:
        index = pending.pop()
        if index in seen or report.tensors[index].constant:
            continue
        seen.add(index)
        if index in sqnr_of_tensor:
            worst = min(worst, sqnr_of_tensor[index])
        elif index in producers:
            pending.extend(i for i in producers[index].inputs if i >= 0)
    return worst


def layer_sqnr_db(input_sqnr_db: float, output_sqnr_db: float) -> float:
    """The SQNR of the noise a layer adds: its output's noise-to-signal power
    minus its input's (noise taken as independent of the signal and additive;
    a layer whose output is cleaner than its input, e.g. pooling, adds none)."""
    added = 10.0 ** (-output_sqnr_db / 10.0) - 10.0 ** (-input_sqnr_db / 10.0)
    return _sqnr_from_sums(1.0, added) if added > 0.0 else MAX_SQNR_DB


def _split_labels(model, data, labels):
    """(data, labels): a 2-tuple (x, y) of arrays for a one-input model splits."""
    if (labels is None and isinstance(data, tuple) and len(data) == 2 and len(model.inputs) == 1
            and all(isinstance(a, np.ndarray) for a in data) and data[1].ndim <= 2
            and data[0].ndim == len(model.inputs[0].shape)):
        return data[0], data[1]
    return data, labels


def _class_labels(labels) -> np.ndarray:
    labels = np.asarray(labels)
    return labels.argmax(-1) if labels.ndim == 2 else labels.reshape(-1)


def _top1(values: np.ndarray) -> np.ndarray:
    return values.reshape(values.shape[0], -1).argmax(-1)


def _metric(predicted_classes, labels, float_classes) -> float:
    reference = labels if labels is not None else float_classes
    return float(np.mean(predicted_classes == reference))


def _evaluate(tflite_model: bytes, batches) -> np.ndarray:
    """Top-1 classes of a .tflite over the batches (first output)."""
    runner = tflite_runner.TfliteRunner(tflite_model, keep_all_tensors=False)
    classes = []
    for batch in batches:
        for _, outputs in runner.run(batch):
            classes.append(_top1(outputs[0]))
    return np.concatenate(classes)


def _activation_mode(report: inspection.InspectionReport) -> str:
    types = {t.dtype for t in report.tensors if not t.constant}
    return "int16x8" if "int16" in types else "int8"


def _suggest(float_model, batches, labels, float_classes, candidates, *, mode, calibration,
             progress) -> tuple:
    """(baseline metric, [Suggestion]) from re-conversions of the float model."""
    from tfq import converter  # pylint: disable=import-outside-toplevel
    calibration_data = (lambda: iter(batches)) if len(batches[0]) > 1 else \
        np.concatenate([b[0] for b in batches])
    common = dict(representative_data=calibration_data, calibration=calibration, progress=False)

    def measured(**options):
        return _metric(_evaluate(converter.convert(float_model, **common, **options), batches),
                       labels, float_classes)

    baseline = measured(mode=mode)
    plans = []
    for layer in candidates if mode == "int8" else []:
        for action in ("skip_layers", "int16_layers"):
            plans.append((action, [layer], dict(mode="int8", **{action: [layer]}),
                          f"tfq.convert(model, calibration={calibration!r}, "
                          f"{action}=[{layer!r}])"))
    if mode == "int8":
        plans.append(("int16x8", [], dict(mode="int16x8"),
                      f"tfq.convert(model, calibration={calibration!r}, mode='int16x8')"))
    suggestions = []
    for action, layers, options, how in tqdm(plans, desc="measuring suggestions", unit="model",
                                             disable=None if progress else True):
        try:
            value = measured(**options)
            suggestions.append(Suggestion(action, layers, value, value - baseline, how))
        except ValueError as error:  # e.g. a layer the converter fused away
            suggestions.append(Suggestion(action, layers, None, None, how, str(error)))
    suggestions.sort(key=lambda s: -math.inf if s.gain is None else -s.gain)
    return baseline, suggestions


def analyze(float_model, quantized_tflite, data, *, labels=None, num_samples: int = 1000,
            batch_size: int = 32, suggestions: int = 3, calibration: str = "minmax",
            progress: bool = True, seed: int = 0) -> Report:
    """Compares a quantized .tflite (int8 or int16x8; bytes or path) with the
    float Keras model it came from (a model, `.keras`, `.h5` or Keras
    SavedModel), layer by layer, on up to `num_samples` samples of `data` (any
    form tfq.calibrate takes; an (x, y) pair of arrays gives labels, or pass
    `labels=`). With labels the metric is accuracy, else top-1 agreement
    with the float model.

    suggestions: how many of the worst layers to try keeping float (each a
      re-conversion with tfq.convert and `calibration`, measured on the same
      samples), plus the whole model in int16x8; 0 to skip.
    """
    source = model_sources.resolve(float_model)
    if source.keras_model is None:
        raise ValueError(f"tfq.analyze aligns the .tflite with the Keras layers it came from, but "
                         f"{source.description} does not load as Keras; pass the Keras model")
    model = source.keras_model
    tflite_model = quantized_tflite
    if isinstance(quantized_tflite, (str, os.PathLike)):
        inspection.inspect(quantized_tflite)  # a clear error for a missing or foreign file
        with open(quantized_tflite, "rb") as f:
            tflite_model = f.read()
    report = inspection.inspect(tflite_model)
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    if suggestions < 0:
        raise ValueError(f"suggestions must be >= 0, got {suggestions}")
    data, labels = _split_labels(model, data, labels)
    batches = list(data_adapters.batches(model, data, batch_size=batch_size,
                                         num_samples=num_samples))
    samples = sum(b[0].shape[0] for b in batches)
    for batch in batches:
        for array in batch:
            if not np.all(np.isfinite(array)):
                raise ValueError("the analysis data holds NaN or infinite values; clean it first")
    if labels is not None:
        labels = _class_labels(labels)
        if labels.shape[0] < samples:
            raise ValueError(f"labels has {labels.shape[0]} rows, the data {samples}; "
                             "pass one label per sample")
        labels = labels[:samples]
    if len(report.inputs) != len(model.inputs) or len(report.outputs) != len(model.outputs):
        raise ValueError(f"the .tflite has {len(report.inputs)} inputs and {len(report.outputs)} "
                         f"outputs, Keras model {model.name!r} {len(model.inputs)} and "
                         f"{len(model.outputs)}: is it the model it was converted from?")

    layers = _keras_layers(model)
    aligned = _align(report, model, layers)
    if not aligned:
        raise ValueError(f"no tensor of the .tflite could be aligned with a layer of Keras model "
                         f"{model.name!r}: is it the model it was converted from?")
    flavour = _keras_flavour(model)
    # The aligned layers' outputs, then the model's first output.
    probe = flavour.Model(model.inputs, [layers[a.layer].output for a in aligned]
                          + [model.outputs[0]])
    rng = np.random.default_rng(seed)
    accumulators = [_ErrorAccumulator(_grid(a.tensor), rng) for a in aligned]
    output_accumulator = _ErrorAccumulator(None, rng)
    runner = tflite_runner.TfliteRunner(tflite_model, keep_all_tensors=True)
    float_classes, quantized_classes = [], []
    for batch in tqdm(batches, desc="analyzing", unit="batch", disable=None if progress else True):
        references = probe(batch, training=False)
        references = [np.asarray(r) for r in (references if isinstance(references, (list, tuple))
                                              else [references])]
        row = 0
        for tensors, outputs in runner.run(batch, [a.tensor.index for a in aligned]):
            rows = next(iter(outputs)).shape[0]
            for a, accumulator, reference in zip(aligned, accumulators, references):
                accumulator.update(reference[row:row + rows],
                                   _dequantized(tensors[a.tensor.index], a.tensor))
            output = outputs[0]
            float_output = references[-1][row:row + rows]
            output_accumulator.update(float_output, output)
            float_classes.append(_top1(float_output))
            quantized_classes.append(_top1(output))
            row += rows
    float_classes = np.concatenate(float_classes)
    quantized_classes = np.concatenate(quantized_classes)

    sqnr_of_tensor = {}
    producers = {op.outputs[0]: op for op in report.ops if op.outputs}
    rows = []
    for a, acc in zip(aligned, accumulators):
        sqnr = _sqnr_from_sums(acc.signal, acc.noise)
        input_sqnr = (MAX_SQNR_DB if a.op.op == "INPUT" else
                      _input_sqnr(report, a.op, sqnr_of_tensor, producers))
        sqnr_of_tensor[a.tensor.index] = sqnr
        grid = acc.grid
        rows.append(LayerError(
            layer=a.layer, layer_class=type(layers[a.layer]).__name__, op=a.op.op,
            tensor=a.tensor.name, dtype=a.tensor.dtype, shape=list(a.tensor.shape),
            sqnr_db=sqnr, layer_sqnr_db=layer_sqnr_db(input_sqnr, sqnr),
            cosine=_cosine_from_sums(acc.dot, acc.signal, acc.approx_norm),
            max_abs_error=acc.max_abs, mean_abs_error=acc.abs_sum / max(acc.count, 1),
            range_utilisation=acc.utilisation(),
            clipped_share=None if grid is None else acc.clipped / max(acc.count, 1),
            scale=a.tensor.scale[0] if grid is not None else None,
            zero_point=int(a.tensor.zero_point[0]) if grid is not None else None))
    mode = _activation_mode(report)
    result = Report(
        mode=mode, samples=samples,
        metric_name="accuracy" if labels is not None else "top-1 agreement",
        float_metric=_metric(float_classes, labels, float_classes) if labels is not None else None,
        quantized_metric=_metric(quantized_classes, labels, float_classes),
        top1_agreement=float(np.mean(quantized_classes == float_classes)),
        output_sqnr_db=_sqnr_from_sums(output_accumulator.signal, output_accumulator.noise),
        output_cosine=_cosine_from_sums(output_accumulator.dot, output_accumulator.signal,
                                        output_accumulator.approx_norm),
        output_max_abs_error=output_accumulator.max_abs, layers=rows,
        histograms={a.layer: acc.sample_pairs() for a, acc in zip(aligned, accumulators)})
    if suggestions:
        candidates = [row.layer for row in result.worst(len(rows))
                      if row.op != "INPUT"][:suggestions]
        result.baseline_metric, result.suggestions = _suggest(
            model, batches, labels, float_classes, candidates, mode=mode,
            calibration=calibration, progress=progress)
    return result

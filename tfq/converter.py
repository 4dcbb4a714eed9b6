"""tfq.convert: a Keras model or a SavedModel -> a .tflite of builtin ops.

Two paths, one per kind of input (model_sources.py says which):
- Keras (a model, `.keras`, `.h5`, a tf_keras SavedModel): the model is
  wrapped by tfq.quantize_model and calibrated by tfq.calibrate (unless it
  already is: after QAT or calibration it converts as is), then the stock
  TFLiteConverter turns its fake-quant ranges into the integer model.
- A generic SavedModel: TFLite's calibrate-then-quantize path with tfq's
  ranges (tflite_calibration.py).

Every result is inspected before it is returned: builtin ops only, and in
the integer modes no float op left (unless a layer was kept float on
purpose with `skip_layers`).
"""
from __future__ import annotations

import contextlib
import json
import os
import warnings
from typing import Iterable, Optional

import keras
import numpy as np
import tensorflow as tf

from tfq import (calibration, data_adapters, files, flatbuffer_edits, inspection, mixed_precision,
                 model_sources, requantization, schemes, tflite_calibration)
from tfq.quantize import quantize_model
from tfq.wrapper import is_quantized

MODES = ("int8", "int16x8", "dynamic", "float16")
# The I/O types each mode can give a model; the first is the default.
IO_DTYPES = {"int8": ("int8", "uint8", "float32"), "int16x8": ("int16", "float32"),
             "dynamic": ("float32",), "float16": ("float32",)}
_TF_TYPES = {"int8": tf.int8, "uint8": tf.uint8, "int16": tf.int16, "float32": tf.float32}
INTEGER_MODES = ("int8", "int16x8")


def _validate(mode, io_dtype, calibration_method, calibration_options) -> str:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    if io_dtype is not None and io_dtype not in IO_DTYPES[mode]:
        raise ValueError(f"io_dtype {io_dtype!r} is not available in mode {mode!r}; "
                         f"choose one of {', '.join(IO_DTYPES[mode])}")
    if mode in INTEGER_MODES:  # before any model is loaded: fail fast
        calibration.validate_method(calibration_method, calibration_options)
    return io_dtype or IO_DTYPES[mode][0]


def _uncalibrated(model):
    """Names of the tensors of a quantized model that have no range yet."""
    missing = []
    for wrapper in calibration.wrappers_in(model):
        for name, (_, _, initialized) in wrapper.range_variables().items():
            if float(np.asarray(initialized)) == 0.0:
                missing.append(f"{wrapper.name}/{name}")
    return missing


def _integer_keras_model(model, *, scheme, data, method, skip_layers, num_samples, batch_size,
                         progress, options):
    """The model wrapped and calibrated for `scheme` (or as given, if it is)."""
    if is_quantized(model):
        if skip_layers:
            raise ValueError(f"model {model.name!r} is already quantized; skip_layers applies "
                             "when tfq wraps a float model: pass it to tfq.quantize_model")
        schemes_used = {w.scheme.name for w in calibration.wrappers_in(model)}
        if schemes_used != {scheme.name}:
            raise ValueError(f"model {model.name!r} was quantized with scheme "
                             f"{sorted(schemes_used)}, not {scheme.name!r}: convert it with "
                             f"mode={sorted(schemes_used)[0]!r}, or quantize the float model "
                             f"with scheme={scheme.name!r}")
        missing = _uncalibrated(model)
        if not missing:
            if data is not None:
                raise ValueError(f"model {model.name!r} already has its ranges (from "
                                 "tfq.calibrate or QAT); drop representative_data to convert "
                                 "it as is, or pass the float model to calibrate it afresh")
            return model
        if data is None:
            raise ValueError(f"model {model.name!r} has tensors without a range "
                             f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}); "
                             "pass representative_data to calibrate them, or train it (QAT) "
                             "first")
        calibration.calibrate(model, data, method=method, num_samples=num_samples,
                              batch_size=batch_size, progress=progress, **options)
        return model
    if data is None:
        raise ValueError(f"mode {scheme.name!r} needs representative_data to calibrate the "
                         f"activation ranges of float model {model.name!r} (or pass a model "
                         "from tfq.quantize_model that was calibrated or trained)")
    quantized = quantize_model(model, scheme=scheme.name, skip_layers=skip_layers)
    calibration.calibrate(quantized, data, method=method, num_samples=num_samples,
                          batch_size=batch_size, progress=progress, **options)
    return quantized


def _set_float_options(converter, mode):
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]


def _first_line(error: Exception) -> str:
    """The gist of a TF / converter error (their messages run to pages)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


@contextlib.contextmanager
def _keras_export_to_log():
    """Keras 3 models reach the converter through `model.export`, which
    prints its whole signature (a line per captured variable) to stdout;
    with interactive logging off, Keras sends that to absl's INFO log."""
    interactive = keras.config.is_interactive_logging_enabled()
    keras.config.disable_interactive_logging()
    try:
        yield
    finally:
        if interactive:
            keras.config.enable_interactive_logging()


def _run(converter) -> bytes:
    with warnings.catch_warnings(), _keras_export_to_log(), requantization.exporting():
        warnings.simplefilter("ignore")
        try:
            return bytes(converter.convert())
        except Exception as error:  # the converter raises ConverterError and friends
            raise ValueError(f"TFLiteConverter failed: {_first_line(error)}") from error


def _convert_keras(model, *, mode, io_dtype, data, method, skip_layers, num_samples, batch_size,
                   progress, options):
    if mode not in INTEGER_MODES:
        if is_quantized(model):
            raise ValueError(f"mode {mode!r} converts a float model, but {model.name!r} holds "
                             "tfq fake-quant wrappers; pass the float model, or use mode='int8'")
        if skip_layers:
            raise ValueError(f"skip_layers applies to the integer modes, not mode {mode!r}")
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        _set_float_options(converter, mode)
        return _run(converter), model
    scheme = schemes.get(mode)
    quantized = _integer_keras_model(model, scheme=scheme, data=data, method=method,
                                     skip_layers=skip_layers, num_samples=num_samples,
                                     batch_size=batch_size, progress=progress, options=options)
    converter = tf.lite.TFLiteConverter.from_keras_model(quantized)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.inference_input_type = converter.inference_output_type = _TF_TYPES[io_dtype]
    if scheme is schemes.INT16X8:
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        return flatbuffer_edits.with_int64_biases(_run(converter)), quantized
    return _run(converter), quantized


def _calibrate_then_quantize(converter, inputs, batches, *, description, mode, io_dtype,
                             method, progress, options, float_layers=(),
                             output_layers=()) -> bytes:
    """TFLite's calibrate-then-quantize path with tfq's ranges (tflite_calibration.py).
    `inputs`: specs (.name, .shape) of the converter's signature inputs, in the
    order `batches` gives arrays; `float_layers`: Keras layers whose ops stay
    float; `output_layers`: the layer behind each model output (the converter
    names output tensors after the signature, not the layer)."""
    first = next(batches)
    try:
        with _keras_export_to_log():
            calibrated = tflite_calibration.calibrated_float_model(converter, inputs, first)
    except Exception as error:
        raise ValueError(f"TFLiteConverter could not convert {description}: "
                         f"{_first_line(error)}") from error

    def all_batches():
        yield first
        yield from batches
    scheme = schemes.get(mode)
    ranges, _, _ = tflite_calibration.observe_ranges(calibrated, inputs, all_batches(),
                                                     scheme=scheme, method=method,
                                                     progress=progress, **options)
    float_nodes, matched = [], set()
    if float_layers:
        report = inspection.inspect(calibrated)
        layer_of_output = dict(zip(report.outputs, output_layers))
        for op in report.ops:
            if not op.outputs:
                continue
            name = report.tensors[op.outputs[0]].name
            layers = set(inspection.layers_in(name, float_layers))
            if layer_of_output.get(op.outputs[0]) in float_layers:
                layers.add(layer_of_output[op.outputs[0]])
            if layers:
                float_nodes.append(name)
                matched |= layers
        unmatched = sorted(set(float_layers) - matched)
        if unmatched:
            raise ValueError(f"skip_layers: no op of layer(s) {unmatched} is left in the "
                             f"converted graph of {description} (the converter folded them into "
                             "another op or removed them); skip the layer that produces them")
    return tflite_calibration.quantize(flatbuffer_edits.with_ranges(calibrated, ranges),
                                       scheme=scheme, io_type=_TF_TYPES[io_dtype],
                                       float_nodes=float_nodes)


def _convert_keras_keeping_layers_float(model, *, mode, io_dtype, data, method, skip_layers,
                                        num_samples, batch_size, progress, options):
    """A float Keras model to int8 with `skip_layers` kept float. The fake-quant
    path cannot do it: TFLite quantizes any op between two fake-quants, so a
    middle layer would come out int8 all the same. TFLite's calibrate-then-
    quantize path (tfq's ranges, the same methods) keeps the named ops float."""
    if data is None:
        raise ValueError(f"mode {mode!r} needs representative_data to calibrate the activation "
                         f"ranges of float model {model.name!r}")
    unknown = sorted(set(skip_layers) - set(_layer_classes(model)))
    if unknown:
        raise ValueError(f"skip_layers names layers not in model {model.name!r}: {unknown}; "
                         f"its layers are {sorted(_layer_classes(model))}")
    inputs = [tf.TensorSpec(t.shape, tf.float32, name=t.name.split(":")[0]) for t in model.inputs]
    stream = data_adapters.batches(model, data, batch_size=batch_size, num_samples=num_samples)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    return _calibrate_then_quantize(converter, inputs, stream,
                                    description=f"Keras model {model.name!r}", mode=mode,
                                    io_dtype=io_dtype, method=method, progress=progress,
                                    options=options, float_layers=skip_layers,
                                    output_layers=[t._keras_history[0].name  # pylint: disable=protected-access
                                                   for t in model.outputs])


def _convert_saved_model(path, *, mode, io_dtype, data, method, skip_layers, num_samples,
                         batch_size, progress, options):
    if skip_layers:
        raise ValueError(f"skip_layers names Keras layers, but {path!r} is a generic SavedModel "
                         "(it does not load as Keras); convert the Keras model instead")
    try:
        converter = tf.lite.TFLiteConverter.from_saved_model(path)
    except Exception as error:  # TF raises assorted errors on a corrupt SavedModel
        raise ValueError(f"could not load SavedModel {path!r}: {_first_line(error)}") from error
    if mode not in INTEGER_MODES:
        _set_float_options(converter, mode)
        return _run(converter)
    if data is None:
        raise ValueError(f"mode {mode!r} needs representative_data to calibrate SavedModel "
                         f"{path!r}")
    inputs = tflite_calibration.signature_inputs(path)
    stream = data_adapters.batches(inputs, data, batch_size=batch_size, num_samples=num_samples)
    return _calibrate_then_quantize(converter, inputs.inputs, stream,
                                    description=f"SavedModel {path!r}", mode=mode,
                                    io_dtype=io_dtype, method=method, progress=progress,
                                    options=options)


def _check(report: inspection.InspectionReport, *, mode, keras_model, skip_layers):
    custom = report.custom_ops()
    if custom:
        raise ValueError(f"the converted model holds custom ops ({custom[0].op}); tfq emits "
                         "builtin ops only. Replace the layer that needs it, or keep it out of "
                         "the model")
    if mode not in INTEGER_MODES:
        return
    layer_names = _layer_classes(keras_model) if keras_model is not None else {}
    offending = []
    for op in report.float_ops():
        name = report.tensors[op.outputs[0]].name if op.outputs else ""
        layer = inspection.layer_of(name, layer_names)
        if skip_layers and (layer is None or op.op in inspection.BOUNDARY_OPS or
                            inspection.layers_in(name, skip_layers)):
            continue  # float on purpose
        offending.append((op, layer))
    if offending:
        op, layer = offending[0]
        origin = (f"from layer {layer!r} ({layer_names[layer]})" if layer else
                  "from no Keras layer tfq can name")
        fix = (f"keep it float on purpose with skip_layers=[{layer!r}] "
               f"(tfq-convert --skip_layers={layer})" if layer else
               "check the model for ops TFLite cannot quantize")
        raise ValueError(f"{mode} conversion left {len(offending)} float op(s); the first is "
                         f"{report.describe_op(op)} {origin}: {fix}")


def _layer_classes(model) -> dict:
    """{layer name: class name} over the model and nested models (wrapped layers too)."""
    found = {}
    for layer in model.layers:
        inner = getattr(layer, "layer", None)
        if inner is not None:
            found[inner.name] = type(inner).__name__
        found[layer.name] = type(layer).__name__
        if hasattr(layer, "layers"):
            found.update(_layer_classes(layer))
    return found


def _convert_mixed(source, int16_layers, *, mode, io_dtype, skip_layers, **common):
    """int8 with `int16_layers` at 16 bits: both conversions, stitched."""
    model = source.keras_model
    if mode != "int8" or model is None or is_quantized(model):
        raise ValueError("int16_layers needs mode='int8' and a float Keras model (got mode "
                         f"{mode!r}, {source.description}); for a whole 16-bit model use "
                         "mode='int16x8'")
    if skip_layers:
        raise ValueError("int16_layers and skip_layers cannot be combined yet; choose one")
    layer_names = _layer_classes(model)
    unknown = sorted(set(int16_layers) - set(layer_names))
    if unknown:
        raise ValueError(f"int16_layers names layers not in model {model.name!r}: {unknown}; "
                         f"its layers are {sorted(layer_names)}")
    int8_model, _ = _convert_keras(model, mode="int8", io_dtype=io_dtype, skip_layers=(),
                                   **common)
    int16_model, _ = _convert_keras(model, mode="int16x8", io_dtype="int16", skip_layers=(),
                                    **common)
    chosen = set(int16_layers)
    return mixed_precision.stitch(
        int8_model, int16_model,
        lambda name: bool(chosen.intersection(inspection.layers_in(name, layer_names))))


def convert(model_or_path, *, mode: str = "int8", representative_data=None,
            calibration: str = "minmax", io_dtype: Optional[str] = None,
            skip_layers: Iterable[str] = (), int16_layers: Iterable[str] = (), report=None,
            num_calibration_samples: Optional[int] = None, batch_size: int = 32,
            progress: bool = True, calibration_options: Optional[dict] = None) -> bytes:
    """Converts a Keras model (Keras 3 or tf_keras, float or from
    tfq.quantize_model), a `.keras` / `.h5` file or a SavedModel directory to
    a .tflite of builtin ops, and returns its bytes.

    mode: "int8" (full integer), "int16x8" (16-bit activations, int8
      weights), "dynamic" (dynamic-range int8 weights) or "float16".
    representative_data: calibration data in any form tfq.calibrate takes;
      needed in the integer modes unless the model is already calibrated.
    calibration: the tfq.calibrate method (minmax, ema, percentile, entropy,
      mse, auto); `calibration_options` its options (e.g. {"percentile": 99.9}).
    io_dtype: the model's input/output type. int8 (default), uint8 or
      float32 in mode int8; int16 (default) or float32 in int16x8; float32
      in dynamic and float16.
    skip_layers: Keras layers kept float (int8/int16x8, float models).
    int16_layers: Keras layers run with 16-bit activations inside an int8
      model (mode int8, float Keras models; see tfq.mixed_precision).
    report: a path: tfq.inspect's report of the result is written there as JSON.
    """
    options = dict(calibration_options or {})
    io_dtype = _validate(mode, io_dtype, calibration, options)
    if isinstance(skip_layers, str):
        skip_layers = [name for name in skip_layers.split(",") if name]
    skip_layers = tuple(skip_layers)
    if isinstance(int16_layers, str):
        int16_layers = [name for name in int16_layers.split(",") if name]
    int16_layers = tuple(int16_layers)
    if num_calibration_samples is not None and num_calibration_samples < 1:
        raise ValueError(f"num_calibration_samples must be >= 1, got {num_calibration_samples}")
    source = model_sources.resolve(model_or_path)
    common = dict(mode=mode, io_dtype=io_dtype, data=representative_data, method=calibration,
                  skip_layers=skip_layers, num_samples=num_calibration_samples,
                  batch_size=batch_size, progress=progress, options=options)
    keras_model = None
    if int16_layers:
        tflite_model = _convert_mixed(source, int16_layers, **common)
        keras_model = source.keras_model
    elif (source.keras_model is not None and skip_layers and mode == "int8"
            and not is_quantized(source.keras_model)):
        keras_model = source.keras_model
        tflite_model = _convert_keras_keeping_layers_float(keras_model, **common)
    elif source.keras_model is not None:
        tflite_model, keras_model = _convert_keras(source.keras_model, **common)
    else:
        tflite_model = _convert_saved_model(source.saved_model_dir, **common)
    result = inspection.inspect(tflite_model)
    _check(result, mode=mode, keras_model=keras_model, skip_layers=skip_layers + int16_layers)
    if report is not None:
        summary = {"source": source.description, "mode": mode, "io_dtype": io_dtype,
                   "calibration": calibration if mode in INTEGER_MODES else None,
                   "skip_layers": list(skip_layers), "int16_layers": list(int16_layers),
                   **result.to_dict()}
        files.write_atomically(os.fspath(report), json.dumps(summary, indent=2))
    return tflite_model

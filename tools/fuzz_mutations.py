"""Seeded mutations of a real .tflite: what a hostile or corrupt download looks like.

Each mutation takes the model bytes and a numpy Generator and returns the
mutant's bytes and a one-line description (enough to replay it: the same
seed gives the same mutant). Structured mutations edit the flatbuffer
through the schema's object API, so the file still parses and the damage
reaches the delegate's checks instead of stopping at the reader.
"""
from __future__ import annotations

from typing import Callable, Dict, Tuple

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from tfq import flatbuffer_edits

Mutant = Tuple[bytes, str]

# Values that break assumptions: zero, negative, one past, overflow edges.
_HOSTILE_INTS = (0, -1, 1, 2, 3, 7, 127, 128, 255, 256, 65535, 1 << 20, 2 ** 31 - 1, -2 ** 31)
_HOSTILE_SCALES = (0.0, -1.0, float("nan"), float("inf"), 1e-30, 1e30, 1e-45)
_HOSTILE_ZERO_POINTS = (-129, 128, 255, -32769, 40000, 2 ** 31 - 1, -2 ** 31)


def _pick(rng, sequence):
    return sequence[int(rng.integers(len(sequence)))]


def _graph(model):
    return model.subgraphs[0]


def flip_bytes(model_bytes: bytes, rng) -> Mutant:
    data = bytearray(model_bytes)
    count = int(rng.integers(1, 17))
    positions = rng.integers(8, len(data), count)  # keep the TFL3 identifier
    for position in positions:
        data[position] = int(rng.integers(256))
    return bytes(data), f"bytes: {count} random bytes overwritten"


def shape(model_bytes: bytes, rng) -> Mutant:
    model = flatbuffer_edits.read(model_bytes)
    tensors = _graph(model).tensors
    index = int(rng.integers(len(tensors)))
    tensor = tensors[index]
    dims = list(np.asarray(tensor.shape if tensor.shape is not None else [], np.int64))
    choice = int(rng.integers(3))
    if choice == 0 and dims:
        axis = int(rng.integers(len(dims)))
        dims[axis] = _pick(rng, (0, 1, dims[axis] + 1, max(dims[axis] - 1, 0), 2 * dims[axis],
                                 1 << 20, -1, -5))
        what = f"dim {axis} -> {dims[axis]}"
    elif choice == 1 and dims:
        dims.pop(int(rng.integers(len(dims))))
        what = "one dim dropped"
    else:
        dims.insert(int(rng.integers(len(dims) + 1)), int(_pick(rng, (1, 2, 3))))
        what = "one dim added"
    tensor.shape = np.array(dims, np.int32)
    tensor.shapeSignature = None
    return flatbuffer_edits.write(model), f"shape: tensor {index} {what}"


def quantization(model_bytes: bytes, rng) -> Mutant:
    model = flatbuffer_edits.read(model_bytes)
    tensors = [(i, t) for i, t in enumerate(_graph(model).tensors)
               if t.quantization is not None and t.quantization.scale is not None]
    index, tensor = tensors[int(rng.integers(len(tensors)))]
    quant = tensor.quantization
    scales = np.array(quant.scale, np.float32)
    zero_points = np.array(quant.zeroPoint if quant.zeroPoint is not None else [0], np.int64)
    choice = int(rng.integers(4))
    if choice == 0:
        scales[int(rng.integers(scales.size))] = _pick(rng, _HOSTILE_SCALES)
        what = "a scale hostile"
    elif choice == 1:
        zero_points[int(rng.integers(zero_points.size))] = _pick(rng, _HOSTILE_ZERO_POINTS)
        what = "a zero point out of range"
    elif choice == 2:
        keep = int(rng.integers(0, scales.size + 3))
        scales = np.resize(scales, keep) if keep else np.array([], np.float32)
        what = f"{keep} scales for {zero_points.size} zero points"
    else:
        quant.quantizedDimension = int(_pick(rng, (-1, 1, 2, 3, 4, 7, 1 << 20)))
        what = f"quantized dimension {quant.quantizedDimension}"
    quant.scale, quant.zeroPoint = scales, zero_points
    return flatbuffer_edits.write(model), f"quantization: tensor {index} {what}"


def options(model_bytes: bytes, rng) -> Mutant:
    model = flatbuffer_edits.read(model_bytes)
    ops = [(i, op) for i, op in enumerate(_graph(model).operators) if op.builtinOptions is not None]
    if not ops:
        return flip_bytes(model_bytes, rng)
    index, op = ops[int(rng.integers(len(ops)))]
    fields = [name for name, value in vars(op.builtinOptions).items()
              if isinstance(value, (bool, int, np.integer))]
    if not fields:
        return flip_bytes(model_bytes, rng)
    field = _pick(rng, fields)
    value = getattr(op.builtinOptions, field)
    if isinstance(value, bool):
        new = not value
    else:
        new = int(_pick(rng, _HOSTILE_INTS))
    setattr(op.builtinOptions, field, new)
    return flatbuffer_edits.write(model), f"options: op {index} {field} {value} -> {new}"


def indices(model_bytes: bytes, rng) -> Mutant:
    model = flatbuffer_edits.read(model_bytes)
    graph = _graph(model)
    index = int(rng.integers(len(graph.operators)))
    op = graph.operators[index]
    side = "inputs" if rng.integers(2) == 0 or op.outputs is None else "outputs"
    values = np.array(getattr(op, side), np.int32)
    slot = int(rng.integers(values.size))
    values[slot] = _pick(rng, (-1, -2, len(graph.tensors), len(graph.tensors) + 100,
                               int(rng.integers(len(graph.tensors))), 2 ** 31 - 1))
    setattr(op, side, values)
    return flatbuffer_edits.write(model), f"indices: op {index} {side}[{slot}] -> {values[slot]}"


def buffer(model_bytes: bytes, rng) -> Mutant:
    model = flatbuffer_edits.read(model_bytes)
    tensors = _graph(model).tensors
    constants = [(i, t) for i, t in enumerate(tensors) if t.buffer > 0 and
                 model.buffers[t.buffer].data is not None and len(model.buffers[t.buffer].data)]
    if not constants:
        return flip_bytes(model_bytes, rng)
    index, tensor = constants[int(rng.integers(len(constants)))]
    choice = int(rng.integers(3))
    if choice == 0:
        data = np.asarray(model.buffers[tensor.buffer].data, np.uint8)
        keep = int(rng.integers(data.size))
        model.buffers[tensor.buffer].data = data[:keep]
        what = f"buffer truncated to {keep} of {data.size} bytes"
    elif choice == 1:
        tensor.buffer = int(rng.integers(len(model.buffers)))
        what = f"points at buffer {tensor.buffer}"
    else:
        tensor.buffer = len(model.buffers) + int(rng.integers(1, 100))
        what = f"points at missing buffer {tensor.buffer}"
    return flatbuffer_edits.write(model), f"buffer: tensor {index} {what}"


def tensor_type(model_bytes: bytes, rng) -> Mutant:
    model = flatbuffer_edits.read(model_bytes)
    tensors = _graph(model).tensors
    index = int(rng.integers(len(tensors)))
    new = int(_pick(rng, (schema.TensorType.INT16, schema.TensorType.UINT8,
                          schema.TensorType.FLOAT32, schema.TensorType.INT32,
                          schema.TensorType.INT64, schema.TensorType.BOOL)))
    old, tensors[index].type = tensors[index].type, new
    return flatbuffer_edits.write(model), f"type: tensor {index} {old} -> {new}"


MUTATIONS: Dict[str, Callable[[bytes, np.random.Generator], Mutant]] = {
    "bytes": flip_bytes, "shape": shape, "quantization": quantization, "options": options,
    "indices": indices, "buffer": buffer, "type": tensor_type,
}


def mutate(model_bytes: bytes, rng: np.random.Generator) -> Mutant:
    """One mutation, chosen by `rng`; a structured one that cannot be written
    (a value too wide for its field) falls back to byte flips."""
    name = _pick(rng, list(MUTATIONS))
    try:
        return MUTATIONS[name](model_bytes, rng)
    except (OverflowError, ValueError, TypeError, IndexError, AttributeError) as error:
        data, what = flip_bytes(model_bytes, rng)
        return data, f"{what} ({name} could not be written: {type(error).__name__})"

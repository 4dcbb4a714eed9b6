"""Small edits of a .tflite flatbuffer through the schema's object API.

- `with_ranges`: calibration ranges (min/max) of chosen tensors, before
  TFLite's quantizer turns them into scales and zero points.
- `with_int64_biases`: the 16x8 ops' int32 biases widened to int64. The
  converter's fake-quant (QAT) path writes int32 biases and takes no bias-type
  option there, while TFLite's 16x8 DEPTHWISE_CONV_2D (and others) demand
  int64. Widening keeps every value and the scale, so results are unchanged.
"""
from __future__ import annotations

from typing import Dict, Tuple

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

# 16x8 ops whose third input is a bias (input scale x weight scale).
_BIAS_OPS = {schema.BuiltinOperator.CONV_2D: 2, schema.BuiltinOperator.DEPTHWISE_CONV_2D: 2,
             schema.BuiltinOperator.FULLY_CONNECTED: 2, schema.BuiltinOperator.TRANSPOSE_CONV: 3}


def builtin_code(operator_code) -> int:
    """An operator code's builtin op: codes past 127 live in builtinCode, older
    files keep them in deprecatedBuiltinCode; the larger of the two is it."""
    return max(operator_code.builtinCode, operator_code.deprecatedBuiltinCode)


def read(model_bytes: bytes):
    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model_bytes, 0))


def write(model) -> bytes:
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def with_ranges(model_bytes: bytes, ranges: Dict[int, Tuple[float, float]]) -> bytes:
    """Sets (min, max) of tensors of subgraph 0, by index."""
    model = read(model_bytes)
    graph = model.subgraphs[0]
    for index, (low, high) in ranges.items():
        quantization = graph.tensors[index].quantization or schema.QuantizationParametersT()
        quantization.min = np.array([low], np.float32)
        quantization.max = np.array([high], np.float32)
        graph.tensors[index].quantization = quantization
    return write(model)


def with_int64_biases(model_bytes: bytes) -> bytes:
    """Widens the int32 constant biases of ops with int16 inputs to int64."""
    model = read(model_bytes)
    changed = False
    for graph in model.subgraphs:
        for op in graph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            position = _BIAS_OPS.get(builtin_code(code))
            inputs = list(op.inputs)
            if position is None or len(inputs) <= position or inputs[position] < 0:
                continue
            data_input = graph.tensors[inputs[0 if position == 2 else 2]]
            bias = graph.tensors[inputs[position]]
            buffer = model.buffers[bias.buffer]
            if data_input.type != schema.TensorType.INT16 or bias.type != schema.TensorType.INT32 \
                    or buffer.data is None:
                continue
            # A buffer of its own: the converter shares one between equal
            # constants (all-zero biases), which must not be widened twice.
            values = np.frombuffer(np.asarray(buffer.data, np.uint8).tobytes(), np.int32)
            own = schema.BufferT()
            own.data = np.frombuffer(values.astype(np.int64).tobytes(), np.uint8)
            model.buffers.append(own)
            bias.buffer = len(model.buffers) - 1
            bias.type = schema.TensorType.INT64
            changed = True
    return write(model) if changed else model_bytes

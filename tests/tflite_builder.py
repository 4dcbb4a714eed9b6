"""Writes one-op `.tflite` models directly with TFLite's flatbuffer schema.

Tests need models the converter will not produce on request: zero points of
exactly -128 or 127, a RELU_N1_TO1 fused activation, per-tensor and
per-channel weights side by side, a missing bias. The LiteRT wheel ships the
schema's generated object API, so a model is a few lists of tensors.

    builder = OneOpModel("FULLY_CONNECTED", schema.FullyConnectedOptionsT())
    x = builder.add_input([2, 16], np.int8, scale=0.5, zero_point=-128)
    w = builder.add_constant(weights, scale=[...], zero_point=[0, ...], axis=0)
    builder.add_output([2, 8], np.int8, scale=1.0, zero_point=3)
    model_bytes = builder.build(inputs=[x, w, -1])
"""
from __future__ import annotations

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

_TENSOR_TYPES = {np.dtype(np.float32): schema.TensorType.FLOAT32,
                 np.dtype(np.int32): schema.TensorType.INT32,
                 np.dtype(np.int8): schema.TensorType.INT8,
                 np.dtype(np.int16): schema.TensorType.INT16,
                 np.dtype(np.int64): schema.TensorType.INT64}


class OneOpModel:
    def __init__(self, op_name: str, options=None):
        self._op_code = getattr(schema.BuiltinOperator, op_name)
        self._options = options
        self._tensors: list = []
        self._buffers: list = [schema.BufferT()]  # buffer 0: the empty sentinel
        self._graph_inputs: list[int] = []
        self._graph_outputs: list[int] = []

    def _add_tensor(self, shape, dtype, scale, zero_point, axis, data=None) -> int:
        tensor = schema.TensorT()
        tensor.shape = list(shape)
        tensor.type = _TENSOR_TYPES[np.dtype(dtype)]
        tensor.name = f"t{len(self._tensors)}"
        buffer = schema.BufferT()
        if data is not None:
            buffer.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
        self._buffers.append(buffer)
        tensor.buffer = len(self._buffers) - 1
        if scale is not None:
            params = schema.QuantizationParametersT()
            params.scale = list(np.atleast_1d(np.asarray(scale, np.float32)))
            params.zeroPoint = list(np.atleast_1d(np.asarray(zero_point, np.int64)))
            params.quantizedDimension = axis
            tensor.quantization = params
        self._tensors.append(tensor)
        return len(self._tensors) - 1

    def add_input(self, shape, dtype, *, scale=None, zero_point=0) -> int:
        index = self._add_tensor(shape, dtype, scale, zero_point, 0)
        self._graph_inputs.append(index)
        return index

    def add_constant(self, data, *, scale=None, zero_point=0, axis=0) -> int:
        data = np.asarray(data)
        return self._add_tensor(data.shape, data.dtype, scale, zero_point, axis, data)

    def add_output(self, shape, dtype, *, scale=None, zero_point=0) -> int:
        index = self._add_tensor(shape, dtype, scale, zero_point, 0)
        self._graph_outputs.append(index)
        return index

    def build(self, inputs) -> bytes:
        """`inputs`: tensor indices of the op's inputs in order (-1 = omitted)."""
        op_code = schema.OperatorCodeT()
        op_code.builtinCode = self._op_code
        op_code.deprecatedBuiltinCode = min(self._op_code, 127)
        op_code.version = 1
        operator = schema.OperatorT()
        operator.opcodeIndex = 0
        operator.inputs = list(inputs)
        operator.outputs = list(self._graph_outputs)
        if self._options is not None:
            # The union's member is named as the options class without its T.
            operator.builtinOptionsType = getattr(schema.BuiltinOptions,
                                                  type(self._options).__name__[:-1])
            operator.builtinOptions = self._options
        subgraph = schema.SubGraphT()
        subgraph.tensors = self._tensors
        subgraph.inputs = self._graph_inputs
        subgraph.outputs = self._graph_outputs
        subgraph.operators = [operator]
        model = schema.ModelT()
        model.version = 3
        model.operatorCodes = [op_code]
        model.subgraphs = [subgraph]
        model.buffers = self._buffers
        model.description = "tfq test one-op model"
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())

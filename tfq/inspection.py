"""tfq.inspect: what a .tflite holds, read from its flatbuffer (no interpreter).

The report lists every op with the types of its inputs and outputs, the
tensors left in float, the quantization parameters of every tensor and the
model size; `float_ops()` is what the converter's int8 check refuses.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Dict, List, Optional, Union

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from tfq import flatbuffer_edits

_OP_NAMES = {code: name for name, code in vars(schema.BuiltinOperator).items()
             if not name.startswith("_")}
_TYPE_NAMES = {code: name.lower() for name, code in vars(schema.TensorType).items()
               if not name.startswith("_")}
FLOAT_TYPES = ("float32", "float16", "float64", "bfloat16")
# Ops that convert between float and integer at a model's float inputs/outputs.
BOUNDARY_OPS = ("QUANTIZE", "DEQUANTIZE")


@dataclasses.dataclass
class TensorInfo:
    index: int
    name: str
    dtype: str
    shape: List[int]
    constant: bool
    scale: List[float]
    zero_point: List[int]
    quantized_dimension: int

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass
class OpInfo:
    index: int
    op: str  # builtin op name, or "CUSTOM:<code>"
    inputs: List[int]
    outputs: List[int]


@dataclasses.dataclass
class InspectionReport:
    size_bytes: int
    ops: List[OpInfo]
    tensors: List[TensorInfo]
    inputs: List[int]
    outputs: List[int]
    subgraphs: int

    def op_counts(self) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for op in self.ops:
            counts[op.op] = counts.get(op.op, 0) + 1
        return counts

    def custom_ops(self) -> List[OpInfo]:
        return [op for op in self.ops if op.op.startswith("CUSTOM:")]

    def float_tensors(self) -> List[TensorInfo]:
        """Non-constant tensors (activations) of a float type."""
        return [t for t in self.tensors if t.dtype in FLOAT_TYPES and not t.constant]

    def float_ops(self) -> List[OpInfo]:
        """Ops computing in float: a float activation among their inputs or
        outputs. QUANTIZE/DEQUANTIZE at a float model input or output (float
        I/O of an otherwise integer model) are not counted."""
        edges = set(self.inputs) | set(self.outputs)
        found = []
        for op in self.ops:
            touched = [i for i in op.inputs + op.outputs if i >= 0 and
                       self.tensors[i].dtype in FLOAT_TYPES and not self.tensors[i].constant]
            if op.op in BOUNDARY_OPS and all(i in edges for i in touched):
                continue
            if touched or any(i >= 0 and self.tensors[i].dtype in FLOAT_TYPES
                              for i in op.inputs):  # float weights: a float kernel
                found.append(op)
        return found

    def describe_op(self, op: OpInfo) -> str:
        def types(indices):
            return ", ".join(self.tensors[i].dtype for i in indices if i >= 0)
        name = self.tensors[op.outputs[0]].name if op.outputs else ""
        return f"{op.op} #{op.index} ({types(op.inputs)} -> {types(op.outputs)}) '{name}'"

    def to_dict(self) -> dict:
        return {
            "size_bytes": self.size_bytes,
            "subgraphs": self.subgraphs,
            "op_counts": self.op_counts(),
            "ops": [{"index": op.index, "op": op.op,
                     "inputs": [self.tensors[i].dtype for i in op.inputs if i >= 0],
                     "outputs": [self.tensors[i].dtype for i in op.outputs if i >= 0],
                     "output_names": [self.tensors[i].name for i in op.outputs if i >= 0]}
                    for op in self.ops],
            "float_tensors": [t.name for t in self.float_tensors()],
            "float_ops": [self.describe_op(op) for op in self.float_ops()],
            "tensors": [t.to_dict() for t in self.tensors],
            "inputs": self.inputs,
            "outputs": self.outputs,
        }

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **{"indent": 2, **kwargs})

    def __str__(self):
        lines = [f"model: {self.size_bytes / 1024:.1f} KiB, {len(self.ops)} ops, "
                 f"{self.subgraphs} subgraph(s)"]
        lines += [f"  {name:28s} x{count}" for name, count in sorted(self.op_counts().items())]
        float_ops = self.float_ops()
        lines.append(f"float ops: {len(float_ops)}")
        lines += [f"  {self.describe_op(op)}" for op in float_ops]
        for role, indices in (("input", self.inputs), ("output", self.outputs)):
            for i in indices:
                t = self.tensors[i]
                quant = f" scale {t.scale[0]:.6g} zero point {t.zero_point[0]}" if t.scale else ""
                lines.append(f"{role} '{t.name}': {t.dtype} {t.shape}{quant}")
        return "\n".join(lines)


def _read_model(tflite: Union[bytes, bytearray, str, os.PathLike]):
    if isinstance(tflite, (str, os.PathLike)):
        if not os.path.isfile(tflite):
            raise FileNotFoundError(f"no .tflite file at {os.fspath(tflite)!r}")
        with open(tflite, "rb") as f:
            tflite = f.read()
    if not isinstance(tflite, (bytes, bytearray)):
        raise TypeError(f"tfq.inspect expects .tflite bytes or a path, got {type(tflite).__name__}")
    data = bytes(tflite)
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ValueError("not a TFLite flatbuffer (no 'TFL3' identifier); pass a .tflite model")
    try:
        return data, schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    except Exception as error:  # flatbuffers raises assorted errors on bad offsets
        raise ValueError(f"corrupt .tflite flatbuffer: {error}") from error


def _op_name(code) -> str:
    builtin = flatbuffer_edits.builtin_code(code)
    if builtin == schema.BuiltinOperator.CUSTOM:
        custom = code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
        return f"CUSTOM:{custom}"
    return _OP_NAMES.get(builtin, f"BUILTIN_{builtin}")


def _as_list(values) -> list:
    return [] if values is None else np.asarray(values).tolist()


def inspect(tflite) -> InspectionReport:
    """Reads a .tflite (bytes or path): ops with their I/O types, float tensors,
    quantization parameters per tensor and the model size. Reports subgraph 0
    (the main graph) op by op and counts the others."""
    data, model = _read_model(tflite)
    if not model.subgraphs:
        raise ValueError("the .tflite has no subgraph")
    graph = model.subgraphs[0]
    buffers = model.buffers or []
    tensors = []
    for index, tensor in enumerate(graph.tensors or []):
        buffer = buffers[tensor.buffer] if 0 <= tensor.buffer < len(buffers) else None
        constant = buffer is not None and (
            (buffer.data is not None and len(buffer.data) > 0) or (buffer.size or 0) > 0)
        quant = tensor.quantization
        scale = _as_list(quant.scale) if quant is not None else []
        zero_point = _as_list(quant.zeroPoint) if quant is not None else []
        name = tensor.name.decode(errors="replace") if isinstance(tensor.name, bytes) \
            else str(tensor.name)
        tensors.append(TensorInfo(
            index=index, name=name, dtype=_TYPE_NAMES.get(tensor.type, f"type{tensor.type}"),
            shape=_as_list(tensor.shape), constant=constant, scale=scale, zero_point=zero_point,
            quantized_dimension=int(quant.quantizedDimension) if quant is not None else 0))
    codes = model.operatorCodes or []
    ops = []
    for index, op in enumerate(graph.operators or []):
        if not 0 <= op.opcodeIndex < len(codes):
            raise ValueError(f"corrupt .tflite: op #{index} has opcode index {op.opcodeIndex}")
        ops.append(OpInfo(index=index, op=_op_name(codes[op.opcodeIndex]),
                          inputs=[int(i) for i in _as_list(op.inputs)],
                          outputs=[int(i) for i in _as_list(op.outputs)]))
    for op in ops:
        if any(i >= len(tensors) for i in op.inputs + op.outputs):
            raise ValueError(f"corrupt .tflite: op #{op.index} names a tensor index out of range")
    return InspectionReport(size_bytes=len(data), ops=ops, tensors=tensors,
                            inputs=[int(i) for i in _as_list(graph.inputs)],
                            outputs=[int(i) for i in _as_list(graph.outputs)],
                            subgraphs=len(model.subgraphs))


def layers_in(tensor_name: str, layer_names) -> List[str]:
    """The Keras layers named in a converted tensor's name, in order: the
    converter names tensors after the TF ops, '<model>/<layer>/<op>' (tfq's
    wrappers add a 'quant_' prefix, Keras 3 a '_1' suffix; fused ops, e.g.
    Conv2D + BatchNormalization + ReLU, join several names with ';')."""
    candidates = set(layer_names)
    found = []
    for part in tensor_name.replace(";", "/").split("/"):
        base = part[len("quant_"):] if part.startswith("quant_") else part
        for name in (base, base.rsplit("_1", 1)[0] if base.endswith("_1") else base):
            if name in candidates and name not in found:
                found.append(name)
    return found


def layer_of(tensor_name: str, layer_names) -> Optional[str]:
    """The first Keras layer named in a converted tensor's name (layers_in)."""
    found = layers_in(tensor_name, layer_names)
    return found[0] if found else None

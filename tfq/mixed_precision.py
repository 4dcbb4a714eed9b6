"""Mixed int8 / int16x8 models: chosen Keras layers run with 16-bit
activations, the rest in int8, in one .tflite of builtin ops.

TFLite's quantizer takes one activation type per model, so tfq converts the
float model twice from the same calibration (int8 and int16x8; the graphs
match op for op, tensor names included) and stitches them: the chosen
layers' ops, their constants (int8 weights, int64 biases) and their
activation scales come from the int16x8 model. Where an int8 tensor enters a
16-bit region a QUANTIZE (int8 -> int16) is inserted; where a 16-bit tensor
leaves one, a QUANTIZE (int16 -> int8) writes the original int8 tensor, so
the int8 ops around it are untouched. Consecutive chosen layers pass int16
tensors directly. Both TFLite's builtin kernels and the tfq delegate run
such models.
"""
from __future__ import annotations

import copy
from typing import Callable, Dict, List

from ai_edge_litert import schema_py_generated as schema

from tfq import flatbuffer_edits

_QUANTIZE = schema.BuiltinOperator.QUANTIZE


def _code(model, op) -> int:
    return flatbuffer_edits.builtin_code(model.operatorCodes[op.opcodeIndex])


def _check_aligned(int8_graph, int8_model, int16_graph, int16_model):
    if len(int8_graph.operators) != len(int16_graph.operators):
        raise ValueError(f"the int8 and int16x8 conversions differ in op count "
                         f"({len(int8_graph.operators)} vs {len(int16_graph.operators)}); "
                         "mixed precision needs the same graph in both")
    for index, (a, b) in enumerate(zip(int8_graph.operators, int16_graph.operators)):
        same_outputs = [int8_graph.tensors[t].name for t in a.outputs] == \
                       [int16_graph.tensors[t].name for t in b.outputs]
        if _code(int8_model, a) != _code(int16_model, b) or not same_outputs or \
                len(a.inputs) != len(b.inputs):
            name = int8_graph.tensors[a.outputs[0]].name.decode() if a.outputs else "?"
            raise ValueError(f"the int8 and int16x8 conversions differ at op {index} ({name!r}); "
                             "mixed precision needs the same graph in both")


class _Stitcher:
    """Builds the mixed graph in the int8 model's object tree."""

    def __init__(self, int8_model, int16_model):
        self.model = int8_model
        self.graph = int8_model.subgraphs[0]
        self.int16_model = int16_model
        self.int16_graph = int16_model.subgraphs[0]
        self.operators: List = []
        self.int16_of: Dict[int, int] = {}  # int8 tensor -> its int16 twin

    def opcode(self, builtin: int, version: int) -> int:
        for index, code in enumerate(self.model.operatorCodes):
            if flatbuffer_edits.builtin_code(code) == builtin and code.version == version:
                return index
        code = schema.OperatorCodeT()
        code.builtinCode = builtin
        code.deprecatedBuiltinCode = min(builtin, 127)
        code.version = version
        self.model.operatorCodes.append(code)
        return len(self.model.operatorCodes) - 1

    def add_tensor(self, tensor) -> int:
        self.graph.tensors.append(tensor)
        return len(self.graph.tensors) - 1

    def copy_constant(self, int16_index: int) -> int:
        tensor = copy.deepcopy(self.int16_graph.tensors[int16_index])
        buffer = copy.deepcopy(self.int16_model.buffers[tensor.buffer])
        self.model.buffers.append(buffer)
        tensor.buffer = len(self.model.buffers) - 1
        return self.add_tensor(tensor)

    def twin(self, int16_index: int, name_suffix: bytes = b"") -> int:
        """A new activation tensor quantized as the int16x8 model's."""
        tensor = copy.deepcopy(self.int16_graph.tensors[int16_index])
        tensor.buffer = 0
        tensor.name = (tensor.name or b"") + name_suffix
        return self.add_tensor(tensor)

    def quantize(self, source: int, target: int):
        op = schema.OperatorT()
        output_type = self.graph.tensors[target].type
        op.opcodeIndex = self.opcode(_QUANTIZE, 2 if output_type == schema.TensorType.INT16 else 1)
        op.inputs, op.outputs = [source], [target]
        self.operators.append(op)

    def is_constant(self, graph, model, index: int) -> bool:
        buffer = model.buffers[graph.tensors[index].buffer]
        return buffer.data is not None and len(buffer.data) > 0

    def add_int16_op(self, index: int, int8_op, keep_int8_outputs):
        int16_op = copy.deepcopy(self.int16_graph.operators[index])
        inputs = []
        for position, (t8, t16) in enumerate(zip(int8_op.inputs, int16_op.inputs)):
            if t16 < 0:
                inputs.append(-1)
            elif self.is_constant(self.int16_graph, self.int16_model, t16):
                inputs.append(self.copy_constant(t16))
            else:
                if t8 not in self.int16_of:  # entering the 16-bit region
                    self.int16_of[t8] = self.twin(t16, b"/int16")
                    self.quantize(t8, self.int16_of[t8])
                inputs.append(self.int16_of[t8])
        outputs = []
        for t8, t16 in zip(int8_op.outputs, int16_op.outputs):
            self.int16_of[t8] = self.twin(t16)
            outputs.append(self.int16_of[t8])
        int16_op.opcodeIndex = self.opcode(
            _code(self.int16_model, int16_op),
            self.int16_model.operatorCodes[int16_op.opcodeIndex].version)
        int16_op.inputs, int16_op.outputs = inputs, outputs
        self.operators.append(int16_op)
        for t8 in int8_op.outputs:  # leaving the 16-bit region
            if keep_int8_outputs(t8):
                self.quantize(self.int16_of[t8], t8)


def stitch(int8_bytes: bytes, int16_bytes: bytes,
           is_int16_op: Callable[[str], bool]) -> bytes:
    """The int8 model with the ops whose output tensor name `is_int16_op`
    accepts taken from the int16x8 model (both converted from one float
    model). Raises ValueError if the two graphs do not match op for op."""
    int8_model = flatbuffer_edits.read(int8_bytes)
    int16_model = flatbuffer_edits.read(int16_bytes)
    graph, int16_graph = int8_model.subgraphs[0], int16_model.subgraphs[0]
    _check_aligned(graph, int8_model, int16_graph, int16_model)
    chosen = [bool(op.outputs) and is_int16_op(graph.tensors[op.outputs[0]].name.decode())
              for op in graph.operators]
    # int8 tensors read outside the 16-bit region (by int8 ops or as outputs).
    read_as_int8 = set(graph.outputs)
    for op, is_chosen in zip(graph.operators, chosen):
        if not is_chosen:
            read_as_int8.update(t for t in op.inputs if t >= 0)
    stitcher = _Stitcher(int8_model, int16_model)
    original = list(graph.operators)
    for index, (op, is_chosen) in enumerate(zip(original, chosen)):
        if is_chosen:
            stitcher.add_int16_op(index, op, lambda t: t in read_as_int8)
        else:
            stitcher.operators.append(op)
    graph.operators = stitcher.operators
    return flatbuffer_edits.write(int8_model)

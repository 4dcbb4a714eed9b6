"""A .tflite run on float batches in TFLite's interpreter: inputs quantized to
the model's input type, outputs dequantized, batches fed whole (dynamic
batch) or row by row (fixed batch of 1), every tensor kept on request.
Calibration reads a float model's activations through it, tfq.analyze a
quantized model's."""
from __future__ import annotations

import warnings
from typing import Iterable, List, Optional

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from tfq import quant_math


def _params(detail) -> quant_math.QuantParams:
    scale, zero_point = detail["quantization"]
    return quant_math.QuantParams(np.float32([scale]), np.int64([zero_point]), detail["dtype"])


class TfliteRunner:
    """input_names: signature input names, in the order batches give arrays
    (default: the interpreter's input order)."""

    def __init__(self, tflite_model: bytes, *, keep_all_tensors: bool,
                 input_names: Optional[List[str]] = None):
        with warnings.catch_warnings():  # "preserve_all_tensors is for debugging": it is wanted
            warnings.simplefilter("ignore")
            self.interpreter = Interpreter(model_content=tflite_model,
                                           experimental_preserve_all_tensors=keep_all_tensors)
        if input_names is None:
            self.inputs = self.interpreter.get_input_details()
        else:
            by_name = self._signature_inputs()
            self.inputs = [by_name[name] for name in input_names]
        self.outputs = self.interpreter.get_output_details()
        self.dynamic_batch = all(d["shape_signature"][0] == -1 for d in self.inputs)
        self._batch = None

    def _signature_inputs(self) -> dict:
        signatures = self.interpreter.get_signature_list()
        key = "serving_default" if "serving_default" in signatures else next(iter(signatures))
        return self.interpreter.get_signature_runner(key).get_input_details()

    @staticmethod
    def _to_input_type(array, detail):
        if detail["quantization"][0] == 0.0:  # not quantized: float (or int) as is
            return array.astype(detail["dtype"])
        return quant_math.quantize(array, _params(detail))

    def run(self, batch: List[np.ndarray], tensor_indices: Iterable[int] = ()):
        """Yields ({tensor index: values}, [outputs, dequantized]) per invoke."""
        tensor_indices = list(tensor_indices)
        rows = batch[0].shape[0]
        pieces = [batch] if self.dynamic_batch else [[a[i:i + 1] for a in batch]
                                                     for i in range(rows)]
        for piece in pieces:
            if self._batch != piece[0].shape[0]:
                for detail, array in zip(self.inputs, piece):
                    self.interpreter.resize_tensor_input(detail["index"], array.shape)
                self.interpreter.allocate_tensors()
                self._batch = piece[0].shape[0]
            for detail, array in zip(self.inputs, piece):
                self.interpreter.set_tensor(detail["index"], self._to_input_type(array, detail))
            self.interpreter.invoke()
            outputs = []
            for detail in self.outputs:
                values = self.interpreter.get_tensor(detail["index"])
                outputs.append(values.astype(np.float32) if detail["quantization"][0] == 0.0
                               else quant_math.dequantize(values, _params(detail)))
            yield {i: self.interpreter.get_tensor(i) for i in tensor_indices}, outputs

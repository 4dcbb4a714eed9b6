"""Runs a .tflite under the interpreters tests compare: TFLite's reference
kernels (the oracle), and the tfq delegate in LiteRT's and in TF's interpreter."""
from __future__ import annotations

import warnings

import numpy as np
from ai_edge_litert.interpreter import Interpreter as LiteRtInterpreter
from ai_edge_litert.interpreter import OpResolverType

import tfq


def reference(model: bytes) -> LiteRtInterpreter:
    return LiteRtInterpreter(model_content=model,
                             experimental_op_resolver_type=OpResolverType.BUILTIN_REF)


def tfq_litert(model: bytes, **options):
    """(interpreter, delegate): tfq.Interpreter, i.e. LiteRT + tfq delegate."""
    interpreter = tfq.Interpreter(model_content=model, delegate={"claim_all": True, **options})
    return interpreter, interpreter.tfq_delegate


def tfq_tensorflow(model: bytes, **options):
    """(interpreter, delegate): tf.lite.Interpreter + tfq delegate."""
    import tensorflow as tf
    delegate = tfq.delegate.load(claim_all=True, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        interpreter = tf.lite.Interpreter(model_content=model, experimental_delegates=[delegate])
    return interpreter, delegate


def run(interpreter, *inputs: np.ndarray) -> list[np.ndarray]:
    """Resizes inputs to the given arrays' shapes, invokes, returns all outputs."""
    details = interpreter.get_input_details()
    for detail, value in zip(details, inputs):
        if tuple(detail["shape"]) != value.shape:
            interpreter.resize_tensor_input(detail["index"], value.shape)
    interpreter.allocate_tensors()
    for detail, value in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    return [interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()]


def declined(model: bytes) -> list[str]:
    """The delegate's reasons for the nodes of `model` it did not claim.
    TFLite may refuse such a node itself afterwards; that is not an error here."""
    delegate = tfq.delegate.load()
    try:
        tfq.Interpreter(model_content=model, delegate=delegate).allocate_tensors()
    except (RuntimeError, ValueError):
        pass
    return delegate.declined_nodes()

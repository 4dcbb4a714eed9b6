"""The delegate validates a FULLY_CONNECTED node before claiming it: each
broken property below is declined with a reason naming it, never run."""
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

import tfq
from tests.tflite_builder import OneOpModel


def _model(*, weights_as_input=False, weight_axis=0, weight_zero_point=0, input_scale=0.5,
           output_scale=0.25, bias_length=4, bias_scale=None, weight_scales=None,
           input_dtype=np.int8, activation=schema.ActivationFunctionType.NONE, depth=8):
    options = schema.FullyConnectedOptionsT()
    options.fusedActivationFunction = activation
    model = OneOpModel("FULLY_CONNECTED", options)
    x = model.add_input([1, depth], input_dtype, scale=input_scale, zero_point=0)
    weights = np.ones((4, depth), np.int8)
    scales = np.full(4, 0.01, np.float32) if weight_scales is None else weight_scales
    if weights_as_input:
        w = model.add_input([4, depth], np.int8, scale=0.01, zero_point=0)
    else:
        w = model.add_constant(weights, scale=scales, zero_point=np.full(scales.size, weight_zero_point),
                               axis=weight_axis)
    b = model.add_constant(np.zeros(bias_length, np.int32),
                           scale=np.float32(input_scale) * scales[:1] if bias_scale is None else bias_scale,
                           zero_point=0)
    model.add_output([1, 4], np.int8, scale=output_scale, zero_point=0)
    return model.build([x, w, b])


CASES = {
    "weights not constant": (dict(weights_as_input=True), "weights tensor 't1' is not a constant"),
    "per-channel along the wrong axis": (
        dict(weight_axis=1, weight_scales=np.full(8, 0.01, np.float32)), "along dimension 1"),
    "asymmetric weights": (dict(weight_zero_point=3, weight_scales=np.full(1, 0.01, np.float32)),
                           "zero point 3"),
    "zero input scale": (dict(input_scale=0.0), "scale 0.000000"),
    "NaN output scale": (dict(output_scale=float("nan")), "finite and > 0"),
    "bias length": (dict(bias_length=3), "bias has 3 values for 4 output channels"),
    "per-tensor bias scale": (dict(weight_scales=np.full(1, 0.01, np.float32), bias_scale=1.0),
                              "bias scale"),
    # int16 input makes it int16x8, whose output must be int16 too.
    "int16 input, int8 output": (dict(input_dtype=np.int16), "is int8, expected int16"),
    "TANH activation": (dict(activation=schema.ActivationFunctionType.TANH),
                        "fused activation 4"),
    "accumulator overflow": (dict(depth=70000), "overflow the int32 accumulator"),
    "tiny output scale with RELU6": (
        dict(output_scale=1e-12, activation=schema.ActivationFunctionType.RELU6),
        "too small for the fused activation"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_broken_node_is_declined_with_reason(case):
    overrides, reason = CASES[case]
    delegate = tfq.delegate.load()
    try:
        interpreter = tfq.Interpreter(model_content=_model(**overrides), delegate=delegate)
        interpreter.allocate_tensors()
    except (RuntimeError, ValueError):
        pass  # TFLite itself may refuse the node afterwards; the delegate did not take it
    total, claimed = delegate.last_claim()
    assert (total, claimed) == (1, 0)
    [declined] = delegate.declined_nodes()
    assert reason in declined, declined

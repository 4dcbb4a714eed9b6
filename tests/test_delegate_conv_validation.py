"""The checks that protect the convolution kernels, one by one: a CONV_2D or
DEPTHWISE_CONV_2D with one broken property is declined with a reason naming
it (the FULLY_CONNECTED checks are in test_delegate_validation.py, the
activation-quantization checks of every op in test_delegate_hostile_models.py).
Each edit here gets past TFLite's own model checks and so reaches the
delegate's."""
import numpy as np
import pytest

import tfq
from tests import test_delegate_conv
from tfq import flatbuffer_edits


def _op_tensor(model, slot):
    graph = model.subgraphs[0]
    return graph.tensors[graph.operators[0].inputs[slot]]


def _options(model):
    return model.subgraphs[0].operators[0].builtinOptions


def _set_quantization(tensor, **fields):
    for name, value in fields.items():
        setattr(tensor.quantization, name, value)


CASES = {  # name: (edit, reason, ops it applies to)
    "filter per-channel along the wrong axis": (
        lambda m: _set_quantization(_op_tensor(m, 1), quantizedDimension=3),
        "quantized per channel along dimension 3, expected dimension 0", ("CONV_2D",)),
    "asymmetric filter": (
        lambda m: _set_quantization(_op_tensor(m, 1), zeroPoint=np.full(8, 2, np.int64)),
        "int8 weights must be symmetric", ("CONV_2D", "DEPTHWISE_CONV_2D")),
    # int16 input makes it int16x8, whose output must be int16 too.
    "int16 input, int8 output": (lambda m: setattr(_op_tensor(m, 0), "type", 7),
                                 "is int8, expected int16", ("CONV_2D", "DEPTHWISE_CONV_2D")),
    "filter of rank 3": (
        lambda m: setattr(_op_tensor(m, 1), "shape", np.array([8, 3, 24], np.int32)),
        "expected rank 4", ("CONV_2D",)),
    "infinite input scale": (
        lambda m: _set_quantization(_op_tensor(m, 0), scale=np.array([np.inf], np.float32)),
        "scales must be finite and > 0", ("CONV_2D", "DEPTHWISE_CONV_2D")),
    "stride 0": (lambda m: setattr(_options(m), "strideH", 0), "must all be in [1, 16777216]",
                 ("CONV_2D", "DEPTHWISE_CONV_2D")),
    "dilation 0": (lambda m: setattr(_options(m), "dilationWFactor", 0),
                   "must all be in [1, 16777216]", ("CONV_2D", "DEPTHWISE_CONV_2D")),
    # Found by the fuzzer under UBSan: int arithmetic on these overflowed.
    "stride 2^31 - 1": (lambda m: setattr(_options(m), "strideW", 2 ** 31 - 1),
                        "must all be in [1, 16777216]", ("CONV_2D", "DEPTHWISE_CONV_2D")),
    "dilation 2^31 - 1": (lambda m: setattr(_options(m), "dilationHFactor", 2 ** 31 - 1),
                          "must all be in [1, 16777216]", ("CONV_2D", "DEPTHWISE_CONV_2D")),
    "dilated window over 2^24 pixels": (
        lambda m: setattr(_options(m), "dilationHFactor", 1 << 24),
        "its dilated window exceeds 16777216 pixels", ("CONV_2D", "DEPTHWISE_CONV_2D")),
    "unknown padding": (lambda m: setattr(_options(m), "padding", 7),
                        "is neither SAME nor VALID", ("CONV_2D", "DEPTHWISE_CONV_2D")),
    "bias bytes that do not match its shape": (
        # int8 bias (8 bytes needed, 32 present): TFLite accepts the file; the
        # delegate's runtime check refuses to claim anything from it.
        lambda m: setattr(_op_tensor(m, 2), "type", 9), "do not match its shape",
        ("CONV_2D", "DEPTHWISE_CONV_2D")),
}


def _declined(model_bytes):
    delegate = tfq.delegate.load(log_level="warning")
    tfq.Interpreter(model_content=model_bytes, delegate=delegate)
    return delegate.last_claim(), delegate.declined_nodes()


@pytest.mark.parametrize("case, op", [(case, op) for case, (_, _, ops) in CASES.items()
                                      for op in ops])
def test_broken_convolution_is_declined_with_reason(case, op, capfd):
    edit, reason, _ = CASES[case]
    model = flatbuffer_edits.read(test_delegate_conv.conv_model(
        np.random.default_rng(3), depthwise=op == "DEPTHWISE_CONV_2D"))
    edit(model)
    (_, claimed), declined = _declined(flatbuffer_edits.write(model))
    assert claimed == 0
    if "match its shape" in reason:  # a model-wide refusal: logged, not per node
        assert reason in capfd.readouterr().err
        return
    [line] = declined
    assert reason in line and op in line, line


def test_accumulator_that_could_overflow_is_declined():
    """70,000 taps of 127 x 255 overflow int32: the kernel would wrap."""
    model = test_delegate_conv.conv_model(np.random.default_rng(3), input_shape=(1, 1, 1, 70000),
                                          kernel=(1, 1), output_depth=2)
    (_, claimed), [line] = _declined(model)
    assert claimed == 0 and "overflow the int32 accumulator" in line, line


@pytest.mark.parametrize("op, fields, reason, dtype", [
    ("MAX_POOL_2D", {"filterHeight": 2 ** 31 - 1}, "dilated window exceeds 16777216 pixels",
     np.int8),
    ("MAX_POOL_2D", {"strideW": 2 ** 31 - 1}, "must all be in [1, 16777216]", np.int8),
    ("AVERAGE_POOL_2D", {"filterHeight": 4096, "filterWidth": 4097},
     "taps: their sum could overflow int32", np.int8),
    ("AVERAGE_POOL_2D", {"filterHeight": 256, "filterWidth": 257},  # int16: 2^16 taps at most
     "taps: their sum could overflow int32", np.int16),
])
def test_pooling_window_that_would_overflow_is_declined(op, fields, reason, dtype):
    from tests import test_delegate_pool_pad
    model = flatbuffer_edits.read(test_delegate_pool_pad.pool_model(op, (1, 4, 4, 2),
                                                                    scale=0.0003, dtype=dtype))
    for field, value in fields.items():
        setattr(_options(model), field, value)
    (_, claimed), [line] = _declined(flatbuffer_edits.write(model))
    assert claimed == 0 and reason in line and op in line, line
